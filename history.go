package g90

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// HistoryEntry is one event of the panel's history, interpreted.
type HistoryEntry struct {
	protocol.HistoryEntry
	Position int // 1-based position in the panel's list
}

// Time returns the entry's time.
func (h HistoryEntry) Time() time.Time { return time.Unix(int64(h.UnixTime), 0) }

// History reads count entries from position start (1 = the newest) and
// returns them sorted newest first, because the panel does not guarantee
// the order (spec: local-protocol.md 3.15). A count of 0 reads the whole
// history. Entries that fail to decode are skipped with a log line; the
// rest are returned.
func (p *Panel) History(ctx context.Context, start, count int) ([]HistoryEntry, error) {
	if start < 1 || count < 0 {
		return nil, fmt.Errorf("history: start %d and count %d: want start ≥ 1 and count ≥ 0", start, count)
	}
	last := 0
	if count > 0 {
		last = start + count - 1 // not the reference's quirk (spec 3.15.6)
	}
	var out []HistoryEntry
	err := p.c.ReadAll(ctx, protocol.GetHistory, start, last, func(pos int, rec protocol.Value) error {
		var e protocol.HistoryEntry
		if err := protocol.Decode(&e, rec.Arr); err != nil {
			p.log.Warn("skipping history entry", "panel", p.Addr(), "position", pos, "record", rec.String(), "err", err)
			return nil
		}
		out = append(out, HistoryEntry{HistoryEntry: e, Position: pos})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return b.UnixTime - a.UnixTime })
	return out, nil
}
