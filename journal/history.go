package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g90alarm/g90/event"
)

// Filter selects entries for History; the zero Filter selects all.
type Filter struct {
	// Panel selects one panel's entries by GUID; "" selects all.
	Panel string
	// Sensor, with Panel, selects the events of the sensor with Index
	// (event.Event's Sensor and Index).
	Sensor bool
	Index  int
	// Type selects one event type; "" selects all.
	Type event.Type
	// From and To select entries stored (Entry.Time, the arrival) at or
	// after From and before To; zero means no bound.
	From, To time.Time
}

// HistoryQuery is one page of History.
type HistoryQuery struct {
	Filter
	// Before continues a previous page: entries older than this Cursor
	// (Page.Next). Zero starts at the newest.
	Before Cursor
	// Limit is the most entries in the page; 0 means 100.
	Limit int
}

// Page is what History returns.
type Page struct {
	// Entries are newest first.
	Entries []Entry
	// Next continues after Entries (HistoryQuery.Before); zero when
	// there are no more.
	Next Cursor
	// Skipped counts damaged entries, and index entries that were
	// damaged or named an event that is gone, left out on the way.
	Skipped int
}

// Cursor is a place in the journal's order, between two entries.
type Cursor struct {
	at int64
	id uint64
}

// Cursor is the place of e: a page Before it starts with the entry
// stored before e.
func (e *Entry) Cursor() Cursor { return Cursor{at: e.Time.UnixNano(), id: e.ID} }

// IsZero reports whether c is the zero Cursor, the newest end.
func (c Cursor) IsZero() bool { return c == Cursor{} }

// ID is the journal-wide number of the entry c is the place of.
func (c Cursor) ID() uint64 { return c.id }

// String returns c as ParseCursor reads it: "" for the zero Cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.at, 10) + "-" + strconv.FormatUint(c.id, 10)
}

// ParseCursor reads what Cursor.String wrote.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || at < 0 {
		return Cursor{}, fmt.Errorf("journal: cursor %q: want what a page's Next gave", s)
	}
	return Cursor{at: at, id: id}, nil
}

func (c Cursor) key() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), uint64(c.at)), c.id)
}

func timeKey(t time.Time) []byte {
	return Cursor{at: max(t.UnixNano(), 0)}.key()
}

// lastKey is after every key (and dec wraps to it from the first).
var lastKey = bytes.Repeat([]byte{0xff}, keyLen)

// historyStep bounds the index and event steps one lock of the file
// covers, so that a query that has to look far keeps no append waiting
// for long.
const historyStep = 4096

// History returns a page of the entries f selects, newest first. It
// reads through the indexes: with one filter (a panel, a sensor, a type)
// it walks that index backwards from Before, one step per entry
// returned; with a sensor or panel and a type it walks both at once,
// each skipping to where the other is (a zigzag join), so a page costs
// at worst as many steps as the smaller of the two has entries between
// Before and From — when they share none; a date range alone walks the
// events themselves, in time order. Entries stored past what the index
// covers (by a g90 without it, before a writer has indexed them) are
// read one by one and checked. A damaged entry is left out and counted.
func (j *Journal) History(q HistoryQuery) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if q.Sensor && q.Panel == "" {
		return Page{}, errors.New("journal: history: a sensor needs its panel")
	}
	x := upper(q.Filter, q.Before)
	var p Page
	for x != nil {
		got, next, skipped, err := j.historyChunk(q.Filter, x, limit+1-len(p.Entries))
		if err != nil {
			return Page{}, err
		}
		p.Entries = append(p.Entries, got...)
		p.Skipped += skipped
		x = next
		if len(p.Entries) > limit {
			p.Entries = p.Entries[:limit]
			p.Next = p.Entries[limit-1].Cursor()
			break
		}
	}
	return p, nil
}

// HistoryAll yields every entry f selects, newest first, as History
// finds them, reading in chunks so that a slow consumer keeps no writer
// out. What History counts in Page.Skipped is yielded as an error
// wrapping ErrDamaged, and the sequence goes on; any other error ends
// it.
func (j *Journal) HistoryAll(f Filter) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if f.Sensor && f.Panel == "" {
			yield(Entry{}, errors.New("journal: history: a sensor needs its panel"))
			return
		}
		for x := upper(f, Cursor{}); x != nil; {
			got, next, skipped, err := j.historyChunk(f, x, chunk)
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if skipped > 0 && !yield(Entry{}, fmt.Errorf("%w: %s: %d damaged entries or index entries skipped", ErrDamaged, j.cfg.Path, skipped)) {
				return
			}
			for _, e := range got {
				if !yield(e, nil) {
					return
				}
			}
			x = next
		}
	}
}

// upper is the newest key a query may return, or nil for none.
func upper(f Filter, before Cursor) []byte {
	x := bytes.Clone(lastKey)
	if !f.To.IsZero() {
		if f.To.UnixNano() <= 0 {
			return nil
		}
		x = dec(timeKey(f.To))
	}
	if !before.IsZero() {
		if b := dec(before.key()); bytes.Compare(b, x) < 0 {
			x = b
		}
	}
	return x
}

// ixList is one index's blocks of one prefix, walked backwards.
type ixList struct {
	bucket []byte
	c      *bolt.Cursor
	prefix []byte
	keys   []byte // the event keys of the block the cursor is on, or nil
	seek   []byte // reused
}

// le returns the newest event key at or before x in the list, or nil.
func (l *ixList) le(x []byte, skipped, steps *int) []byte {
	*steps++
	if l.keys != nil && bytes.Compare(x, l.keys[:keyLen]) >= 0 {
		return below(l.keys, x) // in the block the cursor is on
	}
	var k, v []byte
	if l.keys != nil {
		// Walking back: the block before the cursor's is often it.
		k, v = l.c.Prev()
	} else {
		seek := append(append(l.seek[:0], l.prefix...), x...)
		l.seek = seek
		if k, v = l.c.Seek(seek); k == nil {
			k, v = l.c.Last()
		} else if !bytes.Equal(k, seek) {
			k, v = l.c.Prev()
		}
	}
	for ; k != nil && bytes.HasPrefix(k, l.prefix); k, v = l.c.Prev() {
		*steps++
		keys := blockKeys(k, v, len(l.prefix))
		if keys == nil {
			*skipped++
			continue
		}
		l.keys = keys
		if bytes.Compare(x, keys[:keyLen]) >= 0 {
			return below(keys, x)
		}
		// Every key of the block is after x (retention took its first).
	}
	l.keys = nil
	return nil
}

// below returns the last of keys (ascending, the first at or before x)
// at or before x.
func below(keys, x []byte) []byte {
	n := len(keys) / keyLen
	i := sort.Search(n, func(i int) bool { return bytes.Compare(keys[i*keyLen:(i+1)*keyLen], x) > 0 })
	return keys[(i-1)*keyLen : i*keyLen]
}

// historyChunk finds up to want entries f selects at or before the key
// x, newest first, within historyStep steps, and returns where to go on
// (nil at the end).
func (j *Journal) historyChunk(f Filter, x []byte, want int) (out []Entry, next []byte, skipped int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	db, err := j.open()
	if err != nil {
		return nil, nil, 0, err
	}
	defer j.release()
	err = j.safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			events := tx.Bucket(bucketEvents)
			if events == nil {
				return nil // a new file, still empty
			}
			lo := make([]byte, keyLen)
			if !f.From.IsZero() {
				lo = timeKey(f.From)
			}
			steps := 0
			// take adds the entry at key k (or counts why not) and
			// reports whether the chunk is full.
			take := func(k, v []byte, check bool) bool {
				if v == nil {
					skipped++ // an index entry of an event retention removed
					return false
				}
				e, err := decodeEntry(k, v, j.sums)
				if err != nil {
					skipped++
					return false
				}
				if f.Panel != "" && e.Panel != f.Panel {
					if !check {
						skipped++ // the index said otherwise
					}
					return false
				}
				if check && !f.matchJSON(e.JSON) {
					return false
				}
				e.JSON = bytes.Clone(e.JSON)
				out = append(out, e)
				return len(out) == want
			}
			var lists []*ixList
			if f.Sensor {
				lists = append(lists, &ixList{bucket: bucketIxSensor, prefix: sensorPrefix(nil, f.Panel, f.Index)})
			} else if f.Panel != "" {
				lists = append(lists, &ixList{bucket: bucketIxPanel, prefix: panelPrefix(nil, f.Panel)})
			}
			if f.Type != "" {
				lists = append(lists, &ixList{bucket: bucketIxType, prefix: typePrefix(nil, f.Type)})
			}
			indexed := tx.Bucket(bucketMeta).Get(keyIndexedTo)
			if len(indexed) != keyLen {
				indexed = nil
			}
			// The events themselves: all of them for no filter but
			// dates, else those the index does not cover yet.
			if len(lists) == 0 || indexed == nil || bytes.Compare(x, indexed) > 0 {
				c := events.Cursor()
				k, v := c.Seek(x)
				if k == nil {
					k, v = c.Last()
				} else if !bytes.Equal(k, x) {
					k, v = c.Prev()
				}
				for ; k != nil && bytes.Compare(k, lo) >= 0; k, v = c.Prev() {
					if len(lists) > 0 && indexed != nil && bytes.Compare(k, indexed) <= 0 {
						break
					}
					if steps++; steps > historyStep {
						next = bytes.Clone(k)
						return nil
					}
					if take(k, v, len(lists) > 0) {
						next = dec(k)
						return nil
					}
				}
				if len(lists) == 0 || k == nil || bytes.Compare(k, lo) < 0 {
					return nil // done
				}
				x = bytes.Clone(indexed)
			}
			for _, l := range lists {
				b := tx.Bucket(l.bucket)
				if b == nil {
					return nil // nothing indexed of it
				}
				l.c = b.Cursor()
			}
			// The zigzag: x goes down to the next key every list has.
			agree := 0
			xbuf := make([]byte, 0, keyLen)
			for i := 0; ; i = (i + 1) % len(lists) {
				if steps > historyStep {
					next = bytes.Clone(x)
					return nil
				}
				y := lists[i].le(x, &skipped, &steps)
				if y == nil || bytes.Compare(y, lo) < 0 {
					return nil // done
				}
				if bytes.Equal(y, x) {
					agree++
				} else {
					x, agree = append(xbuf[:0], y...), 1
				}
				if agree < len(lists) {
					continue
				}
				full := take(x, events.Get(x), false)
				steps++
				if x, agree = dec(x), 0; full || bytes.Equal(x, lastKey) {
					if full {
						next = x
					}
					return nil
				}
			}
		})
	})
	if err != nil {
		j.closeDB()
		return nil, nil, 0, err
	}
	return out, next, skipped, nil
}

// matchJSON checks f's type and sensor on a stored event's JSON, for
// entries the index does not cover (the panel is checked already).
func (f *Filter) matchJSON(js []byte) bool {
	fs, ok := fastFields(js)
	if !ok {
		var ev event.Event
		if ev.UnmarshalJSON(js) != nil {
			return false
		}
		fs = fieldsOf(&ev)
	}
	if f.Type != "" && fs.typ != f.Type {
		return false
	}
	return !f.Sensor || (fs.sensor && fs.index == f.Index)
}
