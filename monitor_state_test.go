package g90

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// A relay switched through the Monitor is one fact for everyone: the
// panel switched, a relay_switched event to every subscriber, and On in
// the state (issue 15.4).
func TestMonitorSetRelay(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	st := r.mon.State()
	if len(st.Devices) == 0 {
		t.Fatal("the simulator has no devices")
	}
	d := st.Devices[0]
	if d.On != nil {
		t.Fatalf("relay state %v before any switch, want unknown", *d.On)
	}
	other := r.mon.Subscribe("other", 16)
	if err := r.mon.SetRelay(context.Background(), d.Index, d.Node, true); err != nil {
		t.Fatal(err)
	}
	if got := r.sim.Snapshot().Relays[d.Index][d.Node]; !got {
		t.Fatal("the panel's relay is off")
	}
	for _, sub := range []*Subscription{r.sub, other} {
		ev := next(t, sub)
		for ev.Type != event.RelaySwitched {
			ev = next(t, sub)
		}
		if ev.Source != event.SourceCommand || !ev.On || ev.Device == nil || ev.Device.Index != d.Index || ev.Device.Name != d.Name || ev.Seq == 0 {
			t.Fatalf("event %+v (device %+v)", ev, ev.Device)
		}
	}
	eventually.True(t, "On in the state", func() bool {
		on := r.mon.State().Devices[0].On
		return on != nil && *on
	})
	// A failed switch (no such relay on the panel) changes nothing.
	if err := r.mon.SetRelay(context.Background(), 99, 0, false); err == nil {
		t.Fatal("switching an absent relay did not fail")
	}
}

// stateRig runs a Monitor with a StateFile against s until stop.
// A listener runs once: only the first run gets l.
func stateRig(t *testing.T, s *sim.Panel, l *notify.Listener, file string, log *slog.Logger) (*Monitor, func()) {
	t.Helper()
	var sources []Source
	if l != nil {
		sources = append(sources, l)
	}
	mon := newPanel(t, s, 2*time.Second, 0).NewMonitor(MonitorConfig{Sources: sources, StateFile: file, Logger: log, ResetInterval: -1})
	stopRun := testrig.Serve(t, mon.Run)
	stop := func() {
		if err := stopRun(); err != nil {
			t.Fatal(err)
		}
	}
	<-mon.Ready()
	return mon, stop
}

// stateRigNoWait is stateRig without a listener, not waiting for Ready.
func stateRigNoWait(t *testing.T, s *sim.Panel, file string) (*Monitor, func()) {
	t.Helper()
	mon := newPanel(t, s, 300*time.Millisecond, -1).NewMonitor(MonitorConfig{StateFile: file, ResetInterval: -1})
	stopRun := testrig.Serve(t, mon.Run)
	return mon, func() {
		if err := stopRun(); err != nil {
			t.Fatal(err)
		}
	}
}

// After a restart the sensors' tamper, low battery, open-when-arming and
// door-open flags and the relays' last states are what they were (issue
// 15.9): the StateFile keeps them; a damaged one is logged and ignored;
// another panel's is not applied.
func TestMonitorStateFile(t *testing.T) {
	ctx := context.Background()
	l, err := notify.Listen(ctx, notify.ListenerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := simtest.Start(t, sim.Config{Notify: l.Addr().String(), Seed: 1})
	file := filepath.Join(t.TempDir(), "state.json")

	mon, stop := stateRig(t, s, l, file, nil)
	sub := mon.Subscribe("test", 256)
	st := mon.State()
	door, pir := st.Sensors[0], st.Sensors[1]
	if door.TypeID != 1 {
		t.Fatalf("sensor 0 is not a door: %+v", door)
	}
	relay := st.Devices[0]
	inject(t, s, sim.Injection{Event: "door_open", Sensor: idx(door.Index)})
	inject(t, s, sim.Injection{Event: "tamper", Sensor: idx(pir.Index)})
	inject(t, s, sim.Injection{Event: "low_battery", Sensor: idx(door.Index)})
	// The simulator sends its datagrams from a goroutine of its own: the
	// relay command may overtake them (a CI run saved the state before
	// they came).
	eventually.True(t, "the injected events in the state", func() bool {
		st := mon.State()
		return st.Sensors[0].Occupied && st.Sensors[0].LowBattery && st.Sensors[1].Tamper
	})
	if err := mon.SetRelay(ctx, relay.Index, relay.Node, true); err != nil {
		t.Fatal(err)
	}
	for ev := next(t, sub); ev.Type != event.RelaySwitched; ev = next(t, sub) {
	}
	before := mon.State()
	stop()

	mon, stop = stateRig(t, s, nil, file, nil)
	after := mon.State()
	stop()
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	find := func(st State, index int) SensorState {
		for _, x := range st.Sensors {
			if x.Index == index {
				return x
			}
		}
		t.Fatalf("no sensor %d", index)
		return SensorState{}
	}
	for _, i := range []int{door.Index, pir.Index} {
		b, a := find(before, i), find(after, i)
		if b.Changed.IsZero() {
			t.Errorf("sensor %d: no time it changed after its events: %+v", i, b)
		}
		if a.Tamper != b.Tamper || a.LowBattery != b.LowBattery || a.Occupied != b.Occupied || !a.Changed.Equal(b.Changed) {
			t.Errorf("sensor %d: before the restart %+v, after %+v", i, b, a)
		}
	}
	if d := find(after, door.Index); !d.Occupied || !d.LowBattery {
		t.Errorf("the door after the restart: %+v, want open with low battery", d)
	}
	if p := find(after, pir.Index); !p.Tamper {
		t.Errorf("the PIR after the restart: %+v, want tamper", p)
	}
	if on := after.Devices[0].On; on == nil || !*on || after.Devices[0].Changed.IsZero() || !after.Devices[0].Changed.Equal(before.Devices[0].Changed) {
		t.Errorf("the relay after the restart: %v since %v, want on since %v", on, after.Devices[0].Changed, before.Devices[0].Changed)
	}

	// A damaged file: logged, ignored, and replaced at the next save.
	if err := os.WriteFile(file, []byte(`{"guid":"`+after.GUID+`","sensors":[{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mon, stop = stateRig(t, s, nil, file, slog.New(slog.NewTextHandler(&logs, nil)))
	if find(mon.State(), pir.Index).Tamper {
		t.Error("state restored from a damaged file")
	}
	stop()
	if !strings.Contains(logs.String(), "saved sensor and relay state not read") {
		t.Errorf("the damaged file is not logged:\n%s", logs.String())
	}
	b, _ := os.ReadFile(file)
	if _, err := parseSaved(b); err != nil {
		t.Errorf("the file was not rewritten: %v", err)
	}

	// A first read without the GUID (host info unanswered) restores
	// nothing and saves nothing over the file; the first read with it
	// restores.
	if err := os.WriteFile(file, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFaults(sim.Faults{IgnoreCode: int(protocol.GetHostInfo)}); err != nil {
		t.Fatal(err)
	}
	mon, stop = stateRigNoWait(t, s, file)
	eventually.True(t, "the lists read without the GUID", func() bool { st := mon.State(); return len(st.Sensors) > 0 && st.GUID == "" })
	if find(mon.State(), pir.Index).Tamper {
		t.Error("restored without knowing the panel")
	}
	time.Sleep(saveEvery + 200*time.Millisecond)
	// Meanwhile nothing was saved over the file.
	if b, _ := os.ReadFile(file); string(b) != string(good) {
		t.Errorf("the saved state was overwritten before it was restored:\n%s\nwas\n%s", b, good)
	}
	if err := s.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	mon.Refresh()
	eventually.True(t, "restored once the GUID is known", func() bool { return find(mon.State(), pir.Index).Tamper })
	stop()

	// Another panel's state is not applied.
	saved := savedState{GUID: "OTHERPANEL01", Sensors: []savedSensor{{Key: keyOf(find(after, pir.Index).key), Tamper: true}}}
	m := &Monitor{t: tracker{st: after}}
	m.t.st.Sensors[1].Tamper = false
	m.t.restore(&saved, true, true)
	if m.t.st.Sensors[1].Tamper {
		t.Error("another panel's state applied")
	}
}

// parseSaved never panics; what it accepts round-trips.
func FuzzParseSaved(f *testing.F) {
	for _, s := range []string{
		`{"guid":"G","sensors":[{"key":{"type":1,"subtype":0,"protocol":1,"index":1,"subindex":0},"open":true,"tamper":true}],"devices":[{"key":{"type":2,"index":0},"on":true}]}`,
		`{"guid":""}`, `{}`, `null`, `{"guid":"G","sensors":null,"devices":[{"on":"yes"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSaved(b)
		if err != nil {
			return
		}
		m := &Monitor{}
		m.t.st.GUID = s.GUID
		m.t.restore(s, true, true)
	})
}

// With Config the monitor reads the configuration sections right after
// its first read and delivers them in the state (issue 16.3: consumers
// do not read the panel); a section written elsewhere is read again
// after ConfigWritten, and a read that began after the write has it.
func TestMonitorConfig(t *testing.T) {
	r := startRig(t, MonitorConfig{Config: true}, notify.ListenerConfig{})
	sub := r.mon.SubscribeState("test", 64)
	var st *State
	eventually.True(t, "the configuration", func() bool {
		s := r.mon.State()
		st = &s
		return st.Config != nil
	})
	for _, s := range []Section{SectionHost, SectionNet, SectionPhones, SectionAlerts} {
		if st.Config.Sections[s] == nil {
			t.Fatalf("no %s section in %+v", s, st.Config)
		}
	}
	first := st.Config
	host, port, _ := net.SplitHostPort(r.p.Addr())
	n, _ := strconv.Atoi(port)
	other, err := New(Config{Host: host, Port: n, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.SetConfigFields(context.Background(), SectionHost, "alarm_siren_duration=77"); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	r.mon.ConfigWritten(SectionHost)
	eventually.True(t, "the written value in the state", func() bool {
		batch, _ := sub.Take(nil)
		for _, d := range batch {
			st = d.State
		}
		h, ok := st.Config.Sections[SectionHost].(*protocol.HostConfig)
		return st.Config != first && ok && h.AlarmSirenDuration == 77 && st.Config.ReadAt[SectionHost].After(written)
	})
}
