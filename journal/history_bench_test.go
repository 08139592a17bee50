package journal

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
)

// benchEvents is the size of the benchmarks' journal (issue 19.4: fast
// with 1,000,000 entries).
const benchEvents = 1_000_000

// benchT0 is when the benchmarks' journal starts; its events are 2.6 s
// apart, 30 days in all.
var benchT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// benchEvent is the i-th event of a household's month, ten panels over:
// door and motion sensors mostly, a few alarms. Panel GUID-01 never has
// a door_close (for the worst case of two filters).
func benchEvent(r *rand.Rand) event.Event {
	ev := event.Event{GUID: fmt.Sprintf("GUID-%02d", r.IntN(10)), Source: event.SourceLocal, Time: benchT0}
	switch n := r.IntN(1000); {
	case n < 500:
		ev.Type, ev.Occupied = event.SensorActivity, true
	case n < 750:
		ev.Type = event.DoorOpen
	case n < 990:
		ev.Type = event.DoorClose
		if ev.GUID == "GUID-01" {
			ev.Type = event.DoorOpen
		}
	case n < 999:
		ev.Type = event.LowBattery
	default:
		ev.Type = event.Alarm
	}
	ev.Sensor, ev.Index = true, r.IntN(32)
	ev.Name = fmt.Sprintf("sensor %d", ev.Index)
	return ev
}

// BenchmarkHistory: one page (100 entries, newest first) of each kind
// of filter from a journal of 1,000,000 entries, built once per run
// (outside the timing) in batches as the daemon's writer stores them.
// "deep" pages start half way back (a Before cursor); "worst" is two
// filters that share no entry: the zigzag walks the smaller list.
func BenchmarkHistory(b *testing.B) {
	path := filepath.Join(b.TempDir(), "journal.db")
	c := &clock{t: benchT0}
	j, err := Open(Config{Path: path, Now: c.Now, FloodBurst: -1, noSync: true, IdleClose: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { j.Close() }()
	start := time.Now()
	r := rand.New(rand.NewPCG(19, 4))
	batch := make([]event.Event, 4096)
	var mid Cursor
	for n := 0; n < benchEvents; n += len(batch) {
		for i := range batch {
			batch[i] = benchEvent(r)
		}
		c.Add(time.Duration(len(batch)) * 2592 * time.Millisecond)
		if _, err := j.AppendAll(batch[:min(len(batch), benchEvents-n)]); err != nil {
			b.Fatal(err)
		}
		if n <= benchEvents/2 && n+len(batch) > benchEvents/2 {
			p, err := j.History(HistoryQuery{Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			mid = p.Entries[0].Cursor()
		}
	}
	b.Logf("%d events stored in %v", benchEvents, time.Since(start).Round(time.Millisecond))
	day := benchT0.Add(15 * 24 * time.Hour)
	for _, q := range []struct {
		name string
		q    HistoryQuery
	}{
		{"all", HistoryQuery{}},
		{"panel", HistoryQuery{Filter: Filter{Panel: "GUID-03"}}},
		{"panel-deep", HistoryQuery{Filter: Filter{Panel: "GUID-03"}, Before: mid}},
		{"sensor", HistoryQuery{Filter: Filter{Panel: "GUID-03", Sensor: true, Index: 7}}},
		{"sensor-deep", HistoryQuery{Filter: Filter{Panel: "GUID-03", Sensor: true, Index: 7}, Before: mid}},
		{"type", HistoryQuery{Filter: Filter{Type: event.DoorOpen}}},
		{"type-rare", HistoryQuery{Filter: Filter{Type: event.Alarm}}},
		{"panel+type", HistoryQuery{Filter: Filter{Panel: "GUID-03", Type: event.DoorOpen}}},
		{"panel+type-rare", HistoryQuery{Filter: Filter{Panel: "GUID-03", Type: event.Alarm}}},
		{"sensor+type", HistoryQuery{Filter: Filter{Panel: "GUID-03", Sensor: true, Index: 7, Type: event.LowBattery}}},
		{"date", HistoryQuery{Filter: Filter{From: day, To: day.Add(24 * time.Hour)}}},
		{"date+panel", HistoryQuery{Filter: Filter{Panel: "GUID-03", From: day, To: day.Add(24 * time.Hour)}}},
		{"date+sensor+type", HistoryQuery{Filter: Filter{Panel: "GUID-03", Sensor: true, Index: 7, Type: event.DoorOpen, From: day, To: day.Add(24 * time.Hour)}}},
		{"worst", HistoryQuery{Filter: Filter{Panel: "GUID-01", Type: event.DoorClose}}},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				p, err := j.History(q.q)
				if err != nil || p.Skipped > 0 {
					b.Fatal(err, p.Skipped)
				}
				n = len(p.Entries)
			}
			b.ReportMetric(float64(n), "entries")
		})
	}
	// What the index saves: the newest 100 of a sensor found by reading
	// the journal from the start, as /api/events does.
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ring := make([]Entry, 0, 100)
			for e, err := range j.Query(Query{Panel: "GUID-03"}) {
				if err != nil {
					b.Fatal(err)
				}
				if ev, _ := e.Event(); ev.Index == 7 {
					if len(ring) == 100 {
						ring = ring[1:]
					}
					ring = append(ring, e)
				}
			}
		}
	})
	// A journal of a g90 before the index, indexed once at Open.
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			j.Close()
			withDB(b, path, dropIndex)
			b.StartTimer()
			if j, err = Open(Config{Path: path, Now: c.Now, noSync: true, IdleClose: -1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
