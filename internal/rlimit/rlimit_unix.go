//go:build unix

// Package rlimit raises the open file limit for load tests and tools
// that hold thousands of connections.
package rlimit

import (
	"fmt"
	"syscall"
)

// Files makes sure the process may have n files open, raising
// RLIMIT_NOFILE where it may (its hard limit too, as root), or says how
// to.
func Files(n uint64) error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return fmt.Errorf("read the open file limit: %w", err)
	}
	if r.Cur >= n {
		return nil
	}
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: max(r.Max, n)})
	if err != nil {
		return fmt.Errorf("need %d open files, but the limit is %d (hard limit %d) and cannot be raised (%v): run 'ulimit -n %d' as root first, or raise the hard limit (limits.conf, systemd LimitNOFILE)", n, r.Cur, r.Max, err, n)
	}
	return nil
}
