package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/mqttlink"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// rig: a simulated panel with notifications into a Monitor, an embedded
// broker, and a running bridge.
type rig struct {
	sim *sim.Panel
	p   *g90.Panel // the Monitor's, through which the bridge commands
	// sent counts p's requests: those not reads are the bridge's commands.
	sent *simtest.Requests
	mon  *g90.Monitor
	// history is the monitor's second source, paused until its switch
	// turns it on.
	history *g90.HistoryPoller
	b       *Bridge
	broker  *broker.Broker
	w       *mqtttest.Watcher
	guid    string
	// stop stops the monitor and the bridge, and waits for them.
	stop func()
}

func startRig(t *testing.T, pin string) *rig {
	t.Helper()
	return startRigWith(t, pin, nil, nil)
}

// startRigWith is startRig with changes to the bridge's and the Monitor's
// Config, and to the simulated panel before the bridge starts.
func startRigWith(t *testing.T, pin string, change func(*Config, *g90.MonitorConfig), prepare func(*sim.Panel)) *rig {
	t.Helper()
	leaktest.Check(t)
	// Made first so that it is removed last, after the bridge stopped
	// writing its queue (cleanups run last in, first out).
	queueDir := t.TempDir()
	// The broker outlives the bridge, so that the bridge says goodbye.
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	l, err := notify.Listen(t.Context(), notify.ListenerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Notify: l.Addr().String(), Seed: 1})
	a := s.Addr().(*net.UDPAddr)
	if prepare != nil {
		prepare(s)
	}
	sent := new(simtest.Requests)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 500 * time.Millisecond, ListenPacket: sent.ListenPacket})
	if err != nil {
		t.Fatal(err)
	}
	history := p.NewHistoryPoller(g90.HistoryConfig{Interval: 50 * time.Millisecond, Paused: true})
	mcfg := g90.MonitorConfig{
		Name: "Home", PIN: pinguard.New(pin, nil),
		Sources: []g90.Source{l, history}, Poll: 200 * time.Millisecond, Config: true,
	}
	bcfg := Config{
		MQTT:              mqttlink.Config{URL: br.URL(), QueueDir: queueDir, ReconnectDelay: 50 * time.Millisecond},
		AvailabilityCheck: 20 * time.Millisecond, StateFile: filepath.Join(queueDir, "switches.json"),
	}
	if change != nil {
		change(&bcfg, &mcfg)
	}
	mon := p.NewMonitor(mcfg)
	bcfg.Panels = []*g90.Monitor{mon}
	b, err := New(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	w := mqtttest.Watch(t, br.Addr().String(), "#")
	stopMon := testrig.Serve(t, mon.Run)
	stopBridge := testrig.Serve(t, b.Run)
	stop := func() { _, _ = stopBridge(), stopMon() } // their errors fail the test at cleanup
	r := &rig{sim: s, p: p, sent: sent, mon: mon, history: history, b: b, broker: br, w: w, guid: "SIMPANEL0001", stop: stop}
	w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("disarmed"))
	return r
}

// Discovery: one device payload for the panel, one per sensor and one
// per relay, retained, with the conventions of spec home-assistant.md §3.
func TestDiscovery(t *testing.T) {
	r := startRig(t, "")
	snap := r.sim.Snapshot()
	panelTopic := "homeassistant/device/g90_simpanel0001/config"
	raw := r.w.WaitFor(t, panelTopic, func(string) bool { return true })
	var dp map[string]any
	if err := json.Unmarshal([]byte(raw), &dp); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"device", "origin", "availability", "availability_mode", "components"} {
		if dp[k] == nil {
			t.Errorf("panel payload lacks %q", k)
		}
	}
	comps := dp["components"].(map[string]any)
	alarm := comps["g90_simpanel0001_alarm"].(map[string]any)
	if alarm["platform"] != "alarm_control_panel" || alarm["default_entity_id"] == nil || alarm["object_id"] != nil {
		t.Errorf("alarm component %v", alarm)
	}
	if alarm["code_arm_required"] != false {
		t.Errorf("without a PIN no code may be required: %v", alarm)
	}

	for _, rec := range snap.Sensors {
		topic := "homeassistant/device/g90_simpanel0001_sensor_" + itoa(rec.Index) + "/config"
		raw := r.w.WaitFor(t, topic, func(string) bool { return true })
		var sp map[string]any
		if err := json.Unmarshal([]byte(raw), &sp); err != nil {
			t.Fatal(err)
		}
		dev := sp["device"].(map[string]any)
		if dev["via_device"] != "g90_simpanel0001" || dev["name"] != rec.Name {
			t.Errorf("sensor %d device %v", rec.Index, dev)
		}
	}
	for _, rec := range snap.Devices {
		topic := "homeassistant/device/g90_simpanel0001_relay_" + itoa(rec.Index) + "/config"
		raw := r.w.WaitFor(t, topic, func(string) bool { return true })
		var rp struct{ Components map[string]map[string]any }
		if err := json.Unmarshal([]byte(raw), &rp); err != nil {
			t.Fatal(err)
		}
		switches := 0
		for _, c := range rp.Components {
			if c["platform"] == "switch" {
				switches++
			}
		}
		if switches != rec.NodeCount {
			t.Errorf("relay %d has %d switches, want %d", rec.Index, switches, rec.NodeCount)
		}
	}
	// A subscriber that comes later gets the payload from the broker,
	// flagged retained.
	late := mqtttest.Watch(t, r.broker.Addr().String(), "homeassistant/#")
	late.WaitFor(t, panelTopic, func(string) bool { return true })
	if ms := late.All(panelTopic); len(ms) == 0 || !ms[0].Retained {
		t.Fatal("the panel's discovery is not retained")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// An event on the panel: the event topic gets it with a sequence number,
// once (its notification and alert are merged, issue 16.1), the sensor's
// state topic changes.
func TestEventsAndStates(t *testing.T) {
	r := startRig(t, "")
	one := 1
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	st := r.w.WaitFor(t, "g90/SIMPANEL0001/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })
	if !strings.Contains(st, `"name":"Front door"`) {
		t.Fatalf("sensor state %s", st)
	}
	r.w.WaitFor(t, "g90/SIMPANEL0001/event", func(p string) bool { return strings.Contains(p, `"type":"door_open"`) })
	// A door closing after it: had anything come twice, it would be
	// between.
	if _, err := r.sim.Inject(sim.Injection{Event: "door_close", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, "g90/SIMPANEL0001/event", func(p string) bool { return strings.Contains(p, `"type":"door_close"`) })
	evs := r.w.All("g90/SIMPANEL0001/event")
	want := []string{"sensor_activity", "door_open", "sensor_activity", "door_close"}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %v", len(evs), want)
	}
	for i, m := range evs {
		var ev map[string]any
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["seq"] != float64(i+1) || ev["panel"] != "SIMPANEL0001" || ev["type"] != want[i] || m.Retained {
			t.Fatalf("event %d: %s (retained %v), want %s", i, m.Payload, m.Retained, want[i])
		}
		if srcs, _ := ev["sources"].([]any); len(srcs) != 1 || srcs[0] != "local" {
			t.Fatalf("event %d: sources %v", i, ev["sources"])
		}
	}
}

// Commands: arming from MQTT reaches the panel and shows at once; a wrong
// PIN or a bad payload sends nothing; relays switch and report.
func TestCommands(t *testing.T) {
	r := startRig(t, "4321")
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"ARM_AWAY","code":"0000"}`)
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `ARM_AWAY`)
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"DANCE","code":"4321"}`)
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"ARM_HOME","code":"4321"}`)
	r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("armed_home"))
	if got := r.sim.Snapshot().Arm; got != protocol.ArmHome {
		t.Fatalf("panel arm state %v, want home", got)
	}
	if st := r.b.Stats(); st.RejectedCommand != 3 || st.Commands != 1 {
		t.Fatalf("stats %+v: want 3 rejected (wrong PIN, no PIN, bad action), 1 done", st)
	}

	r.w.Publish(t, "g90/SIMPANEL0001/relay/6/2/set", "ON")
	r.w.WaitFor(t, "g90/SIMPANEL0001/relay/6/2", mqtttest.Is("ON"))
	if !r.sim.Snapshot().Relays[6][2] {
		t.Fatal("relay 6:2 not on in the simulator")
	}
	// Switched elsewhere (the web UI, the library, through the
	// monitor): published too, one fact for every consumer (issue 15.4).
	if err := r.mon.SetRelay(context.Background(), 6, 2, false); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, "g90/SIMPANEL0001/relay/6/2", mqtttest.Is("OFF"))
	r.w.Publish(t, "g90/SIMPANEL0001/relay/6/x/set", "ON")
	r.w.Publish(t, "g90/UNKNOWN/relay/6/1/set", "ON")
	waitStat(t, r.b, "5 commands rejected", func(s Stats) bool { return s.RejectedCommand == 5 })
}

// Guessing the PIN is slow: past five wrong ones in a row, the right one
// is refused too, and nothing reaches the panel.
//
// No code, right or wrong, is in the log (issue 15.10): not in a
// rejected command, not in one that does not parse.
func TestPINLockout(t *testing.T) {
	var logs lockedbuf.Buffer
	r := startRigWith(t, "4321", func(c *Config, _ *g90.MonitorConfig) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }, nil)
	for i := range 6 {
		r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"ARM_AWAY","code":"`+itoa(1000+i)+`"}`)
	}
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"ARM_AWAY","code":"4321"}`)
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", `{"action":"ARM_AWAY","Code":"4321"`)
	r.w.Publish(t, "g90/SIMPANEL0001/no_such/set", `{"code":"4321","action":"DISARM"}`)
	waitStat(t, r.b, "9 commands rejected", func(s Stats) bool { return s.RejectedCommand == 9 })
	if st := r.b.Stats(); st.Commands != 0 || r.sim.Snapshot().Arm != protocol.Disarmed {
		t.Fatalf("stats %+v, panel %v: the locked-out command went through", st, r.sim.Snapshot().Arm)
	}
	l := logs.String()
	for _, code := range []string{"4321", "1003", "1005"} {
		// As a number of its own: a port such as 43217 or a time is not
		// the code (a failure once).
		if regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`).MatchString(l) {
			t.Errorf("code %s in the log:\n%s", code, l)
		}
	}
	if n := strings.Count(l, "MQTT command ignored"); n != 9 || !strings.Contains(l, `payload="{\"action\":\"ARM_AWAY\",\"code\":\"(hidden)\"}"`) {
		t.Errorf("want 9 rejections, the code hidden:\n%s", l)
	}
}

func TestShownPayload(t *testing.T) {
	for _, c := range []struct {
		in     string
		secret bool
		want   string
	}{
		{"ARM_AWAY", false, "ARM_AWAY"},
		{"hunter2", true, "(hidden)"},
		{`{"action":"DISARM","code":"1234"}`, false, `{"action":"DISARM","code":"(hidden)"}`},
		{`{"CODE":"1234"}`, false, `{"CODE":"(hidden)"}`},
		{`{"code":"1234"`, false, "(14 bytes, not JSON)"},
		{strings.Repeat("x", 70), false, `"` + strings.Repeat("x", 64) + `"… (70 bytes)`},
	} {
		if got := shownPayload(c.in, c.secret); got != c.want {
			t.Errorf("shownPayload(%q, %v) = %q, want %q", c.in, c.secret, got, c.want)
		}
	}
}

// Home Assistant's birth message makes the bridge publish discovery and
// states again.
func TestBirthRepublishes(t *testing.T) {
	r := startRig(t, "")
	topic := "homeassistant/device/g90_simpanel0001/config"
	r.w.WaitFor(t, topic, func(string) bool { return true })
	before := len(r.w.All(topic))
	r.w.Publish(t, "homeassistant/status", "online")
	eventually.NoError(t, "a discovery after Home Assistant's birth message", func() error {
		if n := len(r.w.All(topic)); n == before {
			return fmt.Errorf("%d discovery messages, as before it", n)
		}
		return nil
	})
}

// A panel that stops answering goes offline, and online again when it is
// back.
func TestPanelAvailability(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, "g90/SIMPANEL0001/availability", mqtttest.Is("online"))
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	if err := r.sim.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, "g90/SIMPANEL0001/availability", mqtttest.Is("offline"))
	if err := r.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, "g90/SIMPANEL0001/availability", mqtttest.Is("online"))
}

// A sensor added on the panel appears in Home Assistant, one removed
// disappears (an empty retained discovery payload), without a restart.
func TestSensorListChanges(t *testing.T) {
	r := startRig(t, "")
	st := r.sim.Snapshot()
	gone := st.Sensors[1].Index
	rec := st.Sensors[0]
	rec.Index, rec.Name = 60, "Garage door"
	st.Sensors = append(st.Sensors[:1], st.Sensors[2:]...)
	st.Sensors = append(st.Sensors, rec)
	if err := r.sim.SetState(st); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, "homeassistant/device/g90_simpanel0001_sensor_60/config", func(p string) bool { return strings.Contains(p, "Garage door") })
	r.w.WaitFor(t, "homeassistant/device/g90_simpanel0001_sensor_"+itoa(gone)+"/config", mqtttest.Is(""))
}

// waitStat waits until ok holds for the bridge's counters, and fails
// naming what and the counters seen.
func waitStat(t *testing.T, b *Bridge, what string, ok func(Stats) bool) {
	t.Helper()
	eventually.NoError(t, what, func() error {
		if st := b.Stats(); !ok(st) {
			return fmt.Errorf("stats %+v, queue depth %d, connected %v", st, b.QueueDepth(), b.Connected())
		}
		return nil
	})
}

// A bridge that stops leaves its status offline: the broker publishes
// its will, as the disconnect asks.
func TestOfflineOnStop(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	r.stop()
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
	late := mqtttest.Watch(t, r.broker.Addr().String(), "g90/bridge/status")
	late.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
}

// checkSeqs fails unless the events' sequence numbers are 1, 2, 3, …
func checkSeqs(t *testing.T, evs []mqtttest.Msg) {
	t.Helper()
	for i, m := range evs {
		var ev struct{ Seq int }
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Seq != i+1 || m.Retained {
			t.Fatalf("event %d: %s (retained %v)", i, m.Payload, m.Retained)
		}
	}
}

// A lost connection: the bridge reconnects, the broker kept its session
// (a command sent while it was away arrives), and the queue sends what
// happened meanwhile, in order; the bridge's status is offline while it
// is away (its will) and online again after.
func TestReconnect(t *testing.T) {
	var cut *mqtttest.Cutter
	r := startRigWith(t, "", func(c *Config, _ *g90.MonitorConfig) {
		cut = mqtttest.StartCutter(t, strings.TrimPrefix(c.MQTT.URL, "mqtt://"))
		c.MQTT.URL = cut.URL()
	}, nil)
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	cut.SetDown(true)
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
	one := 1
	for _, ev := range []string{"door_open", "door_close", "door_open"} {
		if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
			t.Fatal(err)
		}
	}
	// A command sent while the bridge is away is not carried out late.
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", "ARM_HOME")
	waitStat(t, r.b, "the command queued while disconnected", func(Stats) bool { return r.b.QueueDepth() > 0 && !r.b.Connected() })
	cut.SetDown(false)
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	waitStat(t, r.b, "3 events on MQTT", func(Stats) bool { return len(r.w.All("g90/SIMPANEL0001/event")) >= 3 })
	checkSeqs(t, r.w.All("g90/SIMPANEL0001/event"))
	// One sent now is; a kept one would have come before it.
	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", "ARM_AWAY")
	r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("armed_away"))
	for _, m := range r.w.All("g90/SIMPANEL0001/alarm") {
		if m.Topic == "g90/SIMPANEL0001/alarm" && m.Payload == "armed_home" {
			t.Fatal("the command sent while away was carried out")
		}
	}
	if st := r.b.Stats(); st.Connects != 2 || st.Commands != 1 {
		t.Fatalf("stats %+v: want 2 connections, 1 command", st)
	}
	r.stop()
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
}

// A retained command is never carried out: not the one waiting in the
// broker when the bridge starts, nor at a reconnect. It is cleared, and
// logged once. One sent retained while the bridge is there comes as a
// plain message, is carried out once, and is cleared too: the broker
// keeps no command, and no PIN.
func TestRetainedCommands(t *testing.T) {
	var logs lockedbuf.Buffer
	const topic = "g90/SIMPANEL0001/alarm/set"
	r := startRigWith(t, "4321", func(c *Config, _ *g90.MonitorConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		w := mqtttest.Watch(t, strings.TrimPrefix(c.MQTT.URL, "mqtt://"), "nothing")
		w.PublishRetained(t, topic, `{"action":"ARM_AWAY","code":"4321"}`)
	}, nil)
	waitStat(t, r.b, "the retained command refused", func(s Stats) bool { return s.RetainedCommand == 1 })
	r.w.WaitFor(t, topic, mqtttest.Is(""))
	noRetained(t, r, topic)
	if st := r.b.Stats(); st.Commands != 0 || st.RejectedCommand != 0 || r.sim.Snapshot().Arm != protocol.Disarmed {
		t.Fatalf("stats %+v, panel %v: the retained command was carried out", st, r.sim.Snapshot().Arm)
	}

	r.w.PublishRetained(t, topic, `{"action":"ARM_HOME","code":"4321"}`)
	// The clearing goes out before the new state, in the same queue.
	r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("armed_home"))
	noRetained(t, r, topic)
	r.w.PublishRetained(t, topic, `{"action":"DISARM","code":"4321"}`)
	r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("disarmed"))
	noRetained(t, r, topic)
	if st := r.b.Stats(); st.RetainedCommand != 1 {
		t.Fatalf("stats %+v: the live retained commands counted as retained", st)
	}
	if n := strings.Count(logs.String(), "retained MQTT command ignored"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "4321") {
		t.Fatalf("the PIN is in the log:\n%s", logs.String())
	}
}

// noRetained fails if the broker keeps a message on topic: a new
// subscriber would get it at once.
func noRetained(t *testing.T, r *rig, topic string) {
	t.Helper()
	w := mqtttest.Watch(t, r.broker.Addr().String(), topic)
	time.Sleep(200 * time.Millisecond)
	if m := w.All(topic); len(m) != 0 {
		t.Fatalf("the broker keeps %+v", m)
	}
}

// A clearing is expected back once per sending, and not for ever.
func TestEchoes(t *testing.T) {
	var e echoes
	now := time.Now()
	if e.take("a", now) {
		t.Fatal("nothing expected, yet taken")
	}
	e.expect("a", now)
	e.expect("a", now)
	if !e.take("a", now) || !e.take("a", now.Add(time.Second)) || e.take("a", now) {
		t.Fatal("two expected: want two taken, then none")
	}
	e.expect("b", now)
	if e.take("b", now.Add(echoWait+time.Second)) {
		t.Fatal("taken after echoWait")
	}
	e.expect("c", now)
	e.expect("c", now.Add(2*echoWait)) // the first was lost
	if !e.take("c", now.Add(2*echoWait)) || e.take("c", now.Add(2*echoWait)) {
		t.Fatal("a lost clearing still counted")
	}
	for i := range 300 {
		e.expect(strconv.Itoa(i), now)
	}
	e.expect("late", now.Add(2*echoWait))
	if len(e) != 1 {
		t.Fatalf("%d entries kept, want the expired ones removed", len(e))
	}
}

// Home Assistant resets an alarm panel to unknown on "None" and refuses
// "unknown" (issue 15.5).
func TestAlarmStateUnknown(t *testing.T) {
	if got := alarmState(g90.State{}); got != "None" {
		t.Fatalf("unknown arm state published as %q", got)
	}
	if got := alarmState(g90.State{Arm: event.ArmHome}); got != "armed_home" {
		t.Fatalf("home: %q", got)
	}
}

// A rename made elsewhere (the vendor's app), which the Monitor learns
// by polling, with no event: the sensor's state shows the new name
// without waiting for the sensor to change (issue 15.3).
func TestRenameElsewherePublished(t *testing.T) {
	r := startRig(t, "")
	topic := "g90/SIMPANEL0001/sensor/" + itoa(r.sim.Snapshot().Sensors[0].Index)
	r.w.WaitFor(t, topic, func(p string) bool { return strings.Contains(p, `"name":"Front door"`) })
	st := r.sim.Snapshot()
	st.Sensors[0].Name = "Back door"
	if err := r.sim.SetState(st); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, topic, func(p string) bool { return strings.Contains(p, `"name":"Back door"`) })
}

// A message the queue cannot store is not counted as published: it is
// counted as a queue error, and logged (issue 13.15).
func TestQueueWriteErrorCounted(t *testing.T) {
	var logs lockedbuf.Buffer
	p, err := g90.New(g90.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{
		MQTT:   mqttlink.Config{URL: "mqtt://127.0.0.1:1", QueueDir: t.TempDir()},
		Panels: []*g90.Monitor{p.NewMonitor(g90.MonitorConfig{Config: true})}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.publish("a/b", []byte("kept"), false)
	if err := b.link.Close(); err != nil { // the file is gone from under the queue
		t.Fatal(err)
	}
	b.publish("a/b", []byte("lost"), false)
	if st := b.Stats(); st.Published != 1 || st.QueueErrors != 1 {
		t.Fatalf("stats %+v: want 1 published, 1 queue error", st)
	}
	if !strings.Contains(logs.String(), "cannot queue an MQTT message: it is lost") {
		t.Fatalf("not logged:\n%s", logs.String())
	}
}

// Each sensor's state, its main entity's attributes, carries the
// record's fields once the bridge has read them (issue 15.8).
func TestSensorAttributes(t *testing.T) {
	r := startRig(t, "")
	topic := "g90/SIMPANEL0001/sensor/" + itoa(r.sim.Snapshot().Sensors[0].Index)
	p := r.w.WaitFor(t, topic, func(p string) bool { return strings.Contains(p, `"protocol"`) })
	var got map[string]any
	if err := json.Unmarshal([]byte(p), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"index", "name", "type", "definition", "subtype", "protocol", "wireless", "flags", "alert_mode", "enabled"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, p)
		}
	}
	if got["protocol"] != "rf_2262" || got["wireless"] != true || got["definition"] != "Door Sensor: WDS07" {
		t.Errorf("front door: %s", p)
	}
}
