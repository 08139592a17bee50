//go:build unix

package daemon

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes f's exclusive lock without waiting (flock: it belongs to
// the open file, so it ends with the process however the process ends).
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLocked
		}
		return err
	}
}
