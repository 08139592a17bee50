// Package daemontest runs g90 serve (daemon.Run) inside a test.
package daemontest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/daemon"
)

// Run starts daemon.Run(cfg, opt) and returns once the daemon listens,
// with its endpoints and a function that stops it and returns Run's
// error (called again, it returns the same). The test's cleanup stops it
// too and fails the test on an error. opt.Started is Run's own.
func Run(tb testing.TB, cfg *daemon.Config, opt daemon.Options) (daemon.Endpoints, func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan daemon.Endpoints, 1)
	done := make(chan error, 1)
	opt.Started = func(ep daemon.Endpoints) { started <- ep }
	go func() { done <- daemon.Run(ctx, cfg, opt) }()
	var (
		once   sync.Once
		runErr error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("daemon.Run did not return after cancel")
			}
		})
		return runErr
	}
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("daemon.Run: %v", err)
		}
	})
	select {
	case ep := <-started:
		return ep, stop
	case err := <-done:
		tb.Fatalf("daemon.Run: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("the daemon did not start")
	}
	panic("unreachable")
}
