package mqttlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// queue is the outbound queue: messages in the order they were
// published, kept until the broker has acknowledged them. Only the
// connection's sender reads and removes, from the head: it sends
// entries 0, 1, 2… of the queue while earlier ones wait for their
// PUBACK, removes the head when its PUBACK has come, and after a lost
// connection starts again at entry 0.
type queue interface {
	// push appends m.
	push(m Message) error
	// at returns the i-th message from the head; ok false past the end.
	// A message that cannot be read back is set aside (quarantined) and
	// the next one returned, so one bad record cannot stop the queue.
	at(i int) (m Message, ok bool, err error)
	// pop removes the head.
	pop() error
	// len is the number of queued messages.
	len() int
	// beyond returns a channel that is closed once more than n messages
	// are queued.
	beyond(n int) <-chan struct{}
	close() error
}

// waiters is the part of beyond that both queues share. The queue's
// mutex guards it.
type waiters struct {
	more chan struct{} // closed at the next push
}

func (w *waiters) wait(queued, n int) <-chan struct{} {
	if queued > n {
		return closed
	}
	if w.more == nil {
		w.more = make(chan struct{})
	}
	return w.more
}

func (w *waiters) wake() {
	if w.more != nil {
		close(w.more)
		w.more = nil
	}
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// memQueue keeps the queue in memory: what it holds is lost when the
// process ends.
type memQueue struct {
	mu   sync.Mutex
	msgs []Message
	w    waiters
}

func (q *memQueue) push(m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	q.w.wake()
	return nil
}

func (q *memQueue) at(i int) (Message, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i >= len(q.msgs) {
		return Message{}, false, nil
	}
	return q.msgs[i], true, nil
}

func (q *memQueue) pop() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) > 0 {
		q.msgs[0] = Message{}
		q.msgs = q.msgs[1:]
	}
	return nil
}

func (q *memQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

func (q *memQueue) beyond(n int) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.w.wait(len(q.msgs), n)
}

func (q *memQueue) close() error { return nil }

// fileQueue is the durable queue: messages appended to one log file and
// sent strictly in that order. (paho's stores, one file or map entry per
// message, give them back in another order after a reconnect, upstream
// issue #731; events must not be reordered. One file per message also
// costs an open, a rename and a remove per message.)
//
// The log, queue.log, is a run of records: a 4-byte big-endian length,
// the 4-byte CRC-32 (IEEE) of the record's body, the body. A body is a
// message, protocol-neutral: one byte of flags (QoS in bits 0–1, retain
// in bit 2, the high nibble 0), the topic's 2-byte length, the topic and
// the payload. (A body whose high nibble is 3 is an MQTT 5 PUBLISH
// packet, as earlier versions wrote them: still read, so that an upgrade
// sends what the old version queued.) queue.head holds the
// 8-byte offset of the first record not yet acknowledged. When the last
// record is removed the log is truncated; when the removed part grows
// past compactAt the rest is copied to a new log. Nothing is fsynced: a
// crash of the process loses nothing, a power loss may lose the newest
// messages, and a head offset written late only sends a message twice,
// which QoS 1 allows. A torn or corrupt record is set aside when the log
// is opened again, and the records after it are kept.
type fileQueue struct {
	dir string

	mu   sync.Mutex
	log  *os.File // queue.log, opened for appending and reading
	head *os.File // queue.head
	recs []record // queued, oldest first
	end  int64    // the log's size
	w    waiters
	buf  []byte
	// damaged is what load set aside.
	damaged []Damage
}

// record is one queued message in the log: its body's offset and
// length.
type record struct {
	off int64
	n   int
}

const (
	queueLog  = "queue.log"
	queueHead = "queue.head"
	// recordHeader is the length and CRC before each body.
	recordHeader = 8
	// maxRecord bounds a body; a longer length is corruption.
	maxRecord = 16 << 20
	// compactAt is the size of the removed part of the log that makes
	// the queue copy what is left to a new log.
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
		q.close()
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, queueLog), err)
	}
	return q, nil
}

// load reads the head offset and indexes the records after it. Bytes
// that are not a valid record (a flipped bit, a torn write) do not end
// the queue: scanRecords finds the next valid record after them, the
// bytes are set aside in a damaged-OFFSET.mqtt file beside the queue,
// and the log is rewritten with only the valid records (issue 13.9).
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
	recs, damaged := scanRecords(data, start)
	q.recs = recs
	q.end = int64(len(data))
	if len(damaged) == 0 {
		return nil
	}
	for _, d := range damaged {
		bad := filepath.Join(q.dir, fmt.Sprintf("damaged-%d.mqtt", d.off))
		if err := os.WriteFile(bad, data[d.off:d.end], 0o600); err != nil {
			return fmt.Errorf("set aside damaged bytes: %w", err)
		}
		q.damaged = append(q.damaged, Damage{File: bad, Bytes: int(d.end - d.off)})
	}
	return q.rewrite(data)
}

// Damage is a run of bytes of the disk queue that was not a valid
// record when it was opened, set aside in File.
type Damage struct {
	File  string
	Bytes int
}

// span is a run of bytes of the log, [off, end).
type span struct{ off, end int64 }

// minBody is the shortest record body that can be a message: the flags
// and the topic's length. A shorter "record" found while resynchronising
// (eight zero bytes are an empty body with a valid CRC) is not one.
const minBody = 3

// scanRecords indexes the records of data from offset start. Where the
// bytes are not a valid record it looks for the next offset where one
// starts (its length in bounds and its CRC right), and returns the runs
// it skipped.
func scanRecords(data []byte, start int64) ([]record, []span) {
	var recs []record
	var damaged []span
	valid := func(off int64, resync bool) (int64, bool) {
		if int64(len(data))-off < recordHeader {
			return 0, false
		}
		n := int64(binary.BigEndian.Uint32(data[off:]))
		sum := binary.BigEndian.Uint32(data[off+4:])
		p := off + recordHeader
		if n > maxRecord || n > int64(len(data))-p || (resync && n < minBody) || crc32.ChecksumIEEE(data[p:p+n]) != sum {
			return 0, false
		}
		return n, true
	}
	off := start
	for off < int64(len(data)) {
		n, ok := valid(off, false)
		if !ok {
			next := off + 1
			for ; next < int64(len(data)); next++ {
				if _, ok := valid(next, true); ok {
					break
				}
			}
			damaged = append(damaged, span{off, next})
			off = next
			continue
		}
		recs = append(recs, record{off + recordHeader, int(n)})
		off += recordHeader + n
	}
	return recs, damaged
}

// rewrite replaces the log with the records of q.recs, read from data
// (the log as it was), and sets the head to 0. Called from load.
func (q *fileQueue) rewrite(data []byte) error {
	var out []byte
	for i, r := range q.recs {
		out = append(out, data[r.off-recordHeader:r.off+int64(r.n)]...)
		q.recs[i].off = int64(len(out)) - int64(r.n)
	}
	if err := q.replaceLog(out); err != nil {
		return err
	}
	q.end = int64(len(out))
	return q.writeHead(0)
}

// replaceLog puts a new log with the bytes b in place of the old one and
// opens it. The head is the caller's to move: until it is 0, a crash
// sends some messages twice, never loses one. q.mu is held, or the
// queue is still being opened.
func (q *fileQueue) replaceLog(b []byte) error {
	path := filepath.Join(q.dir, queueLog)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	q.log.Close()
	q.log = f
	return nil
}

func (q *fileQueue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return errors.Join(q.log.Close(), q.head.Close())
}

func (q *fileQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs)
}

func (q *fileQueue) beyond(n int) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.w.wait(len(q.recs), n)
}

// push is one write to the log.
func (q *fileQueue) push(m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := appendBody(append(q.buf[:0], make([]byte, recordHeader)...), m)
	n := len(b) - recordHeader
	if n > maxRecord {
		return fmt.Errorf("mqttlink: queue: a message of %d bytes (at most %d)", n, maxRecord)
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	binary.BigEndian.PutUint32(b[4:], crc32.ChecksumIEEE(b[recordHeader:]))
	if _, err := q.log.Write(b); err != nil {
		// A short write would leave a torn record: cut it off.
		_ = q.log.Truncate(q.end)
		return fmt.Errorf("mqttlink: queue: %w", err)
	}
	q.buf = b
	q.recs = append(q.recs, record{q.end + recordHeader, n})
	q.end += int64(len(b))
	q.w.wake()
	return nil
}

func (q *fileQueue) at(i int) (Message, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i < len(q.recs) {
		r := q.recs[i]
		b := make([]byte, r.n)
		if _, err := q.log.ReadAt(b, r.off); err != nil {
			return Message{}, false, fmt.Errorf("mqttlink: queue: %w", err)
		}
		m, err := decodeBody(b)
		if err == nil {
			return m, true, nil
		}
		// A record whose CRC holds but whose body does not decode:
		// kept beside the queue for a person to look at.
		bad := filepath.Join(q.dir, fmt.Sprintf("bad-%d.mqtt", r.off))
		if werr := os.WriteFile(bad, b, 0o600); werr != nil {
			return Message{}, false, fmt.Errorf("mqttlink: queue: set aside %s: %w", bad, werr)
		}
		if err := q.remove(i); err != nil {
			return Message{}, false, err
		}
	}
	return Message{}, false, nil
}

func (q *fileQueue) pop() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recs) == 0 {
		return nil
	}
	return q.remove(0)
}

// remove removes the i-th record and records the new head on disk. q.mu
// is held. Only the head moves the head offset; a quarantined record
// further on stays in the log, out of the index.
func (q *fileQueue) remove(i int) error {
	if i > 0 {
		q.recs = append(q.recs[:i], q.recs[i+1:]...)
		return nil
	}
	q.recs[0] = record{}
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
	// The head goes to 0 only once the new log is in place.
	if err := q.replaceLog(rest); err != nil {
		return err
	}
	for i := range q.recs {
		q.recs[i].off -= from
	}
	q.end -= from
	return q.writeHead(0)
}

// Record body flags.
const (
	bodyQoS    = 0x03
	bodyRetain = 0x04
)

// appendBody appends m's record body to b.
func appendBody(b []byte, m Message) []byte {
	flags := m.QoS & bodyQoS
	if m.Retain {
		flags |= bodyRetain
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Topic)))
	b = append(b, m.Topic...)
	return append(b, m.Payload...)
}

// errBody is wrapped by the errors of decodeBody.
var errBody = errors.New("mqttlink: queue: bad record")

// decodeBody reads a record body, ours or an MQTT 5 PUBLISH of an
// earlier version.
func decodeBody(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, fmt.Errorf("%w: empty", errBody)
	}
	switch b[0] >> 4 {
	case 0:
		if b[0]&^(bodyQoS|bodyRetain) != 0 || b[0]&bodyQoS > 2 {
			return Message{}, fmt.Errorf("%w: flags %#x", errBody, b[0])
		}
		if len(b) < 3 {
			return Message{}, fmt.Errorf("%w: no topic length", errBody)
		}
		n := int(binary.BigEndian.Uint16(b[1:]))
		if len(b) < 3+n || n == 0 {
			return Message{}, fmt.Errorf("%w: topic of %d bytes in a body of %d", errBody, n, len(b))
		}
		return Message{Topic: string(b[3 : 3+n]), Payload: b[3+n:], QoS: b[0] & bodyQoS, Retain: b[0]&bodyRetain != 0}, nil
	case 3:
		return decodeMQTT5Publish(b)
	}
	return Message{}, fmt.Errorf("%w: first byte %#x", errBody, b[0])
}

// decodeMQTT5Publish reads an MQTT 5 PUBLISH packet (MQTT 5.0 §3.3): the
// fixed header (type 3, DUP, QoS, RETAIN; the remaining length), the
// topic, the packet identifier for QoS 1 and 2, the properties (skipped)
// and the payload.
func decodeMQTT5Publish(b []byte) (Message, error) {
	qos := b[0] >> 1 & 3
	m := Message{QoS: qos, Retain: b[0]&1 != 0}
	if qos > 2 {
		return m, fmt.Errorf("%w: MQTT 5 PUBLISH with QoS 3", errBody)
	}
	rem, n, err := varint(b[1:])
	if err != nil || 1+n+rem != len(b) {
		return m, fmt.Errorf("%w: MQTT 5 PUBLISH remaining length", errBody)
	}
	p := b[1+n:]
	if len(p) < 2 {
		return m, fmt.Errorf("%w: MQTT 5 PUBLISH without a topic", errBody)
	}
	tl := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+tl || tl == 0 {
		return m, fmt.Errorf("%w: MQTT 5 PUBLISH topic length %d", errBody, tl)
	}
	m.Topic, p = string(p[2:2+tl]), p[2+tl:]
	if qos > 0 {
		if len(p) < 2 {
			return m, fmt.Errorf("%w: MQTT 5 PUBLISH without a packet identifier", errBody)
		}
		p = p[2:]
	}
	pl, n, err := varint(p)
	if err != nil || len(p) < n+pl {
		return m, fmt.Errorf("%w: MQTT 5 PUBLISH properties", errBody)
	}
	m.Payload = p[n+pl:]
	return m, nil
}

// varint reads an MQTT variable byte integer (MQTT 5.0 §1.5.5): the
// value and the bytes it took.
func varint(b []byte) (int, int, error) {
	v, mul := 0, 1
	for i := 0; i < 4 && i < len(b); i++ {
		v += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
		mul *= 128
	}
	return 0, 0, errBody
}
