package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/g90alarm/g90/event"
)

// The secondary indexes (issue 19.4), in the same file and written in
// the same transaction as their events. Each index is a bucket of
// blocks: a block's key is a prefix naming what it selects, then the
// 16-byte key of its first event; its value is a CRC-32C of the block's
// key and keys, then the keys of the events (16 bytes each, ascending)
// that one transaction stored, up to maxBlock (bigger blocks made a
// commit rewrite more of the leaf its block is on). One transaction of a
// group commit thus writes one block per panel, sensor and type it
// touched, not one entry per event: an entry per event put the index
// at the many places of the tree where each sensor's entries end, and
// made an append of 512 events 7–20 times slower. A transaction
// extends the prefix's newest block while that is small (mergeBelow),
// so that single appends do not leave a block per event. The blocks of
// a prefix are in the events' order and do not overlap, because every
// transaction stores keys past all before it. The prefixes are
// prefix-free (uvarint lengths and numbers):
//
//	ix-panel   uvarint(len GUID) GUID                  first event key
//	ix-sensor  uvarint(len GUID) GUID uvarint(index)   first event key   (sensor events)
//	ix-type    uvarint(len type) type                  first event key
//
// The time index is the events bucket itself: its keys are the arrival
// time. A query walks a prefix's blocks backwards from a position,
// newest first, and a date range is a key range in every index.
//
// Meta key ix-to is the newest event key the indexes cover. A writer
// sets it with every append; at Open, events past it are indexed, in
// steps that each commit their progress: all of them for a file written
// before the index, and for one an older g90 appended to after it was
// indexed (that g90's retention removed events and not their index
// entries); the rest for a build cut short (meta key ix-build set).
var (
	bucketIxPanel  = []byte("ix-panel")
	bucketIxSensor = []byte("ix-sensor")
	bucketIxType   = []byte("ix-type")
	ixBuckets      = [][]byte{bucketIxPanel, bucketIxSensor, bucketIxType}
	keyIndexedTo   = []byte("ix-to")
	keyIndexBuild  = []byte("ix-build") // while a build is under way
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

// Block sizes.
const (
	maxBlock   = 256 // keys at most in a block: 4 KiB, a page
	mergeBelow = 64  // a newer transaction extends a block of fewer keys
)

// ixLists calls fn with each index (its number in ixBuckets) and f's
// prefix in it, which is built in *buf and reused between calls.
func ixLists(f ixFields, buf *[]byte, fn func(ix int, prefix []byte) error) error {
	*buf = panelPrefix((*buf)[:0], f.panel)
	if err := fn(0, *buf); err != nil {
		return err
	}
	if f.sensor {
		*buf = sensorPrefix((*buf)[:0], f.panel, f.index)
		if err := fn(1, *buf); err != nil {
			return err
		}
	}
	*buf = typePrefix((*buf)[:0], f.typ)
	return fn(2, *buf)
}

// ixBatch is one transaction's index entries (or removals): per index,
// by prefix, the event keys.
type ixBatch [3]map[string]*[]byte

func (b *ixBatch) add(ix int, prefix, key []byte) []byte {
	if b[ix] == nil {
		b[ix] = map[string]*[]byte{}
	}
	keys := b[ix][string(prefix)] // no allocation for the lookup
	if keys == nil {
		k := make([]byte, 0, 16*keyLen)
		keys = &k
		b[ix][string(prefix)] = keys
	}
	*keys = append(*keys, key...)
	return *keys
}

func (b *ixBatch) clear() {
	for _, m := range b {
		clear(m)
	}
}

// sealBlock returns a block's value: the checksum, then keys.
func sealBlock(key, keys []byte) []byte { // a new slice: bbolt keeps it until the commit
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, keys)
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, sumLen+len(keys)), sum), keys...)
}

// blockKeys returns the event keys of a block (k its key, v its value)
// of a prefix of plen bytes, or nil when it is damaged: a wrong length
// or checksum, keys not ascending, or before the block's own key.
func blockKeys(k, v []byte, plen int) []byte {
	if len(k) != plen+keyLen || len(v) < sumLen+keyLen || (len(v)-sumLen)%keyLen != 0 {
		return nil
	}
	keys := v[sumLen:]
	if binary.BigEndian.Uint32(v) != crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, keys) {
		return nil
	}
	prev := k[plen:]
	for i := 0; i < len(keys); i += keyLen {
		if bytes.Compare(keys[i:i+keyLen], prev) < 0 || (i > 0 && bytes.Equal(keys[i:i+keyLen], prev)) {
			return nil
		}
		prev = keys[i : i+keyLen]
	}
	return keys
}

// ixAdd adds the event stored at key to the transaction's index
// entries; ixFlush writes them. A prefix's full block is written at
// once. j.mu is held.
func (j *Journal) ixAdd(tx *bolt.Tx, f ixFields, key []byte) error {
	return ixLists(f, &j.ixBuf, func(ix int, prefix []byte) error {
		if keys := j.ixNew.add(ix, prefix, key); len(keys) >= maxBlock*keyLen {
			delete(j.ixNew[ix], string(prefix))
			return writeBlock(tx, ixBuckets[ix], prefix, keys)
		}
		return nil
	})
}

// ixFlush writes the index entries ixAdd collected.
func (j *Journal) ixFlush(tx *bolt.Tx) error {
	defer j.ixNew.clear()
	for ix, m := range j.ixNew {
		for prefix, keys := range m {
			if err := writeBlock(tx, ixBuckets[ix], []byte(prefix), *keys); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeBlock stores keys (ascending, past every key indexed before) as
// a block of prefix, or adds them to the prefix's newest block while it
// is small.
func writeBlock(tx *bolt.Tx, bucket, prefix, keys []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	// The prefix's newest block: the last key before the next prefix.
	c := b.Cursor()
	end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, keyLen)...)
	k, v := c.Seek(end)
	if k == nil {
		k, v = c.Last()
	} else if !bytes.Equal(k, end) {
		k, v = c.Prev()
	}
	if k != nil && bytes.HasPrefix(k, prefix) {
		if old := blockKeys(k, v, len(prefix)); old != nil && len(old) < mergeBelow*keyLen &&
			len(old)+len(keys) <= maxBlock*keyLen && bytes.Compare(old[len(old)-keyLen:], keys[:keyLen]) < 0 {
			key := bytes.Clone(k)
			return b.Put(key, sealBlock(key, append(bytes.Clone(old), keys...)))
		}
	}
	key := append(bytes.Clone(prefix), keys[:keyLen]...)
	// bbolt keeps the slices until the transaction ends.
	return b.Put(key, sealBlock(key, keys))
}

// unindex notes the index entries of the stored entry k, v, which
// retention is about to delete; ixRemove removes them. An entry that
// does not decode keeps its index entries: queries skip them (the
// event is gone) and a rebuild drops them. j.mu is held.
func (j *Journal) unindex(k, v []byte) {
	if j.cfg.noIndex {
		return
	}
	e, err := decodeEntry(k, v, j.sums)
	if err != nil {
		return
	}
	f, ok := fastFields(e.JSON)
	if !ok {
		var ev event.Event
		if ev.UnmarshalJSON(e.JSON) != nil {
			return
		}
		f = fieldsOf(&ev)
	}
	f.panel = e.Panel // the header's, as put indexed it
	_ = ixLists(f, &j.ixBuf, func(ix int, prefix []byte) error {
		j.ixGone.add(ix, prefix, k)
		return nil
	})
}

// ixRemove removes the index entries unindex noted: retention removes
// old events, so they are in the older blocks of each prefix; each
// block changes once. j.mu is held.
func (j *Journal) ixRemove(tx *bolt.Tx) error {
	defer j.ixGone.clear()
	for ix, m := range j.ixGone {
		for p, pgone := range m {
			prefix, gone := []byte(p), *pgone
			b := tx.Bucket(ixBuckets[ix])
			if b == nil {
				continue
			}
			sortKeys(gone)
			type change struct{ key, value []byte } // value nil: delete
			var changes []change
			c := b.Cursor()
			seek := append(bytes.Clone(prefix), gone[:keyLen]...)
			k, v := c.Seek(seek)
			if k == nil {
				k, v = c.Last()
			} else if !bytes.Equal(k, seek) {
				k, v = c.Prev()
			}
			if k == nil || !bytes.HasPrefix(k, prefix) {
				k, v = c.Seek(prefix)
			}
			for ; k != nil && bytes.HasPrefix(k, prefix) && len(gone) > 0; k, v = c.Next() {
				keys := blockKeys(k, v, len(prefix))
				if keys == nil {
					continue
				}
				var kept []byte
				for i := 0; i < len(keys); i += keyLen {
					ek := keys[i : i+keyLen]
					for len(gone) > 0 && bytes.Compare(gone[:keyLen], ek) < 0 {
						gone = gone[keyLen:] // not indexed (damaged, or an older g90's)
					}
					if len(gone) > 0 && bytes.Equal(gone[:keyLen], ek) {
						gone = gone[keyLen:]
						continue
					}
					kept = append(kept, ek...)
				}
				if len(kept) == len(keys) {
					continue
				}
				ch := change{key: bytes.Clone(k)}
				if len(kept) > 0 {
					ch.value = sealBlock(ch.key, kept)
				}
				changes = append(changes, ch)
			}
			for _, ch := range changes {
				var err error
				if ch.value == nil {
					err = b.Delete(ch.key)
				} else {
					err = b.Put(ch.key, ch.value)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// sortKeys sorts concatenated 16-byte keys.
func sortKeys(keys []byte) {
	n := len(keys) / keyLen
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = bytes.Compare(keys[(i-1)*keyLen:i*keyLen], keys[i*keyLen:(i+1)*keyLen]) < 0
	}
	if sorted {
		return
	}
	ks := make([][]byte, n)
	for i := range ks {
		ks[i] = bytes.Clone(keys[i*keyLen : (i+1)*keyLen])
	}
	slices.SortFunc(ks, bytes.Compare)
	for i, k := range ks {
		copy(keys[i*keyLen:], k)
	}
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

func (j *Journal) indexStep() int {
	if j.cfg.indexStep > 0 {
		return j.cfg.indexStep
	}
	return indexStep
}

// buildIndex indexes the events past ix-to, logging its progress. j.mu
// is held and the file open for writing.
func (j *Journal) buildIndex() error {
	var from []byte // the first event key to index
	var total, done uint64
	var again bool // indexed, then appended to without the index
	err := j.safely(func() error {
		return j.db.View(func(tx *bolt.Tx) error {
			events, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
			last, _ := events.Cursor().Last()
			to := meta.Get(keyIndexedTo)
			if last == nil || (len(to) == keyLen && bytes.Compare(to, last) >= 0) {
				return nil
			}
			total = getUint(meta.Get(keyCount)) // at most this many
			from = []byte{}
			if len(to) == keyLen && meta.Get(keyIndexBuild) != nil {
				from = inc(to) // a build cut short: go on
			}
			again = len(to) == keyLen && meta.Get(keyIndexBuild) == nil
			return nil
		})
	})
	if err != nil || from == nil {
		return err
	}
	if len(from) == 0 {
		if again {
			// Its retention left index entries of events it removed:
			// all of it again.
			j.log.Warn("journal: events stored by a g90 without the index; indexing all again", "path", j.cfg.Path)
		}
		err = j.safely(func() error {
			return j.db.Update(func(tx *bolt.Tx) error {
				if err := dropIndex(tx); err != nil {
					return err
				}
				return tx.Bucket(bucketMeta).Put(keyIndexBuild, []byte{1})
			})
		})
		if err != nil {
			return fmt.Errorf("journal: index %s: %w", j.cfg.Path, err)
		}
	}
	start := time.Now()
	j.log.Info("journal: indexing the events of a journal written without the index; once", "path", j.cfg.Path, "events", total)
	lastLog := start
	for steps := 1; from != nil; steps++ {
		if steps == j.cfg.buildSteps+1 && j.cfg.buildSteps > 0 {
			return nil // tests: as if the process ended here
		}
		err := j.safely(func() error {
			return j.db.Update(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketEvents).Cursor()
				n := 0
				var k, v, at []byte
				for k, v = c.Seek(from); k != nil && n < j.indexStep(); k, v = c.Next() {
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
					if err := j.ixAdd(tx, f, k); err != nil {
						return err
					}
				}
				if err := j.ixFlush(tx); err != nil {
					return err
				}
				done += uint64(n)
				meta := tx.Bucket(bucketMeta)
				if k == nil {
					from = nil
					if err := meta.Delete(keyIndexBuild); err != nil {
						return err
					}
				} else {
					from = bytes.Clone(k)
				}
				if at == nil {
					return nil
				}
				return meta.Put(keyIndexedTo, bytes.Clone(at))
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

// verifyIndex checks every index block's shape and checksum; it returns
// how many are damaged. Called by verify.
func verifyIndex(tx *bolt.Tx) (damaged int) {
	for _, name := range ixBuckets {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		_ = b.ForEach(func(k, v []byte) error {
			if plen, ok := prefixLen(name, k); !ok || blockKeys(k, v, plen) == nil {
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

// prefixLen returns the length of the prefix of an index block's key k
// in bucket, read from its uvarints.
func prefixLen(bucket, k []byte) (int, bool) {
	l, n := binary.Uvarint(k)
	if n <= 0 || l > uint64(len(k)) {
		return 0, false
	}
	plen := n + int(l)
	if bytes.Equal(bucket, bucketIxSensor) {
		if plen > len(k) {
			return 0, false
		}
		_, m := binary.Uvarint(k[plen:])
		if m <= 0 {
			return 0, false
		}
		plen += m
	}
	return plen, plen+keyLen == len(k)
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
