package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/eclipse/paho.golang/autopaho/queue"
)

// fileQueue is the durable outbound queue: messages appended to one log
// file and sent strictly in that order. (autopaho's own file queue keeps
// one file per message ordered by modification time, which ties for
// messages written in the same clock tick and then reorders them; events
// must not be. One file per message also costs an open, a rename and a
// remove per message, most of the daemon's event latency.)
//
// The log, queue.log, is a run of records: a 4-byte big-endian payload
// length, the payload's 4-byte CRC-32 (IEEE), the payload. queue.head
// holds the 8-byte offset of the first record not yet sent. When the last
// record is sent the log is truncated; when the sent part grows past
// compactAt the rest is copied to a new log. Nothing is fsynced: a crash
// of the process loses nothing, a power loss may lose the newest
// messages, and a head offset written late only sends a message twice,
// which QoS 1 allows. A torn or corrupt record ends the log when it is
// opened again.
type fileQueue struct {
	dir string

	mu      sync.Mutex
	log     *os.File // queue.log, opened for appending and reading
	head    *os.File // queue.head
	recs    []record // queued, oldest first
	end     int64    // the log's size
	waiting []chan struct{}
	buf     []byte
}

// record is one queued message in the log: its payload's offset and
// length.
type record struct {
	off int64
	n   int
}

const (
	queueLog  = "queue.log"
	queueHead = "queue.head"
	// recordHeader is the length and CRC before each payload.
	recordHeader = 8
	// maxRecord bounds a payload; a longer length is corruption.
	maxRecord = 16 << 20
	// compactAt is the size of the sent part of the log that makes the
	// queue copy what is left to a new log.
	compactAt = 4 << 20
)

// openFileQueue opens the queue in dir, keeping what an earlier run left.
func openFileQueue(dir string) (*fileQueue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	q := &fileQueue{dir: dir}
	var err error
	if q.log, err = os.OpenFile(filepath.Join(dir, queueLog), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	if q.head, err = os.OpenFile(filepath.Join(dir, queueHead), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		q.log.Close()
		return nil, err
	}
	if err := q.load(); err != nil {
		q.Close()
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, queueLog), err)
	}
	return q, nil
}

// load reads the head offset and indexes the records after it; a torn
// or corrupt record and what follows it are cut off.
func (q *fileQueue) load() error {
	var hb [8]byte
	start := int64(0)
	if n, _ := q.head.ReadAt(hb[:], 0); n == 8 {
		start = int64(binary.BigEndian.Uint64(hb[:]))
	}
	data, err := io.ReadAll(q.log) // the queue is read at start only
	if err != nil {
		return err
	}
	if start < 0 || start > int64(len(data)) {
		start = 0 // a head from another log: send everything again
	}
	recs, valid := scanRecords(data, start)
	q.recs = recs
	q.end = valid
	if valid < int64(len(data)) {
		return q.log.Truncate(valid)
	}
	return nil
}

// scanRecords indexes the records of data from offset start and returns
// them with the offset where the valid records end.
func scanRecords(data []byte, start int64) ([]record, int64) {
	var recs []record
	off := start
	for int64(len(data))-off >= recordHeader {
		n := binary.BigEndian.Uint32(data[off:])
		sum := binary.BigEndian.Uint32(data[off+4:])
		p := off + recordHeader
		if n > maxRecord || int64(n) > int64(len(data))-p || crc32.ChecksumIEEE(data[p:p+int64(n)]) != sum {
			break
		}
		recs = append(recs, record{p, int(n)})
		off = p + int64(n)
	}
	return recs, off
}

// Close closes the queue's files.
func (q *fileQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return errors.Join(q.log.Close(), q.head.Close())
}

// Len returns the number of queued messages.
func (q *fileQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs)
}

// Wait implements queue.Queue.
func (q *fileQueue) Wait() chan struct{} {
	c := make(chan struct{})
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recs) > 0 {
		close(c)
	} else {
		q.waiting = append(q.waiting, c)
	}
	return c
}

// Enqueue implements queue.Queue: one write to the log.
func (q *fileQueue) Enqueue(p io.Reader) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := append(q.buf[:0], make([]byte, recordHeader)...)
	w := bytes.NewBuffer(b)
	if _, err := w.ReadFrom(p); err != nil {
		return fmt.Errorf("bridge: queue: %w", err)
	}
	b = w.Bytes()
	n := len(b) - recordHeader
	if n > maxRecord {
		return fmt.Errorf("bridge: queue: a message of %d bytes (at most %d)", n, maxRecord)
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	binary.BigEndian.PutUint32(b[4:], crc32.ChecksumIEEE(b[recordHeader:]))
	if _, err := q.log.Write(b); err != nil {
		// A short write would leave a torn record: cut it off.
		_ = q.log.Truncate(q.end)
		return fmt.Errorf("bridge: queue: %w", err)
	}
	q.buf = b
	q.recs = append(q.recs, record{q.end + recordHeader, n})
	q.end += int64(len(b))
	for _, c := range q.waiting {
		close(c)
	}
	q.waiting = nil
	return nil
}

// Peek implements queue.Queue.
func (q *fileQueue) Peek() (queue.Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recs) == 0 {
		return nil, queue.ErrEmpty
	}
	return &fileEntry{q: q, rec: q.recs[0]}, nil
}

// pop removes r, the head, and records the new head on disk. q.mu is
// held.
func (q *fileQueue) pop(r record) error {
	if len(q.recs) == 0 || q.recs[0] != r {
		return nil // removed already
	}
	q.recs = q.recs[1:]
	if len(q.recs) == 0 {
		q.end = 0
		return errors.Join(q.log.Truncate(0), q.writeHead(0))
	}
	if q.recs[0].off-recordHeader >= compactAt {
		return q.compact()
	}
	return q.writeHead(q.recs[0].off - recordHeader)
}

func (q *fileQueue) writeHead(off int64) error {
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(off))
	_, err := q.head.WriteAt(hb[:], 0)
	return err
}

// compact copies the queued records to a new log that replaces the old
// one. q.mu is held.
func (q *fileQueue) compact() error {
	from := q.recs[0].off - recordHeader
	rest := make([]byte, q.end-from)
	if _, err := q.log.ReadAt(rest, from); err != nil {
		return err
	}
	path := filepath.Join(q.dir, queueLog)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, rest, 0o600); err != nil {
		return err
	}
	// The head goes to 0 only once the new log is in place; a crash in
	// between sends some messages twice, never loses one.
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	q.log.Close()
	q.log = f
	for i := range q.recs {
		q.recs[i].off -= from
	}
	q.end -= from
	return q.writeHead(0)
}

// fileEntry is the head of a fileQueue.
type fileEntry struct {
	q   *fileQueue
	rec record
}

func (e *fileEntry) Reader() (io.Reader, error) {
	b := make([]byte, e.rec.n)
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	if _, err := e.q.log.ReadAt(b, e.rec.off); err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func (e *fileEntry) Leave() error { return nil }

func (e *fileEntry) Remove() error {
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	if err := e.q.pop(e.rec); err != nil {
		return err
	}
	if len(e.q.recs) == 0 {
		return queue.ErrEmpty
	}
	return nil
}

// Quarantine keeps a message that cannot be sent beside the queue, for a
// person to look at, and removes it from the queue.
func (e *fileEntry) Quarantine() error {
	b := make([]byte, e.rec.n)
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	_, err := e.q.log.ReadAt(b, e.rec.off)
	if err == nil {
		err = os.WriteFile(filepath.Join(e.q.dir, fmt.Sprintf("bad-%d.mqtt", e.rec.off)), b, 0o600)
	}
	return errors.Join(err, e.q.pop(e.rec))
}

// QueueDepth returns how many messages wait in the outbound queue for the
// broker; 0 with the in-memory queue (Config.QueueDir empty), which does
// not count.
func (b *Bridge) QueueDepth() int {
	if fq, ok := b.q.(*fileQueue); ok {
		return fq.Len()
	}
	return 0
}
