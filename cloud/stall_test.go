package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// stallLog is a slog.Handler that holds up every framing error record
// about one of the remotes in slow until release is closed: a log sink
// that blocks (a full pipe, a slow disk) on what one panel sends. (The
// accept loop's own record is not held: a sink that blocks every record
// holds up every panel, whatever the server does.)
type stallLog struct {
	mu      sync.Mutex
	slow    map[string]bool
	held    int
	release chan struct{}
}

func (h *stallLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *stallLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &stallLog2{h, as}
}
func (h *stallLog) WithGroup(string) slog.Handler { return h }
func (h *stallLog) Handle(_ context.Context, r slog.Record) error {
	return h.handle(r, nil)
}

func (h *stallLog) handle(r slog.Record, extra []slog.Attr) error {
	stall := false
	check := func(a slog.Attr) bool {
		if a.Key == "remote" {
			h.mu.Lock()
			stall = stall || h.slow[fmt.Sprint(a.Value.Any())]
			h.mu.Unlock()
		}
		return true
	}
	for _, a := range extra {
		check(a)
	}
	r.Attrs(check)
	if stall && r.Message == "cloud: framing error" {
		h.mu.Lock()
		h.held++
		h.mu.Unlock()
		<-h.release
	}
	return nil
}

func (h *stallLog) heldNow() int { h.mu.Lock(); defer h.mu.Unlock(); return h.held }

type stallLog2 struct {
	*stallLog
	as []slog.Attr
}

func (h *stallLog2) Handle(_ context.Context, r slog.Record) error { return h.handle(r, h.as) }

// TestSlowPanelHoldsUpOnlyItself: a panel whose Handler call or log
// record does not return holds up that panel alone. More panels are held
// up than there are processors, so that a pool of shared workers of that
// size would be stalled; another panel is still answered and its event
// handled, and Serve still returns once they are released.
func TestSlowPanelHoldsUpOnlyItself(t *testing.T) {
	release := make(chan struct{})
	log := &stallLog{slow: map[string]bool{}, release: release}
	var rec *recorder
	handler := HandlerFunc(func(ctx context.Context, m *Message) {
		if m.GUID == "SLOWHAND" {
			<-release
			return
		}
		rec.HandleCloud(ctx, m)
	})
	srv, r := start(t, Config{Handler: handler, Logger: slog.New(log)})
	rec = r
	defer close(release) // before start's cleanup stops Serve

	// Panels whose log records block: each sends a header whose length
	// is 0 and garbage after it, a framing error the server logs with
	// the panel's address.
	slow := runtime.GOMAXPROCS(0) + 1
	for range slow {
		p := dial(t, srv)
		log.mu.Lock()
		log.slow[p.nc.LocalAddr().String()] = true
		log.mu.Unlock()
		p.send([]byte{0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, []byte("garbage!"))
	}
	eventually.True(t, "every slow panel's log record held up", func() bool { return log.heldNow() >= slow })

	// A panel whose event the Handler holds.
	h := dial(t, srv)
	h.send(helloWithGUID(t, "SLOWHAND"), vector(t, "C-NOTIFICATION"))
	h.expect(helloReplies(srv))

	// Another panel is answered, and its event handled, meanwhile.
	p := dial(t, srv)
	p.send(helloWithGUID(t, "FASTPANL"))
	p.expect(helloReplies(srv))
	p.send(vector(t, "C-NOTIFICATION"))
	p.sync()
	if msgs := rec.wait(t, 1); msgs[0].GUID != "FASTPANL" {
		t.Errorf("message %+v, want FASTPANL's", msgs[0])
	}
}
