package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
)

// Hub is a cloud server shared by the Monitors of several panels, and
// the Handler that routes its messages by GUID: every panel connects to
// the same address, as they would to the vendor's cloud (spec: D, E), and
// each message goes, from its connection's goroutine, to the Monitor of
// the panel whose GUID it carries (spec: D.11). A panel whose Monitor
// waits (its queue full) holds up its own connection only. Serve runs
// the server; each panel's Source registers it.
type Hub struct {
	srv *Server
	log *slog.Logger

	onConflict func(Conflict) // the caller's, or nil

	mu        sync.RWMutex
	sinks     map[string]route
	known     map[string]bool            // GUIDs of the panels served: configured, or read from the panel
	conflicts map[string]*g90.CloudState // by GUID (anyPanel: every panel's), only of panels served
	restrict  bool                       // only known GUIDs are served

	unrouted atomic.Uint64
}

// ConflictHold is how long g90.CloudState.Conflict stays true after two
// addresses claimed a panel.
const ConflictHold = time.Hour

// route is where one panel's messages go.
type route struct {
	sink    notify.Sink
	chained bool // relayed to Config.Upstream
}

// NewHub starts listening as cfg says (cfg.Handler is the hub's
// own). With cfg.Upstream set and cfg.Chain nil, the panels relayed
// upstream are those whose source is chained (ChainedSource,
// Standalone); a chained panel's messages are answered locally until its
// source has read its GUID.
//
// Unless cfg.AllowGUIDs or cfg.AllowGUID says otherwise, the server
// serves only the panels of the hub's sources: those whose GUID was
// given (PanelSource) or has been read from the panel, and every panel
// when a Standalone source takes them all. A connection naming another
// panel is closed. To serve every panel that connects, set
// cfg.AllowGUID to a function that returns true.
func NewHub(cfg Config) (*Hub, error) {
	h := &Hub{sinks: map[string]route{}, known: map[string]bool{}, conflicts: map[string]*g90.CloudState{}, log: cfg.Logger, onConflict: cfg.OnConflict}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	cfg.Handler = h
	cfg.OnConflict = h.conflict
	if cfg.AllowGUID == nil && len(cfg.AllowGUIDs) == 0 {
		cfg.AllowGUID, h.restrict = h.served, true
	}
	if cfg.Upstream != "" && cfg.Chain == nil {
		cfg.Chain = h.chained
	}
	srv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return h, nil
}

// Server returns the cloud server, for its address, panels and counters.
func (h *Hub) Server() *Server { return h.srv }

// Serve serves panels until ctx ends, and returns after every connection
// has closed.
func (h *Hub) Serve(ctx context.Context) error { return h.srv.Serve(ctx) }

// Unrouted counts the messages of panels no running Source has claimed:
// panels not configured, or configured but not read yet.
func (h *Hub) Unrouted() uint64 { return h.unrouted.Load() }

// HandleCloud implements Handler: it hands m to the sink of m's panel.
// The sink's Message may wait (a Monitor's full queue); it then holds up
// m's connection alone.
func (h *Hub) HandleCloud(_ context.Context, m *Message) {
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
	sink.Packet(event.SourceCloud, m.Received)
	sink.Message(m.Notify, event.SourceCloud, m.Received)
}

// served reports whether the panel guid is one of the hub's.
func (h *Hub) served(guid string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, routed := h.sinks[guid]
	_, all := h.sinks[anyPanel]
	return h.known[guid] || routed || all
}

// conflict records a conflict for the panel's state, when the panel is
// one of the hub's: the conflicts of other panels are only counted by
// the server, so that strangers cannot grow the hub's memory.
func (h *Hub) conflict(c Conflict) {
	h.mu.Lock()
	key := c.GUID
	_, routed := h.sinks[key]
	if !h.known[key] && !routed {
		key = anyPanel
		if _, all := h.sinks[anyPanel]; !all {
			key = ""
		}
	}
	if key != "" {
		st := h.conflicts[key]
		if st == nil {
			st = &g90.CloudState{}
			h.conflicts[key] = st
		}
		st.Conflicts++
		st.ConflictAt, st.ConflictLive, st.ConflictFrom, st.ConflictTakeover = c.Time, c.Live, c.New, c.Takeover
	}
	h.mu.Unlock()
	if h.onConflict != nil {
		h.onConflict(c)
	}
}

// State returns what the server knows of the connection of the panel
// guid ("" or unknown: of every panel, for a Standalone source that
// takes them all).
func (h *Hub) State(guid string) g90.CloudState {
	key := guid
	if guid == "" {
		key = anyPanel
	}
	h.mu.RLock()
	var st g90.CloudState
	if c := h.conflicts[key]; c != nil {
		st = *c
	}
	h.mu.RUnlock()
	if guid != "" {
		if p, ok := h.srv.Panel(guid); ok {
			st.Remote, st.Connected, st.LastUpstream = p.Remote, p.Connected, p.LastUpstream
		}
	}
	if !st.ConflictAt.IsZero() && time.Since(st.ConflictAt) < ConflictHold {
		st.Conflict = true
	}
	return st
}

// anyPanel is the sinks key of a source that takes every panel's
// messages no other source claims.
const anyPanel = "*"

// chained reports whether the panel with guid is relayed upstream.
func (h *Hub) chained(guid string) bool {
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
func (h *Hub) Source(p *g90.Panel) g90.Source { return h.PanelSource(p, "", false) }

// ChainedSource is Source for a panel that is also relayed to the
// vendor's cloud (Config.Upstream).
func (h *Hub) ChainedSource(p *g90.Panel) g90.Source { return h.PanelSource(p, "", true) }

// PanelSource is Source or, with chained, ChainedSource, for a panel
// whose GUID may be known beforehand: with guid set, the server serves
// the panel from now on and its messages are routed as soon as the
// source runs, without reading the GUID from the panel first (which a
// panel only reachable through its cloud connection does not answer).
func (h *Hub) PanelSource(p *g90.Panel, guid string, chained bool) g90.Source {
	if guid != "" {
		h.mu.Lock()
		h.known[guid] = true
		h.mu.Unlock()
	}
	return &hubSource{h: h, p: p, guid: guid, chained: chained}
}

// Standalone returns the hub's only source, for a program with one
// panel (g90 listen): its Run serves the hub too. It takes the messages
// of the panel with this GUID, or with guid "" of every panel that
// connects, and they are relayed when the hub has an upstream.
func (h *Hub) Standalone(guid string) g90.Source {
	if guid == "" {
		guid = anyPanel
	}
	return &hubSource{h: h, guid: guid, serve: true, chained: true}
}

type hubSource struct {
	h       *Hub
	p       *g90.Panel // whose GUID to read, or nil
	guid    string     // the GUID to route, when p is nil
	serve   bool       // Run serves the hub too
	chained bool       // relayed upstream

	routed atomic.Pointer[string] // the GUID routed (anyPanel: every panel), while routed
}

// Run implements g90.Source.
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
	if guid == "" && s.p != nil {
		var err error
		if guid, err = s.readGUID(ctx); err != nil {
			return nil // ctx ended
		}
	}
	h := s.h
	h.mu.Lock()
	if _, taken := h.sinks[guid]; taken {
		h.mu.Unlock()
		return fmt.Errorf("cloud: panel %s is served by another monitor", guid)
	}
	h.sinks[guid] = route{sink, s.chained}
	if guid != anyPanel {
		h.known[guid] = true
	}
	h.mu.Unlock()
	h.log.Debug("cloud: routing panel", "guid", guid)
	s.routed.Store(&guid)
	<-ctx.Done()
	s.routed.Store(nil)
	h.mu.Lock()
	delete(h.sinks, guid)
	h.mu.Unlock()
	return nil
}

// CloudState implements g90.CloudStater: what the server knows of the
// panel's connection, once the source routes its messages.
func (s *hubSource) CloudState() (g90.CloudState, bool) {
	g := s.routed.Load()
	if g == nil {
		return g90.CloudState{}, false
	}
	guid := *g
	if guid == anyPanel {
		guid = ""
	}
	return s.h.State(guid), true
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

// isPowerOfTwo picks the counts at which a repeated warning is logged.
func isPowerOfTwo(n uint64) bool { return n&(n-1) == 0 && n != 0 }
