// Package journal keeps every event of every panel on disk, in arrival
// order, for `g90 events`, the web UI's event log and anyone who wants to
// know what happened while they were not looking.
//
// Each event is stored as its JSON line (event.Event.AppendJSON) with
// its per-panel sequence number "seq": the Monitor's, or the journal's
// own for an event without one; the numbers continue across restarts. Old events go by age and by size as new ones come in.
//
//	j, err := journal.Open(journal.Config{Path: "journal.db", MaxAge: 30 * 24 * time.Hour})
//	entry, err := j.Append(&ev)   // entry.JSON is the line, entry.Seq its number
//	for e, err := range j.Query(journal.Query{Since: t, Panel: guid}) { ... }
//	page, err := j.History(journal.HistoryQuery{Filter: journal.Filter{Panel: guid, Type: event.Alarm}, Limit: 50})
//	next, err := j.History(journal.HistoryQuery{Filter: f, Before: page.Next}) // newest first, page after page
//	err = j.Close()
//
// History reads through indexes kept in the same file, written in the
// same transaction as their events and trimmed with them (index.go):
// by panel, by panel and sensor, and by type; the events' own order is
// the index by time. A page costs about as many steps as it has entries
// however large the journal (issue 19.4: a fraction of a millisecond
// with 1,000,000), except when two filters share few entries (History
// says how much it then reads). A journal written without the index is
// indexed when a writer opens it.
//
// The file is a bbolt database. bbolt locks it: a writer exclusively, a
// reader shared, so a reader must wait while a writer has it open. A
// writing Journal therefore closes the file after IdleClose without
// appends, and a read-only Journal opens it only for each chunk it
// reads; `g90 events` works while `g90 serve` runs.
//
// A damaged file never crashes the process. Open checks the whole file
// (its size against its meta page, every page it reaches, every entry's
// checksum) and reports ErrCorrupt; a memory fault while reading the
// mapped file is an error too. Every entry carries a CRC-32C of its key
// and value, so an entry altered on disk is reported (ErrDamaged) and
// skipped, never returned as if it were what was stored.
package journal

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/g90alarm/g90/event"
)

// Config configures a Journal. The zero value of every field but Path
// means its default.
type Config struct {
	// Path is the database file. Required. A writer creates it (but not
	// its directory).
	Path string
	// MaxAge drops events stored longer ago than this; 0 keeps them.
	MaxAge time.Duration
	// MaxEvents bounds the number of events kept; 0 means no bound.
	MaxEvents int
	// MaxPanelEvents bounds the events kept of each panel, so that one
	// panel's many events never push another's out; 0 means no bound.
	MaxPanelEvents int
	// MaxBytes bounds the bytes of the stored events (keys and values;
	// the file is larger by bbolt's page overhead); 0 means no bound.
	MaxBytes int64
	// FloodBurst and FloodRate limit the events of one kind (panel,
	// type, sensor and source) that are stored: FloodBurst at once, then
	// FloodRate per second, so that a flood of one kind (a faulty sensor,
	// an attacker) cannot push the rest of the history out by retention.
	// What the limit refuses is counted (Stats.Suppressed) and logged,
	// not stored. 0 means 100 and 1 per second; a negative FloodBurst
	// stores everything.
	FloodBurst int
	FloodRate  float64
	// ReadOnly opens the journal for Query only. It takes the file's
	// lock only while it reads a chunk of events.
	ReadOnly bool
	// Salvage, with ReadOnly, opens a file that fails Open's check, so
	// that Query yields what is still readable: damaged entries as
	// ErrDamaged, and ErrCorrupt where the file's structure stops it.
	Salvage bool
	// LockTimeout is how long opening waits for another process's lock
	// on the file; 0 means 5 s. Negative means not at all.
	LockTimeout time.Duration
	// IdleClose is how long a writer keeps the file open (and locked)
	// after its last use, so that readers in other processes get their
	// turn; 0 means 100 ms, negative keeps it open until Close. Opening
	// again costs well under a millisecond.
	IdleClose time.Duration
	// MaxHold is how long a writer that is never idle (events stream in
	// without a pause) keeps the file before it lets go of it for
	// YieldGap, so that a reader waiting for the lock (`g90 events`)
	// gets its turn: flock is not fair, and a reader polls for it. 0
	// means 1 s and 100 ms; a negative MaxHold never yields.
	MaxHold  time.Duration
	YieldGap time.Duration
	// Logger receives diagnostics (retention); nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	noSync bool // tests: skip fsync
	// tests: noIndex writes and removes no index entries, as a g90
	// before issue 19.4; indexStep is the build's step (0: indexStep);
	// buildSteps stops the build after so many, as a crash would.
	noIndex    bool
	indexStep  int
	buildSteps int
}

// Errors of Open and of any call that opens the file again.
var (
	// ErrLocked: another process holds the file (a writer, or a reader
	// that keeps a writer out) for longer than LockTimeout.
	ErrLocked = errors.New("journal: file is locked by another process")
	// ErrCorrupt: the file is not a bbolt database, is damaged, or is a
	// bbolt database of something else. The journal never deletes such
	// a file: move it away to start a new journal.
	ErrCorrupt = errors.New("journal: file is corrupt or not a journal")
	// ErrNotExist: a read-only journal whose file does not exist yet.
	ErrNotExist = errors.New("journal: no journal file")
	// ErrClosed: the Journal was closed.
	ErrClosed = errors.New("journal: closed")
	// ErrDamaged: one entry failed its checksum or does not decode. Query
	// yields it for that entry and goes on with the next.
	ErrDamaged = errors.New("journal: damaged entry")
)

// Entry is one stored event.
type Entry struct {
	// Time is when the journal stored the event (its arrival); entries
	// are in this order. The event's own time is in JSON.
	Time time.Time
	// Panel is the event's panel GUID ("" while the GUID was unknown).
	Panel string
	// Seq is the event's number (event.Event.Seq): increasing per
	// Panel and never used twice, also across restarts; a gap is an event
	// this journal did not store, or numbers a crash left unused.
	// Retention removes the oldest.
	Seq uint64
	// ID numbers the entries of the whole journal file in their order
	// (with Time, it is the entry's Cursor).
	ID uint64
	// JSON is the event as event.Event.AppendJSON writes it, seq
	// included (last). The Entry owns it.
	JSON []byte
}

// Event decodes the stored event.
func (e *Entry) Event() (event.Event, error) {
	var ev event.Event
	err := ev.UnmarshalJSON(e.JSON)
	return ev, err
}

// Stats describes a journal. Events and Bytes are as of a writer's last
// Open or Append; a read-only Journal does not count them.
type Stats struct {
	Events  uint64 // stored
	Bytes   uint64 // stored: keys and values
	Appends uint64 // by this Journal since Open
	Removed uint64 // removed by retention since Open
	Failed  uint64 // appends that failed (a full disk, a damaged file) since Open
	// Suppressed counts events not stored since Open because their kind
	// flooded (Config.FloodBurst).
	Suppressed uint64
	// UpdatesMissed counts UpdateSources calls for events not found.
	UpdatesMissed uint64
}

// Query selects entries; the zero Query selects all.
type Query struct {
	// Since selects entries stored at or after this time.
	Since time.Time
	// Panel selects one panel's entries by GUID; "" selects all.
	Panel string
}

// Journal is an open event journal. It is safe for concurrent use.
type Journal struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards everything below
	db      *bolt.DB   // nil while closed for idleness
	closed  bool
	lastKey int64 // unix nanoseconds of the newest key, so keys never go back
	sums    bool  // entries carry checksums (version 2; a reader of version 1: not)
	idle    *time.Timer
	opened  time.Time // when db was opened, for MaxHold
	yield   time.Time // a writer opens the file again no sooner
	buf     []byte
	stats   Stats
	sinceAg int // appends since the last age check
	floods  map[floodKey]*flood
	// perPanel counts each panel's stored events (a writer's, from the
	// check at Open); pending is the open transaction's change to it.
	perPanel map[string]int64
	pending  map[string]int64
	lastPut  []byte // the key put stored last
	// ixNew and ixGone are the open transaction's index entries to
	// write and to remove.
	ixNew, ixGone ixBatch
	ixBuf         []byte // ixLists' prefixes
	// ixDamaged counts the damaged index entries verify found; a writer
	// rebuilds the index then.
	ixDamaged int
}

// Database layout. Keys of bucketEvents are the arrival time in unix
// nanoseconds then a journal-wide sequence number, both big-endian, so
// that they sort by time and equal times keep their order. Values are a
// CRC-32C (Castagnoli, big-endian) of key and the rest of the value, then
// header (uvarint seq, uvarint len(GUID), GUID) then the JSON line.
// Version 1 files had no checksum; a writer adds them when it opens one.
var (
	bucketEvents = []byte("events")
	bucketPanels = []byte("panels") // "p:"+GUID → next seq - 1, big-endian
	bucketMeta   = []byte("meta")
	keyVersion   = []byte("version")
	keyCount     = []byte("count")
	keyBytes     = []byte("bytes")
)

const (
	version  = "g90-journal 2"
	version1 = "g90-journal 1" // no checksums
	keyLen   = 16
	sumLen   = 4
	// chunk is how many entries a Query reads per lock.
	chunk = 512
)

// Open opens (a writer: creates) the journal at cfg.Path, checks it and
// applies the retention limits.
func Open(cfg Config) (*Journal, error) {
	if cfg.Path == "" {
		return nil, errors.New("journal: Config.Path is required")
	}
	if cfg.LockTimeout == 0 {
		cfg.LockTimeout = 5 * time.Second
	}
	if cfg.IdleClose == 0 {
		cfg.IdleClose = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAge < 0 || cfg.MaxEvents < 0 || cfg.MaxBytes < 0 {
		return nil, errors.New("journal: negative retention limit")
	}
	j := &Journal{cfg: cfg, log: cfg.Logger}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.open(); err != nil {
		return nil, err
	}
	if err := j.verify(); err != nil && !(cfg.ReadOnly && cfg.Salvage) {
		j.closeDB()
		return nil, err
	}
	if !cfg.ReadOnly {
		err := j.update(func(tx *bolt.Tx) error {
			if j.ixDamaged > 0 {
				// Derived data: built again from the events, not a
				// reason to give up the journal.
				j.log.Warn("journal: damaged index entries; rebuilding the index", "path", cfg.Path, "damaged", j.ixDamaged)
				if err := dropIndex(tx); err != nil {
					return err
				}
			}
			if err := j.trim(tx, true); err != nil {
				return err
			}
			return j.trimPanels(tx, true)
		})
		if err != nil {
			j.db.Close()
			return nil, fmt.Errorf("journal: open %s: retention: %w", cfg.Path, err)
		}
		if err := j.buildIndex(); err != nil {
			j.db.Close()
			return nil, err
		}
	}
	j.release()
	return j, nil
}

// open opens the file if it is not open. j.mu is held.
func (j *Journal) open() (*bolt.DB, error) {
	if j.closed {
		return nil, ErrClosed
	}
	if j.db != nil {
		return j.db, nil
	}
	if wait := time.Until(j.yield); wait > 0 {
		time.Sleep(wait) // a reader's turn (MaxHold)
	}
	path := j.cfg.Path
	if j.cfg.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, path)
		}
	}
	timeout := max(j.cfg.LockTimeout, time.Nanosecond) // bbolt: 0 waits forever
	// A fault inside bolt.Open (a damaged free list page) is an error
	// here, but bbolt then keeps its descriptor and the file's lock: the
	// daemon moves such a file aside and starts a new one, another inode.
	var db *bolt.DB
	err := j.safely(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: j.cfg.ReadOnly, NoSync: j.cfg.noSync})
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, j.cfg.LockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	case errors.Is(err, ErrCorrupt):
		return nil, err
	case err != nil && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) && exists(path):
		// Such as a file too short to hold its meta pages.
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	if err := j.check(db); err != nil {
		db.Close()
		return nil, err
	}
	j.db = db
	j.opened = time.Now()
	return db, nil
}

// check creates the buckets of a new journal and checks an old one, and
// reads the newest key. j.mu is held.
func (j *Journal) check(db *bolt.DB) error {
	fn := func(tx *bolt.Tx) error {
		if fi, err := os.Stat(j.cfg.Path); err != nil {
			return fmt.Errorf("journal: %w", err)
		} else if fi.Size() < tx.Size() {
			// A truncated file: reading its missing pages would fault.
			return fmt.Errorf("%w: %s: %d bytes, its meta page says %d", ErrCorrupt, j.cfg.Path, fi.Size(), tx.Size())
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil && tx.Writable() && isEmpty(tx) {
			for _, b := range [][]byte{bucketEvents, bucketPanels, bucketMeta} {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			meta = tx.Bucket(bucketMeta)
			if err := meta.Put(keyVersion, []byte(version)); err != nil {
				return err
			}
		}
		if meta == nil && isEmpty(tx) {
			return nil // read-only: a writer has created the file but not the journal yet
		}
		if meta == nil || tx.Bucket(bucketEvents) == nil || tx.Bucket(bucketPanels) == nil {
			return fmt.Errorf("%w: %s: no %q marker", ErrCorrupt, j.cfg.Path, version)
		}
		switch string(meta.Get(keyVersion)) {
		case version:
			j.sums = true
		case version1:
			j.sums = false
			if tx.Writable() {
				if err := addChecksums(tx); err != nil {
					return err
				}
				j.sums = true
			}
		default:
			return fmt.Errorf("%w: %s: no %q marker", ErrCorrupt, j.cfg.Path, version)
		}
		if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
			if len(k) != keyLen {
				return fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, j.cfg.Path, len(k))
			}
			j.lastKey = max(j.lastKey, int64(binary.BigEndian.Uint64(k)))
		}
		return nil
	}
	return j.safely(func() error {
		if j.cfg.ReadOnly {
			return db.View(fn)
		}
		return db.Update(fn)
	})
}

// addChecksums turns a version 1 file into version 2.
func addChecksums(tx *bolt.Tx) error {
	events, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
	var keys, values [][]byte
	if err := events.ForEach(func(k, v []byte) error {
		keys = append(keys, bytes.Clone(k))
		values = append(values, bytes.Clone(v))
		return nil
	}); err != nil {
		return err
	}
	for i, k := range keys {
		if err := events.Put(k, seal(nil, k, values[i])); err != nil {
			return err
		}
	}
	if err := addMeta(meta, 0, sumLen*len(keys)); err != nil {
		return err
	}
	return meta.Put(keyVersion, []byte(version))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends to dst the checksum of key and rest, then rest.
func seal(dst, key, rest []byte) []byte {
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, rest)
	return append(binary.BigEndian.AppendUint32(dst, sum), rest...)
}

// verify reads the whole file once: every page bbolt reaches, every
// entry's checksum and the stored counts, so that a damaged journal is
// found at Open and not while the daemon runs. j.mu is held and the file
// open.
func (j *Journal) verify() error {
	return j.safely(func() error {
		return j.db.View(func(tx *bolt.Tx) error {
			events := tx.Bucket(bucketEvents)
			if events == nil {
				return nil // a new file, still empty
			}
			var n, size uint64
			j.perPanel = map[string]int64{}
			err := events.ForEach(func(k, v []byte) error {
				e, err := decodeEntry(k, v, j.sums)
				if err != nil {
					return fmt.Errorf("%w: %s: entry %x: %v", ErrCorrupt, j.cfg.Path, k, err)
				}
				j.perPanel[e.Panel]++
				n++
				size += uint64(len(k) + len(v))
				return nil
			})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketPanels).ForEach(func(k, v []byte) error {
				if !bytes.HasPrefix(k, []byte("p:")) || len(v) != 8 {
					return fmt.Errorf("%w: %s: panel key %q", ErrCorrupt, j.cfg.Path, k)
				}
				return nil
			}); err != nil {
				return err
			}
			if j.ixDamaged = verifyIndex(tx); j.ixDamaged > 0 {
				j.log.Warn("journal: damaged index entries, skipped by queries", "path", j.cfg.Path, "damaged", j.ixDamaged)
			}
			meta := tx.Bucket(bucketMeta)
			if c, b := getUint(meta.Get(keyCount)), getUint(meta.Get(keyBytes)); c != n || b != size {
				return fmt.Errorf("%w: %s: %d events of %d bytes, its counts say %d of %d", ErrCorrupt, j.cfg.Path, n, size, c, b)
			}
			// Every page reached above was read without a fault; now
			// bbolt's own check of the page structure and free list.
			// Drain the channel: its goroutine reads the transaction
			// until it closes it. That goroutine is not under safely:
			// its messages must not read a damaged key in full (the
			// default hex of it faulted on a key past the mapping).
			var first error
			for err := range tx.Check(bolt.WithKVStringer(lengthOnly{})) {
				if first == nil {
					first = fmt.Errorf("%w: %s: %v", ErrCorrupt, j.cfg.Path, err)
				}
			}
			return first
		})
	})
}

// lengthOnly names keys and values in bbolt's check by their length.
type lengthOnly struct{}

func (lengthOnly) KeyToString(k []byte) string   { return fmt.Sprintf("(%d bytes)", len(k)) }
func (lengthOnly) ValueToString(v []byte) string { return fmt.Sprintf("(%d bytes)", len(v)) }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isEmpty(tx *bolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
	return empty
}

// safely runs fn, which reads the mapped file, so that bbolt's panic on a
// damaged page and a memory fault on a page the file lacks are
// ErrCorrupt, not the end of the process. Faults panic only in the
// goroutine that asked for it, which is this one for as long as fn runs.
func (j *Journal) safely(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, j.cfg.Path, r)
		}
	}()
	return fn()
}

// update runs fn in a write transaction. j.mu is held and the file open.
func (j *Journal) update(fn func(tx *bolt.Tx) error) error {
	j.pending = map[string]int64{}
	err := j.safely(func() error { return j.db.Update(fn) })
	if err == nil {
		if j.perPanel == nil {
			j.perPanel = map[string]int64{}
		}
		for g, d := range j.pending {
			if j.perPanel[g] += d; j.perPanel[g] <= 0 {
				delete(j.perPanel, g)
			}
		}
	}
	j.pending = nil
	return err
}

// release lets other processes have the file: a reader closes it at once,
// a writer after IdleClose. j.mu is held.
func (j *Journal) release() {
	if j.db == nil {
		return
	}
	if j.cfg.ReadOnly {
		j.closeDB()
		return
	}
	if j.cfg.IdleClose < 0 {
		return
	}
	if hold := j.cfg.MaxHold; hold >= 0 && time.Since(j.opened) > cmp.Or(hold, time.Second) {
		j.closeDB()
		j.yield = time.Now().Add(cmp.Or(j.cfg.YieldGap, 100*time.Millisecond))
		return
	}
	if j.idle == nil {
		j.idle = time.AfterFunc(j.cfg.IdleClose, j.idleClose)
	} else {
		j.idle.Reset(j.cfg.IdleClose)
	}
}

func (j *Journal) idleClose() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closeDB()
}

func (j *Journal) closeDB() {
	if j.db == nil {
		return
	}
	if err := j.db.Close(); err != nil {
		j.log.Warn("journal: close", "path", j.cfg.Path, "err", err)
	}
	j.db = nil
}

// Close closes the journal; later calls fail with ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if j.idle != nil {
		j.idle.Stop()
	}
	if j.db == nil {
		return nil
	}
	err := j.db.Close()
	j.db = nil
	if err != nil {
		return fmt.Errorf("journal: close %s: %w", j.cfg.Path, err)
	}
	return nil
}

// Path returns the journal's file.
func (j *Journal) Path() string { return j.cfg.Path }

// Stats returns the journal's counts.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// Append stores ev with its Seq, or, when ev has none (zero), numbered
// after the last event of its panel, and returns the stored entry. The
// write is on disk when Append returns. An event the flood limit refuses
// is not stored: the Entry is zero, with no error.
func (j *Journal) Append(ev *event.Event) (Entry, error) {
	var e Entry
	_, err := j.append([]event.Event{*ev}, func(stored Entry) { e = stored })
	return e, err
}

// AppendAll stores evs as Append does, all in one transaction: one write
// to disk for all of them, which is what lets the journal keep up with a
// stream of events. It returns how many it stored; on an error, none.
func (j *Journal) AppendAll(evs []event.Event) (int, error) {
	return j.append(evs, nil)
}

// append stores evs in one transaction, calling each with what it stored.
func (j *Journal) append(evs []event.Event, each func(Entry)) (int, error) {
	if j.cfg.ReadOnly {
		return 0, fmt.Errorf("journal: append to %s: opened read-only", j.cfg.Path)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.cfg.Now()
	keep := make([]bool, len(evs))
	n := 0
	for i := range evs {
		if keep[i] = j.admit(&evs[i], now); keep[i] {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := j.open(); err != nil {
		j.stats.Failed += uint64(n)
		return 0, err
	}
	defer j.release()
	// The wall clock may step back; the journal's order may not.
	at := max(now.UnixNano(), j.lastKey)
	err := j.update(func(tx *bolt.Tx) error {
		stored := 0
		for i := range evs {
			if !keep[i] {
				continue
			}
			e, size, err := j.put(tx, &evs[i], at, each != nil)
			if err != nil {
				return err
			}
			stored += size
			if each != nil {
				each(e)
			}
		}
		// The counts once per batch, not per event; so the index's
		// extent.
		if err := addMeta(tx.Bucket(bucketMeta), n, stored); err != nil {
			return err
		}
		if !j.cfg.noIndex {
			if err := j.ixFlush(tx); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(keyIndexedTo, j.lastPut); err != nil {
				return err
			}
		}
		if err := j.trim(tx, false); err != nil {
			return err
		}
		return j.trimPanels(tx, false)
	})
	if err != nil {
		j.stats.Failed += uint64(n)
		return 0, fmt.Errorf("journal: append to %s: %w", j.cfg.Path, err)
	}
	j.lastKey = at
	j.stats.Appends += uint64(n)
	return n, nil
}

// put stores one event in tx, with the arrival time at, and returns its
// size (key and value) and, with entry, the stored Entry. The caller adds
// the sizes to the stored counts. j.mu is held.
func (j *Journal) put(tx *bolt.Tx, ev *event.Event, at int64, entry bool) (Entry, int, error) {
	events, panels := tx.Bucket(bucketEvents), tx.Bucket(bucketPanels)
	pk := append([]byte("p:"), ev.GUID...)
	last := getUint(panels.Get(pk))
	seq := ev.Seq // the Monitor's number, or the next one here
	if seq == 0 {
		seq = last + 1
	}
	if seq > last {
		if err := panels.Put(pk, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return Entry{}, 0, err
		}
	}
	n, err := events.NextSequence()
	if err != nil {
		return Entry{}, 0, err
	}
	key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), uint64(at)), n)
	v := append(j.buf[:0], 0, 0, 0, 0) // the checksum, below
	v = binary.AppendUvarint(v, seq)
	v = binary.AppendUvarint(v, uint64(len(ev.GUID)))
	v = append(v, ev.GUID...)
	head := len(v)
	numbered := *ev
	numbered.Seq = seq
	v = numbered.AppendJSON(v)
	binary.BigEndian.PutUint32(v, crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, v[sumLen:]))
	j.buf = v
	// bbolt keeps the slices until the transaction ends.
	if err := events.Put(key, bytes.Clone(v)); err != nil {
		return Entry{}, 0, err
	}
	if !j.cfg.noIndex {
		if err := j.ixAdd(tx, fieldsOf(ev), key); err != nil {
			return Entry{}, 0, err
		}
	}
	j.lastPut = key
	j.pending[ev.GUID]++
	size := len(key) + len(v)
	if !entry {
		return Entry{}, size, nil
	}
	return Entry{Time: time.Unix(0, at), Panel: ev.GUID, Seq: seq, ID: n, JSON: bytes.Clone(v[head:])}, size, nil
}

// updateScan bounds how far back UpdateSources looks for an event: an
// update follows its event within seconds (a live report) or minutes (a
// history entry), so it is among the newest.
const updateScan = 4096

// UpdateSources stores the grown Sources of events already appended (a
// g90.Delivery with Update set: a later report of the same happening,
// merged into it), found by panel and seq among the newest entries. It
// returns how many it found; the others are counted in
// Stats.UpdatesMissed (retention removed them, or the flood limit never
// stored them). The arrival time and order stay the original's.
func (j *Journal) UpdateSources(evs []event.Event) (int, error) {
	if j.cfg.ReadOnly {
		return 0, fmt.Errorf("journal: update %s: opened read-only", j.cfg.Path)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.open(); err != nil {
		return 0, err
	}
	defer j.release()
	found := 0
	err := j.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		grown := 0
		for i := range evs {
			ev := &evs[i]
			c := b.Cursor()
			n := 0
			for k, v := c.Last(); k != nil && n < updateScan; k, v = c.Prev() {
				n++
				e, err := decodeEntry(k, v, j.sums)
				if err != nil || e.Seq != ev.Seq || e.Panel != ev.GUID {
					continue
				}
				var stored event.Event
				if err := stored.UnmarshalJSON(e.JSON); err != nil {
					break
				}
				stored.Sources |= ev.Sources
				nv := append(make([]byte, 0, len(v)+32), v[:len(v)-len(e.JSON)]...)
				nv = stored.AppendJSON(nv)
				if j.sums {
					binary.BigEndian.PutUint32(nv, crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, nv[sumLen:]))
				}
				key := bytes.Clone(k)
				if err := b.Put(key, nv); err != nil {
					return err
				}
				grown += len(nv) - len(v)
				found++
				break
			}
		}
		return addMeta(tx.Bucket(bucketMeta), 0, grown)
	})
	if err != nil {
		return 0, fmt.Errorf("journal: update %s: %w", j.cfg.Path, err)
	}
	j.stats.UpdatesMissed += uint64(len(evs) - found)
	return found, nil
}

// floodKey is one kind of event, for the flood limit.
type floodKey struct {
	panel  string
	typ    event.Type
	index  int // the sensor's, or -1
	source event.Source
}

// flood is a token bucket of one kind.
type flood struct {
	tokens     float64
	at         time.Time // of the last refill
	suppressed uint64    // in the current flood; 0 when none
}

// maxFloods bounds the kinds the limit remembers; beyond it, the kinds
// whose buckets are full again are forgotten.
const maxFloods = 4096

// admit applies the flood limit to ev. j.mu is held.
func (j *Journal) admit(ev *event.Event, now time.Time) bool {
	burst, rate := float64(j.cfg.FloodBurst), j.cfg.FloodRate
	if burst < 0 {
		return true
	}
	if burst == 0 {
		burst = 100
	}
	if rate <= 0 {
		rate = 1
	}
	k := floodKey{panel: ev.GUID, typ: ev.Type, index: -1, source: ev.Source}
	if ev.Sensor {
		k.index = ev.Index
	}
	if j.floods == nil {
		j.floods = map[floodKey]*flood{}
	}
	f := j.floods[k]
	if f == nil {
		if len(j.floods) >= maxFloods {
			for k, o := range j.floods {
				if o.tokens+now.Sub(o.at).Seconds()*rate >= burst {
					delete(j.floods, k)
				}
			}
		}
		f = &flood{tokens: burst, at: now}
		j.floods[k] = f
	}
	if dt := now.Sub(f.at).Seconds(); dt > 0 {
		f.tokens = min(burst, f.tokens+dt*rate)
		f.at = now
	}
	if f.suppressed > 0 && f.tokens >= burst {
		// Quiet for long enough to fill the bucket: the flood is over.
		j.log.Warn("journal: the flood is over; events of that kind not stored", "panel", k.panel, "type", k.typ, "sensor", k.index, "source", k.source, "not_stored", f.suppressed)
		f.suppressed = 0
	}
	if f.tokens < 1 {
		if f.suppressed == 0 {
			j.log.Warn("journal: a flood of one kind of event; storing only some of it until it slows down", "panel", k.panel, "type", k.typ, "sensor", k.index, "source", k.source, "burst", burst, "per_second", rate)
		}
		f.suppressed++
		j.stats.Suppressed++
		return false
	}
	f.tokens--
	return true
}

func getUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// addMeta adds to the stored event and byte counts.
func addMeta(meta *bolt.Bucket, events, bytes int) error {
	c := int64(getUint(meta.Get(keyCount))) + int64(events)
	b := int64(getUint(meta.Get(keyBytes))) + int64(bytes)
	if err := meta.Put(keyCount, binary.BigEndian.AppendUint64(nil, uint64(max(c, 0)))); err != nil {
		return err
	}
	return meta.Put(keyBytes, binary.BigEndian.AppendUint64(nil, uint64(max(b, 0))))
}

// ageCheckEvery is how many appends pass between two checks of the
// oldest event's age.
const ageCheckEvery = 64

// trim applies the retention limits. On append (exact false) it lets the
// journal grow 1/32 past a size limit and checks the age every
// ageCheckEvery appends, so that removal happens in batches; at Open
// (exact) it enforces the limits exactly.
func (j *Journal) trim(tx *bolt.Tx, exact bool) error {
	meta := tx.Bucket(bucketMeta)
	count, size := getUint(meta.Get(keyCount)), getUint(meta.Get(keyBytes))
	j.stats.Events, j.stats.Bytes = count, size
	over := func(n uint64, limit uint64) bool {
		if limit == 0 {
			return false
		}
		if exact {
			return n > limit
		}
		return n > limit+limit/32
	}
	var cutoff int64 = -1
	if j.cfg.MaxAge > 0 {
		if j.sinceAg++; exact || j.sinceAg >= ageCheckEvery {
			j.sinceAg = 0
			cutoff = j.cfg.Now().Add(-j.cfg.MaxAge).UnixNano()
		}
	}
	maxN, maxB := uint64(j.cfg.MaxEvents), uint64(j.cfg.MaxBytes)
	if !over(count, maxN) && !over(size, maxB) && cutoff < 0 {
		return nil
	}
	c := tx.Bucket(bucketEvents).Cursor()
	removed, freed := 0, 0
	for {
		k, v := c.First()
		if k == nil {
			break
		}
		old := cutoff >= 0 && int64(binary.BigEndian.Uint64(k)) < cutoff
		if !old && (maxN == 0 || count <= maxN) && (maxB == 0 || size <= maxB) {
			break
		}
		n := len(k) + len(v)
		if e, err := decodeEntry(k, v, j.sums); err == nil {
			j.pending[e.Panel]--
		}
		j.unindex(k, v)
		if err := c.Delete(); err != nil {
			return err
		}
		removed++
		freed += n
		count--
		size -= uint64(n)
	}
	if removed == 0 {
		return nil
	}
	if err := j.ixRemove(tx); err != nil {
		return err
	}
	j.stats.Removed += uint64(removed)
	j.stats.Events, j.stats.Bytes = count, size
	j.log.Debug("journal: retention removed old events", "path", j.cfg.Path, "events", removed, "bytes", freed)
	return addMeta(meta, -removed, -freed)
}

// trimPanels applies MaxPanelEvents: the oldest events of each panel
// over it go (1/32 past it on append, as trim). j.mu is held.
func (j *Journal) trimPanels(tx *bolt.Tx, exact bool) error {
	limit := int64(j.cfg.MaxPanelEvents)
	if limit <= 0 || j.cfg.ReadOnly {
		return nil
	}
	over := map[string]int64{} // how many to remove
	for g, n := range j.perPanel {
		n += j.pending[g]
		if n > limit && (exact || n > limit+limit/32) {
			over[g] = n - limit
		}
	}
	for g, d := range j.pending {
		if _, counted := j.perPanel[g]; !counted && d > limit && (exact || d > limit+limit/32) {
			over[g] = d - limit
		}
	}
	if len(over) == 0 {
		return nil
	}
	meta := tx.Bucket(bucketMeta)
	c := tx.Bucket(bucketEvents).Cursor()
	removed, freed := 0, 0
	for k, v := c.First(); k != nil && len(over) > 0; {
		e, err := decodeEntry(k, v, j.sums)
		if left, ok := over[e.Panel]; err != nil || !ok {
			k, v = c.Next()
			continue
		} else if left == 1 {
			delete(over, e.Panel)
		} else {
			over[e.Panel] = left - 1
		}
		j.pending[e.Panel]--
		removed++
		freed += len(k) + len(v)
		j.unindex(k, v)
		if err := c.Delete(); err != nil {
			return err
		}
		// After Delete the cursor is on the next item.
		k, v = c.Seek(k)
	}
	if err := j.ixRemove(tx); err != nil {
		return err
	}
	j.stats.Removed += uint64(removed)
	j.stats.Events -= uint64(removed)
	j.stats.Bytes -= uint64(freed)
	j.log.Debug("journal: retention removed a panel's old events", "path", j.cfg.Path, "events", removed, "bytes", freed)
	return addMeta(meta, -removed, -freed)
}

// Panels returns the GUID of every panel the journal has numbered events
// for, with the seq of its last event (retention may have removed the
// event, not the number).
func (j *Journal) Panels() (map[string]uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	db, err := j.open()
	if err != nil {
		return nil, err
	}
	defer j.release()
	out := map[string]uint64{}
	err = j.safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketPanels)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				guid, ok := bytes.CutPrefix(k, []byte("p:"))
				if !ok || len(v) != 8 {
					return fmt.Errorf("%w: %s: panel key %q", ErrCorrupt, j.cfg.Path, k)
				}
				out[string(guid)] = getUint(v)
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Continue numbers each panel's next event after at least the given seq:
// for a new journal that replaces a damaged one, so that no number is
// used twice.
func (j *Journal) Continue(panels map[string]uint64) error {
	if j.cfg.ReadOnly {
		return fmt.Errorf("journal: continue %s: opened read-only", j.cfg.Path)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.open(); err != nil {
		return err
	}
	defer j.release()
	return j.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPanels)
		for guid, seq := range panels {
			pk := append([]byte("p:"), guid...)
			if seq > getUint(b.Get(pk)) {
				if err := b.Put(pk, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Query returns the selected entries in the order they were stored. It
// reads them in chunks, holding the file only while it reads one, so a
// slow consumer keeps no writer out; entries appended meanwhile are
// included. A damaged entry is yielded as an error wrapping ErrDamaged
// (with the entry's Time when its key is whole) and the sequence goes
// on; any other error ends it.
func (j *Journal) Query(q Query) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		var from []byte
		if !q.Since.IsZero() {
			from = binary.BigEndian.AppendUint64(nil, uint64(max(q.Since.UnixNano(), 0)))
		}
		for {
			results, next, err := j.read(from, q.Panel)
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for _, r := range results {
				if !yield(r.Entry, r.err) {
					return
				}
			}
			if next == nil {
				return
			}
			from = next
		}
	}
}

// result is an entry read, or why it could not be.
type result struct {
	Entry
	err error
}

// read returns up to chunk entries from the key from on, and the key to
// continue at (nil at the end).
func (j *Journal) read(from []byte, panel string) (results []result, next []byte, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	db, err := j.open()
	if err != nil {
		return nil, nil, err
	}
	defer j.release()
	err = j.safely(func() error {
		return db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents)
			if b == nil {
				return nil // a new file, still empty
			}
			c := b.Cursor()
			var k, v []byte
			if from == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(from)
			}
			scanned := 0
			for ; k != nil; k, v = c.Next() {
				if scanned == chunk*8 || len(results) == chunk {
					next = bytes.Clone(k)
					return nil
				}
				scanned++
				e, err := decodeEntry(k, v, j.sums)
				if err != nil {
					r := result{err: fmt.Errorf("%w: %s: entry %x: %v", ErrDamaged, j.cfg.Path, k, err)}
					if len(k) == keyLen {
						r.Time = time.Unix(0, int64(binary.BigEndian.Uint64(k)))
					}
					results = append(results, r)
					continue
				}
				if panel != "" && e.Panel != panel {
					continue
				}
				e.JSON = bytes.Clone(e.JSON)
				results = append(results, result{Entry: e})
			}
			return nil
		})
	})
	if err != nil {
		j.closeDB() // a fault leaves nothing worth keeping mapped
		return nil, nil, err
	}
	return results, next, nil
}

// decodeEntry splits a stored entry, checking its checksum when the file
// has them; JSON aliases v.
func decodeEntry(k, v []byte, sums bool) (Entry, error) {
	if len(k) != keyLen {
		return Entry{}, fmt.Errorf("key of %d bytes", len(k))
	}
	if sums {
		if len(v) < sumLen {
			return Entry{}, errors.New("no checksum")
		}
		want := binary.BigEndian.Uint32(v)
		v = v[sumLen:]
		if got := crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, v); got != want {
			return Entry{}, fmt.Errorf("checksum %08x, stored %08x", got, want)
		}
	}
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return Entry{}, errors.New("bad seq")
	}
	v = v[n:]
	l, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < l {
		return Entry{}, errors.New("bad panel")
	}
	guid := v[n : n+int(l)]
	return Entry{
		Time:  time.Unix(0, int64(binary.BigEndian.Uint64(k))),
		Panel: string(guid), Seq: seq, ID: binary.BigEndian.Uint64(k[8:]), JSON: v[n+int(l):],
	}, nil
}
