package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// daemonRig is a simulated panel and a running daemon with its embedded
// broker, all on loopback.
type daemonRig struct {
	sim  *sim.Panel
	ep   daemon.Endpoints
	cfg  *daemon.Config
	w    *mqtttest.Watcher
	stop func() error // stops the daemon and returns Run's error
	guid string
}

// startDaemon starts a simulator and `g90 serve` on a config whose panel
// section is extra (indented under a "- " item) after host and port.
func startDaemon(t testing.TB, extra string) *daemonRig { return startDaemonSim(t, extra, false) }

// startDaemonSim is startDaemon; with cloudPanel the simulator starts
// after the daemon, connected to its cloud server as a panel.
func startDaemonSim(t testing.TB, extra string, cloudPanel bool) *daemonRig {
	t.Helper()
	leaktest.Check(t)
	dir := t.TempDir()
	nc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simCfg := sim.Config{PacketConn: simConn, Notify: nc.LocalAddr().String(), Seed: 1}
	var s *sim.Panel
	if !cloudPanel {
		s = simtest.Start(t, simCfg)
	}
	a := simConn.LocalAddr().(*net.UDPAddr)
	yaml := fmt.Sprintf(`mqtt:
  listen: 127.0.0.1:0
web:
  listen: 127.0.0.1:0
state_dir: %s
panels:
  - name: home
    host: 127.0.0.1
    port: %d
    poll: 1s
%s`, dir, a.Port, extra)
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, stop := daemontest.Run(t, cfg, daemon.Options{
		NotifyConns: map[string]net.PacketConn{"home": nc},
		Timeout:     500 * time.Millisecond,
	})
	if cloudPanel {
		simCfg.Cloud = sim.CloudConfig{Addr: ep.Cloud}
		s = simtest.Start(t, simCfg)
	}
	r := &daemonRig{sim: s, ep: ep, cfg: cfg, stop: stop, guid: s.Snapshot().Host.GUID}
	r.w = mqtttest.Watch(t, strings.TrimPrefix(ep.MQTT, "mqtt://"), "#")
	r.w.WaitFor(t, "g90/"+r.guid+"/availability", mqtttest.Is("online"))
	return r
}

// journal reads the panel's entries from the journal of a stopped
// daemon.
func (r *daemonRig) journal(t *testing.T) []journal.Entry {
	t.Helper()
	j, err := journal.Open(journal.Config{Path: r.cfg.JournalPath(), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var out []journal.Entry
	for e, err := range j.Query(journal.Query{Panel: r.guid}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func (r *daemonRig) get(t *testing.T, path string) string {
	t.Helper()
	res, err := http.Get(strings.TrimSuffix(r.ep.Web, "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return string(b)
}

// The whole daemon: a panel event reaches MQTT (state and event stream,
// numbered), the journal and the metrics; an MQTT command reaches the
// panel; after a clean stop the journal holds the events with the same
// numbers as MQTT.
func TestServeEndToEnd(t *testing.T) {
	r := startDaemon(t, "    notifications: local\n")
	if !r.ep.Embedded || len(r.ep.Panels) != 1 {
		t.Fatalf("endpoints %+v", r.ep)
	}
	// The embedded broker keeps its JetStream store in state_dir.
	if ents, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "broker", "jetstream")); err != nil || len(ents) == 0 {
		t.Fatalf("the broker's store in state_dir/broker/jetstream: %v %v", ents, err)
	}
	one := 1
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	base := "g90/" + r.guid
	r.w.WaitFor(t, base+"/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })

	r.w.Publish(t, base+"/alarm/set", "ARM_AWAY")
	r.w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_away"))
	if got := r.sim.Snapshot().Arm; got != protocol.ArmAway {
		t.Fatalf("panel arm state %v, want away", got)
	}
	eventually.True(t, "the arming event on MQTT", func() bool {
		for _, m := range r.w.All(base + "/event") {
			if strings.Contains(m.Payload, `"type":"arm_disarm"`) {
				return true
			}
		}
		return false
	})
	if page := r.get(t, "/"); !strings.Contains(page, "<html") {
		t.Errorf("the web UI's page: %.200s", page)
	}
	if api := r.get(t, "/api/panels"); !strings.Contains(api, `"home"`) || !strings.Contains(api, r.guid) {
		t.Errorf("/api/panels: %s", api)
	}
	metrics := r.get(t, "/metrics")
	for _, want := range []string{`g90_events_total{panel="home",source="local",type="door_open"} 1`, "g90_mqtt_connected 1", "g90_mqtt_queue_depth 0", "g90_journal_appends_total", `g90_subscriber_queue_depth{consumer="journal",panel="home"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// The same events, in the same order, with the same numbers.
	var onMQTT, inJournal []string
	for _, m := range r.w.All(base + "/event") {
		var ev struct {
			Type string
			Seq  uint64
		}
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		onMQTT = append(onMQTT, fmt.Sprint(ev.Seq, " ", ev.Type))
	}
	for _, e := range r.journal(t) {
		ev, err := e.Event()
		if err != nil {
			t.Fatal(err)
		}
		inJournal = append(inJournal, fmt.Sprint(e.Seq, " ", ev.Type))
	}
	if len(inJournal) < 3 || !slices.Equal(onMQTT, inJournal) {
		t.Fatalf("journal %q, MQTT %q", inJournal, onMQTT)
	}
}

// Arming with a door left open whose "check open when arming" flag is on:
// the panel says so (notification kind 6), and it reaches MQTT, the
// sensor's state and the journal.
func TestServeDoorOpenWhenArming(t *testing.T) {
	r := startDaemon(t, "    notifications: local\n")
	base := "g90/" + r.guid
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })
	r.w.Publish(t, base+"/alarm/set", "ARM_HOME")
	r.w.WaitFor(t, base+"/sensor/1", func(p string) bool { return strings.Contains(p, `"door_open_when_arming":true`) })
	eventually.True(t, "the event on MQTT", func() bool {
		for _, m := range r.w.All(base + "/event") {
			if strings.Contains(m.Payload, `"type":"door_open_when_arming"`) && strings.Contains(m.Payload, `"index":1`) {
				return true
			}
		}
		return false
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range r.journal(t) {
		found = found || strings.Contains(string(e.JSON), `"type":"door_open_when_arming"`)
	}
	if !found {
		t.Error("no door_open_when_arming in the journal")
	}
}

// Every panel has the "simulate alerts from history" switch: on a panel
// without notifications it turns history polling on, whose events reach
// MQTT, and it is saved in the state directory. A panel with
// notifications: history has it on from the start.
func TestServeHistorySwitch(t *testing.T) {
	r := startDaemon(t, "    notifications: none\n    history_interval: 1s\n")
	base := "g90/" + r.guid
	r.w.WaitFor(t, base+"/history_alerts", mqtttest.Is("OFF"))
	r.w.Publish(t, base+"/history_alerts/set", "ON")
	r.w.WaitFor(t, base+"/history_alerts", mqtttest.Is("ON"))
	eventually.True(t, "the switch saved", func() bool {
		b, err := os.ReadFile(filepath.Join(r.cfg.StateDir, "switches.json"))
		return err == nil && strings.Contains(string(b), `"history_alerts": true`)
	})
	// The poller's first read is its baseline; what comes after is news.
	eventually.True(t, "the history's baseline", func() bool {
		_, err := os.Stat(filepath.Join(r.cfg.StateDir, "history-home.json"))
		return err == nil
	})
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/event", func(p string) bool {
		return strings.Contains(p, `"type":"door_open"`) && strings.Contains(p, `"source":"history"`)
	})

	h := startDaemon(t, "    notifications: history\n")
	h.w.WaitFor(t, "g90/"+h.guid+"/history_alerts", mqtttest.Is("ON"))
}

// "Simulate alerts from history" beside working notifications no longer
// doubles events (issue 16.1): a door opening is one door_open on MQTT,
// and the journal's entry has both sources once the history replayed it.
func TestServeHistoryBesideNotifications(t *testing.T) {
	r := startDaemon(t, "    history_interval: 1s\n")
	base := "g90/" + r.guid
	r.w.WaitFor(t, base+"/history_alerts", mqtttest.Is("OFF"))
	r.w.Publish(t, base+"/history_alerts/set", "ON")
	r.w.WaitFor(t, base+"/history_alerts", mqtttest.Is("ON"))
	eventually.True(t, "the history's baseline", func() bool {
		_, err := os.Stat(filepath.Join(r.cfg.StateDir, "history-home.json"))
		return err == nil
	})
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/event", func(p string) bool { return strings.Contains(p, `"type":"door_open"`) })
	// The history is read every second: give it a few to replay the
	// opening, then a door closing as a marker behind it.
	time.Sleep(3 * time.Second)
	if _, err := r.sim.Inject(sim.Injection{Event: "door_close", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/event", func(p string) bool { return strings.Contains(p, `"type":"door_close"`) })
	opens := 0
	for _, m := range r.w.All(base + "/event") {
		if strings.Contains(m.Payload, `"type":"door_open"`) {
			opens++
		}
	}
	if opens != 1 {
		t.Fatalf("%d door_open events on MQTT, want 1", opens)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	var open []event.Event
	for _, e := range r.journal(t) {
		ev, err := e.Event()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == event.DoorOpen {
			open = append(open, ev)
		}
	}
	if len(open) != 1 || open[0].Sources != event.SourcesOf(event.SourceLocal, event.SourceHistory) {
		t.Fatalf("journal door_open events %+v, want one from local and history", open)
	}
}

// One PIN guard per panel: wrong PINs over MQTT lock the web UI out too,
// Wrong PINs lock out the source that gave them: MQTT (all of it: the
// broker cannot tell its clients apart) or one web client.
func TestServePINLockoutPerSource(t *testing.T) {
	r := startDaemon(t, "    notifications: local\n    pin: \"4321\"\n")
	base := "g90/" + r.guid
	arm := func(pin string) int {
		t.Helper()
		res, err := http.Post(strings.TrimSuffix(r.ep.Web, "/")+"/api/panels/home/arm", "application/json", strings.NewReader(`{"mode":"away","pin":"`+pin+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// Five wrong PINs over MQTT lock MQTT out: the right one is refused.
	for i := range 5 {
		r.w.Publish(t, base+"/alarm/set", fmt.Sprintf(`{"action":"ARM_AWAY","code":"%d"}`, 1000+i))
	}
	r.w.Publish(t, base+"/alarm/set", `{"action":"ARM_AWAY","code":"4321"}`)
	eventually.True(t, "six refusals", func() bool {
		return strings.Contains(r.get(t, "/metrics"), `g90_mqtt_commands_total{result="rejected"} 6`)
	})
	if r.sim.Snapshot().Arm != protocol.Disarmed {
		t.Fatal("armed over MQTT during its lockout")
	}
	// The owner on the web UI is another source: not locked out.
	if st := arm("4321"); st != http.StatusOK {
		t.Fatalf("the right PIN on the web UI while MQTT is locked out: %d", st)
	}
	eventually.True(t, "armed from the web UI", func() bool { return r.sim.Snapshot().Arm == protocol.ArmAway })
	// Five wrong ones from this web client lock it out too.
	for range 5 {
		if st := arm("0000"); st != http.StatusForbidden {
			t.Fatalf("a wrong PIN: %d", st)
		}
	}
	if st := arm("4321"); st != http.StatusTooManyRequests {
		t.Fatalf("the right PIN after five wrong ones from the same client: %d", st)
	}
}

// A reload does not forgive wrong PINs: the guard of an unchanged PIN
// lives on across SIGHUP.
func TestServePINLockoutSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	s := simtest.Start(t, sim.Config{Seed: 1})
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\npanels:\n  - name: home\n    host: 127.0.0.1\n    port: %d\n    notifications: none\n    pin: \"4321\"\n",
		dir, s.Addr().(*net.UDPAddr).Port)
	load := func() (*daemon.Config, error) { return daemon.ParseConfig("g90.yaml", []byte(yaml), nil) }
	reload := make(chan struct{})
	started := make(chan daemon.Endpoints, 2)
	testrig.Serve(t, func(ctx context.Context) error {
		return daemon.Serve(ctx, load, reload, daemon.Options{Started: func(ep daemon.Endpoints) { started <- ep }})
	})
	arm := func(ep daemon.Endpoints, pin string) int {
		t.Helper()
		res, err := http.Post(strings.TrimSuffix(ep.Web, "/")+"/api/panels/home/arm", "application/json", strings.NewReader(`{"mode":"away","pin":"`+pin+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	ep := <-started
	for range 5 {
		arm(ep, "0000")
	}
	reload <- struct{}{}
	select {
	case ep = <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no restart")
	}
	if st := arm(ep, "4321"); st != http.StatusTooManyRequests {
		t.Fatalf("the right PIN right after a reload that followed five wrong ones: %d, want 429", st)
	}
}

// A panel that stops answering goes offline on MQTT, and online again
// when it answers.
func TestServePanelAvailability(t *testing.T) {
	r := startDaemon(t, "    notifications: none\n")
	base := "g90/" + r.guid
	r.sim.SetFaults(sim.Faults{Silent: true})
	r.w.WaitFor(t, base+"/availability", mqtttest.Is("offline"))
	r.sim.SetFaults(sim.Faults{})
	r.w.WaitFor(t, base+"/availability", mqtttest.Is("online"))
}

// The daemon's errors at start name the config key: a port in use.
func TestServeStartErrors(t *testing.T) {
	leaktest.Check(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for _, tc := range []struct{ name, yaml, want string }{
		{"broker port in use", "mqtt:\n  listen: " + busy.Addr().String() + "\n", "mqtt.listen: embedded broker"},
		{"web port in use", "mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: " + busy.Addr().String() + "\n", "web.listen:"},
		{"cloud port in use", "mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\ncloud:\n  listen: " + busy.Addr().String() + "\n", "cloud.listen:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := tc.yaml + "state_dir: " + dir + "\npanels:\n  - host: 127.0.0.1\n    notifications: none\n"
			cfg, err := daemon.ParseConfig("g90.yaml", []byte(yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = daemon.Run(context.Background(), cfg, daemon.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error with %q", err, tc.want)
			}
		})
	}
	// A state directory that cannot be made.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := daemon.ParseConfig("g90.yaml", []byte("state_dir: "+file+"/sub\npanels:\n  - host: 127.0.0.1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Run(context.Background(), cfg, daemon.Options{}); err == nil || !strings.Contains(err.Error(), "state_dir") {
		t.Fatalf("Run: %v, want a state_dir error", err)
	}
}

// Two daemons on one state_dir: the second refuses to start, naming the
// first one's process, and the first runs on; once the first has
// stopped, the directory is free.
func TestServeStateDirLocked(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	cfg, err := daemon.ParseConfig("g90.yaml", []byte("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: "+dir+"\npanels:\n  - host: 127.0.0.1\n    notifications: none\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, stop := daemontest.Run(t, cfg, daemon.Options{})
	err = daemon.Run(context.Background(), cfg, daemon.Options{})
	if !errors.Is(err, daemon.ErrStateDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("a second daemon on the same state_dir: %v, want ErrStateDirInUse naming pid %d", err, os.Getpid())
	}
	if err := stop(); err != nil {
		t.Fatalf("the first daemon: %v", err)
	}
	_, stop = daemontest.Run(t, cfg, daemon.Options{}) // fails the test if the lock stayed
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// SIGHUP's reload: a valid new config replaces the running daemon (here
// a new topic prefix), an invalid one is logged and changes nothing.
func TestServeReload(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	s := simtest.Start(t, sim.Config{Seed: 1})
	guid := s.Snapshot().Host.GUID
	// A fixed broker address, so the watcher outlives the restart.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerAddr := probe.Addr().String()
	probe.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	configs := []string{"first", "broken", "busy", "second"}
	var mu sync.Mutex
	load := func() (*daemon.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		name := configs[0]
		if len(configs) > 1 {
			configs = configs[1:]
		}
		if name == "broken" {
			return nil, fmt.Errorf("g90.yaml:1: mqtt.url: broken on purpose")
		}
		web := "127.0.0.1:0"
		if name == "busy" {
			web = busy.Addr().String() // valid, but it cannot start
		}
		yaml := fmt.Sprintf("mqtt:\n  listen: %s\n  topic_prefix: %s\nweb:\n  listen: %s\nstate_dir: %s\npanels:\n  - host: 127.0.0.1\n    port: %d\n    notifications: none\n",
			brokerAddr, name, web, dir, s.Addr().(*net.UDPAddr).Port)
		return daemon.ParseConfig("g90.yaml", []byte(yaml), nil)
	}
	var logs lockedbuf.Buffer
	reload := make(chan struct{})
	started := make(chan daemon.Endpoints, 3)
	ended := make(chan struct{})
	stop := testrig.Serve(t, func(ctx context.Context) error {
		defer close(ended)
		return daemon.Serve(ctx, load, reload, daemon.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Started: func(ep daemon.Endpoints) { started <- ep }})
	})
	<-started
	w := mqtttest.Watch(t, brokerAddr, "#")
	w.WaitFor(t, "first/"+guid+"/availability", mqtttest.Is("online"))
	reload <- struct{}{} // broken: nothing changes
	eventually.True(t, "the reload error logged", func() bool { return strings.Contains(logs.String(), "broken on purpose") })
	reload <- struct{}{} // busy: it does not start, and the first one runs again
	select {
	case <-started:
	case <-ended:
		t.Fatalf("daemon.Serve ended on a config that could not start: %v", stop())
	case <-time.After(20 * time.Second):
		t.Fatal("no restart with the config that ran")
	}
	if !strings.Contains(logs.String(), "the new config did not start") || !strings.Contains(logs.String(), "web.listen") {
		t.Errorf("the failed reload is not explained:\n%s", logs.String())
	}
	w1 := mqtttest.Watch(t, brokerAddr, "first/"+guid+"/availability")
	w1.WaitFor(t, "first/"+guid+"/availability", mqtttest.Is("online"))
	reload <- struct{}{} // second
	select {
	case <-started:
	case <-ended:
		t.Fatalf("daemon.Serve ended: %v", stop())
	case <-time.After(20 * time.Second):
		t.Fatal("no restart")
	}
	w2 := mqtttest.Watch(t, brokerAddr, "#")
	w2.WaitFor(t, "second/"+guid+"/availability", mqtttest.Is("online"))
}

// A cloud panel: the simulator connects to the daemon's cloud server as a
// panel does to the vendor's, and a door it opens arrives on MQTT with
// source cloud.
func TestServeCloudPanel(t *testing.T) {
	r := startDaemonSim(t, "    notifications: cloud\ncloud:\n  listen: 127.0.0.1:0\n", true)
	one := 1
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	base := "g90/" + r.guid
	eventually.True(t, "the cloud event on MQTT", func() bool {
		for _, m := range r.w.All(base + "/event") {
			if strings.Contains(m.Payload, `"source":"cloud","type":"door_open"`) {
				return true
			}
		}
		return false
	})
	r.w.WaitFor(t, base+"/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })
	if m := r.get(t, "/metrics"); !strings.Contains(m, "g90_cloud_connections_open 1") || !strings.Contains(m, "g90_cloud_unrouted_total 0") {
		t.Errorf("/metrics: the cloud connection or unrouted messages:\n%s", m)
	}

	// A second address claiming the panel shows in Home Assistant as a
	// problem, with where it came from.
	disc := r.w.WaitFor(t, "homeassistant/device/g90_"+strings.ToLower(r.guid)+"/config", func(p string) bool { return strings.Contains(p, "cloud_conflict") })
	if !strings.Contains(disc, `"device_class":"problem"`) {
		t.Errorf("the cloud conflict entity: %.300s", disc)
	}
	r.w.WaitFor(t, base+"/cloud_conflict", mqtttest.Is("OFF"))
	claim, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).Dial("tcp", r.ep.Cloud)
	if err != nil {
		t.Fatal(err)
	}
	defer claim.Close()
	hello := cloudproto.Message{Kind: cloudproto.KindHello, Header: cloudproto.KindHello.Header(), Hello: cloudproto.Hello{GUID: r.guid, FirmwareVersion: "207"}}
	if _, err := claim.Write(hello.Append(nil)); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/cloud_conflict", mqtttest.Is("ON"))
	r.w.WaitFor(t, base+"/cloud_conflict/attributes", func(p string) bool { return strings.Contains(p, `"other_address":"127.0.0.2:`) })
}

// A burst from a cloud panel faster than the consumers take it loses
// nothing (issue 13.12: 768 of a 10,000-message burst were lost on the
// way to MQTT, and 3,478 by the journal): every event reaches MQTT and
// the journal with the same numbers, 1, 2, 3, … and every drop counter
// is 0. The burst outruns the queues (the MQTT consumer's holds 16,384
// events), so TCP backpressure is what keeps it whole.
func TestServeCloudBurstNothingLost(t *testing.T) {
	const injections = 10_000 // door open, close, …: two events each
	r := startDaemonSim(t, "    notifications: cloud\ncloud:\n  listen: 127.0.0.1:0\njournal:\n  flood_burst: -1\n", true)
	base := "g90/" + r.guid
	one := 1
	// The cloud panel is routed once the daemon has read its GUID.
	eventually.True(t, "the first cloud event", func() bool {
		if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
			t.Fatal(err)
		}
		for _, m := range r.w.All(base + "/event") {
			if strings.Contains(m.Payload, `"source":"cloud"`) {
				return true
			}
		}
		return false
	})
	for i := range injections {
		ev := "door_close"
		if i%2 == 1 {
			ev = "door_open"
		}
		if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
			t.Fatal(err)
		}
	}
	var onMQTT []uint64
	eventually.NoErrorWithin(t, 2*time.Minute, fmt.Sprintf("the %d cloud door events on MQTT", injections), func() error {
		msgs := r.w.All(base + "/event")
		if len(msgs) < injections { // too few to hold them: not worth decoding
			return fmt.Errorf("%d events on MQTT", len(msgs))
		}
		onMQTT = onMQTT[:0]
		cloudDoors := 0
		for _, m := range msgs {
			var ev struct {
				Source, Type string
				Seq          uint64
			}
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				t.Fatal(err)
			}
			onMQTT = append(onMQTT, ev.Seq)
			if ev.Source == "cloud" && (ev.Type == "door_open" || ev.Type == "door_close") {
				cloudDoors++
			}
		}
		if cloudDoors < injections {
			return fmt.Errorf("%d of them reached MQTT", cloudDoors)
		}
		return nil
	})
	for i, s := range onMQTT {
		if s != uint64(i+1) {
			t.Fatalf("MQTT event %d has seq %d: a gap or a repeat", i, s)
		}
	}
	metrics := r.get(t, "/metrics")
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "g90_subscriber_dropped_total") || strings.HasPrefix(line, "g90_monitor_dropped_total") || strings.HasPrefix(line, "g90_cloud_dropped_total") {
			if !strings.HasSuffix(line, " 0") {
				t.Errorf("a drop: %s", line)
			}
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	var inJournal []uint64
	for _, e := range r.journal(t) {
		inJournal = append(inJournal, e.Seq)
	}
	if !slices.Equal(inJournal[:min(len(inJournal), len(onMQTT))], onMQTT) || len(inJournal) < len(onMQTT) {
		t.Fatalf("the journal has %d events, MQTT %d; they differ", len(inJournal), len(onMQTT))
	}
}

// One cloud server, two panels: one chained to the vendor's cloud, one
// not. Both panels' events arrive; the vendor hears from the chained one
// only.
func TestServeCloudAndChainedPanels(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	vendorSaw := map[string]bool{}
	vendor, err := sim.NewVendorCloud(sim.VendorCloudConfig{OnMessage: func(_ int, raw []byte) {
		m, err := cloudproto.Decode(raw)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if m.Kind == cloudproto.KindHello || m.Kind == cloudproto.KindDiscovery {
			vendorSaw[m.Hello.GUID] = true
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, vendor.Serve)

	dir := t.TempDir()
	guids := []string{"CHAINED00001", "STANDALONE01"}
	conns := make([]net.PacketConn, 2)
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\ncloud:\n  listen: 127.0.0.1:0\n  upstream: %s\npanels:\n", dir, vendor.Addr())
	for i, kind := range []string{"chained", "cloud"} {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		yaml += fmt.Sprintf("  - name: p%d\n    host: 127.0.0.1\n    port: %d\n    notifications: %s\n", i, c.LocalAddr().(*net.UDPAddr).Port, kind)
	}
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := daemontest.Run(t, cfg, daemon.Options{Timeout: 500 * time.Millisecond})
	sims := make([]*sim.Panel, 2)
	for i, g := range guids {
		st := sim.DefaultState()
		st.Host.GUID = g
		sims[i] = simtest.Start(t, sim.Config{PacketConn: conns[i], State: &st, Seed: 1, Cloud: sim.CloudConfig{Addr: ep.Cloud, HelloInterval: 200 * time.Millisecond}})
	}
	w := mqtttest.Watch(t, strings.TrimPrefix(ep.MQTT, "mqtt://"), "#")
	one := 1
	for i, g := range guids {
		w.WaitFor(t, "g90/"+g+"/availability", mqtttest.Is("online"))
		// The hub routes a panel once its source has read the GUID;
		// open the door until the event shows.
		eventually.True(t, g+"'s cloud event", func() bool {
			for _, m := range w.All("g90/" + g + "/event") {
				if strings.Contains(m.Payload, `"source":"cloud","type":"door_open"`) {
					return true
				}
			}
			_, err := sims[i].Inject(sim.Injection{Event: "door_open", Sensor: &one})
			return err != nil
		})
	}
	// A chained panel is relayed once its source has read its GUID: its
	// next hello reaches the vendor.
	eventually.True(t, "the chained panel's hello at the vendor", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return vendorSaw[guids[0]]
	})
	mu.Lock()
	if vendorSaw[guids[1]] {
		t.Fatalf("the vendor saw %v, want the chained panel %s only", vendorSaw, guids[0])
	}
	mu.Unlock()
	// The chained panel's notifications entity says when the vendor
	// last answered for it (issue 15.8); the other's has none.
	w.WaitFor(t, "g90/"+guids[0]+"/notifications/attributes", func(p string) bool { return strings.Contains(p, `"last_upstream_packet":"20`) })
	if p, _ := w.Get("g90/" + guids[1] + "/notifications/attributes"); !strings.Contains(p, `"last_upstream_packet":null`) {
		t.Errorf("the standalone panel's notifications attributes: %s", p)
	}
}

// The web server's limits: a request body that trickles is cut off, one
// address cannot hold more than its share of connections, and the live
// event stream lives on past the server's timeouts.
func TestServeWebLimits(t *testing.T) {
	daemon.ShortenWebLimits(t, 300*time.Millisecond, 4)
	r := startDaemonSim(t, "    notifications: local\n", false)
	addr := strings.TrimSuffix(strings.TrimPrefix(r.ep.Web, "http://"), "/")
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.ReadAll(c)
		var ne net.Error
		return err == nil || !(errors.As(err, &ne) && ne.Timeout())
	}

	// The stream first: it must survive what follows.
	stream, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	fmt.Fprintf(stream, "GET /api/events/stream HTTP/1.1\r\nHost: %s\r\n\r\n", addr)

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/panels/home/refresh HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\nx", addr)
	if !closedWithin(slow, 5*time.Second) {
		t.Error("a request whose body trickles kept its connection")
	}

	var idle []net.Conn
	for range 3 { // with the stream, the address's 4
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if !closedWithin(over, 2*time.Second) {
		t.Error("a 5th connection from one address was kept")
	}
	for _, c := range idle {
		if !closedWithin(c, 5*time.Second) {
			t.Error("a connection that sent nothing outlived the header timeout")
		}
	}
	if m := r.get(t, "/metrics"); !strings.Contains(m, "g90_web_connections_rejected_total 1\n") {
		t.Errorf("g90_web_connections_rejected_total is not 1:\n%s", m)
	}

	// Well past every timeout, an event still arrives on the stream.
	time.Sleep(time.Second)
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "door_open") {
		n, err := stream.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("the stream ended: %v after:\n%s", err, got.String())
		}
	}
}

// With panels[].transport: cloud, everything the daemon does with the
// panel goes over its cloud connection (M12 and M6, issue 18): its first
// read, the settings read for Home Assistant, arming and disarming, a
// relay, a verified settings write, a sensor renamed, a sensor and a
// relay registered, the history read, a reboot — with the simulator's UDP
// command port unreachable.
func TestServeCloudTransport(t *testing.T) {
	r := startDaemonSim(t, "    notifications: cloud\n    guid: SIMPANEL0001\n    transport: cloud\ncloud:\n  listen: 127.0.0.1:0\n", true)
	overTheCloud(t, r)
}

// The same chained to the vendor's cloud (sim.VendorCloud), which sends
// the panel its own commands all along: they reach the panel, their
// answers reach the vendor, and ours do not (issue 18.3).
func TestServeCloudTransportChained(t *testing.T) {
	var (
		mu      sync.Mutex
		answers = map[uint16]protocol.Code{}
		strange []string
	)
	vendor, err := sim.NewVendorCloud(sim.VendorCloudConfig{OnMessage: func(_ int, raw []byte) {
		m, err := cloudproto.Decode(raw)
		if err != nil || m.Kind != cloudproto.KindCommandResponse {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		resp, err := m.Reply()
		if _, dup := answers[m.Seq()]; dup || err != nil {
			strange = append(strange, fmt.Sprintf("seq %d: %v %v", m.Seq(), resp.Code, err))
		}
		answers[m.Seq()] = resp.Code
	}})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, vendor.Serve)
	r := startDaemonSim(t, fmt.Sprintf("    notifications: chained\n    guid: SIMPANEL0001\n    transport: cloud\ncloud:\n  listen: 127.0.0.1:0\n  upstream: %s\n", vendor.Addr()), true)

	// The vendor asks for the status, the sensors and the host info,
	// in turn, every 20 ms while the daemon's commands run.
	reqs := []protocol.Request{protocol.NewRequest(protocol.GetHostStatus), protocol.PageRequest(protocol.GetSensorList, 1, 10), protocol.NewRequest(protocol.GetHostInfo)}
	sent := map[uint16]protocol.Code{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			req := reqs[int(seq)%len(reqs)]
			m := cloudproto.CommandOf(seq, req)
			if vendor.Send(m.Append(nil)) == 1 {
				mu.Lock()
				sent[seq] = req.Code
				mu.Unlock()
			}
		}
	})
	overTheCloud(t, r)
	close(stop)
	wg.Wait()
	eventually.True(t, "the vendor's commands answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answers) >= len(sent)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(sent) < 10 {
		t.Errorf("only %d vendor commands sent", len(sent))
	}
	if diff := cmp.Diff(sent, answers); diff != "" || len(strange) > 0 {
		t.Errorf("the vendor's commands (-sent +answered):\n%s\n%q", diff, strange)
	}
}

// overTheCloud runs the daemon's functions with the simulator's command
// port unreachable (it takes nothing over UDP): arm, disarm, a relay, a
// setting, a sensor rename, a sensor and a relay registered, the history
// read and a reboot.
func overTheCloud(t *testing.T, r *daemonRig) {
	t.Helper()
	if err := r.sim.SetFaults(sim.Faults{Unreachable: true}); err != nil {
		t.Fatal(err)
	}
	base := "g90/" + r.guid
	r.w.WaitFor(t, base+"/arm_delay", mqtttest.Is("30"))

	r.w.Publish(t, base+"/alarm/set", "ARM_AWAY")
	r.w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_away"))
	if got := r.sim.Snapshot().Arm; got != protocol.ArmAway {
		t.Fatalf("panel arm state %v, want away", got)
	}
	r.w.Publish(t, base+"/alarm/set", "DISARM")
	r.w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))
	r.w.Publish(t, base+"/relay/3/0/set", "ON")
	eventually.True(t, "the relay switched on", func() bool { return r.sim.Snapshot().Relays[3][0] })
	r.w.Publish(t, base+"/alarm_siren_duration/set", "120")
	r.w.WaitFor(t, base+"/alarm_siren_duration", mqtttest.Is("120"))
	if got := r.sim.Snapshot().HostConfig.AlarmSirenDuration; got != 120 {
		t.Errorf("siren duration %d on the panel, want 120", got)
	}

	// Sensor management: a rename, a registration (the simulator's
	// learn mode, then the sensor transmitting), a relay registered.
	r.w.Publish(t, base+"/sensor/2/name/set", "Patio door")
	r.w.WaitFor(t, base+"/sensor/2/name", mqtttest.Is("Patio door"))
	r.w.WaitFor(t, base+"/registration", mqtttest.Is("idle"))
	r.w.Publish(t, base+"/new_sensor_type/set", "Door Sensor: WRDS01")
	r.w.Publish(t, base+"/new_sensor_name/set", "Shed door")
	r.w.WaitFor(t, base+"/new_sensor_name", mqtttest.Is("Shed door"))
	r.w.WaitFor(t, base+"/new_sensor_type", mqtttest.Is("Door Sensor: WRDS01"))
	r.w.Publish(t, base+"/register_sensor/set", "PRESS")
	eventually.True(t, "the simulator learning", func() bool { return r.sim.Snapshot().PendingSensor != nil })
	if _, err := r.sim.Inject(sim.Injection{Event: "learn", Type: "Door Sensor: WRDS01"}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"/registration", mqtttest.Is("registered"))
	r.w.Publish(t, base+"/new_relay_type/set", "Socket: S07")
	r.w.Publish(t, base+"/new_relay_name/set", "Lamp")
	r.w.WaitFor(t, base+"/new_relay_name", mqtttest.Is("Lamp"))
	r.w.Publish(t, base+"/register_relay/set", "PRESS")
	eventually.True(t, "the relay registered", func() bool {
		snap := r.sim.Snapshot()
		return snap.Devices[len(snap.Devices)-1].Name == "Lamp"
	})
	// The panel's history, read by the history poller (its baseline is
	// its first read of the history pages).
	r.w.Publish(t, base+"/history_alerts/set", "ON")
	eventually.True(t, "the history read over the cloud", func() bool {
		_, err := os.Stat(filepath.Join(r.cfg.StateDir, "history-home.json"))
		return err == nil
	})
	snap := r.sim.Snapshot()
	if snap.Sensors[1].Name != "Patio door" || snap.Sensors[len(snap.Sensors)-1].Name != "Shed door" {
		t.Errorf("sensors on the panel: %q, %q", snap.Sensors[1].Name, snap.Sensors[len(snap.Sensors)-1].Name)
	}

	if api := r.get(t, "/api/panels"); !strings.Contains(api, `"transport":"cloud"`) {
		t.Errorf("/api/panels does not say the commands go over the cloud: %.300s", api)
	}
	metrics := strings.TrimSuffix(r.ep.Web, "/") + "/metrics"
	m := testrig.Scrape(t, metrics)
	if m[`g90_panel_transport{panel="home",transport="cloud"}`] != 1 {
		t.Errorf("g90_panel_transport: %v", m[`g90_panel_transport{panel="home",transport="cloud"}`])
	}
	// Every command answered, or timed out on a loaded machine (the
	// rig's timeout is 500 ms); a poll may be on its way at a scrape.
	eventually.NoError(t, "every cloud command answered", func() error {
		m := testrig.Scrape(t, metrics)
		sent, answered, timeouts := m["g90_cloud_commands_total"], m["g90_cloud_command_answers_total"], m["g90_cloud_command_timeouts_total"]
		if sent < 5 || answered+timeouts != sent || timeouts > sent/10 {
			return fmt.Errorf("cloud commands: %v sent, %v answered, %v timed out", sent, answered, timeouts)
		}
		return nil
	})

	// A reboot, which the panel does not answer (spec: local-protocol.md
	// 5): its three module reboots go over the cloud too.
	before := testrig.Scrape(t, metrics)["g90_cloud_commands_total"]
	r.w.Publish(t, base+"/reboot/set", "PRESS")
	eventually.True(t, "the panel rebooted", func() bool { return r.sim.Snapshot().Reboots.WiFi > 0 })
	if st := r.sim.Snapshot().Reboots; st.MCU != 1 || st.GSM != 1 {
		t.Errorf("reboots %+v: want each module once", st)
	}
	if after := testrig.Scrape(t, metrics)["g90_cloud_commands_total"]; after < before+3 {
		t.Errorf("%v cloud commands for the reboot, want its 3", after-before)
	}
}

// With panels[].transport: auto, commands go over UDP while the panel
// answers there, over its cloud connection once UDP stops answering,
// and back to UDP when it answers again (issue 18.5).
func TestServeAutoTransport(t *testing.T) {
	r := startDaemonSim(t, "    notifications: cloud\n    guid: SIMPANEL0001\n    transport: auto\ncloud:\n  listen: 127.0.0.1:0\n", true)
	base := "g90/" + r.guid
	metrics := strings.TrimSuffix(r.ep.Web, "/") + "/metrics"
	transport := func(want string) func() error {
		return func() error {
			m := testrig.Scrape(t, metrics)
			if m[`g90_panel_transport{panel="home",transport="`+want+`"}`] != 1 {
				return fmt.Errorf("not %s: cloud commands %v", want, m["g90_cloud_commands_total"])
			}
			return nil
		}
	}
	eventually.NoError(t, "commands over UDP", transport("local"))
	if m := testrig.Scrape(t, metrics); m["g90_cloud_commands_total"] != 0 {
		t.Errorf("%v commands over the cloud while UDP answers", m["g90_cloud_commands_total"])
	}

	if err := r.sim.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, "commands over the cloud once UDP is silent", transport("cloud"))
	r.w.Publish(t, base+"/alarm/set", "ARM_AWAY")
	r.w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_away"))
	if got := r.sim.Snapshot().Arm; got != protocol.ArmAway {
		t.Fatalf("panel arm state %v, want away", got)
	}

	if err := r.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, "commands over UDP again", transport("local"))
}

// A panel reachable only through its cloud connection needs no host:
// transport cloud and its guid are enough.
func TestServeCloudOnlyPanel(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\ncloud:\n  listen: 127.0.0.1:0\npanels:\n  - notifications: cloud\n    guid: SIMPANEL0001\n    transport: cloud\n    poll: 1s\n", dir)
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Panels[0].Name != "SIMPANEL0001" {
		t.Errorf("name %q, want the GUID", cfg.Panels[0].Name)
	}
	ep, _ := daemontest.Run(t, cfg, daemon.Options{Timeout: 500 * time.Millisecond})
	s := simtest.Start(t, sim.Config{Seed: 1, Cloud: sim.CloudConfig{Addr: ep.Cloud}})
	if err := s.SetFaults(sim.Faults{Unreachable: true}); err != nil {
		t.Fatal(err)
	}
	w := mqtttest.Watch(t, strings.TrimPrefix(ep.MQTT, "mqtt://"), "#")
	base := "g90/SIMPANEL0001"
	w.WaitFor(t, base+"/availability", mqtttest.Is("online"))
	w.Publish(t, base+"/alarm/set", "ARM_HOME")
	w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_home"))
	if got := s.Snapshot().Arm; got != protocol.ArmHome {
		t.Fatalf("panel arm state %v, want home", got)
	}
	// The web UI's commands and live state, and a door's event over the
	// cloud link.
	web := strings.TrimSuffix(ep.Web, "/")
	res, err := http.Post(web+"/api/panels/SIMPANEL0001/disarm", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || s.Snapshot().Arm != protocol.Disarmed {
		t.Fatalf("disarm from the web UI: %s, panel %v", res.Status, s.Snapshot().Arm)
	}
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, "the door open in the web UI's state", func() error {
		res, err := http.Get(web + "/api/panels/SIMPANEL0001/state")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var v struct {
			State g90.State `json:"state"`
		}
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			return err
		}
		for _, sn := range v.State.Sensors {
			if sn.Index == 1 && sn.Occupied && v.State.Transport == "cloud" {
				return nil
			}
		}
		return fmt.Errorf("state %+v", v.State)
	})
}

// A history entry moves the history cursor on disk only once its event
// is committed to the journal (issue 20.1): held in the journal's
// commit, the cursor stays; released, it moves. A crash in between
// replays the entry instead of losing it.
func TestServeHistoryCursorAfterJournal(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	s := simtest.Start(t, sim.Config{Seed: 1})
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\npanels:\n  - name: home\n    host: 127.0.0.1\n    port: %d\n    notifications: history\n    history_interval: 1s\n", dir, s.Addr().(*net.UDPAddr).Port)
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	hold, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	opt := daemon.Options{Timeout: 500 * time.Millisecond}
	daemon.OnJournalCommit(&opt, func(events []event.Event, _ time.Duration) {
		for _, ev := range events {
			if ev.Type == event.DoorOpen && ev.Source == event.SourceHistory {
				once.Do(func() { hold <- struct{}{}; <-release })
			}
		}
	})
	daemontest.Run(t, cfg, opt)
	file := filepath.Join(dir, "history-home.json")
	eventually.True(t, "the history's baseline", func() bool { _, err := os.Stat(file); return err == nil })
	baseline, _ := os.ReadFile(file)
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold:
	case <-time.After(20 * time.Second):
		t.Fatal("the door opening never reached the journal")
	}
	time.Sleep(2500 * time.Millisecond) // two more history reads
	if now, _ := os.ReadFile(file); string(now) != string(baseline) {
		close(release)
		t.Fatalf("the cursor moved before the journal stored the entry:\n%s", now)
	}
	close(release)
	eventually.True(t, "the cursor moved once stored", func() bool {
		now, _ := os.ReadFile(file)
		return string(now) != string(baseline)
	})
}
