// Package journal keeps every event of every panel on disk, in arrival
// order, for `g90 events`, the web UI's event log and anyone who wants to
// know what happened while they were not looking.
//
// Each event is stored as its JSON line (notify.Event.AppendJSON) with a
// per-panel sequence number "seq" added; the numbers continue across
// restarts. Old events go by age and by size as new ones come in.
//
//	j, err := journal.Open(journal.Config{Path: "journal.db", MaxAge: 30 * 24 * time.Hour})
//	entry, err := j.Append(&ev)   // entry.JSON is the line, entry.Seq its number
//	for e, err := range j.Query(journal.Query{Since: t, Panel: guid}) { ... }
//	err = j.Close()
//
// The file is a bbolt database. bbolt locks it: a writer exclusively, a
// reader shared, so a reader must wait while a writer has it open. A
// writing Journal therefore closes the file after IdleClose without
// appends, and a read-only Journal opens it only for each chunk it
// reads; `g90 events` works while `g90 serve` runs.
package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/g90alarm/g90/notify"
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
	// MaxBytes bounds the bytes of the stored events (keys and values;
	// the file is larger by bbolt's page overhead); 0 means no bound.
	MaxBytes int64
	// ReadOnly opens the journal for Query only. It takes the file's
	// lock only while it reads a chunk of events.
	ReadOnly bool
	// LockTimeout is how long opening waits for another process's lock
	// on the file; 0 means 5 s. Negative means not at all.
	LockTimeout time.Duration
	// IdleClose is how long a writer keeps the file open (and locked)
	// after its last use, so that readers in other processes get their
	// turn; 0 means 100 ms, negative keeps it open until Close. Opening
	// again costs well under a millisecond.
	IdleClose time.Duration
	// Logger receives diagnostics (retention); nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	noSync bool // tests: skip fsync
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
)

// Entry is one stored event.
type Entry struct {
	// Time is when the journal stored the event (its arrival); entries
	// are in this order. The event's own time is in JSON.
	Time time.Time
	// Panel is the event's panel GUID ("" while the GUID was unknown).
	Panel string
	// Seq numbers the events of Panel: 1, 2, 3, … without gaps, across
	// restarts; retention removes the oldest.
	Seq uint64
	// JSON is the event as notify.Event.AppendJSON writes it, with the
	// key "seq" last. The Entry owns it.
	JSON []byte
}

// Event decodes the stored event.
func (e *Entry) Event() (notify.Event, error) {
	var ev notify.Event
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
	idle    *time.Timer
	buf     []byte
	stats   Stats
	sinceAg int // appends since the last age check
}

// Database layout. Keys of bucketEvents are the arrival time in unix
// nanoseconds then a journal-wide sequence number, both big-endian, so
// that they sort by time and equal times keep their order. Values are
// header (uvarint seq, uvarint len(GUID), GUID) then the JSON line.
var (
	bucketEvents = []byte("events")
	bucketPanels = []byte("panels") // "p:"+GUID → next seq - 1, big-endian
	bucketMeta   = []byte("meta")
	keyVersion   = []byte("version")
	keyCount     = []byte("count")
	keyBytes     = []byte("bytes")
)

const (
	version = "g90-journal 1"
	keyLen  = 16
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
	if !cfg.ReadOnly {
		err := j.update(func(tx *bolt.Tx) error { return j.trim(tx, true) })
		if err != nil {
			j.db.Close()
			return nil, fmt.Errorf("journal: open %s: retention: %w", cfg.Path, err)
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
	path := j.cfg.Path
	if j.cfg.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, path)
		}
	}
	timeout := max(j.cfg.LockTimeout, time.Nanosecond) // bbolt: 0 waits forever
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: j.cfg.ReadOnly, NoSync: j.cfg.noSync})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, j.cfg.LockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	if err := j.check(db); err != nil {
		db.Close()
		return nil, err
	}
	j.db = db
	return db, nil
}

// check creates the buckets of a new journal and checks an old one, and
// reads the newest key. j.mu is held.
func (j *Journal) check(db *bolt.DB) (err error) {
	defer recoverCorrupt(j.cfg.Path, &err)
	fn := func(tx *bolt.Tx) error {
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
		if meta == nil || string(meta.Get(keyVersion)) != version || tx.Bucket(bucketEvents) == nil || tx.Bucket(bucketPanels) == nil {
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
	if j.cfg.ReadOnly {
		return db.View(fn)
	}
	return db.Update(fn)
}

func isEmpty(tx *bolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
	return empty
}

// recoverCorrupt turns a panic of bbolt on a damaged page into ErrCorrupt.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
	}
}

// update runs fn in a write transaction. j.mu is held and the file open.
func (j *Journal) update(fn func(tx *bolt.Tx) error) (err error) {
	defer recoverCorrupt(j.cfg.Path, &err)
	return j.db.Update(fn)
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

// Append stores ev, numbered after the last event of its panel, and
// returns the stored entry. The write is on disk when Append returns.
func (j *Journal) Append(ev *notify.Event) (Entry, error) {
	if j.cfg.ReadOnly {
		return Entry{}, fmt.Errorf("journal: append to %s: opened read-only", j.cfg.Path)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.open(); err != nil {
		return Entry{}, err
	}
	defer j.release()
	now := j.cfg.Now().UnixNano()
	// The wall clock may step back; the journal's order may not.
	at := max(now, j.lastKey)
	var e Entry
	err := j.update(func(tx *bolt.Tx) error {
		events, panels, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketPanels), tx.Bucket(bucketMeta)
		pk := append([]byte("p:"), ev.GUID...)
		seq := getUint(panels.Get(pk)) + 1
		if err := panels.Put(pk, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		n, err := events.NextSequence()
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), uint64(at)), n)
		v := binary.AppendUvarint(j.buf[:0], seq)
		v = binary.AppendUvarint(v, uint64(len(ev.GUID)))
		v = append(v, ev.GUID...)
		head := len(v)
		v = ev.AppendJSON(v)
		v = append(v[:len(v)-1], `,"seq":`...)
		v = strconv.AppendUint(v, seq, 10)
		v = append(v, '}')
		j.buf = v
		if err := events.Put(key, v); err != nil {
			return err
		}
		if err := addMeta(meta, 1, len(key)+len(v)); err != nil {
			return err
		}
		e = Entry{Time: time.Unix(0, at), Panel: ev.GUID, Seq: seq, JSON: bytes.Clone(v[head:])}
		return j.trim(tx, false)
	})
	if err != nil {
		return Entry{}, fmt.Errorf("journal: append to %s: %w", j.cfg.Path, err)
	}
	j.lastKey = at
	j.stats.Appends++
	return e, nil
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
	j.stats.Removed += uint64(removed)
	j.stats.Events, j.stats.Bytes = count, size
	j.log.Debug("journal: retention removed old events", "path", j.cfg.Path, "events", removed, "bytes", freed)
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
	err = db.View(func(tx *bolt.Tx) error {
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
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Query returns the selected entries in the order they were stored. It
// reads them in chunks, holding the file only while it reads one, so a
// slow consumer keeps no writer out; entries appended meanwhile are
// included. An error ends the sequence.
func (j *Journal) Query(q Query) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		var from []byte
		if !q.Since.IsZero() {
			from = binary.BigEndian.AppendUint64(nil, uint64(max(q.Since.UnixNano(), 0)))
		}
		for {
			entries, next, err := j.read(from, q.Panel)
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for _, e := range entries {
				if !yield(e, nil) {
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

// read returns up to chunk entries from the key from on, and the key to
// continue at (nil at the end).
func (j *Journal) read(from []byte, panel string) (entries []Entry, next []byte, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	db, err := j.open()
	if err != nil {
		return nil, nil, err
	}
	defer j.release()
	defer recoverCorrupt(j.cfg.Path, &err)
	err = db.View(func(tx *bolt.Tx) error {
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
			if scanned == chunk*8 || len(entries) == chunk {
				next = bytes.Clone(k)
				return nil
			}
			scanned++
			e, err := decodeEntry(k, v)
			if err != nil {
				return fmt.Errorf("%w: %s: entry %x: %v", ErrCorrupt, j.cfg.Path, k, err)
			}
			if panel != "" && e.Panel != panel {
				continue
			}
			e.JSON = bytes.Clone(e.JSON)
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return entries, next, nil
}

// decodeEntry splits a stored entry; JSON aliases v.
func decodeEntry(k, v []byte) (Entry, error) {
	if len(k) != keyLen {
		return Entry{}, fmt.Errorf("key of %d bytes", len(k))
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
		Panel: string(guid), Seq: seq, JSON: v[n+int(l):],
	}, nil
}
