// Package floodlog keeps a flood of one kind of log record from filling
// the disk: a hostile sender's datagrams, a panel that keeps sending
// garbage, a broker that refuses every second.
//
// Handler wraps a slog.Handler. Records of the same kind — the same
// level, message and values of the attributes that say where they come
// from (by default "from", "remote", "panel", "guid", "part", "url") —
// pass in full up to Burst per Window; the others are counted, and once
// the window is over one record says how many there were:
//
//	h := floodlog.New(slog.NewTextHandler(os.Stderr, nil), floodlog.Config{})
//	defer h.Close() // says what is still counted
//	log := slog.New(h)
//	// … level=WARN msg="dropped notification" from=10.0.0.9:1 suppressed=995 window=1m0s
//
// Debug records pass as they are: asking for them means wanting them.
//
// Bytes bounds the hex dump of a datagram in a log record.
package floodlog

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Handler; the zero value of each field means its
// default.
type Config struct {
	// Burst is how many records of one kind pass per Window; 0 means 5.
	Burst int
	// Window is the period Burst counts in; 0 means one minute.
	Window time.Duration
	// Keys are the attributes whose values, with the level and message,
	// make a record's kind; nil means DefaultKeys.
	Keys []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultKeys are the attributes that say where a record comes from.
var DefaultKeys = []string{"from", "remote", "panel", "guid", "part", "url"}

// Handler is a slog.Handler that passes at most Burst records of a kind
// per Window. Handlers made by WithAttrs and WithGroup share the counts.
type Handler struct {
	next   slog.Handler
	shared *shared
	prefix string // the kind's part from WithAttrs
}

type shared struct {
	cfg  Config
	keys map[string]bool

	mu        sync.Mutex
	kinds     map[string]*kind
	lastPrune time.Time
	closed    bool
}

type kind struct {
	start      time.Time
	n          int // records in this window
	suppressed int
	rec        slog.Record  // the first suppressed one, for the summary
	next       slog.Handler // the handler that would have written it
	timer      *time.Timer
}

// New returns a Handler writing to next.
func New(next slog.Handler, cfg Config) *Handler {
	if cfg.Burst <= 0 {
		cfg.Burst = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Keys == nil {
		cfg.Keys = DefaultKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	keys := map[string]bool{}
	for _, k := range cfg.Keys {
		keys[k] = true
	}
	return &Handler{next: next, shared: &shared{cfg: cfg, keys: keys, kinds: map[string]*kind{}}}
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// WithAttrs returns a Handler whose records carry as, sharing the counts.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), shared: h.shared, prefix: h.prefix + h.shared.kindOf(as)}
}

// WithGroup returns a Handler with the group, sharing the counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), shared: h.shared, prefix: h.prefix + "\x00g:" + name}
}

// kindOf is the part of a kind that the attributes in as make.
func (s *shared) kindOf(as []slog.Attr) string {
	var b strings.Builder
	for _, a := range as {
		if s.keys[a.Key] {
			b.WriteString("\x00")
			b.WriteString(a.Key)
			b.WriteString("=")
			b.WriteString(a.Value.String())
		}
	}
	return b.String()
}

// Handle writes r, or counts it when its kind has had its Burst.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return h.next.Handle(ctx, r)
	}
	s := h.shared
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if s.keys[a.Key] {
			attrs = append(attrs, a)
		}
		return true
	})
	coarse := strconv.Itoa(int(r.Level)) + "\x00" + r.Message + h.prefix
	key := coarse + s.kindOf(attrs)
	now := s.cfg.Now()

	s.mu.Lock()
	k := s.kinds[key]
	if k == nil && len(s.kinds) >= maxKinds {
		if now.Sub(s.lastPrune) >= s.cfg.Window/60 {
			s.pruneLocked(now)
			s.lastPrune = now
		}
		if len(s.kinds) >= maxKinds {
			// Thousands of sources at once (forged addresses): one
			// kind for all of them.
			key = coarse + "\x00many sources"
			k = s.kinds[key]
		}
	}
	if k == nil || now.Sub(k.start) >= s.cfg.Window {
		if k != nil && k.suppressed > 0 {
			// The window is over and its timer has not written the
			// summary yet: write it now, before this record.
			s.summarizeLocked(key, k)
		}
		k = &kind{start: now}
		s.kinds[key] = k
	}
	k.n++
	if k.n <= s.cfg.Burst || s.closed {
		s.mu.Unlock()
		return h.next.Handle(ctx, r)
	}
	if k.suppressed == 0 {
		k.rec, k.next = r.Clone(), h.next
		k.timer = time.AfterFunc(k.start.Add(s.cfg.Window).Sub(now), func() { s.flush(key, k) })
	}
	k.suppressed++
	s.mu.Unlock()
	return nil
}

// maxKinds bounds the kinds counted at once.
const maxKinds = 1024

// pruneLocked forgets the kinds whose window is over, writing their
// summaries. s.mu is held.
func (s *shared) pruneLocked(now time.Time) {
	for key, k := range s.kinds {
		if now.Sub(k.start) >= s.cfg.Window {
			if k.suppressed > 0 {
				s.summarizeLocked(key, k)
			}
			delete(s.kinds, key)
		}
	}
}

// flush writes k's summary if k is still the current window of key.
func (s *shared) flush(key string, k *kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds[key] == k && k.suppressed > 0 {
		s.summarizeLocked(key, k)
		delete(s.kinds, key)
	}
}

// summarizeLocked writes one record for k's suppressed ones. s.mu is
// held, so summaries and records keep their order.
func (s *shared) summarizeLocked(key string, k *kind) {
	if k.timer != nil {
		k.timer.Stop()
	}
	r := slog.NewRecord(s.cfg.Now(), k.rec.Level, k.rec.Message, 0)
	k.rec.Attrs(func(a slog.Attr) bool {
		if s.keys[a.Key] {
			r.AddAttrs(a)
		}
		return true
	})
	r.AddAttrs(slog.Int("suppressed", k.suppressed), slog.Duration("window", s.cfg.Window))
	_ = k.next.Handle(context.Background(), r)
	k.suppressed = 0
}

// Close writes the summaries still pending and stops their timers; after
// it, records pass unlimited.
func (h *Handler) Close() {
	s := h.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for key, k := range s.kinds {
		if k.suppressed > 0 {
			s.summarizeLocked(key, k)
		}
		delete(s.kinds, key)
	}
}

// MaxBytes is how much of a datagram Bytes shows.
const MaxBytes = 256

// Bytes is b for a log record: hex, and at most MaxBytes of it, with the
// length of the whole. It is encoded only when a handler writes it, so a
// debug record that is not written costs nothing; b must not change
// before the log call returns.
func Bytes(b []byte) slog.Value { return slog.AnyValue(hexDump(b)) }

type hexDump []byte

func (b hexDump) LogValue() slog.Value {
	if len(b) <= MaxBytes {
		return slog.StringValue(hex.EncodeToString(b))
	}
	return slog.StringValue(hex.EncodeToString(b[:MaxBytes]) + "…(" + strconv.Itoa(len(b)) + " bytes)")
}
