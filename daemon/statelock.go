package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the file in state_dir that one running daemon holds locked,
// so that a second one on the same state_dir (which would truncate the
// first one's MQTT queue and number events twice) refuses to start.
const LockFile = "g90.lock"

// ErrStateDirInUse: another process holds the state directory's lock.
var ErrStateDirInUse = errors.New("state_dir is in use by another g90 serve")

// lockStateDir takes the lock of dir and writes this process's id into
// the lock file; the returned func releases it. The lock goes with the
// process: a crashed daemon leaves the file, not the lock.
func lockStateDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			b, _ := os.ReadFile(path)
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				return nil, fmt.Errorf("%w (pid %d holds %s): stop it, or give this one another state_dir", ErrStateDirInUse, pid, path)
			}
			return nil, fmt.Errorf("%w (it holds %s): stop it, or give this one another state_dir", ErrStateDirInUse, path)
		}
		return nil, fmt.Errorf("state_dir: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

var errLocked = errors.New("locked")
