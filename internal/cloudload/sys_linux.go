package cloudload

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// rss returns the process's resident memory now and at its peak, in
// bytes, from /proc/self/status; zeros if it cannot be read.
func rss() (now, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 || string(f[2]) != "kB" {
			continue
		}
		n, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "VmRSS:":
			now = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	return now, peak
}

// RaiseFileLimit makes sure the process may have n files open, raising
// RLIMIT_NOFILE where it may (its hard limit too, as root), or says how
// to.
func RaiseFileLimit(n uint64) error {
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
