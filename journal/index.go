package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/g90alarm/g90/event"
)

// The secondary indexes (issue 19.4), in the same file and written in
// the same transaction as their event. Each index is a bucket whose keys
// are a prefix naming what is selected, then the event's 16-byte key;
// the value is a CRC-32C of the index key, so that a damaged index entry
// is found and skipped rather than followed to a wrong event. The
// prefixes are prefix-free (uvarint lengths and numbers), so the event
// key after one is never ambiguous:
//
//	ix-panel   uvarint(len GUID) GUID                     event key
//	ix-sensor  uvarint(len GUID) GUID uvarint(index)      event key   (sensor events)
//	ix-type    uvarint(len type) type                     event key
//
// The time index is the events bucket itself: its keys are the arrival
// time. Within one prefix the entries are in the events' order, so a
// query walks an index backwards from a position, newest first, and a
// date range is a key range in every index.
//
// Meta key ix-to is the newest event key the indexes cover. A writer
// sets it with every append; at Open, events past it (a file written
// before the index, or by an older g90, or a build that was cut short)
// are indexed then, in steps that each commit their progress.
var (
	bucketIxPanel  = []byte("ix-panel")
	bucketIxSensor = []byte("ix-sensor")
	bucketIxType   = []byte("ix-type")
	ixBuckets      = [][]byte{bucketIxPanel, bucketIxSensor, bucketIxType}
	keyIndexedTo   = []byte("ix-to")
)

// ixFields is what the indexes know of an event.
type ixFields struct {
	panel  string
	typ    event.Type
	sensor bool
	index  int
}

func fieldsOf(ev *event.Event) ixFields {
	return ixFields{panel: ev.GUID, typ: ev.Type, sensor: ev.Sensor && ev.Index >= 0, index: ev.Index}
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func panelPrefix(dst []byte, guid string) []byte { return appendString(dst, guid) }

func sensorPrefix(dst []byte, guid string, index int) []byte {
	return binary.AppendUvarint(appendString(dst, guid), uint64(index))
}

func typePrefix(dst []byte, t event.Type) []byte { return appendString(dst, string(t)) }

// ixKeys calls fn with each index bucket and the key of f's event (key)
// in it. The key is reused between calls.
func ixKeys(f ixFields, key []byte, fn func(bucket, ixKey []byte) error) error {
	var buf [96]byte
	k := append(panelPrefix(buf[:0], f.panel), key...)
	if err := fn(bucketIxPanel, k); err != nil {
		return err
	}
	if f.sensor {
		k = append(sensorPrefix(buf[:0], f.panel, f.index), key...)
		if err := fn(bucketIxSensor, k); err != nil {
			return err
		}
	}
	k = append(typePrefix(buf[:0], f.typ), key...)
	return fn(bucketIxType, k)
}

func ixSum(k []byte) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, sumLen), crc32.Checksum(k, castagnoli))
}

// ixGood reports whether an index entry is whole: long enough for an
// event key and its checksum right.
func ixGood(k, v []byte) bool {
	return len(k) > keyLen && len(v) == sumLen && binary.BigEndian.Uint32(v) == crc32.Checksum(k, castagnoli)
}

// index adds the index entries of the event stored at key.
func index(tx *bolt.Tx, f ixFields, key []byte) error {
	return ixKeys(f, key, func(bucket, k []byte) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		// bbolt keeps the slices until the transaction ends.
		return b.Put(bytes.Clone(k), ixSum(k))
	})
}

// unindex removes the index entries of the stored entry k, v, which
// retention is about to delete. An entry that does not decode keeps
// its index entries: queries skip them (the event is gone) and a
// rebuild drops them.
func (j *Journal) unindex(tx *bolt.Tx, k, v []byte) error {
	e, err := decodeEntry(k, v, j.sums)
	if err != nil {
		return nil
	}
	f, ok := fastFields(e.JSON)
	if !ok {
		var ev event.Event
		if ev.UnmarshalJSON(e.JSON) != nil {
			return nil
		}
		f = fieldsOf(&ev)
	}
	f.panel = e.Panel // the header's, as put indexed it
	return ixKeys(f, k, func(bucket, ik []byte) error {
		if b := tx.Bucket(bucket); b != nil {
			return b.Delete(ik)
		}
		return nil
	})
}

// fastFields reads the type and the sensor index from JSON as
// event.Event.AppendJSON writes it ({"time":…,"panel":…,"source":…,
// "type":…[,"sensor":{"index":N…]}), without decoding all of it:
// retention removes as many events as are appended, and a full decode
// of each would cost more than the append. ok is false for anything
// else; the caller decodes it then. The panel is not read (the entry's
// header has it).
func fastFields(js []byte) (f ixFields, ok bool) {
	rest, ok := bytes.CutPrefix(js, []byte(`{"time":`))
	for _, name := range []string{"", `,"panel":`, `,"source":`, `,"type":`} {
		if !ok {
			return ixFields{}, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(name)); !ok {
			return ixFields{}, false
		}
		var s []byte
		if s, rest, ok = jsonString(rest); ok && name == `,"type":` {
			for _, c := range s {
				if c < 0x20 || c >= 0x7f || c == '\\' {
					return ixFields{}, false // escaped or not ASCII: leave it to the decoder
				}
			}
			f.typ = event.Type(s)
		}
	}
	if !ok {
		return ixFields{}, false
	}
	if r, found := bytes.CutPrefix(rest, []byte(`,"sensor":{"index":`)); found {
		end := bytes.IndexByte(r, ',')
		if end < 0 {
			return ixFields{}, false
		}
		n, err := strconv.Atoi(string(r[:end]))
		if err != nil {
			return ixFields{}, false
		}
		f.sensor, f.index = n >= 0, n
		r = r[end:]
		for _, name := range []string{`,"name":`, `,"type":`} {
			if r, ok = bytes.CutPrefix(r, []byte(name)); !ok {
				return ixFields{}, false
			}
			if _, r, ok = jsonString(r); !ok {
				return ixFields{}, false
			}
		}
		if rest, ok = bytes.CutPrefix(r, []byte("}")); !ok {
			return ixFields{}, false
		}
	}
	// What follows must not name the type or a sensor again: the
	// decoder would take the last, matching names without regard to
	// case (and "ſ" as "s").
	if len(rest) == 0 || (rest[0] != ',' && rest[0] != '}') || bytes.Contains(rest, []byte("\\")) ||
		bytes.Contains(rest, []byte("\xc5\xbf")) || containsFold(rest, "type") || containsFold(rest, "sensor") {
		return ixFields{}, false
	}
	return f, true
}

// containsFold reports whether b holds the ASCII word w in any case.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(w)], []byte(w)) {
			return true
		}
	}
	return false
}

// jsonString splits a JSON string (its raw bytes between the quotes)
// from the front of b.
func jsonString(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[1:i], b[i+1:], true
		}
	}
	return nil, nil, false
}

// indexStep is how many events one transaction of the index build
// covers: its progress is committed after each, so an interrupted build
// goes on where it stopped.
const indexStep = 20_000

// buildIndex indexes the events past ix-to, logging its progress. j.mu
// is held and the file open for writing.
func (j *Journal) buildIndex() error {
	var from []byte // the first event key to index
	var total, done uint64
	err := j.safely(func() error {
		return j.db.View(func(tx *bolt.Tx) error {
			events, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
			last, _ := events.Cursor().Last()
			to := meta.Get(keyIndexedTo)
			if last == nil || (len(to) == keyLen && bytes.Compare(to, last) >= 0) {
				return nil
			}
			from = []byte{}
			if len(to) == keyLen {
				from = inc(to)
			}
			total = getUint(meta.Get(keyCount)) // at most this many
			return nil
		})
	})
	if err != nil || from == nil {
		return err
	}
	start := time.Now()
	j.log.Info("journal: indexing the events of a journal written without the index; once", "path", j.cfg.Path, "events", total)
	lastLog := start
	for from != nil {
		err := j.safely(func() error {
			return j.db.Update(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketEvents).Cursor()
				n := 0
				var k, v, at []byte
				for k, v = c.Seek(from); k != nil && n < indexStep; k, v = c.Next() {
					at = k
					n++
					e, err := decodeEntry(k, v, j.sums)
					if err != nil {
						continue // verify has said what is damaged
					}
					var ev event.Event
					if ev.UnmarshalJSON(e.JSON) != nil {
						continue
					}
					f := fieldsOf(&ev)
					f.panel = e.Panel
					if err := index(tx, f, k); err != nil {
						return err
					}
				}
				done += uint64(n)
				if k == nil {
					from = nil
				} else {
					from = bytes.Clone(k)
				}
				if at == nil {
					return nil
				}
				return tx.Bucket(bucketMeta).Put(keyIndexedTo, bytes.Clone(at))
			})
		})
		if err != nil {
			return fmt.Errorf("journal: index %s: %w", j.cfg.Path, err)
		}
		if time.Since(lastLog) > 2*time.Second && from != nil {
			lastLog = time.Now()
			j.log.Info("journal: indexing", "path", j.cfg.Path, "done", done, "of", total)
		}
	}
	j.log.Info("journal: index built", "path", j.cfg.Path, "events", done, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// dropIndex deletes the indexes, for a build from scratch.
func dropIndex(tx *bolt.Tx) error {
	for _, b := range ixBuckets {
		if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Delete(keyIndexedTo)
}

// verifyIndex checks every index entry's shape and checksum, and that
// the index covers no event past the newest; it returns how many are
// damaged. Called by verify.
func verifyIndex(tx *bolt.Tx) (damaged int) {
	for _, name := range ixBuckets {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		_ = b.ForEach(func(k, v []byte) error {
			if !ixGood(k, v) {
				damaged++
			}
			return nil
		})
	}
	if to := tx.Bucket(bucketMeta).Get(keyIndexedTo); to != nil && len(to) != keyLen {
		damaged++
	}
	return damaged
}

// inc returns the key after k (16 bytes, big-endian); dec the one
// before. They wrap at the ends, which no key reaches (times are after
// 1970, numbers start at 1).
func inc(k []byte) []byte {
	out := bytes.Clone(k)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i]++; out[i] != 0 {
			break
		}
	}
	return out
}

func dec(k []byte) []byte {
	out := bytes.Clone(k)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i]--; out[i] != 0xff {
			break
		}
	}
	return out
}
