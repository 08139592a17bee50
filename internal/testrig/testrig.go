// Package testrig holds what tests need to run g90's parts: Serve runs a
// part's Serve or Run until the test ends and checks that it stopped.
// Every test rig lives under it, and nothing outside tests imports them:
//
//	daemontest  a daemon with simulated panels, ready to serve
//	eventually  wait for a condition instead of sleeping
//	leaktest    fail a test that leaves goroutines running
//	lockedbuf   a buffer a logger and a test may share
//	mqtttest    an MQTT client that records every message, and cutters
//	simtest     a simulator started for one test; counting requests
//	testpki     a throwaway CA with server and client certificates
//	vectors     the golden exchanges of the local protocol
//
//	s, _ := sim.New(sim.Config{Listen: "127.0.0.1:0"})
//	testrig.Serve(t, s.Serve)
//
// It imports only the standard library, so that any package's internal
// tests may use it without an import cycle.
package testrig

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// StopTimeout is how long Serve waits for run to return once its context
// has ended: generous, for a loaded CI machine under -race; it only
// matters when a part does not stop.
const StopTimeout = 30 * time.Second

// Serve runs run in a goroutine with a context that ends when the test
// does (tb.Context), or when stop is called. At cleanup it waits for run
// to return, and fails tb if run did not return within StopTimeout or
// returned an error other than context.Canceled.
//
// stop ends run early: it cancels run's context, waits for run and
// returns its error (nil for context.Canceled); called again, it returns
// the same error.
func Serve(tb testing.TB, run func(ctx context.Context) error) (stop func() error) {
	tb.Helper()
	name := funcName(run)
	ctx, cancel := context.WithCancel(tb.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var (
		once   sync.Once
		runErr error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					runErr = err
				}
			case <-time.After(StopTimeout):
				runErr = errors.New(name + " did not return within " + StopTimeout.String() + " after its context ended")
			}
		})
		return runErr
	}
	tb.Cleanup(func() {
		if err := stop(); err != nil {
			tb.Errorf("%s: %v", name, err)
		}
	})
	return stop
}

// funcName names run in failures: "sim.(*Panel).Serve" for a method value.
func funcName(run any) string {
	f := runtime.FuncForPC(reflect.ValueOf(run).Pointer())
	if f == nil {
		return "run"
	}
	name := strings.TrimSuffix(f.Name(), "-fm")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}
