//go:build unix

package cloud

import (
	"fmt"
	"syscall"
)

// raiseFileLimit makes sure the process may have n files open, raising
// its soft limit up to the hard one, or says why it cannot.
func raiseFileLimit(n uint64) error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("read the open file limit: %w", err)
	}
	if r.Cur >= n {
		return nil
	}
	if r.Max < n {
		return fmt.Errorf("need %d open files, the hard limit is %d: raise it (ulimit -Hn) to run this test", n, r.Max)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: r.Max, Max: r.Max}); err != nil {
		return fmt.Errorf("need %d open files, the limit is %d and could not be raised: %w", n, r.Cur, err)
	}
	return nil
}
