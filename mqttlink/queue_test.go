package mqttlink

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
)

func msg(s string) Message { return Message{Topic: "t/q", Payload: []byte(s), QoS: 1} }

func push(t testing.TB, q queue, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := q.push(msg(m)); err != nil {
			t.Fatal(err)
		}
	}
}

// drain sends every queued message (reads and pops it) and returns the
// payloads.
func drain(t testing.TB, q queue) []string {
	t.Helper()
	var out []string
	for {
		m, ok, err := q.at(0)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, string(m.Payload))
		if err := q.pop(); err != nil {
			t.Fatal(err)
		}
	}
}

func openQueue(t testing.TB, dir string) *fileQueue {
	t.Helper()
	q, err := openFileQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.close() })
	return q
}

// Both queues: messages come out in the order they went in, whole (topic,
// payload, QoS, retain); at reads ahead of the head without removing;
// beyond wakes on the next push.
func TestQueues(t *testing.T) {
	for name, q := range map[string]queue{"memory": &memQueue{}, "file": openQueue(t, t.TempDir())} {
		t.Run(name, func(t *testing.T) {
			want := []Message{
				{Topic: "a/b", Payload: []byte("one"), QoS: 1, Retain: true},
				{Topic: "a/c", Payload: nil, QoS: 0},
				{Topic: "a/d", Payload: []byte(strings.Repeat("x", 1000)), QoS: 1},
			}
			wait := q.beyond(0)
			select {
			case <-wait:
				t.Fatal("beyond(0) closed on an empty queue")
			default:
			}
			for _, m := range want {
				if err := q.push(m); err != nil {
					t.Fatal(err)
				}
			}
			<-wait
			<-q.beyond(2)
			if q.len() != 3 {
				t.Fatalf("len %d", q.len())
			}
			for i, w := range want {
				m, ok, err := q.at(i)
				if err != nil || !ok {
					t.Fatalf("at(%d): %v %v", i, ok, err)
				}
				if diff := cmp.Diff(w, m, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
					t.Errorf("at(%d): %s", i, diff)
				}
			}
			if _, ok, _ := q.at(3); ok {
				t.Fatal("at(3) past the end")
			}
			if err := q.pop(); err != nil {
				t.Fatal(err)
			}
			if m, _, _ := q.at(0); m.Topic != "a/c" || q.len() != 2 {
				t.Fatalf("after pop: head %q, len %d", m.Topic, q.len())
			}
		})
	}
}

// Messages come out in the order they went in, across a restart of the
// process (a reopen), and a sent message is not sent again.
func TestFileQueueOrderAndRestart(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("message %d", i))
	}
	push(t, q, want[:60]...)
	// Send ten, then "crash": the files stay as they are.
	for i := range 10 {
		m, _, _ := q.at(0)
		if string(m.Payload) != want[i] {
			t.Fatalf("message %d: %q", i, m.Payload)
		}
		if err := q.pop(); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	q = openQueue(t, dir)
	if q.len() != 50 {
		t.Fatalf("%d messages after reopening, want 50", q.len())
	}
	push(t, q, want[60:]...)
	if got := drain(t, q); !cmp.Equal(got, want[10:]) {
		t.Fatalf("got %q", got)
	}
	// Empty: the log is truncated, and reopening finds nothing.
	if fi, err := os.Stat(filepath.Join(dir, queueLog)); err != nil || fi.Size() != 0 {
		t.Fatalf("log after draining: %v, %v", fi.Size(), err)
	}
	q.close()
	if q = openQueue(t, dir); q.len() != 0 {
		t.Fatalf("%d messages after draining and reopening", q.len())
	}
}

// A crash in the middle of a write leaves a torn record: reopening keeps
// every whole message before it and cuts it off; so does a corrupt one.
func TestFileQueueTornAndCorruptTail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(b []byte) []byte
	}{
		{"torn header", func(b []byte) []byte { return append(b, 0, 0, 0) }},
		{"torn body", func(b []byte) []byte { return append(b, 0, 0, 0, 9, 1, 2, 3, 4, 'a') }},
		{"bad checksum", func(b []byte) []byte {
			b[len(b)-1] ^= 0xff // the last message's last byte
			return b
		}},
		{"huge length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openQueue(t, dir)
			push(t, q, "one", "two", "three")
			q.close()
			path := filepath.Join(dir, queueLog)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.spoil(b), 0o600); err != nil {
				t.Fatal(err)
			}
			q = openQueue(t, dir)
			want := []string{"one", "two", "three"}
			if tc.name == "bad checksum" {
				want = want[:2]
			}
			push(t, q, "four")
			if got := drain(t, q); !cmp.Equal(got, append(want, "four")) {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// Past compactAt of sent messages the log is rewritten with only the
// rest, which survives a reopen.
func TestFileQueueCompacts(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	big := strings.Repeat("x", 64<<10)
	n := compactAt/len(big) + 8
	for i := range n {
		push(t, q, fmt.Sprintf("%04d%s", i, big))
	}
	for i := 0; i < n-3; i++ {
		if err := q.pop(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, queueLog))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= compactAt {
		t.Fatalf("log of %d bytes: not compacted", fi.Size())
	}
	q.close()
	q = openQueue(t, dir)
	got := drain(t, q)
	if len(got) != 3 || got[0][:4] != fmt.Sprintf("%04d", n-3) || got[2][:4] != fmt.Sprintf("%04d", n-1) {
		t.Fatalf("after compacting and reopening: %d messages", len(got))
	}
}

// appendRecord appends a record with body b to the log in dir, as
// another version might have written it.
func appendRecord(t *testing.T, dir string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, queueLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	h = binary.BigEndian.AppendUint32(h, crc32.ChecksumIEEE(b))
	if _, err := f.Write(append(h, b...)); err != nil {
		t.Fatal(err)
	}
}

// A record whose checksum holds but whose body does not decode is set
// aside beside the queue, and the queue goes on.
func TestFileQueueQuarantine(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	push(t, q, "first")
	q.close()
	appendRecord(t, dir, []byte{0x0f, 0, 1}) // flags no version has
	appendRecord(t, dir, appendBody(nil, msg("good")))
	q = openQueue(t, dir)
	if got := drain(t, q); !cmp.Equal(got, []string{"first", "good"}) {
		t.Fatalf("got %q", got)
	}
	bad, _ := filepath.Glob(filepath.Join(dir, "bad-*.mqtt"))
	if len(bad) != 1 {
		t.Fatalf("quarantined files %v", bad)
	}
	if b, _ := os.ReadFile(bad[0]); !bytes.Equal(b, []byte{0x0f, 0, 1}) {
		t.Fatalf("quarantined % x", b)
	}
}

// A queue an earlier version left, of MQTT 5 PUBLISH packets (as
// paho.golang's Publish.Packet().WriteTo wrote them: these bytes), is sent
// after an upgrade, in order, with the same topics, payloads and flags.
func TestFileQueueReadsMQTT5Records(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{
		"323700166739302f53494d50414e454c303030312f6576656e740000007b2274797065223a22646f6f725f6f70656e222c22736571223a377d",
		"331c00116739302f6272696467652f7374617475730000006f6e6c696e65",
		"33260021686f6d65617373697374616e742f6465766963652f6739305f782f636f6e666967000000",
	} {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		appendRecord(t, dir, b)
	}
	q := openQueue(t, dir)
	push(t, q, "new")
	var got []Message
	for q.len() > 0 {
		m, _, err := q.at(0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
		q.pop()
	}
	want := []Message{
		{Topic: "g90/SIMPANEL0001/event", Payload: []byte(`{"type":"door_open","seq":7}`), QoS: 1},
		{Topic: "g90/bridge/status", Payload: []byte("online"), QoS: 1, Retain: true},
		{Topic: "homeassistant/device/g90_x/config", Payload: []byte{}, QoS: 1, Retain: true},
		msg("new"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
		t.Fatal(diff)
	}
}

// The log scanner never panics and never indexes past the data, whatever
// the file holds.
func FuzzScanRecords(f *testing.F) {
	dir := f.TempDir()
	q, err := openFileQueue(dir)
	if err != nil {
		f.Fatal(err)
	}
	push(f, q, "one", `{"type":"door_open"}`, "")
	q.close()
	seed, _ := os.ReadFile(filepath.Join(dir, queueLog))
	f.Add(seed, int64(0))
	f.Add(seed, int64(11))
	f.Add([]byte{0, 0, 0, 1}, int64(0))
	f.Fuzz(func(t *testing.T, data []byte, start int64) {
		if start < 0 || start > int64(len(data)) {
			start = 0
		}
		// The records and the damaged runs tile data from start: in
		// order, without overlap, gap or excess.
		recs, damaged := scanRecords(data, start)
		type piece struct{ off, end int64 }
		var all []piece
		for _, r := range recs {
			all = append(all, piece{r.off - recordHeader, r.off + int64(r.n)})
		}
		for _, d := range damaged {
			if d.end <= d.off {
				t.Fatalf("empty damaged run %+v", d)
			}
			all = append(all, piece(d))
		}
		slices.SortFunc(all, func(a, b piece) int { return int(a.off - b.off) })
		at := start
		for _, p := range all {
			if p.off != at || p.end > int64(len(data)) {
				t.Fatalf("piece %+v at %d (of %d bytes)", p, at, len(data))
			}
			at = p.end
		}
		if at != int64(len(data)) {
			t.Fatalf("pieces end at %d of %d", at, len(data))
		}
	})
}

// One bad byte in the middle does not cost the messages after it: the
// damaged record is set aside in a file, counted and logged, and every
// other message is sent, in order (issue 13.9); the log is clean again
// for the next open.
func TestFileQueueResynchronises(t *testing.T) {
	for _, c := range []struct {
		name string
		at   func(first int) int // the offset to damage, past the first record of length first
		lost int                 // messages lost: the damaged one
	}{
		{"a body byte", func(first int) int { return first + recordHeader + 5 }, 1},
		{"a length byte", func(first int) int { return first + 2 }, 1},
		{"a CRC byte", func(first int) int { return first + 6 }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openQueue(t, dir)
			var want []string
			for i := range 100 {
				want = append(want, fmt.Sprintf("message %03d", i))
			}
			push(t, q, want...)
			q.close()
			path := filepath.Join(dir, queueLog)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first := recordHeader + len(appendBody(nil, msg(want[0])))
			data[c.at(first)] ^= 0xff // the second record
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs lockedbuf.Buffer
			l, err := New(Config{URL: "mqtt://127.0.0.1:1", QueueDir: dir, Logger: logTo(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if st.Queued != 100-c.lost || len(st.Damaged) != 1 || st.Damaged[0].Bytes != first {
				t.Fatalf("stats %+v", st)
			}
			if b, err := os.ReadFile(st.Damaged[0].File); err != nil || len(b) != first {
				t.Fatalf("set aside: %d bytes, %v", len(b), err)
			}
			if !strings.Contains(logs.String(), "damaged bytes set aside") {
				t.Fatalf("not logged:\n%s", logs.String())
			}
			l.Close()
			q = openQueue(t, dir)
			got := drain(t, q)
			if w := append([]string{want[0]}, want[1+c.lost:]...); !slices.Equal(got, w) {
				t.Fatalf("got %d messages: %q", len(got), got)
			}
			if again, _ := filepath.Glob(filepath.Join(dir, "damaged-*")); len(again) != 1 {
				t.Fatalf("damaged files %v: the log was not rewritten clean", again)
			}
		})
	}
}

// A record body never panics the decoder, and one that decodes encodes
// back (our format) to a body that decodes the same.
func FuzzDecodeBody(f *testing.F) {
	f.Add(appendBody(nil, Message{Topic: "a/b", Payload: []byte("x"), QoS: 1, Retain: true}))
	b, _ := hex.DecodeString("331c00116739302f6272696467652f7374617475730000006f6e6c696e65")
	f.Add(b)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeBody(body)
		if err != nil {
			return
		}
		m2, err := decodeBody(appendBody(nil, m))
		if err != nil || m2.Topic != m.Topic || !bytes.Equal(m2.Payload, m.Payload) || m2.QoS != m.QoS || m2.Retain != m.Retain {
			t.Fatalf("%+v → %+v, %v", m, m2, err)
		}
	})
}

// BenchmarkFileQueue is one message through the queue: push, read, pop.
//
//	go test -run '^$' -bench FileQueue ./mqttlink/
func BenchmarkFileQueue(b *testing.B) {
	q := openQueue(b, b.TempDir())
	m := Message{Topic: "g90/SIMPANEL0001/event", Payload: benchEvent, QoS: 1}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.push(m); err != nil {
			b.Fatal(err)
		}
		if _, _, err := q.at(0); err != nil {
			b.Fatal(err)
		}
		if err := q.pop(); err != nil {
			b.Fatal(err)
		}
	}
}

var benchEvent = []byte(`{"time":"2026-11-21T09:05:56.735526022Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"seq":1}`)
