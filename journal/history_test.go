package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

var historyTypes = []event.Type{event.SensorActivity, event.DoorOpen, event.Alarm, event.ArmDisarm, event.LowBattery}

// mixedEvent is the i-th of a varied stream: three panels, eight
// sensors, five types (arm_disarm without a sensor).
func mixedEvent(r *rand.Rand) *event.Event {
	ev := &event.Event{
		Type: historyTypes[r.IntN(len(historyTypes))], GUID: []string{"GUID-A", "GUID-B", "GUID-C"}[r.IntN(3)],
		Source: event.SourceLocal, Time: time.Unix(1_700_000_000, 0).UTC(),
	}
	if ev.Type == event.ArmDisarm {
		ev.State = event.ArmAway
	} else {
		ev.Sensor, ev.Index, ev.Name = true, r.IntN(8), fmt.Sprintf("sensor %d", r.IntN(8))
	}
	return ev
}

// filled is a journal of n mixed events, one per millisecond.
func filled(t testing.TB, cfg Config, n int) (*Journal, *clock) {
	t.Helper()
	c := newClock()
	cfg.Now, cfg.FloodBurst = c.Now, -1
	j := open(t, cfg)
	r := rand.New(rand.NewPCG(1, 2))
	for range n / 100 {
		batch := make([]event.Event, 100)
		for i := range batch {
			batch[i] = *mixedEvent(r)
		}
		c.Add(time.Millisecond)
		if _, err := j.AppendAll(batch); err != nil {
			t.Fatal(err)
		}
	}
	return j, c
}

// brute is what History must return: every stored entry f selects,
// newest first, by reading them all.
func brute(t testing.TB, j *Journal, f Filter) []Entry {
	t.Helper()
	var out []Entry
	for _, e := range all(t, j, Query{}) {
		ev, err := e.Event()
		if err != nil {
			t.Fatal(err)
		}
		if (f.Panel != "" && e.Panel != f.Panel) || (f.Type != "" && ev.Type != f.Type) ||
			(f.Sensor && (!ev.Sensor || ev.Index != f.Index)) ||
			(!f.From.IsZero() && e.Time.Before(f.From)) || (!f.To.IsZero() && !e.Time.Before(f.To)) {
			continue
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out
}

// pages reads every page of f with limit and checks them against
// brute, and that nothing was skipped.
func pages(t testing.TB, j *Journal, f Filter, limit int) (n int) {
	t.Helper()
	return pagesOf(t, j, f, limit, false)
}

// pagesOf is pages, allowing index entries to be skipped when orphans.
func pagesOf(t testing.TB, j *Journal, f Filter, limit int, orphans bool) (n int) {
	t.Helper()
	want := brute(t, j, f)
	var got []Entry
	q := HistoryQuery{Filter: f, Limit: limit}
	for i := 0; ; i++ {
		p, err := j.History(q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Skipped != 0 && !orphans {
			t.Fatalf("%+v: %d skipped in a good journal", f, p.Skipped)
		}
		if len(p.Entries) > limit || (!p.Next.IsZero() && len(p.Entries) != limit) {
			t.Fatalf("%+v: page %d has %d entries (limit %d), next %v", f, i, len(p.Entries), limit, p.Next)
		}
		got = append(got, p.Entries...)
		if p.Next.IsZero() {
			break
		}
		q.Before = p.Next
	}
	if len(got) != len(want) {
		t.Fatalf("%+v: %d entries, want %d", f, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Seq != want[i].Seq || !bytes.Equal(got[i].JSON, want[i].JSON) {
			t.Fatalf("%+v: entry %d is %+v, want %+v", f, i, got[i], want[i])
		}
	}
	var streamed int
	for e, err := range j.HistoryAll(f) {
		if orphans && errors.Is(err, ErrDamaged) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != want[streamed].ID {
			t.Fatalf("%+v: HistoryAll entry %d is %d, want %d", f, streamed, e.ID, want[streamed].ID)
		}
		streamed++
	}
	if streamed != len(want) {
		t.Fatalf("%+v: HistoryAll gave %d, want %d", f, streamed, len(want))
	}
	return len(want)
}

func historyFilters(c *clock) []Filter {
	t0 := newClock().Now()
	return []Filter{
		{},
		{Panel: "GUID-A"},
		{Panel: "GUID-NONE"},
		{Panel: "GUID-B", Sensor: true, Index: 3},
		{Type: event.Alarm},
		{Type: "no_such_type"},
		{Panel: "GUID-C", Type: event.DoorOpen},
		{Panel: "GUID-A", Sensor: true, Index: 0, Type: event.LowBattery},
		{From: t0.Add(10 * time.Millisecond), To: t0.Add(25 * time.Millisecond)},
		{Panel: "GUID-B", From: t0.Add(5 * time.Millisecond)},
		{Type: event.ArmDisarm, To: t0.Add(30 * time.Millisecond)},
		{To: t0},
		{From: c.Now().Add(time.Hour)},
	}
}

// History pages newest first, for every kind of filter, agree with
// reading everything, with no gap or repeat between pages, also while
// retention removes old entries (and their index entries).
func TestHistory(t *testing.T) {
	leaktest.Check(t)
	j, c := filled(t, Config{MaxEvents: 3000, MaxPanelEvents: 900}, 5000)
	for _, f := range historyFilters(c) {
		for _, limit := range []int{1, 7, 100, 5000} {
			pages(t, j, f, limit)
		}
	}
	if n := pages(t, j, Filter{Panel: "GUID-A"}, 50); n == 0 || n > 900+900/32 {
		t.Fatalf("panel A: %d entries past MaxPanelEvents", n)
	}
	// Nothing in the indexes is left of what retention removed.
	if n := indexEntries(t, j); n[string(bucketIxPanel)] != int(j.Stats().Events) || n[string(bucketIxType)] != int(j.Stats().Events) {
		t.Fatalf("the indexes have %v entries for %d events", n, j.Stats().Events)
	}
	if _, err := j.History(HistoryQuery{Filter: Filter{Sensor: true}}); err == nil {
		t.Fatal("a sensor without a panel: no error")
	}
}

func indexEntries(t testing.TB, j *Journal) map[string]int {
	t.Helper()
	n := map[string]int{}
	j.mu.Lock()
	defer j.mu.Unlock()
	db, err := j.open()
	if err != nil {
		t.Fatal(err)
	}
	defer j.release()
	db.View(func(tx *bolt.Tx) error {
		for _, b := range ixBuckets {
			if bk := tx.Bucket(b); bk != nil {
				bk.ForEach(func(_, v []byte) error {
					n[string(b)] += (len(v) - sumLen) / keyLen
					return nil
				})
			}
		}
		return nil
	})
	return n
}

// Pages stay without gaps or repeats while new events arrive: a page
// continues below its cursor, whatever is appended above it.
func TestHistoryWhileAppending(t *testing.T) {
	j, _ := filled(t, Config{}, 1000)
	want := brute(t, j, Filter{Panel: "GUID-A"})
	var got []Entry
	q := HistoryQuery{Filter: Filter{Panel: "GUID-A"}, Limit: 10}
	r := rand.New(rand.NewPCG(3, 4))
	for {
		p, err := j.History(q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Entries...)
		if p.Next.IsZero() {
			break
		}
		q.Before = p.Next
		ev := mixedEvent(r)
		ev.GUID = "GUID-A"
		if _, err := j.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("entry %d: %d, want %d", i, got[i].ID, want[i].ID)
		}
	}
}

// withDB runs fn on the closed journal's file.
func withDB(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// A journal written without the index (before issue 19.4, or in part
// by an older g90) is read right at once, its newest entries one by
// one; a writer indexes it at Open — all again after an older g90 has
// appended (its retention left index entries of events it removed) —
// and a build cut short goes on from where it was.
func TestIndexBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, c := filled(t, Config{Path: path}, 1500)
	j.Close()
	// An older g90 appends 1,500 more and removes the oldest 500.
	old, err := Open(Config{Path: path, Now: c.Now, FloodBurst: -1, MaxEvents: 2500, noIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for range 15 {
		batch := make([]event.Event, 100)
		for i := range batch {
			batch[i] = *mixedEvent(r)
		}
		c.Add(time.Millisecond)
		if _, err := old.AppendAll(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range historyFilters(c) {
		pagesOf(t, ro, f, 64, true) // right, the orphans skipped
	}
	if p, err := ro.History(HistoryQuery{Filter: Filter{Type: event.Alarm}, Limit: 5000}); err != nil || p.Skipped == 0 {
		t.Fatalf("the older g90's retention left no orphan to skip: %d skipped, %v", p.Skipped, err)
	}
	ro.Close()
	// Indexing stops after two steps of 500, as if the daemon had been
	// stopped; the next Open goes on.
	w, err := Open(Config{Path: path, Now: c.Now, indexStep: 500, buildSteps: 2})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if to := indexedTo(t, path); to != 1000 {
		t.Fatalf("after two steps: the index covers %d events, want 1000", to)
	}
	w, err = Open(Config{Path: path, Now: c.Now, indexStep: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range historyFilters(c) {
		pages(t, w, f, 64)
	}
	if n := indexEntries(t, w); n[string(bucketIxPanel)] != 2500 {
		t.Fatalf("after the build: %v index entries, want 2500", n)
	}
	w.Close()
	if to := indexedTo(t, path); to != 2500 {
		t.Fatalf("after the build: the index covers %d events, want 2500", to)
	}
	// No index at all, as every journal before issue 19.4.
	withDB(t, path, dropIndex)
	w, err = Open(Config{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, f := range historyFilters(c) {
		pages(t, w, f, 64)
	}
}

// indexedTo is how many events of the closed journal at path are at or
// before ix-to.
func indexedTo(t *testing.T, path string) (n int) {
	withDB(t, path, func(tx *bolt.Tx) error {
		to := tx.Bucket(bucketMeta).Get(keyIndexedTo)
		return tx.Bucket(bucketEvents).ForEach(func(k, _ []byte) error {
			if bytes.Compare(k, to) <= 0 {
				n++
			}
			return nil
		})
	})
	return n
}

// A damaged index entry is skipped and counted by a reader, never
// followed to another event, and a writer rebuilds the index.
func TestIndexDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, c := filled(t, Config{Path: path}, 1000)
	j.Close()
	withDB(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIxPanel)
		k, v := b.Cursor().Last()
		k, v = bytes.Clone(k), bytes.Clone(v)
		v[len(v)-1] ^= 1 // a wrong checksum
		if err := b.Put(k, v); err != nil {
			return err
		}
		// A block with a good checksum of an event that is not there.
		bad := append(panelPrefix(nil, "GUID-A"), Cursor{at: 5, id: 5}.key()...)
		return b.Put(bad, sealBlock(bad, bad[len(bad)-keyLen:]))
	})
	r, err := Open(Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, g := range []string{"GUID-A", "GUID-B", "GUID-C"} {
		for q := (HistoryQuery{Filter: Filter{Panel: g}, Limit: 500}); ; {
			p, err := r.History(q)
			if err != nil {
				t.Fatal(err)
			}
			skipped += p.Skipped
			for _, e := range p.Entries {
				if e.Panel != g {
					t.Fatalf("panel %s: an entry of %s", g, e.Panel)
				}
			}
			if q.Before = p.Next; q.Before.IsZero() {
				break
			}
		}
	}
	damaged := 0
	for _, err := range r.HistoryAll(Filter{Panel: "GUID-A"}) {
		if errors.Is(err, ErrDamaged) {
			damaged++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if damaged == 0 {
		t.Error("HistoryAll did not report the damaged index entries")
	}
	r.Close()
	if skipped != 2 {
		t.Fatalf("%d skipped, want 2 (a damaged block, an event gone)", skipped)
	}
	w, err := Open(Config{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, f := range historyFilters(c) {
		pages(t, w, f, 100)
	}
}

// FuzzHistoryIndex: whatever the index buckets hold, History never
// panics and returns only stored entries that its filter selects.
func FuzzHistoryIndex(f *testing.F) {
	data, want := goodJournal(f, 40)
	f.Add([]byte{}, []byte{}, uint8(0))
	bk := append(panelPrefix(nil, "GUID-A"), Cursor{at: 1, id: 1}.key()...)
	f.Add(bk, sealBlock(bk, append(Cursor{at: 1, id: 1}.key(), Cursor{at: 1 << 62, id: 3}.key()...)), uint8(0))
	sk := append(sensorPrefix(nil, "GUID-B", 3), Cursor{at: 1, id: 1}.key()...)
	f.Add(sk, sealBlock(sk, Cursor{at: 1 << 62, id: 1}.key()), uint8(129))
	f.Add([]byte{0x80}, []byte{1}, uint8(2))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, k, v []byte, which uint8) {
		path := filepath.Join(dir, fmt.Sprintf("fuzz-%d.db", rand.Uint64()))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		ok := true
		withDB(t, path, func(tx *bolt.Tx) error {
			name := ixBuckets[int(which)%len(ixBuckets)]
			b := tx.Bucket(name)
			if len(k) == 0 || len(k) > bolt.MaxKeySize {
				ok = false
				return nil
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
			if which >= 128 { // and a cut ix-to
				return tx.Bucket(bucketMeta).Put(keyIndexedTo, k)
			}
			return nil
		})
		if !ok {
			return
		}
		for _, ro := range []bool{true, false} {
			j, err := Open(Config{Path: path, ReadOnly: ro, LockTimeout: -1})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open: %v", err)
				}
				continue
			}
			for _, fl := range []Filter{{Panel: "GUID-A"}, {Panel: "GUID-B", Sensor: true, Index: 3}, {Type: event.SensorActivity}, {Panel: "GUID-A", Type: event.SensorActivity}} {
				for e, err := range j.HistoryAll(fl) {
					if errors.Is(err, ErrDamaged) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if want[storedKey{e.Time.UnixNano(), e.Seq}] != e.Panel+" "+string(e.JSON) {
						t.Fatalf("entry %+v was not stored", e)
					}
					if fl.Panel != "" && e.Panel != fl.Panel {
						t.Fatalf("%+v: entry of %s", fl, e.Panel)
					}
				}
			}
			j.Close()
		}
	})
}

// FuzzFastFields: the fast reading of type and sensor that retention
// uses agrees with the decoder wherever both read the JSON.
func FuzzFastFields(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		ev := mixedEvent(r)
		ev.Seq = 9
		f.Add(ev.AppendJSON(nil))
	}
	f.Add([]byte(`{"time":"x","panel":"a\"b","source":"local","type":"door_open","sensor":{"index":-3,"name":""}}`))
	f.Add([]byte(`{"time":"","panel":"","source":"","type":"a\u0062"}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		fast, ok := fastFields(js)
		var ev event.Event
		if !ok || ev.UnmarshalJSON(js) != nil {
			return
		}
		if full := fieldsOf(&ev); fast.typ != full.typ || fast.sensor != full.sensor || (fast.sensor && fast.index != full.index) {
			t.Fatalf("%s: fast %+v, decoded %+v", js, fast, full)
		}
	})
}

// Every event AppendJSON writes is read by the fast path.
func TestFastFields(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		ev := mixedEvent(r)
		ev.GUID = `odd "guid" \ ` + ev.GUID
		js := ev.AppendJSON(nil)
		f, ok := fastFields(js)
		if full := fieldsOf(ev); !ok || f.typ != full.typ || f.sensor != full.sensor || f.index != full.index {
			t.Fatalf("%s: %+v %v, want %+v", js, f, ok, full)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, s := range []string{"", "1-2", "1764800000000000000-99"} {
		c, err := ParseCursor(s)
		if err != nil || c.String() != s {
			t.Errorf("%q: %v, %v", s, c, err)
		}
	}
	for _, s := range []string{"x", "1", "-1-2", "1-", "1-2-3", "1-x"} {
		if _, err := ParseCursor(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

// History and HistoryAll run beside appends and retention (another
// goroutine): pages go strictly back in the journal's order, never
// repeat an entry, and every entry is of the filter.
func TestHistoryConcurrent(t *testing.T) {
	leaktest.Check(t)
	j, _ := filled(t, Config{MaxEvents: 2000}, 2000)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(11, 12))
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			batch := make([]event.Event, 50)
			for i := range batch {
				batch[i] = *mixedEvent(r)
			}
			if _, err := j.AppendAll(batch); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 20 {
		for _, f := range []Filter{{Panel: "GUID-A"}, {Panel: "GUID-B", Type: event.DoorOpen}, {Type: event.Alarm}} {
			var last uint64
			q := HistoryQuery{Filter: f, Limit: 37}
			for {
				p, err := j.History(q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range p.Entries {
					if last != 0 && e.ID >= last {
						t.Fatalf("%+v: entry %d after %d", f, e.ID, last)
					}
					last = e.ID
					if f.Panel != "" && e.Panel != f.Panel {
						t.Fatalf("%+v: entry of %s", f, e.Panel)
					}
				}
				if q.Before = p.Next; q.Before.IsZero() {
					break
				}
			}
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
