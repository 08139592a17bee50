// Package eventually waits in tests for a condition that other goroutines
// make true: a state on a broker, a line in a log, a counter.
//
//	eventually.True(t, "the first read", func() bool { return mon.State().GUID != "" })
//	eventually.NoError(t, "three panels", func() error {
//		if n := len(srv.Panels()); n != 3 {
//			return fmt.Errorf("%d connected", n)
//		}
//		return nil
//	})
//
// The condition runs on the test's goroutine, so it may call t.Fatal.
package eventually

import (
	"errors"
	"testing"
	"time"
)

// Timeout is how long True and NoError wait: generous, for a loaded CI
// machine running every package's tests at once under -race.
const Timeout = 20 * time.Second

// poll is how often a condition is checked.
const poll = 5 * time.Millisecond

// True polls cond every few milliseconds until it holds, and fails tb,
// naming what it waited for, when it does not within Timeout.
func True(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	if err := wait(Timeout, func() error {
		if cond() {
			return nil
		}
		return errFalse
	}); err != nil {
		tb.Fatalf("timed out after %v waiting for %s", Timeout, what)
	}
}

var errFalse = errors.New("false")

// NoError polls check every few milliseconds until it returns nil, and
// fails tb, naming what it waited for and check's last error (what it
// saw instead), when it does not within Timeout.
func NoError(tb testing.TB, what string, check func() error) {
	tb.Helper()
	NoErrorWithin(tb, Timeout, what, check)
}

// NoErrorWithin is NoError waiting d: for a wait known to take longer
// than Timeout on a loaded machine, such as a stream of a thousand
// messages through a restarted broker.
func NoErrorWithin(tb testing.TB, d time.Duration, what string, check func() error) {
	tb.Helper()
	if err := wait(d, check); err != nil {
		tb.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
	}
}

// wait polls check until it returns nil, or for d, and returns its last
// error.
func wait(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(poll)
	}
}
