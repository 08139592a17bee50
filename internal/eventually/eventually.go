// Package eventually waits in tests for a condition that other goroutines
// make true: a state on a broker, a line in a log, a counter.
package eventually

import (
	"testing"
	"time"
)

// Timeout is how long True waits: generous, for a loaded CI machine
// running every package's tests at once under -race.
const Timeout = 20 * time.Second

// True polls cond every few milliseconds until it holds, and fails tb,
// naming what it waited for, when it does not within Timeout.
func True(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
