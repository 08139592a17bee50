package journal

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
)

// AppendAll stores a batch in order, numbered as Append numbers, in one
// transaction, and the entries read back equal those of single appends.
func TestAppendAll(t *testing.T) {
	j := open(t, Config{})
	batch := make([]event.Event, 50)
	for i := range batch {
		batch[i] = *mkEvent("G", i)
	}
	batch[10].Seq = 500 // the Monitor's number is kept
	n, err := j.AppendAll(batch)
	if err != nil || n != 50 {
		t.Fatalf("AppendAll: %d, %v", n, err)
	}
	got := all(t, j, Query{})
	if len(got) != 50 {
		t.Fatalf("%d entries, want 50", len(got))
	}
	for i, e := range got {
		want := uint64(i + 1)
		if i == 10 {
			want = 500
		} else if i > 10 {
			want = uint64(500 + i - 10)
		}
		if e.Seq != want {
			t.Fatalf("entry %d: seq %d, want %d", i, e.Seq, want)
		}
		ev, err := e.Event()
		if err != nil || ev.Index != i || ev.Seq != want {
			t.Fatalf("entry %d: %+v %v", i, ev, err)
		}
	}
	if s := j.Stats(); s.Appends != 50 || s.Events != 50 {
		t.Fatalf("stats %+v", s)
	}
}

// flood returns n copies of one kind of event: a door of sensor 3.
func floodOf(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{Type: event.DoorOpen, GUID: "G", Source: event.SourceCloud, Sensor: true, Index: 3, Name: "Door"}
	}
	return out
}

// A flood of one kind stores its burst, then its rate; other kinds are
// stored meanwhile; what is refused is counted and logged, once when the
// flood starts and once, with the count, when it is over.
func TestFloodLimit(t *testing.T) {
	clk := newClock()
	var logs lockedbuf.Buffer
	j := open(t, Config{Now: clk.Now, FloodBurst: 10, FloodRate: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if n, err := j.AppendAll(floodOf(25)); err != nil || n != 10 {
		t.Fatalf("a flood of 25 stored %d (%v), want the burst of 10", n, err)
	}
	if _, err := j.AppendAll([]event.Event{*mkEvent("G", 1)}); err != nil {
		t.Fatal(err)
	}
	clk.Add(1500 * time.Millisecond) // 3 more at 2 per second
	if n, _ := j.AppendAll(floodOf(10)); n != 3 {
		t.Fatalf("after 1.5 s: %d stored, want 3", n)
	}
	if s := j.Stats(); s.Suppressed != 15+7 || s.Appends != 14 {
		t.Fatalf("stats %+v: want 22 suppressed, 14 appended", s)
	}
	if strings.Count(logs.String(), "a flood of one kind") != 1 {
		t.Fatalf("the flood's start logged %d times:\n%s", strings.Count(logs.String(), "a flood of one kind"), logs.String())
	}
	clk.Add(10 * time.Second)
	if e, err := j.Append(&floodOf(1)[0]); err != nil || e.Seq == 0 {
		t.Fatalf("after the flood: %+v %v", e, err)
	}
	if !strings.Contains(logs.String(), "not_stored=22") {
		t.Fatalf("the flood's end not logged with its count:\n%s", logs.String())
	}
	// A refused event is no error and no entry.
	clk.Add(0)
	j2 := open(t, Config{Now: clk.Now, FloodBurst: 1})
	j2.Append(&floodOf(1)[0])
	if e, err := j2.Append(&floodOf(1)[0]); err != nil || e.Seq != 0 {
		t.Fatalf("refused: %+v %v, want a zero entry, no error", e, err)
	}
}

// The reported case (issue 13.13): a flood of 100,000 events within 45 s
// with retention by count no longer pushes the rest of the history out.
func TestFloodKeepsHistory(t *testing.T) {
	clk := newClock()
	j := open(t, Config{Now: clk.Now, MaxEvents: 1000})
	for i := range 19 {
		if _, err := j.Append(mkEvent("G", i)); err != nil {
			t.Fatal(err)
		}
	}
	batch := floodOf(500)
	for range 200 { // 100,000 in 45 s
		if _, err := j.AppendAll(batch); err != nil {
			t.Fatal(err)
		}
		clk.Add(225 * time.Millisecond)
	}
	got := all(t, j, Query{})
	others := 0
	for _, e := range got {
		if ev, _ := e.Event(); ev.Type == event.SensorActivity {
			others++
		}
	}
	if others != 19 {
		t.Fatalf("%d of the 19 other events kept (of %d entries)", others, len(got))
	}
	if s := j.Stats(); s.Suppressed < 99_000 {
		t.Fatalf("stats %+v: the flood was stored", s)
	}
}

// A negative FloodBurst stores everything.
func TestFloodLimitOff(t *testing.T) {
	j := open(t, Config{FloodBurst: -1})
	if n, err := j.AppendAll(floodOf(300)); err != nil || n != 300 {
		t.Fatalf("%d, %v", n, err)
	}
}

// One transaction for many events is what lets the journal keep up: the
// per-event cost of a batch of 512 against Append's (BenchmarkAppend).
// BenchmarkAppendAll: one group commit of 512 events, with the index
// and without it (noIndex: as before issue 19.4). Each event is of
// another sensor, the worst case for the sensor index (512 blocks a
// commit); "8sensors" is a flood from a few.
func BenchmarkAppendAll(b *testing.B) {
	for _, c := range []struct {
		name    string
		noIndex bool
		sensors int
	}{{"index", false, 512}, {"noindex", true, 512}, {"index-8sensors", false, 8}, {"noindex-8sensors", true, 8}} {
		b.Run(c.name, func(b *testing.B) {
			j := open(b, Config{FloodBurst: -1, noIndex: c.noIndex})
			batch := make([]event.Event, 512)
			for i := range batch {
				batch[i] = *mkEvent("G", i%c.sensors)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := j.AppendAll(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
		})
	}
}

// One panel's many events do not push another's out (issue 13.13): each
// panel keeps its own MaxPanelEvents newest, on append (within 1/32) and
// exactly at Open.
func TestRetentionPerPanel(t *testing.T) {
	path := t.TempDir() + "/j.db"
	cfg := Config{Path: path, MaxPanelEvents: 100}
	j := open(t, cfg)
	appendN(t, j, "QUIET", 0, 10)
	for i := range 10 {
		batch := make([]event.Event, 100)
		for k := range batch {
			batch[k] = *mkEvent("BUSY", i*100+k)
		}
		if _, err := j.AppendAll(batch); err != nil {
			t.Fatal(err)
		}
	}
	count := func(j *Journal) map[string]int {
		n := map[string]int{}
		for _, e := range all(t, j, Query{}) {
			n[e.Panel]++
		}
		return n
	}
	got := count(j)
	if got["QUIET"] != 10 || got["BUSY"] < 100 || got["BUSY"] > 103 {
		t.Fatalf("kept %v: want QUIET's 10 and BUSY's newest 100 (to 103)", got)
	}
	// The newest are the ones kept.
	var last Entry
	for _, e := range all(t, j, Query{Panel: "BUSY"}) {
		last = e
	}
	if last.Seq != 1000 {
		t.Fatalf("BUSY's last entry has seq %d, want 1000", last.Seq)
	}
	if s := j.Stats(); s.Events != uint64(got["QUIET"]+got["BUSY"]) {
		t.Fatalf("stats %+v, counted %v", s, got)
	}
	j.Close()
	j2 := open(t, cfg)
	if got := count(j2); got["QUIET"] != 10 || got["BUSY"] != 100 {
		t.Fatalf("after reopening: %v", got)
	}
}

// UpdateSources stores the grown sources of an event already stored,
// found by panel and seq, in place: its time, order and the others stay;
// the checksum still holds on reopening; an event not there is counted.
func TestUpdateSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := open(t, Config{Path: path})
	batch := make([]event.Event, 3)
	for i := range batch {
		batch[i] = *mkEvent("G", i)
		batch[i].Seq = uint64(i + 1)
		batch[i].Sources = event.SourcesOf(event.SourceLocal)
	}
	if _, err := j.AppendAll(batch); err != nil {
		t.Fatal(err)
	}
	up := batch[1]
	up.Sources = event.SourcesOf(event.SourceLocal, event.SourceCloud)
	missing := batch[1]
	missing.Seq = 99
	if n, err := j.UpdateSources([]event.Event{up, missing}); err != nil || n != 1 {
		t.Fatalf("UpdateSources: %d, %v", n, err)
	}
	if s := j.Stats(); s.UpdatesMissed != 1 {
		t.Fatalf("stats %+v", s)
	}
	check := func(j *Journal) {
		got := all(t, j, Query{})
		if len(got) != 3 {
			t.Fatalf("%d entries", len(got))
		}
		for i, e := range got {
			ev, err := e.Event()
			if err != nil {
				t.Fatal(err)
			}
			want := event.SourcesOf(event.SourceLocal)
			if i == 1 {
				want = up.Sources
			}
			if ev.Seq != uint64(i+1) || ev.Sources != want {
				t.Fatalf("entry %d: seq %d sources %v", i, ev.Seq, ev.Sources.List())
			}
		}
	}
	check(j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	check(open(t, Config{Path: path}))
}
