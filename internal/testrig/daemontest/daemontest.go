// Package daemontest runs g90 serve (daemon.Run) inside a test.
package daemontest

import (
	"context"
	"testing"
	"time"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/internal/testrig"
)

// Run starts daemon.Run(cfg, opt) and returns once the daemon listens,
// with its endpoints and a function that stops it and returns Run's
// error (called again, it returns the same). The test's cleanup stops it
// too and fails the test on an error. opt.Started is Run's own.
func Run(tb testing.TB, cfg *daemon.Config, opt daemon.Options) (daemon.Endpoints, func() error) {
	tb.Helper()
	started := make(chan daemon.Endpoints, 1)
	ended := make(chan struct{})
	opt.Started = func(ep daemon.Endpoints) { started <- ep }
	stop := testrig.Serve(tb, func(ctx context.Context) error {
		defer close(ended)
		return daemon.Run(ctx, cfg, opt)
	})
	select {
	case ep := <-started:
		return ep, stop
	case <-ended:
		tb.Fatalf("daemon.Run ended before it listened: %v", stop())
	case <-time.After(30 * time.Second):
		tb.Fatal("the daemon did not start")
	}
	panic("unreachable")
}
