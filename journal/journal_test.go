package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)} }

func open(t testing.TB, cfg Config) *Journal {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "journal.db")
	}
	j, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func mkEvent(guid string, i int) *event.Event {
	return &event.Event{
		Type: event.SensorActivity, Time: time.Unix(int64(1_700_000_000+i), 0).UTC(), GUID: guid,
		Source: event.SourceLocal, Sensor: true, Index: i, Name: fmt.Sprintf("sensor %d", i), Occupied: true,
	}
}

func appendN(t testing.TB, j *Journal, guid string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := j.Append(mkEvent(guid, i)); err != nil {
			t.Fatal(err)
		}
	}
}

func all(t testing.TB, j *Journal, q Query) []Entry {
	t.Helper()
	var out []Entry
	for e, err := range j.Query(q) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendQuery(t *testing.T) {
	leaktest.Check(t)
	c := newClock()
	j := open(t, Config{Now: c.Now})
	ev := mkEvent("G1", 3)
	e, err := j.Append(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := string(ev.AppendJSON(nil))
	want = want[:len(want)-1] + `,"seq":1}`
	if string(e.JSON) != want || e.Seq != 1 || e.Panel != "G1" || !e.Time.Equal(c.Now()) {
		t.Fatalf("entry %+v\nJSON %s\nwant %s", e, e.JSON, want)
	}
	// Every entry has the same time: order is the order of Append.
	appendN(t, j, "G2", 0, 3)
	appendN(t, j, "G1", 10, 2)
	got := all(t, j, Query{})
	var seqs []string
	for _, e := range got {
		seqs = append(seqs, fmt.Sprintf("%s/%d", e.Panel, e.Seq))
	}
	if s := strings.Join(seqs, " "); s != "G1/1 G2/1 G2/2 G2/3 G1/2 G1/3" {
		t.Fatalf("order %s", s)
	}
	back, err := got[0].Event()
	if err != nil || back.Index != 3 || back.GUID != "G1" || !back.Occupied {
		t.Fatalf("Event() = %+v, %v", back, err)
	}
	var m map[string]any
	if err := json.Unmarshal(got[5].JSON, &m); err != nil || m["seq"] != 3.0 || m["panel"] != "G1" {
		t.Fatalf("JSON %s: %v", got[5].JSON, err)
	}
	if got := all(t, j, Query{Panel: "G2"}); len(got) != 3 || got[2].Seq != 3 {
		t.Fatalf("panel G2: %d entries", len(got))
	}
	if st := j.Stats(); st.Events != 6 || st.Appends != 6 || st.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if p, err := j.Panels(); err != nil || len(p) != 2 || p["G1"] != 3 || p["G2"] != 3 {
		t.Fatalf("Panels() = %v, %v", p, err)
	}
}

func TestEmptyGUID(t *testing.T) {
	j := open(t, Config{})
	appendN(t, j, "", 0, 2)
	got := all(t, j, Query{})
	if len(got) != 2 || got[1].Seq != 2 || got[1].Panel != "" {
		t.Fatalf("%+v", got)
	}
}

func TestSinceAndClockStep(t *testing.T) {
	c := newClock()
	j := open(t, Config{Now: c.Now})
	appendN(t, j, "G", 0, 2)
	c.Add(time.Hour)
	mid := c.Now()
	appendN(t, j, "G", 2, 2)
	c.Add(-2 * time.Hour) // the wall clock steps back
	appendN(t, j, "G", 4, 1)
	got := all(t, j, Query{Since: mid})
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 || !got[2].Time.Equal(mid) {
		t.Fatalf("since: %+v", got)
	}
	if got := all(t, j, Query{Since: mid.Add(time.Nanosecond)}); len(got) != 0 {
		t.Fatalf("since later: %d entries", len(got))
	}
}

// The journal survives a restart: entries and the sequence numbers.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, "A", 0, 5)
	appendN(t, j, "B", 0, 2)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(mkEvent("A", 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	j = open(t, Config{Path: path})
	e, err := j.Append(mkEvent("A", 9))
	if err != nil || e.Seq != 6 {
		t.Fatalf("seq after reopen %d, %v", e.Seq, err)
	}
	got := all(t, j, Query{})
	if len(got) != 8 || got[7].Seq != 6 || got[6].Panel != "B" {
		t.Fatalf("%d entries", len(got))
	}
}

func TestRetentionEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, Config{Path: path, MaxEvents: 100})
	appendN(t, j, "G", 0, 1000)
	n := len(all(t, j, Query{}))
	if n < 100 || n > 100+100/32 {
		t.Fatalf("%d events kept, want 100 (+1/32)", n)
	}
	if st := j.Stats(); st.Removed != 1000-uint64(n) || st.Events != uint64(n) {
		t.Fatalf("stats %+v with %d kept", st, n)
	}
	j.Close()
	// Open enforces the limit exactly; the newest stay.
	j = open(t, Config{Path: path, MaxEvents: 100})
	got := all(t, j, Query{})
	if len(got) != 100 || got[0].Seq != 901 || got[99].Seq != 1000 {
		t.Fatalf("%d kept, seq %d..%d", len(got), got[0].Seq, got[len(got)-1].Seq)
	}
}

func TestRetentionBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, Config{Path: path, MaxBytes: 20_000})
	appendN(t, j, "G", 0, 1000)
	if st := j.Stats(); st.Bytes > 20_000+20_000/32 || st.Bytes < 19_000 {
		t.Fatalf("stats %+v", st)
	}
	j.Close()
	j = open(t, Config{Path: path, MaxBytes: 10_000})
	if st := j.Stats(); st.Bytes > 10_000 || st.Bytes < 9_000 {
		t.Fatalf("after reopen: %+v", st)
	}
	got := all(t, j, Query{})
	if got[len(got)-1].Seq != 1000 || uint64(len(got)) != j.Stats().Events {
		t.Fatalf("%d kept", len(got))
	}
}

func TestRetentionAge(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, Config{Path: path, MaxAge: time.Hour, Now: c.Now})
	appendN(t, j, "G", 0, 10)
	c.Add(2 * time.Hour)
	appendN(t, j, "G", 10, ageCheckEvery) // one age check on the way
	got := all(t, j, Query{})
	if len(got) != ageCheckEvery || got[0].Seq != 11 {
		t.Fatalf("%d kept, first seq %d", len(got), got[0].Seq)
	}
	j.Close()
	c.Add(2 * time.Hour)
	j = open(t, Config{Path: path, MaxAge: time.Hour, Now: c.Now})
	if got := all(t, j, Query{}); len(got) != 0 {
		t.Fatalf("%d kept after open", len(got))
	}
	if e, _ := j.Append(mkEvent("G", 0)); e.Seq != 11+ageCheckEvery {
		t.Fatalf("seq %d after everything expired", e.Seq)
	}
}

// Queries read in chunks; a panel filter over many other entries and an
// early stop work across chunk boundaries.
func TestQueryChunks(t *testing.T) {
	j := open(t, Config{noSync: true})
	appendN(t, j, "A", 0, chunk*9)
	appendN(t, j, "B", 0, 3)
	appendN(t, j, "A", 0, chunk+1)
	got := all(t, j, Query{})
	if len(got) != chunk*10+4 {
		t.Fatalf("%d entries", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time.Before(got[i-1].Time) {
			t.Fatalf("entry %d out of order", i)
		}
	}
	if got := all(t, j, Query{Panel: "B"}); len(got) != 3 {
		t.Fatalf("panel B: %d", len(got))
	}
	n := 0
	for _, err := range j.Query(Query{Panel: "A"}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == chunk+5 {
			break
		}
	}
}

func TestConcurrent(t *testing.T) {
	j := open(t, Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			appendN(t, j, fmt.Sprint("P", g%2), 0, 100)
		})
		wg.Go(func() {
			for _, err := range j.Query(Query{}) {
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	next := map[string]uint64{}
	for _, e := range all(t, j, Query{}) {
		if e.Seq != next[e.Panel]+1 {
			t.Fatalf("%s: seq %d after %d", e.Panel, e.Seq, next[e.Panel])
		}
		next[e.Panel] = e.Seq
	}
	if next["P0"] != 400 || next["P1"] != 400 {
		t.Fatalf("last seqs %v", next)
	}
}

// A writer that keeps the file open locks everyone else out, with an
// error naming the file; one that goes idle lets a reader in.
func TestLocked(t *testing.T) {
	leaktest.Check(t)
	path := filepath.Join(t.TempDir(), "j.db")
	w := open(t, Config{Path: path, IdleClose: -1})
	appendN(t, w, "G", 0, 3)
	_, err := Open(Config{Path: path, ReadOnly: true, LockTimeout: -1})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("reader: %v", err)
	}
	_, err = Open(Config{Path: path, LockTimeout: 60 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second writer: %v", err)
	}
	w.Close()

	w = open(t, Config{Path: path}) // default IdleClose
	appendN(t, w, "G", 3, 1)
	r := open(t, Config{Path: path, ReadOnly: true, LockTimeout: 30 * time.Second})
	got := all(t, r, Query{})
	if len(got) != 4 || got[3].Seq != 4 {
		t.Fatalf("reader got %d entries", len(got))
	}
	if _, err := r.Append(mkEvent("G", 0)); err == nil {
		t.Fatal("append to a read-only journal")
	}
	// The reader let go of the file: the writer goes on.
	appendN(t, w, "G", 4, 1)
	if got := all(t, r, Query{Since: got[3].Time}); len(got) != 2 {
		t.Fatalf("reader after append: %d", len(got))
	}
}

func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := Open(Config{Path: garbage, ReadOnly: ro})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), garbage) {
			t.Errorf("read-only %v: %v", ro, err)
		}
	}
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(Config{Path: other}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), other) {
		t.Errorf("another bbolt database: %v", err)
	}
	if _, err := Open(Config{Path: filepath.Join(dir, "none.db"), ReadOnly: true}); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(Config{Path: filepath.Join(dir, "no", "dir.db")}); err == nil || !strings.Contains(err.Error(), "no/dir.db") {
		t.Errorf("missing directory: %v", err)
	}
}

// BenchmarkAppend: one event, one transaction, one fsync, with the
// index and without it (as before issue 19.4).
func BenchmarkAppend(b *testing.B) {
	for _, noIndex := range []bool{false, true} {
		b.Run(map[bool]string{false: "index", true: "noindex"}[noIndex], func(b *testing.B) {
			j := open(b, Config{MaxEvents: 10_000, FloodBurst: -1, noIndex: noIndex})
			ev := mkEvent("SIMPANEL0001", 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Append(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestQueryClosed(t *testing.T) {
	j := open(t, Config{})
	j.Close()
	for _, err := range j.Query(Query{}) {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("query after close: %v", err)
		}
		return
	}
	t.Fatal("query after close yielded nothing")
}

// FuzzDecodeEntry: a damaged value is an error, never a panic, and a
// good one gives back what was stored.
func FuzzDecodeEntry(f *testing.F) {
	key := make([]byte, keyLen)
	f.Add([]byte{1, 2, 'G', '1', '{', '}'}, false)
	f.Add(seal(nil, key, []byte{1, 2, 'G', '1', '{', '}'}), true)
	f.Add([]byte{0x80}, false)
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, false)
	f.Fuzz(func(t *testing.T, v []byte, sums bool) {
		e, err := decodeEntry(key, v, sums)
		if err != nil {
			return
		}
		if len(e.JSON) > len(v) || len(e.Panel) > len(v) {
			t.Fatalf("%x: entry larger than its value: %+v", v, e)
		}
		if sums {
			// What passed its checksum decodes the same after sealing
			// the rest again.
			again, err := decodeEntry(key, seal(nil, key, v[sumLen:]), true)
			if err != nil || again.Seq != e.Seq || again.Panel != e.Panel || string(again.JSON) != string(e.JSON) {
				t.Fatalf("%x: resealed %+v, %v; first %+v", v, again, err, e)
			}
		}
	})
}

// A writer that is never idle still lets a reader in (MaxHold): while
// events stream in without a pause, a read-only journal opening the file
// gets it within a few holds, not never (readers were shut out for more
// than 5 s).
func TestReaderNotStarved(t *testing.T) {
	leaktest.Check(t)
	path := filepath.Join(t.TempDir(), "j.db")
	w := open(t, Config{Path: path, MaxHold: 100 * time.Millisecond, YieldGap: 60 * time.Millisecond, FloodBurst: -1})
	appendN(t, w, "G", 0, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Append(mkEvent("G", i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(50 * time.Millisecond) // the stream is under way
	r := open(t, Config{Path: path, ReadOnly: true, LockTimeout: 2 * time.Second})
	start := time.Now()
	for _, err := range r.Query(Query{}) {
		if err != nil {
			t.Fatalf("a reader during a stream of appends, after %v: %v", time.Since(start), err)
		}
		break
	}
}
