package daemon

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/buildinfo"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/sim"
)

// scrape fetches /metrics and returns every sample by its series.
func scrape(t *testing.T, url string) map[string]float64 { return testrig.Scrape(t, url) }

// A simulated panel sends its notifications to a Listener feeding a
// Monitor; another panel never answers. The scrape reports both, read
// from their counters.
func TestMetrics(t *testing.T) {
	leaktest.Check(t)
	ctx := context.Background()
	l, err := notify.Listen(ctx, notify.ListenerConfig{Addr: "127.0.0.1:0", Host: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Notify: l.Addr().String(), Seed: 1})
	a := s.Addr().(*net.UDPAddr)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The "mqtt" subscription nobody reads stalls soon.
	mon := p.NewMonitor(g90.MonitorConfig{Sources: []g90.Source{l}, ResetInterval: -1, StallTimeout: 50 * time.Millisecond})

	// A panel nobody answers for: its command times out.
	dead, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().(*net.UDPAddr)
	dead.Close()
	dp, err := g90.New(g90.Config{Host: "127.0.0.1", Port: deadAddr.Port, Timeout: 50 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	dmon := dp.NewMonitor(g90.MonitorConfig{})

	m := NewMetrics()
	pm, err := m.AddPanel(PanelSources{Name: "home", Monitor: mon, Client: p.Client(), Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	mon.Subscribe("mqtt", 1)
	dpm, err := m.AddPanel(PanelSources{Name: "dead", Monitor: dmon, Client: dp.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddPanel(PanelSources{Name: "home", Monitor: dmon}); err == nil {
		t.Fatal("a panel name added twice")
	}
	testrig.Serve(t, pm.Run)
	testrig.Serve(t, dpm.Run)
	testrig.Serve(t, mon.Run)
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"

	eventually.True(t, "the first read", func() bool { return len(mon.State().Sensors) > 0 })
	if _, err := dp.Status(ctx); err == nil {
		t.Fatal("the dead panel answered")
	}
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	eventually.True(t, "the door_open event in the metrics", func() bool {
		got = scrape(t, url)
		return got[`g90_events_total{panel="home",source="local",type="door_open"}`] == 1 &&
			got[`g90_events_total{panel="home",source="local",type="sensor_activity"}`] == 1 &&
			got[`g90_subscriber_dropped_total{consumer="mqtt",panel="home"}`] == 1
	})
	cs, ms, ls := p.Client().Stats(), mon.Stats(), l.Stats()
	guid := mon.State().GUID
	want := map[string]float64{
		`g90_panel_info{guid="` + guid + `",host="` + a.String() + `",panel="home"}`:                1,
		`g90_commands_total{panel="home"}`:                                                          float64(cs.Commands),
		`g90_command_attempts_total{panel="home"}`:                                                  float64(cs.Attempts),
		`g90_command_retries_total{panel="home"}`:                                                   0,
		`g90_command_timeouts_total{panel="home"}`:                                                  0,
		`g90_decode_errors_total{panel="home",source="command"}`:                                    0,
		`g90_decode_errors_total{panel="home",source="local"}`:                                      0,
		`g90_notify_datagrams_total{panel="home"}`:                                                  2, // the notification and the alert
		`g90_notify_wrong_host_total{panel="home"}`:                                                 0,
		`g90_notify_wrong_interface_total{panel="home"}`:                                            0,
		`g90_monitor_messages_total{panel="home"}`:                                                  2,
		`g90_monitor_dropped_total{panel="home"}`:                                                   0,
		`g90_monitor_unknown_total{panel="home"}`:                                                   0,
		`g90_events_merged_total{panel="home",source="local"}`:                                      1, // the alert's sensor_activity, merged into the notification's
		`g90_events_merged_total{panel="home",source="cloud"}`:                                      0,
		`g90_events_merged_total{panel="home",source="history"}`:                                    0,
		`g90_monitor_wrong_device_total{panel="home"}`:                                              0,
		`g90_monitor_queue_depth{panel="home"}`:                                                     0,
		`g90_monitor_queue_capacity{panel="home"}`:                                                  4096,
		`g90_panel_reads_total{panel="home"}`:                                                       float64(ms.Refreshes),
		`g90_panel_read_errors_total{panel="home"}`:                                                 0,
		`g90_subscriber_dropped_total{consumer="metrics",panel="home"}`:                             0,
		`g90_subscriber_queue_depth{consumer="metrics",panel="home"}`:                               0,
		`g90_subscriber_stalled{consumer="metrics",panel="home"}`:                                   0,
		`g90_subscriber_queue_capacity{consumer="metrics",panel="home"}`:                            1024,
		`g90_subscriber_dropped_total{consumer="mqtt",panel="home"}`:                                1, // a queue of 1 that nobody reads
		`g90_subscriber_queue_depth{consumer="mqtt",panel="home"}`:                                  1,
		`g90_subscriber_stalled{consumer="mqtt",panel="home"}`:                                      1,
		`g90_panel_info{guid="",host="127.0.0.1:` + strconv.Itoa(deadAddr.Port) + `",panel="dead"}`: 1,
		`g90_commands_total{panel="dead"}`:                                                          1,
		`g90_command_timeouts_total{panel="dead"}`:                                                  1,
	}
	if cs.Commands == 0 || ms.Refreshes == 0 || ls.Datagrams != 2 || guid == "" {
		t.Fatalf("stats: client %+v, monitor %+v, listener %+v, GUID %q", cs, ms, ls, guid)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	age, ok := got[`g90_last_packet_age_seconds{panel="home",source="local"}`]
	if !ok || age < 0 {
		t.Errorf("last packet age %v, present %v", age, ok)
	}
	if _, ok := got[`g90_last_packet_age_seconds{panel="dead",source="local"}`]; ok {
		t.Error("a last packet age for a panel that never sent one")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	bi := buildinfo.Read()
	build := `g90_build_info{goarch="` + bi.Arch + `",goos="` + bi.OS + `",goversion="` + bi.GoVersion +
		`",revision="` + bi.ShortRevision() + `",version="` + bi.Version + `"}`
	if got[build] != 1 {
		t.Errorf("%s = %v, want 1", build, got[build])
	}

	// Scraping reads counters, it does not count: a second scrape gives
	// the same values.
	again := scrape(t, url)
	for k, v := range want {
		if again[k] != v {
			t.Errorf("second scrape: %s = %v, want %v", k, again[k], v)
		}
	}

	fb := &fakeBridge{up: true, depth: 5, st: bridge.Stats{Connects: 2, Published: 40, Commands: 7, CommandErrors: 1, RejectedCommand: 3, RetainedCommand: 2, QueueErrors: 4, QueueDamagedBytes: 17}}
	if err := m.WatchBridge(fb); err != nil {
		t.Fatal(err)
	}
	got = scrape(t, url)
	for k, v := range map[string]float64{
		"g90_mqtt_connected": 1, "g90_mqtt_connections_total": 2, "g90_mqtt_queue_depth": 5, "g90_mqtt_published_total": 40,
		`g90_mqtt_commands_total{result="done"}`: 6, `g90_mqtt_commands_total{result="rejected"}`: 3, `g90_mqtt_commands_total{result="failed"}`: 1,
		`g90_mqtt_commands_total{result="retained"}`: 2,
		"g90_mqtt_queue_write_errors_total":          4, "g90_mqtt_queue_damaged_bytes": 17,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	m.RemovePanel("dead")
	got = scrape(t, url)
	for k := range got {
		if strings.Contains(k, `panel="dead"`) {
			t.Errorf("removed panel still reported: %s", k)
		}
	}
	if _, err := m.AddPanel(PanelSources{Name: "dead", Monitor: dmon, Client: dp.Client()}); err != nil {
		t.Errorf("adding a removed panel again: %v", err)
	}
}

func TestMetricsJournal(t *testing.T) {
	j, err := journal.Open(journal.Config{Path: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(&event.Event{Type: event.Tamper, GUID: "G"}); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	if err := m.WatchJournal(j, "/var/lib/g90/journal.db.damaged-20261203T080000Z"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	got := scrape(t, srv.URL)
	if _, ok := got["g90_journal_write_errors_total"]; !ok {
		t.Error("no g90_journal_write_errors_total")
	}
	if got["g90_journal_events"] != 1 || got["g90_journal_appends_total"] != 1 || got["g90_journal_bytes"] == 0 || got["g90_journal_removed_total"] != 0 ||
		got[`g90_journal_damaged{moved_to="/var/lib/g90/journal.db.damaged-20261203T080000Z"}`] != 1 {
		t.Fatalf("journal metrics %v", got)
	}
}

func TestAddPanelNeedsMonitor(t *testing.T) {
	if _, err := NewMetrics().AddPanel(PanelSources{Name: "x"}); err == nil {
		t.Fatal("no error")
	}
}

// fakeBridge is a BridgeSource with fixed values.
type fakeBridge struct {
	up    bool
	depth int
	st    bridge.Stats
}

func (f *fakeBridge) Connected() bool     { return f.up }
func (f *fakeBridge) QueueDepth() int     { return f.depth }
func (f *fakeBridge) Stats() bridge.Stats { return f.st }
