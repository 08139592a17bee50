// Package pinguard checks the PIN that arming and disarming need, and
// makes guessing it slow. One Guard per panel serves every way in (the
// MQTT bridge and the web UI). The panel has no user codes of its own:
// the PIN is the daemon's (spec: home-assistant.md §3), and a four-digit
// one would fall to ten thousand quick tries without a guard.
//
// Wrong PINs are counted per source (a web client's address; "mqtt" for
// everything that comes through the broker, which cannot tell its
// clients apart), so that a stranger's guesses lock out the stranger and
// not the owner on another device. Many sources guessing at once are
// bounded too: past AllTries wrong PINs in a row from all sources
// together, every source is locked out.
package pinguard

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Tries is how many wrong PINs in a row a source may give: the Tries-th
// locks it out for FirstLockout, and each further wrong one doubles its
// lockout up to MaxLockout. AllTries is the same for all sources
// together. MaxSources bounds the sources counted one by one; past it,
// new sources share one count.
const (
	Tries        = 5
	AllTries     = 20
	FirstLockout = 30 * time.Second
	MaxLockout   = 15 * time.Minute
	MaxSources   = 1024
)

// Errors of Check.
var (
	ErrRequired = errors.New("PIN required")
	ErrWrong    = errors.New("wrong PIN")
)

// LockedError is Check's answer during a lockout, whatever the PIN.
type LockedError struct {
	Left time.Duration // until checks are taken again
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("too many wrong PINs: try again in %v", e.Left.Round(time.Second))
}

// Guard checks one PIN. The zero value is not usable; see New. A Guard
// is safe for concurrent use.
type Guard struct {
	pin string
	now func() time.Time

	mu      sync.Mutex
	all     run             // every source together
	sources map[string]*run // by source
}

// run is a run of wrong PINs and the lockout it earned.
type run struct {
	wrong int       // wrong PINs in a row
	last  time.Time // the last one
	until time.Time // end of the lockout
}

// fail counts a wrong PIN, locking out from the tries-th on.
func (r *run) fail(now time.Time, tries int) {
	r.wrong++
	r.last = now
	if n := r.wrong - tries + 1; n > 0 {
		lock := MaxLockout
		if n <= 16 {
			lock = min(FirstLockout<<(n-1), MaxLockout)
		}
		r.until = now.Add(lock)
	}
}

// New returns a Guard for pin; "" accepts everything. now is the clock;
// nil is time.Now.
func New(pin string, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{pin: pin, now: now, sources: map[string]*run{}}
}

// Required reports whether a PIN is needed at all; a nil Guard needs
// none.
func (g *Guard) Required() bool { return g != nil && g.pin != "" }

// Same reports whether g guards pin, so that a reloaded configuration
// keeps the Guard, and its counts, of an unchanged PIN.
func (g *Guard) Same(pin string) bool { return g != nil && g.pin == pin }

// Check is CheckFrom with the source "".
func (g *Guard) Check(got string) error { return g.CheckFrom("", got) }

// CheckFrom accepts the right PIN from source (nil) and refuses a missing
// one (ErrRequired), a wrong one (ErrWrong), and every one while source,
// or every source, is locked out (*LockedError), without comparing it, so
// that a lockout tells a guesser nothing. The comparison takes the same
// time for every wrong PIN of the right length. The right PIN ends
// source's run of wrong ones and the common run. A nil Guard accepts
// everything.
func (g *Guard) CheckFrom(source, got string) error {
	if !g.Required() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	r := g.sources[source]
	if r == nil {
		if len(g.sources) >= MaxSources {
			g.forget(now)
		}
		if len(g.sources) >= MaxSources {
			source = "\x00others"
		}
		if r = g.sources[source]; r == nil {
			r = &run{}
			g.sources[source] = r
		}
	}
	if until := later(r.until, g.all.until); now.Before(until) {
		return &LockedError{Left: until.Sub(now)}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.pin)) == 1 {
		delete(g.sources, source)
		g.all = run{}
		return nil
	}
	r.fail(now, Tries)
	g.all.fail(now, AllTries)
	if got == "" {
		return ErrRequired
	}
	return ErrWrong
}

// forget drops the sources that are not locked out and gave no wrong PIN
// for MaxLockout: what they did is too long ago to matter. g.mu is held.
func (g *Guard) forget(now time.Time) {
	for s, r := range g.sources {
		if !now.Before(r.until) && now.Sub(r.last) >= MaxLockout {
			delete(g.sources, s)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
