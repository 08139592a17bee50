package g90

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/notify"
)

// CloudHub shares one cloud server between the Monitors of several
// panels: every panel connects to the same address, as they would to the
// vendor's cloud (spec: notifications-and-cloud.md D, E), and each
// message goes to the Monitor of the panel whose GUID it carries (spec:
// D.11). Serve runs the server; each panel's Source registers it.
type CloudHub struct {
	srv *cloud.Server
	log *slog.Logger

	mu    sync.RWMutex
	sinks map[string]route

	unrouted atomic.Uint64
}

// route is where one panel's messages go.
type route struct {
	sink    notify.Sink
	chained bool // relayed to cloud.Config.Upstream
}

// NewCloudHub starts listening as cfg says (cfg.Handler is the hub's
// own). With cfg.Upstream set and cfg.Chain nil, the panels relayed
// upstream are those whose source is chained (ChainedSource,
// Standalone); a chained panel's messages are answered locally until its
// source has read its GUID.
func NewCloudHub(cfg cloud.Config) (*CloudHub, error) {
	h := &CloudHub{sinks: map[string]route{}, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	cfg.Handler = cloud.HandlerFunc(h.handle)
	if cfg.Upstream != "" && cfg.Chain == nil {
		cfg.Chain = h.chained
	}
	srv, err := cloud.New(cfg)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return h, nil
}

// Server returns the cloud server, for its address, panels and counters.
func (h *CloudHub) Server() *cloud.Server { return h.srv }

// Serve serves panels until ctx ends, and returns after every connection
// has closed.
func (h *CloudHub) Serve(ctx context.Context) error { return h.srv.Serve(ctx) }

// Unrouted counts the messages of panels no running Source has claimed:
// panels not configured, or configured but not read yet.
func (h *CloudHub) Unrouted() uint64 { return h.unrouted.Load() }

// handle is called by the server, one message at a time.
func (h *CloudHub) handle(_ context.Context, m *cloud.Message) {
	h.mu.RLock()
	r, ok := h.sinks[m.GUID]
	if !ok {
		r = h.sinks[anyPanel]
	}
	h.mu.RUnlock()
	sink := r.sink
	if sink == nil {
		if n := h.unrouted.Add(1); isPowerOfTwo(n) {
			h.log.Warn("cloud: message from a panel no monitor serves; dropped", "guid", m.GUID, "remote", m.Remote, "kind", m.Kind, "unrouted", n)
		}
		return
	}
	sink.Packet(notify.SourceCloud, m.Received)
	sink.Message(m.Notify, notify.SourceCloud, m.Received)
}

// anyPanel is the sinks key of a source that takes every panel's
// messages no other source claims.
const anyPanel = "*"

// chained reports whether the panel with guid is relayed upstream.
func (h *CloudHub) chained(guid string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r, ok := h.sinks[guid]
	if !ok {
		r = h.sinks[anyPanel]
	}
	return r.chained
}

// Source returns the event source of panel p: once p's GUID is read
// (retried with backoff while the panel does not answer), the messages
// that carry it go to the Monitor running the source. The hub must be
// served for the source to receive anything.
func (h *CloudHub) Source(p *Panel) Source { return &hubSource{h: h, p: p} }

// ChainedSource is Source for a panel that is also relayed to the
// vendor's cloud (cloud.Config.Upstream).
func (h *CloudHub) ChainedSource(p *Panel) Source { return &hubSource{h: h, p: p, chained: true} }

// Standalone returns the hub's only source, for a program with one
// panel (g90 listen): its Run serves the hub too. It takes the messages
// of the panel with this GUID, or with guid "" of every panel that
// connects, and they are relayed when the hub has an upstream.
func (h *CloudHub) Standalone(guid string) Source {
	if guid == "" {
		guid = anyPanel
	}
	return &hubSource{h: h, guid: guid, serve: true, chained: true}
}

type hubSource struct {
	h       *CloudHub
	p       *Panel // whose GUID to read, or nil
	guid    string // the GUID to route, when p is nil
	serve   bool   // Run serves the hub too
	chained bool   // relayed upstream
}

// Run implements Source.
func (s *hubSource) Run(ctx context.Context, sink notify.Sink) error {
	if !s.serve {
		return s.route(ctx, sink)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	routed := make(chan error, 1)
	go func() { routed <- s.route(ctx, sink) }()
	err := s.h.Serve(ctx)
	cancel()
	if rerr := <-routed; err == nil {
		err = rerr
	}
	return err
}

// route sends the panel's messages to sink until ctx ends.
func (s *hubSource) route(ctx context.Context, sink notify.Sink) error {
	guid := s.guid
	if s.p != nil {
		var err error
		if guid, err = s.readGUID(ctx); err != nil {
			return nil // ctx ended
		}
	}
	h := s.h
	h.mu.Lock()
	if _, taken := h.sinks[guid]; taken {
		h.mu.Unlock()
		return fmt.Errorf("g90: cloud: panel %s is served by another monitor", guid)
	}
	h.sinks[guid] = route{sink, s.chained}
	h.mu.Unlock()
	h.log.Debug("cloud: routing panel", "guid", guid)
	<-ctx.Done()
	h.mu.Lock()
	delete(h.sinks, guid)
	h.mu.Unlock()
	return nil
}

// readGUID reads the panel's GUID, retrying from 1 s to 30 s apart until
// it answers or ctx ends.
func (s *hubSource) readGUID(ctx context.Context) (string, error) {
	wait := time.Second
	for {
		info, err := s.p.Info(ctx)
		if err == nil && info.GUID != "" {
			return info.GUID, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		s.h.log.Warn("cloud: cannot read the panel's GUID to route its messages; retrying", "panel", s.p.Addr(), "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}
