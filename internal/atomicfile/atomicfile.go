// Package atomicfile writes small state files so that a crash leaves
// either the old content or the new, never a torn file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces the file at path with b: written to a temporary file in
// the same directory, synced, renamed over path, and the directory
// synced, so that the rename itself survives a power cut.
func Write(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
