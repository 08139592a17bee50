package daemon

import (
	"time"

	"github.com/g90alarm/g90/event"
)

// ShortenWebLimits makes the web server's timeouts d and its per-address
// limit perAddr until the test ends, so that tests see them act.
func ShortenWebLimits(t interface{ Cleanup(func()) }, d time.Duration, perAddr int) {
	old := defaultWebLimits
	defaultWebLimits.ReadHeader, defaultWebLimits.Read = d, d
	defaultWebLimits.Write, defaultWebLimits.Idle = d, d
	defaultWebLimits.PerAddr = perAddr
	t.Cleanup(func() { defaultWebLimits = old })
}

// OnJournalCommit makes the daemon of opt call f after every journal
// commit with its events and how long it took.
func OnJournalCommit(opt *Options, f func(events []event.Event, took time.Duration)) {
	opt.onJournalCommit = f
}
