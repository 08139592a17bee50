// Package pinguard checks the PIN that arming and disarming need, and
// makes guessing it slow. One Guard per panel serves every way in (the
// MQTT bridge and the web UI), so that they share the count of wrong
// PINs. The panel has no user codes of its own: the PIN
// is the daemon's (spec: home-assistant.md §3), and a four-digit one
// would fall to ten thousand quick tries without a guard.
package pinguard

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Free is how many wrong PINs in a row cost nothing; each one after
// that locks every check out for a while, first FirstLockout, doubling
// up to MaxLockout.
const (
	Free         = 5
	FirstLockout = 30 * time.Second
	MaxLockout   = 15 * time.Minute
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

	mu    sync.Mutex
	wrong int       // wrong PINs in a row
	until time.Time // end of the lockout
}

// New returns a Guard for pin; "" accepts everything. now is the clock;
// nil is time.Now.
func New(pin string, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{pin: pin, now: now}
}

// Required reports whether a PIN is needed at all; a nil Guard needs
// none.
func (g *Guard) Required() bool { return g != nil && g.pin != "" }

// Check accepts the right PIN (nil) and refuses a missing one
// (ErrRequired), a wrong one (ErrWrong), and every one during a lockout
// (*LockedError), without comparing it, so that a lockout tells a
// guesser nothing. The comparison takes the same time for every wrong
// PIN of the right length. The right PIN ends the run of wrong ones. A
// nil Guard accepts everything.
func (g *Guard) Check(got string) error {
	if !g.Required() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if now.Before(g.until) {
		return &LockedError{Left: g.until.Sub(now)}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.pin)) == 1 {
		g.wrong = 0
		return nil
	}
	g.wrong++
	if n := g.wrong - Free; n > 0 {
		lock := MaxLockout
		if n <= 16 {
			lock = min(FirstLockout<<(n-1), MaxLockout)
		}
		g.until = now.Add(lock)
	}
	if got == "" {
		return ErrRequired
	}
	return ErrWrong
}
