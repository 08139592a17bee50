package eventually

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what Fatalf says; the functions
// under test return after Fatalf, as Goexit would end them.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestTrue(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	r := &recorder{TB: t}
	True(r, "three", func() bool { return n.Load() == 3 })
	if r.fatal != "" {
		t.Fatal(r.fatal)
	}
}

// A condition that never holds fails the test naming what was awaited
// and what was seen, after the wait given and not before.
func TestNoErrorWithinTimesOut(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	start := time.Now()
	NoErrorWithin(r, 50*time.Millisecond, "the door", func() error {
		calls++
		return errors.New("still closed")
	})
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %v", d)
	}
	if want := "timed out after 50ms waiting for the door: still closed"; r.fatal != want {
		t.Errorf("failure %q, want %q", r.fatal, want)
	}
	if calls < 2 {
		t.Errorf("check ran %d times: not polled", calls)
	}
}

func TestNoErrorReturnsAtOnce(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	NoError(r, "nothing", func() error { calls++; return nil })
	if r.fatal != "" || calls != 1 {
		t.Errorf("fatal %q after %d calls, want none after 1", r.fatal, calls)
	}
}
