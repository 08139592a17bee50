package daemon_test

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/sim"
)

// BenchmarkEventToMQTT measures the whole daemon's latency: from the
// simulator sending a door notification over loopback UDP to a
// subscriber receiving the event on <prefix>/<GUID>/event from the
// embedded broker (listener, Monitor, bridge, disk queue, broker,
// subscriber). It reports p50 and p99 in microseconds.
//
//	go test -run '^$' -bench EventToMQTT -benchtime 2000x ./daemon/
func BenchmarkEventToMQTT(b *testing.B) {
	r := startDaemon(b, "    notifications: local\n")
	daemontest.BenchEventLatency(b, strings.TrimPrefix(r.ep.MQTT, "mqtt://"), r.guid, r.sim)
}

// BenchmarkServeJournal measures how many events per second the whole
// daemon stores in its journal (issue 20.1): n simulated cloud panels
// (sim.Fleet) send door status changes over loopback TCP as fast as the
// daemon's back-pressure lets them, through the cloud server, each
// panel's Monitor, the journal writer (and the MQTT bridge, which takes
// every event too), until every event is committed. b.N is the events,
// shared by the panels. It fails on any drop or flood suppression, and
// reports events/s, events per commit, and the p50 and p99 time of one
// commit (one transaction and one fsync).
//
//	go test -run '^$' -bench ServeJournal -benchtime 100000x ./daemon/
func BenchmarkServeJournal(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("panels=%d", n), func(b *testing.B) { benchServeJournal(b, n) })
	}
}

func benchServeJournal(b *testing.B, panels int) {
	b.ReportAllocs()
	cfg := cloudOnlyConfig(b, panels, fmt.Sprintf("  max_connections: %d\n  max_per_address: %d\njournal:\n  flood_burst: -1\n", panels, panels))
	var (
		mu      sync.Mutex
		stored  int // door events from the cloud
		all     int // every event
		others  map[event.Type]int
		commits []time.Duration
	)
	others = map[event.Type]int{}
	opt := daemon.Options{Timeout: 500 * time.Millisecond}
	daemon.OnJournalCommit(&opt, func(events []event.Event, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		all += len(events)
		for i := range events {
			if events[i].Source == event.SourceCloud && (events[i].Type == event.DoorOpen || events[i].Type == event.DoorClose) {
				stored++
			} else {
				others[events[i].Type]++
			}
		}
		commits = append(commits, took)
	})
	storedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return stored
	}
	ep, stop := daemontest.Run(b, cfg, opt)

	per := (b.N + panels - 1) / panels
	fleet, err := sim.NewFleet(sim.FleetConfig{Panels: panels, Cloud: sim.CloudConfig{Addr: ep.Cloud, QueueSize: per + 1}})
	if err != nil {
		b.Fatal(err)
	}
	stopFleet := testrig.Serve(b, fleet.Run)
	// One event from each panel first: every panel is connected and
	// routed, and one message is one event in the journal.
	msgs := doorChanges(per + 1)
	for _, l := range fleet.Links() {
		l.Send(msgs[0])
	}
	eventually.NoErrorWithin(b, time.Minute, "a first event of every panel in the journal", func() error {
		if n := storedNow(); n < panels {
			return fmt.Errorf("%d of %d stored; %+v", n, panels, fleet.Stats())
		}
		return nil
	})
	mu.Lock()
	base, baseAll := stored, all
	commits = commits[:0]
	mu.Unlock()
	if base != panels {
		b.Fatalf("%d first events stored, want one per panel (%d)", base, panels)
	}

	want := 0
	b.ResetTimer()
	start := time.Now()
	for i, l := range fleet.Links() {
		k := min(per, b.N-i*per)
		if k <= 0 {
			break
		}
		if q := l.Send(msgs[1 : 1+k]...); q != k {
			b.Fatalf("panel %d queued %d of %d events", i, q, k)
		}
		want += k
	}
	eventually.NoErrorWithin(b, 5*time.Minute, "every event in the journal", func() error {
		if n := storedNow() - base; n < want {
			return fmt.Errorf("%d of %d stored", n, want)
		}
		return nil
	})
	elapsed := time.Since(start)
	b.StopTimer()

	// Nothing lost on the way, nor held back.
	if s := fleet.Stats(); s.Dropped != 0 {
		b.Errorf("the panels dropped %d events", s.Dropped)
	}
	// Every loss counter is there, and 0: a counter renamed away would
	// otherwise pass unseen.
	seen := map[string]bool{}
	for series, v := range testrig.Scrape(b, strings.TrimSuffix(ep.Web, "/")+"/metrics") {
		name, _, _ := strings.Cut(series, "{")
		switch name {
		case "g90_monitor_dropped_total", "g90_subscriber_dropped_total", "g90_journal_write_errors_total", "g90_journal_suppressed_total":
			seen[name] = true
			if v != 0 {
				b.Errorf("a loss: %s %v", series, v)
			}
		}
	}
	if len(seen) != 4 {
		b.Errorf("/metrics has only the loss counters %v", seen)
	}
	if err := stopFleet(); err != nil {
		b.Fatal(err)
	}
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := stored - base; n != want {
		b.Fatalf("%d door events stored, want %d: a message gave more than one", n, want)
	}
	b.Logf("other events: %v", others)
	slices.Sort(commits)
	b.ReportMetric(float64(want)/elapsed.Seconds(), "doors/s")
	b.ReportMetric(float64(all-baseAll)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(all-baseAll)/float64(len(commits)), "events/commit")
	b.ReportMetric(float64(commits[len(commits)/2].Microseconds()), "p50-commit-µs")
	b.ReportMetric(float64(commits[len(commits)*99/100].Microseconds()), "p99-commit-µs")
	// ns/op stays: the time per door event, sent to stored.
}

// doorChanges returns n M4b status changes of sensor 1, a door opening
// and closing, with the panel clock counting up (spec: D.5.5).
// cloudOnlyConfig is the config of a daemon on loopback serving n
// panels reachable through their cloud connection only, the panels of
// a sim.Fleet (sim.FleetGUID 1 to n); more is the rest of its cloud
// section, and may add sections after it.
func cloudOnlyConfig(tb testing.TB, n int, more string) *daemon.Config {
	tb.Helper()
	dir := tb.TempDir()
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\ncloud:\n  listen: 127.0.0.1:0\n%spanels:\n", dir, more)
	for i := range n {
		// A UDP port that never answers: the panels are reachable
		// through their cloud connection only.
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		yaml += fmt.Sprintf("  - name: p%d\n    host: 127.0.0.1\n    port: %d\n    poll: 0s\n    notifications: cloud\n    guid: %s\n", i, c.LocalAddr().(*net.UDPAddr).Port, sim.FleetGUID(i+1))
	}
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func doorChanges(n int) [][]byte {
	m := cloudproto.Message{Kind: cloudproto.KindStatusChange, Header: cloudproto.KindStatusChange.Header(),
		Status: cloudproto.StatusChange{Type: cloudproto.StatusSensor, Index: 1, Source: 1, Name: "Door"}}
	msgs := make([][]byte, n)
	for i := range msgs {
		m.Status.State = uint8(1 - i%2) // open, close, …
		m.Status.UnixTime = 1_700_000_000 + int32(i)
		msgs[i] = m.Append(nil)
	}
	return msgs
}
