package pinguard

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func locked(t *testing.T, err error, left time.Duration) {
	t.Helper()
	var l *LockedError
	if !errors.As(err, &l) || l.Left != left {
		t.Fatalf("%v, want a lockout of %v", err, left)
	}
}

// Four wrong PINs are free; the fifth locks out for 30 s, during which
// even the right PIN is refused; each further wrong one doubles the
// lockout up to 15 min; the right PIN after a lockout starts afresh.
func TestGuard(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	g := New("1234", c.now)
	if !g.Required() {
		t.Fatal("a PIN is required")
	}
	if err := g.Check(""); !errors.Is(err, ErrRequired) {
		t.Fatalf("no PIN: %v", err)
	}
	for i := 2; i < Tries; i++ {
		if err := g.Check("0000"); !errors.Is(err, ErrWrong) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if err := g.Check("1234"); err != nil {
		t.Fatalf("the right PIN after %d wrong ones: %v", Tries-1, err)
	}
	// Exactly five wrong PINs lock, as the README says.
	for i := 1; i <= Tries; i++ {
		if err := g.Check("9999"); !errors.Is(err, ErrWrong) {
			t.Fatalf("wrong PIN %d of %d: %v", i, Tries, err)
		}
	}
	err := g.Check("1234")
	locked(t, err, 30*time.Second)
	if got := err.Error(); got != "too many wrong PINs: try again in 30s" {
		t.Errorf("message %q", got)
	}
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		c.t = c.t.Add(MaxLockout)
		if err := g.Check("9999"); !errors.Is(err, ErrWrong) {
			t.Fatal(err)
		}
		locked(t, g.Check("1234"), want)
	}
	c.t = c.t.Add(MaxLockout)
	if err := g.Check("1234"); err != nil {
		t.Fatalf("the right PIN after the lockout: %v", err)
	}
	if err := g.Check("9999"); !errors.Is(err, ErrWrong) {
		t.Fatalf("a wrong PIN after the right one: %v (the run starts afresh)", err)
	}
}

// A stranger's guesses lock out the stranger: the owner, from another
// source, still gets in; one wrong try per lockout window does not keep
// the owner out.
func TestGuardPerSource(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	g := New("1234", c.now)
	for range Tries {
		g.CheckFrom("192.0.2.66", "0000")
	}
	locked(t, g.CheckFrom("192.0.2.66", "1234"), 30*time.Second)
	if err := g.CheckFrom("192.0.2.10", "1234"); err != nil {
		t.Fatalf("the owner from another address: %v", err)
	}
	for range 10 {
		c.t = c.t.Add(31 * time.Second)
		g.CheckFrom("192.0.2.66", "0000")
		if err := g.CheckFrom("mqtt", "1234"); err != nil {
			t.Fatalf("the owner over MQTT while the stranger guesses: %v", err)
		}
	}
}

// Many sources guessing together are stopped too: AllTries wrong PINs in
// a row from all of them lock every source out.
func TestGuardAllSources(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	g := New("1234", c.now)
	for i := range AllTries {
		if err := g.CheckFrom(fmt.Sprintf("198.51.100.%d", i), "0000"); !errors.Is(err, ErrWrong) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	locked(t, g.CheckFrom("192.0.2.10", "1234"), 30*time.Second)
	c.t = c.t.Add(30 * time.Second)
	if err := g.CheckFrom("192.0.2.10", "1234"); err != nil {
		t.Fatalf("after the common lockout: %v", err)
	}
}

// Sources past MaxSources share one count, so that addresses by the
// thousand neither grow the Guard nor reset anyone's count.
func TestGuardManySources(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	g := New("1234", c.now)
	for i := range 3 * MaxSources {
		g.CheckFrom(fmt.Sprintf("2001:db8::%x", i), "0000")
		if i%(AllTries-1) == 0 {
			g.CheckFrom("owner", "1234") // keeps the common run below AllTries
		}
	}
	if n := len(g.runs.sources); n > MaxSources+1 {
		t.Fatalf("%d sources kept", n)
	}
	// Past the bound, a new address is one of the many, which guessed.
	var l *LockedError
	if err := g.CheckFrom("2001:db8::ffff:1", "1234"); !errors.As(err, &l) {
		t.Fatalf("a new source past MaxSources: %v, want the shared lockout", err)
	}
}

func TestNilAndEmpty(t *testing.T) {
	var g *Guard
	if g.Required() || g.Check("") != nil || g.CheckFrom("x", "y") != nil {
		t.Error("a nil Guard must accept everything")
	}
	if e := New("", nil); e.Required() || e.Check("x") != nil {
		t.Error("an empty PIN must accept everything")
	}
	if !New("1", nil).Same("1") || New("1", nil).Same("2") || g.Same("") {
		t.Error("Same")
	}
}
