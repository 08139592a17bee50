// Package simtest starts a simulated panel for other packages' tests.
//
//	s := simtest.Start(t, sim.Config{Seed: 1})
//	p, _ := g90.New(g90.Config{Host: s.Addr().String()})
package simtest

import (
	"testing"

	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/sim"
)

// Start serves a simulated panel on an ephemeral loopback port (cfg.Listen
// is ignored) until the test ends, and fails the test if it does not stop
// cleanly.
func Start(t testing.TB, cfg sim.Config) *sim.Panel {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, s.Serve)
	return s
}
