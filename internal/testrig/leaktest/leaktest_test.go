package leaktest

import (
	"fmt"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps cleanups and errors for inspection.
type recorder struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestReportsALeakedGoroutine(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := &recorder{TB: t}
	Check(r)
	go func() { <-stop }() // leaked until the test returns
	start := time.Now()
	r.finish()
	if len(r.errors) != 1 {
		t.Fatalf("errors %q, want one report of the leaked goroutine", r.errors)
	}
	if time.Since(start) < 4*time.Second {
		t.Error("reported before the grace period")
	}
}

func TestQuietWhenGoroutinesEnd(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	done := make(chan struct{})
	go func() { time.Sleep(50 * time.Millisecond); close(done) }()
	r.finish()
	<-done
	if len(r.errors) != 0 {
		t.Errorf("errors %q for a goroutine that ended", r.errors)
	}
}

// leakedOnPurpose blocks until stop is closed: a leak Check is told of.
func leakedOnPurpose(stop chan struct{}) { <-stop }

func TestAllowedLeakNotReported(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := &recorder{TB: t}
	Check(r, "leaktest.leakedOnPurpose")
	go leakedOnPurpose(stop)
	r.finish()
	if len(r.errors) != 0 {
		t.Errorf("errors %q for an allowed goroutine", r.errors)
	}
}
