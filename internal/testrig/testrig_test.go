package testrig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that runs its cleanups on demand and keeps
// its errors.
type recorder struct {
	testing.TB
	ctx      context.Context
	cancel   context.CancelFunc
	cleanups []func()
	mu       sync.Mutex
	errs     []string
}

func newRecorder(t *testing.T) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	return &recorder{TB: t, ctx: ctx, cancel: cancel}
}

func (r *recorder) Context() context.Context { return r.ctx }
func (r *recorder) Cleanup(f func())         { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// end does what the testing package does when a test ends: cancel the
// context, then run the cleanups, last first.
func (r *recorder) end() {
	r.cancel()
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

type part struct{ err error }

// Run blocks until ctx ends and returns p.err, or ctx.Err() if nil.
func (p *part) Run(ctx context.Context) error {
	<-ctx.Done()
	if p.err != nil {
		return p.err
	}
	return ctx.Err()
}

func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // in the error reported, "" for none
	}{
		{"canceled", nil, ""},
		{"nil", nil, ""},
		{"wrapped canceled", fmt.Errorf("serve: %w", context.Canceled), ""},
		{"error", errors.New("socket gone"), "testrig.(*part).Run: socket gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t)
			p := &part{err: tc.err}
			run := p.Run
			if tc.name == "nil" {
				run = func(ctx context.Context) error { <-ctx.Done(); return nil }
			}
			Serve(r, run)
			r.end()
			switch {
			case tc.want == "" && len(r.errs) > 0:
				t.Errorf("errors %q, want none", r.errs)
			case tc.want != "" && (len(r.errs) != 1 || r.errs[0] != tc.want):
				t.Errorf("errors %q, want [%q]", r.errs, tc.want)
			}
		})
	}
}

// stop ends run at once and returns its error, the same each time; the
// cleanup reports that error too.
func TestServeStop(t *testing.T) {
	r := newRecorder(t)
	p := &part{err: errors.New("broken")}
	stop := Serve(r, p.Run)
	if err := stop(); err == nil || err.Error() != "broken" {
		t.Fatalf("stop: %v, want broken", err)
	}
	if err := stop(); err == nil || err.Error() != "broken" {
		t.Fatalf("stop again: %v, want broken", err)
	}
	r.end()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "broken") {
		t.Errorf("errors %q, want one naming broken", r.errs)
	}
}

// The context given to run ends when the test's does, before cleanups.
func TestServeContextEndsWithTest(t *testing.T) {
	r := newRecorder(t)
	ended := make(chan struct{})
	Serve(r, func(ctx context.Context) error { <-ctx.Done(); close(ended); return nil })
	r.cancel()
	<-ended
	r.end()
	if len(r.errs) > 0 {
		t.Errorf("errors %q", r.errs)
	}
}
