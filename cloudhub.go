package g90

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/event"
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

	onConflict func(cloud.Conflict) // the caller's, or nil

	mu        sync.RWMutex
	sinks     map[string]route
	known     map[string]bool        // GUIDs of the panels served: configured, or read from the panel
	conflicts map[string]*CloudState // by GUID (anyPanel: every panel's), only of panels served
	restrict  bool                   // only known GUIDs are served

	unrouted atomic.Uint64
}

// ConflictHold is how long CloudState.Conflict stays true after two
// addresses claimed a panel.
const ConflictHold = time.Hour

// CloudState is what the cloud server knows of a panel's connection, in
// the Monitor's State (State.Cloud) of a panel whose events come from a
// CloudHub.
//
// Nothing authenticates a panel in the cloud protocol: the GUID in its
// hello is its only identity (spec: notifications-and-cloud.md D.1).
// Two addresses naming one panel — the panel and an impostor, or a
// panel that moved while its old connection lingers — are a conflict
// (cloud.Conflict): the events of the panel may come from someone else.
type CloudState struct {
	// Remote is the address of the panel's open connection, and
	// Connected when it was accepted; zero while it has none.
	Remote    netip.AddrPort `json:"remote,omitzero"`
	Connected time.Time      `json:"connected,omitzero"`
	// LastUpstream is when the vendor's cloud last sent something for
	// the panel (chained panels; spec: E.4.5 last_upstream_packet_time);
	// zero before that.
	LastUpstream time.Time `json:"last_upstream,omitzero"`
	// Conflicts counts the conflicts since start.
	Conflicts uint64 `json:"conflicts"`
	// Conflict is true for ConflictHold after the last one: a problem
	// to show (Home Assistant's "problem" sensor).
	Conflict bool `json:"conflict"`
	// ConflictAt is when the last one was; ConflictLive the address of
	// the connection that was open then, ConflictFrom the other one's;
	// ConflictTakeover is true when the other one replaced the live one
	// (which had been silent, cloud.Config.Takeover), false when it was
	// refused.
	ConflictAt       time.Time      `json:"conflict_at,omitzero"`
	ConflictLive     netip.AddrPort `json:"conflict_live,omitzero"`
	ConflictFrom     netip.AddrPort `json:"conflict_from,omitzero"`
	ConflictTakeover bool           `json:"conflict_takeover,omitempty"`
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
//
// Unless cfg.AllowGUIDs or cfg.AllowGUID says otherwise, the server
// serves only the panels of the hub's sources: those whose GUID was
// given (PanelSource) or has been read from the panel, and every panel
// when a Standalone source takes them all. A connection naming another
// panel is closed. To serve every panel that connects, set
// cfg.AllowGUID to a function that returns true.
func NewCloudHub(cfg cloud.Config) (*CloudHub, error) {
	h := &CloudHub{sinks: map[string]route{}, known: map[string]bool{}, conflicts: map[string]*CloudState{}, log: cfg.Logger, onConflict: cfg.OnConflict}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	cfg.Handler = cloud.HandlerFunc(h.handle)
	cfg.OnConflict = h.conflict
	if cfg.AllowGUID == nil && len(cfg.AllowGUIDs) == 0 {
		cfg.AllowGUID, h.restrict = h.served, true
	}
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
	sink.Packet(event.SourceCloud, m.Received)
	sink.Message(m.Notify, event.SourceCloud, m.Received)
}

// served reports whether the panel guid is one of the hub's.
func (h *CloudHub) served(guid string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, routed := h.sinks[guid]
	_, all := h.sinks[anyPanel]
	return h.known[guid] || routed || all
}

// conflict records a conflict for the panel's state, when the panel is
// one of the hub's: the conflicts of other panels are only counted by
// the server, so that strangers cannot grow the hub's memory.
func (h *CloudHub) conflict(c cloud.Conflict) {
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
			st = &CloudState{}
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
func (h *CloudHub) State(guid string) CloudState {
	key := guid
	if guid == "" {
		key = anyPanel
	}
	h.mu.RLock()
	var st CloudState
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
func (h *CloudHub) Source(p *Panel) Source { return h.PanelSource(p, "", false) }

// ChainedSource is Source for a panel that is also relayed to the
// vendor's cloud (cloud.Config.Upstream).
func (h *CloudHub) ChainedSource(p *Panel) Source { return h.PanelSource(p, "", true) }

// PanelSource is Source or, with chained, ChainedSource, for a panel
// whose GUID may be known beforehand: with guid set, the server serves
// the panel from now on and its messages are routed as soon as the
// source runs, without reading the GUID from the panel first (which a
// panel only reachable through its cloud connection does not answer).
func (h *CloudHub) PanelSource(p *Panel, guid string, chained bool) Source {
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
		return fmt.Errorf("g90: cloud: panel %s is served by another monitor", guid)
	}
	h.sinks[guid] = route{sink, s.chained}
	if guid != anyPanel {
		h.known[guid] = true
	}
	h.mu.Unlock()
	h.log.Debug("cloud: routing panel", "guid", guid)
	if m, ok := sink.(*Monitor); ok {
		state := guid
		if guid == anyPanel {
			state = ""
		}
		m.setCloud(func() CloudState { return h.State(state) })
	}
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
