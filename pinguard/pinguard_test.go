package pinguard

import (
	"errors"
	"testing"
	"time"
)

// Five wrong PINs are free; the sixth locks out for 30 s, during which
// even the right PIN is refused; each further wrong one doubles the
// lockout up to 15 min; the right PIN after a lockout starts afresh.
func TestGuard(t *testing.T) {
	now := time.Unix(1e9, 0)
	g := New("1234", func() time.Time { return now })
	if !g.Required() {
		t.Fatal("a PIN is required")
	}
	if err := g.Check(""); !errors.Is(err, ErrRequired) {
		t.Fatalf("no PIN: %v", err)
	}
	for i := 2; i <= Free; i++ {
		if err := g.Check("0000"); !errors.Is(err, ErrWrong) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if err := g.Check("1234"); err != nil {
		t.Fatalf("the right PIN after %d wrong ones: %v", Free, err)
	}
	wrongs := func(n int) {
		t.Helper()
		for range n {
			if err := g.Check("9999"); !errors.Is(err, ErrWrong) {
				t.Fatalf("wrong PIN: %v", err)
			}
		}
	}
	wrongs(Free + 1) // the last one locks
	var locked *LockedError
	if err := g.Check("1234"); !errors.As(err, &locked) || locked.Left != 30*time.Second {
		t.Fatalf("the right PIN during the lockout: %v", err)
	}
	if got := locked.Error(); got != "too many wrong PINs: try again in 30s" {
		t.Errorf("message %q", got)
	}
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		now = now.Add(MaxLockout)
		wrongs(1)
		if err := g.Check("1234"); !errors.As(err, &locked) || locked.Left != want {
			t.Fatalf("lockout %v, want %v", err, want)
		}
	}
	now = now.Add(MaxLockout)
	if err := g.Check("1234"); err != nil {
		t.Fatalf("the right PIN after the lockout: %v", err)
	}
	wrongs(Free) // free again
	if err := g.Check("1234"); err != nil {
		t.Fatal(err)
	}
}

// Without a PIN everything passes, forever.
func TestNoPIN(t *testing.T) {
	g := New("", nil)
	for range 100 {
		if err := g.Check("nope"); err != nil {
			t.Fatal(err)
		}
	}
	if g.Required() {
		t.Fatal("required")
	}
}
