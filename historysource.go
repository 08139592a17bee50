package g90

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/atomicfile"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
)

// HistoryConfig configures a HistoryPoller. The zero value of every field
// means its default.
type HistoryConfig struct {
	// Interval is the time between two reads; 0 means 5 s (spec: C.3).
	Interval time.Duration
	// Depth is how many of the newest entries each read fetches; 0 means
	// 10, one page (spec: C.1). A burst of more new entries than Depth
	// between two reads loses the oldest of them.
	Depth int
	// StateFile keeps the cursor across restarts: the entries that
	// happened while the poller was stopped are replayed when it starts
	// again. "" keeps it in memory: the first read then only sets the
	// baseline (spec: C.4).
	StateFile string
	// Durable, if set, is waited for before the cursor is saved past
	// entries just replayed: it returns once they are stored wherever a
	// restart must not lose them (the daemon: Monitor.Flush, then its
	// journal). Until it succeeds the cursor moves in memory only, so a
	// crash replays those entries rather than losing them.
	Durable func(ctx context.Context) error
	// Paused starts the poller paused: it reads nothing until
	// SetEnabled(true).
	Paused bool
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
}

// HistoryPoller is the event source of last resort: it reads the panel's
// history periodically and replays each new entry as an alert (spec: C).
// Unlike the reference (spec: C.4) it replays every new entry, also
// several with the same timestamp; an entry that cannot be routed is
// skipped with a log line by the Monitor and blocks nothing; a failed
// read is retried at the next tick; and the cursor can survive a restart.
// It can be paused and resumed while it runs (Home Assistant's "simulate
// alerts from history" switch; spec: home-assistant.md §2a).
type HistoryPoller struct {
	p   *Panel
	cfg HistoryConfig
	log *slog.Logger
	cur cursor // owned by Run's goroutine
	// unsaved: cur moved past entries Durable has not confirmed.
	unsaved bool

	on atomic.Bool
	// rebase: paused since the last poll; what happens while paused is
	// not replayed, so the next read sets a new baseline.
	rebase atomic.Bool
	wake   chan struct{}
}

// cursor is the newest panel time handled and how many entries of each
// kind with that time were handled; several identical entries can share
// a second.
type cursor struct {
	Panel string         `json:"panel"`
	Set   bool           `json:"set"` // false: no baseline yet
	Time  int            `json:"time"`
	Seen  map[string]int `json:"seen"`
}

// NewHistoryPoller returns a history source for p; a Monitor runs it.
func (p *Panel) NewHistoryPoller(cfg HistoryConfig) *HistoryPoller {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Depth <= 0 {
		cfg.Depth = protocol.PageSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &HistoryPoller{p: p, cfg: cfg, log: log.With("panel", p.Addr(), "source", event.SourceHistory), wake: make(chan struct{}, 1)}
	h.on.Store(!cfg.Paused)
	return h
}

// Enabled reports whether the poller reads the history (is not paused).
func (h *HistoryPoller) Enabled() bool { return h.on.Load() }

// SetEnabled resumes or pauses the poller; it takes effect at once. The
// entries written while it was paused are not replayed: the first read
// after a pause sets a new baseline, and so does a restart after one (the
// state file forgets the cursor). A restart without a pause replays what
// happened while the poller was stopped, as before.
func (h *HistoryPoller) SetEnabled(on bool) {
	if h.on.Swap(on) == on {
		return
	}
	if !on {
		h.rebase.Store(true)
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run reads the history every Interval until ctx ends, and hands each new
// entry to sink as an alert with no GUID (spec: C.2). A failed read is
// logged and retried at the next tick; so is a state file that cannot be
// written. It returns nil when ctx ends.
func (h *HistoryPoller) Run(ctx context.Context, sink notify.Sink) error {
	h.cur = h.loadCursor()
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		if h.rebase.Swap(false) && h.cur.Set {
			h.cur = cursor{Panel: h.p.Addr()}
			if err := h.saveCursor(); err != nil {
				h.log.Error("cannot save the history cursor", "err", err)
			}
		}
		if h.on.Load() {
			h.poll(ctx, sink)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.wake:
		}
	}
}

// poll reads once and replays what is new.
func (h *HistoryPoller) poll(ctx context.Context, sink notify.Sink) {
	entries, err := h.p.History(ctx, 1, h.cfg.Depth)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("history read failed; retrying at the next tick", "err", err)
		}
		return
	}
	sink.Packet(event.SourceHistory, time.Now())
	next := h.replay(entries, sink)
	if !h.unsaved && next.Set == h.cur.Set && next.Time == h.cur.Time && maps.Equal(next.Seen, h.cur.Seen) {
		return
	}
	h.cur = next
	if h.cfg.Durable != nil {
		if err := h.cfg.Durable(ctx); err != nil {
			h.unsaved = true
			if ctx.Err() == nil {
				h.log.Warn("history entries not stored yet; the cursor is saved after the next read", "err", err)
			}
			return
		}
	}
	h.unsaved = false
	if err := h.saveCursor(); err != nil {
		// The cursor lives on in memory; only a restart would replay.
		h.log.Error("cannot save the history cursor", "err", err)
	}
}

// replay hands sink the entries newer than the cursor, oldest first, and
// returns the new cursor. entries are sorted newest first (spec: C.1).
func (h *HistoryPoller) replay(entries []HistoryEntry, sink notify.Sink) cursor {
	cur := h.cur
	if !cur.Set {
		// The first read is the baseline: what is there happened before
		// we started (spec: C.4). An empty history is a baseline too, so
		// that the first entries to appear are replayed.
		return baseline(h.p.Addr(), entries)
	}
	newest := cur.Time
	atCursor := map[string]int{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := &entries[i]
		if e.UnixTime < cur.Time {
			continue
		}
		k := entryKey(e)
		if e.UnixTime == cur.Time {
			atCursor[k]++
			if atCursor[k] <= cur.Seen[k] {
				continue
			}
		}
		newest = max(newest, e.UnixTime)
		sink.Message(alertOf(e), event.SourceHistory, time.Unix(int64(e.UnixTime), 0))
	}
	if newest == cur.Time {
		seen := map[string]int{}
		for k, n := range cur.Seen {
			seen[k] = n
		}
		for k, n := range atCursor {
			seen[k] = max(seen[k], n)
		}
		return cursor{Panel: cur.Panel, Set: true, Time: newest, Seen: seen}
	}
	return baseline(cur.Panel, entries)
}

// baseline is the cursor after the newest of entries.
func baseline(panel string, entries []HistoryEntry) cursor {
	c := cursor{Panel: panel, Set: true, Seen: map[string]int{}}
	for i := range entries {
		c.Time = max(c.Time, entries[i].UnixTime)
	}
	for i := range entries {
		if entries[i].UnixTime == c.Time {
			c.Seen[entryKey(&entries[i])]++
		}
	}
	return c
}

// alertOf converts a history entry to the alert it stands for (spec: C.2).
func alertOf(e *HistoryEntry) notify.Message {
	return notify.Message{Code: protocol.CodeAlert, Alert: notify.Alert{
		Type: e.Type, EventID: e.EventID, Source: e.Source, State: e.State, Name: e.Name,
		UnixTime: int64(e.UnixTime), Reserved: protocol.IntValue(0), Other: e.Other,
	}}
}

// entryKey identifies what an entry says; the REC of spec: C.4.
func entryKey(e *HistoryEntry) string {
	b := make([]byte, 0, 32+len(e.Name))
	for _, n := range [...]int{int(e.Type), e.EventID, int(e.Source), e.State} {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '/')
	}
	return string(strconv.AppendQuote(b, e.Name))
}

// loadCursor reads the state file. A missing, unreadable or foreign file
// starts from a fresh baseline, with a log line when it was not just
// missing.
func (h *HistoryPoller) loadCursor() cursor {
	fresh := cursor{Panel: h.p.Addr()}
	if h.cfg.StateFile == "" {
		return fresh
	}
	b, err := os.ReadFile(h.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return fresh
	}
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && c.Panel != h.p.Addr() {
		err = fmt.Errorf("it belongs to panel %s", c.Panel)
	}
	if err != nil {
		h.log.Warn("history state file ignored; starting from a new baseline", "file", h.cfg.StateFile, "err", err)
		return fresh
	}
	if c.Seen == nil {
		c.Seen = map[string]int{}
	}
	return c
}

// saveCursor writes the state file atomically.
func (h *HistoryPoller) saveCursor() error {
	if h.cfg.StateFile == "" {
		return nil
	}
	b, err := json.Marshal(h.cur)
	if err != nil {
		return err
	}
	err = atomicfile.Write(h.cfg.StateFile, b)
	if err != nil {
		return fmt.Errorf("history state file: %w", err)
	}
	return nil
}
