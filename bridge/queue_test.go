package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/autopaho/queue"
)

func enqueue(t testing.TB, q *fileQueue, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := q.Enqueue(strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
}

// drain sends every queued message (removes it) and returns them.
func drain(t testing.TB, q *fileQueue) []string {
	t.Helper()
	var out []string
	for {
		e, err := q.Peek()
		if errors.Is(err, queue.ErrEmpty) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Reader()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		out = append(out, string(b))
		if err := e.Remove(); err != nil && !errors.Is(err, queue.ErrEmpty) {
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
	t.Cleanup(func() { q.Close() })
	return q
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
	enqueue(t, q, want[:60]...)
	// Send ten, then "crash": the files stay as they are.
	for i := range 10 {
		e, _ := q.Peek()
		r, _ := e.Reader()
		if b, _ := io.ReadAll(r); string(b) != want[i] {
			t.Fatalf("message %d: %q", i, b)
		}
		if err := e.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	q = openQueue(t, dir)
	if q.Len() != 50 {
		t.Fatalf("%d messages after reopening, want 50", q.Len())
	}
	enqueue(t, q, want[60:]...)
	if got := drain(t, q); !equal(got, want[10:]) {
		t.Fatalf("got %q", got)
	}
	// Empty: the log is truncated, and reopening finds nothing.
	if fi, err := os.Stat(filepath.Join(dir, queueLog)); err != nil || fi.Size() != 0 {
		t.Fatalf("log after draining: %v, %v", fi.Size(), err)
	}
	q.Close()
	if q = openQueue(t, dir); q.Len() != 0 {
		t.Fatalf("%d messages after draining and reopening", q.Len())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A crash in the middle of a write leaves a torn record: reopening keeps
// every whole message before it and cuts it off; so does a corrupt one.
func TestFileQueueTornAndCorruptTail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(b []byte) []byte
	}{
		{"torn header", func(b []byte) []byte { return append(b, 0, 0, 0) }},
		{"torn payload", func(b []byte) []byte { return append(b, 0, 0, 0, 9, 1, 2, 3, 4, 'a') }},
		{"bad checksum", func(b []byte) []byte {
			b[len(b)-1] ^= 0xff // the last message's last byte
			return b
		}},
		{"huge length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openQueue(t, dir)
			enqueue(t, q, "one", "two", "three")
			q.Close()
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
			enqueue(t, q, "four")
			if got := drain(t, q); !equal(got, append(want, "four")) {
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
		enqueue(t, q, fmt.Sprintf("%04d%s", i, big))
	}
	for i := 0; i < n-3; i++ {
		e, _ := q.Peek()
		if err := e.Remove(); err != nil {
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
	q.Close()
	q = openQueue(t, dir)
	got := drain(t, q)
	if len(got) != 3 || got[0][:4] != fmt.Sprintf("%04d", n-3) || got[2][:4] != fmt.Sprintf("%04d", n-1) {
		t.Fatalf("after compacting and reopening: %d messages", len(got))
	}
}

// A message that cannot be sent is kept beside the queue and the queue
// goes on.
func TestFileQueueQuarantine(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	enqueue(t, q, "bad", "good")
	e, _ := q.Peek()
	if err := e.Quarantine(); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, q); !equal(got, []string{"good"}) {
		t.Fatalf("got %q", got)
	}
	bad, _ := filepath.Glob(filepath.Join(dir, "bad-*.mqtt"))
	if len(bad) != 1 {
		t.Fatalf("quarantined files %v", bad)
	}
	if b, _ := os.ReadFile(bad[0]); string(b) != "bad" {
		t.Fatalf("quarantined %q", b)
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
	enqueue(f, q, "one", `{"type":"door_open"}`, "")
	q.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, queueLog))
	f.Add(seed, int64(0))
	f.Add(seed, int64(11))
	f.Add([]byte{0, 0, 0, 1}, int64(0))
	f.Fuzz(func(t *testing.T, data []byte, start int64) {
		if start < 0 || start > int64(len(data)) {
			start = 0
		}
		recs, end := scanRecords(data, start)
		if end < start || end > int64(len(data)) {
			t.Fatalf("end %d outside %d..%d", end, start, len(data))
		}
		for _, r := range recs {
			if r.off < start || r.off+int64(r.n) > end {
				t.Fatalf("record %+v outside the valid part", r)
			}
			_ = bytes.Clone(data[r.off : r.off+int64(r.n)])
		}
	})
}

// BenchmarkFileQueue is one message through the queue: enqueue, peek,
// read, remove.
//
//	go test -run '^$' -bench FileQueue ./bridge/
func BenchmarkFileQueue(b *testing.B) {
	q := openQueue(b, b.TempDir())
	msg := []byte(`{"time":"2026-11-21T09:05:56.735526022Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"seq":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Enqueue(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		e, err := q.Peek()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Reader(); err != nil {
			b.Fatal(err)
		}
		if err := e.Remove(); err != nil && !errors.Is(err, queue.ErrEmpty) {
			b.Fatal(err)
		}
	}
}
