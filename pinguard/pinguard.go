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
	pin  string
	now  func() time.Time
	mu   sync.Mutex // one check at a time: a wrong PIN counts before the next is compared
	runs *Lockout
}

// Lockout counts wrong secrets in a row, per source and from every
// source together, and locks a source out as a Guard does its PINs: the
// tries-th wrong one in a row locks it out for FirstLockout, each
// further one doubles that up to MaxLockout; allTries wrong ones from
// all sources lock every source out. Past MaxSources sources, new ones
// share one count. The web login counts its passwords with one. The
// zero value is not usable; see NewLockout. Safe for concurrent use.
type Lockout struct {
	mu      sync.Mutex
	all     run             // every source together
	sources map[string]*run // by source
}

// NewLockout returns a Lockout with nothing counted.
func NewLockout() *Lockout { return &Lockout{sources: map[string]*run{}} }

// Left returns how long source, or every source, is still locked out at
// now; 0 when it is not.
func (l *Lockout) Left(source string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.all.until
	if r := l.sources[l.key(source, now)]; r != nil {
		until = later(r.until, until)
	}
	return max(until.Sub(now), 0)
}

// Fail counts a wrong secret from source at now: tries in a row lock
// source out, allTries from all sources every source.
func (l *Lockout) Fail(source string, now time.Time, tries, allTries int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := l.key(source, now)
	r := l.sources[key]
	if r == nil {
		r = &run{}
		l.sources[key] = r
	}
	r.fail(now, tries)
	l.all.fail(now, allTries)
}

// Succeed ends source's run of wrong secrets and the common one.
func (l *Lockout) Succeed(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sources, source)
	l.all = run{}
}

// key is source, or the key the sources past MaxSources share. l.mu is
// held.
func (l *Lockout) key(source string, now time.Time) string {
	if _, ok := l.sources[source]; ok || len(l.sources) < MaxSources {
		return source
	}
	// The sources that are not locked out and gave no wrong secret for
	// MaxLockout are forgotten: what they did is too long ago to matter.
	for s, r := range l.sources {
		if !now.Before(r.until) && now.Sub(r.last) >= MaxLockout {
			delete(l.sources, s)
		}
	}
	if len(l.sources) < MaxSources {
		return source
	}
	return "\x00others"
}

// run is a run of wrong secrets and the lockout it earned.
type run struct {
	wrong int       // wrong ones in a row
	last  time.Time // the last one
	until time.Time // end of the lockout
}

// fail counts a wrong secret, locking out from the tries-th on.
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
	return &Guard{pin: pin, now: now, runs: NewLockout()}
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
	if left := g.runs.Left(source, now); left > 0 {
		return &LockedError{Left: left}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.pin)) == 1 {
		g.runs.Succeed(source)
		return nil
	}
	g.runs.Fail(source, now, Tries, AllTries)
	if got == "" {
		return ErrRequired
	}
	return ErrWrong
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
