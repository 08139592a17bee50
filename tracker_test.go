package g90

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// summary is an event as the scenarios of spec F.3 write it.
func summary(ev event.Event) string {
	var b strings.Builder
	b.WriteString(string(ev.Type))
	if ev.Sensor || ev.Type == event.SOS || ev.Type == event.Alarm {
		fmt.Fprintf(&b, " %d %q", ev.Index, ev.Name)
	}
	switch ev.Type {
	case event.ArmDisarm:
		b.WriteString(" " + string(ev.State))
	case event.SensorActivity:
		fmt.Fprintf(&b, " occupied=%v", ev.Occupied)
		if ev.Reset {
			b.WriteString(" reset")
		}
	case event.Alarm:
		fmt.Fprintf(&b, " tamper=%v", ev.Tamper)
	case event.SOS:
		fmt.Fprintf(&b, " host=%v", ev.Host)
	case event.RemoteButton:
		b.WriteString(" " + string(ev.Button))
	case event.RFIDKeypad:
		b.WriteString(" " + string(ev.Keypad))
		if ev.Keypad == event.KeypadCard {
			fmt.Fprintf(&b, " %d", ev.Card)
		}
	}
	return b.String()
}

type testSensor struct {
	index int
	name  string
	typ   int
	nodes int
}

func testSensorList(ss []testSensor) []*peripheral.Sensor {
	var out []*peripheral.Sensor
	for i, s := range ss {
		if s.nodes == 0 {
			s.nodes = 1
		}
		out = append(out, peripheral.NewSensor(i+1, protocol.PeripheralRecord{
			Name: s.name, Index: s.index, TypeID: s.typ, ProtocolID: 1, NodeCount: s.nodes, UserFlags: 1,
		}))
	}
	return out
}

// newTracker is a tracker with the scenario's sensors and alert flags.
func newTracker(t *testing.T, ss []testSensor, flags *protocol.AlertFlags, misses *[]string) *tracker {
	t.Helper()
	tr := &tracker{reset: 3 * time.Second}
	tr.miss = func(i int, n string) {
		if misses != nil {
			*misses = append(*misses, fmt.Sprintf("%d %q", i, n))
		}
	}
	tr.st.AlertFlags = flags
	tr.setSensors(nil, testSensorList(ss), true, time.Unix(0, 0))
	return tr
}

// feed decodes each datagram, maps it and runs it through the tracker,
// as Monitor.handle does, and returns the summaries.
func feed(t *testing.T, tr *tracker, now time.Time, datagrams ...string) []string {
	t.Helper()
	var got []string
	for _, d := range datagrams {
		m, err := notify.Decode(append([]byte(d), 0))
		if err != nil {
			t.Fatalf("decode %s: %v", d, err)
		}
		evs, err := m.Events(nil)
		if err != nil {
			t.Fatalf("events %s: %v", d, err)
		}
		var out []event.Event
		for i := range evs {
			out = tr.apply(out, &evs[i], now)
		}
		for _, ev := range out {
			got = append(got, summary(ev))
		}
	}
	return got
}

func flagsOf(f protocol.AlertFlags) *protocol.AlertFlags { return &f }

func sensorState(tr *tracker, index int) SensorState {
	for _, s := range tr.st.Sensors {
		if s.Index == index {
			return s
		}
	}
	return SensorState{}
}

// The user-level scenarios of spec F.3, one test each where the state
// matters between inputs. Per-sensor events of the reference
// (SensorState, SensorTamper…) are state here; the global events are
// compared in order.
func TestTrackerScenarios(t *testing.T) {
	now := time.Unix(1000, 0)
	door := flagsOf(protocol.AlertDoorClose)

	t.Run("U-ACTIVITY-AUTORESET", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{10, "Remote", 10, 1}}, door, nil)
		tr.reset = 500 * time.Millisecond
		got := feed(t, tr, now, `[170,[5,[10,"Remote"]]]`)
		want := []string{`sensor_activity 10 "Remote" occupied=true`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		if !sensorState(tr, 10).Occupied {
			t.Fatal("not occupied")
		}
		if next := tr.nextReset(); !next.Equal(now.Add(500 * time.Millisecond)) {
			t.Fatalf("reset at %v, want %v", next, now.Add(500*time.Millisecond))
		}
		if out := tr.resetDue(nil, now.Add(499*time.Millisecond)); len(out) != 0 {
			t.Fatalf("reset early: %v", out)
		}
		out := tr.resetDue(nil, now.Add(500*time.Millisecond))
		if len(out) != 1 || summary(out[0]) != `sensor_activity 10 "Remote" occupied=false reset` {
			t.Fatalf("reset events %v", out)
		}
		if sensorState(tr, 10).Occupied || !tr.nextReset().IsZero() {
			t.Fatal("still occupied or a reset pending")
		}
	})

	t.Run("U-LOWBAT-THEN-ACTIVITY", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{26, "Remote", 10, 1}}, door, nil)
		got := feed(t, tr, now, `[208,[4,26,1,4,"Remote","DUMMYGUID",1719223959,0,[""]]]`)
		if diff := cmp.Diff([]string{`low_battery 26 "Remote"`}, got); diff != "" {
			t.Fatal(diff)
		}
		if !sensorState(tr, 26).LowBattery {
			t.Fatal("low battery not set")
		}
		got = feed(t, tr, now, `[170,[5,[26,"Remote"]]]`)
		if diff := cmp.Diff([]string{`sensor_activity 26 "Remote" occupied=true`}, got); diff != "" {
			t.Fatal(diff)
		}
		if s := sensorState(tr, 26); s.LowBattery || !s.Occupied {
			t.Fatalf("state %+v: want low battery cleared and occupied", s)
		}
	})

	t.Run("U-DOWA-THEN-DISARM", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{21, "Hall", 10, 1}}, nil, nil)
		got := feed(t, tr, now, `[170,[6,[21,"Hall"]]]`)
		if diff := cmp.Diff([]string{`door_open_when_arming 21 "Hall"`}, got); diff != "" {
			t.Fatal(diff)
		}
		if !sensorState(tr, 21).DoorOpenWhenArming {
			t.Fatal("flag not set")
		}
		got = feed(t, tr, now, `[170,[1,[3]]]`)
		if diff := cmp.Diff([]string{`arm_disarm disarmed`}, got); diff != "" {
			t.Fatal(diff)
		}
		if sensorState(tr, 21).DoorOpenWhenArming || tr.st.Arm != event.Disarmed {
			t.Fatalf("state %+v", tr.st)
		}
	})

	t.Run("U-ARM", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{10, "Remote 1", 10, 1}, {11, "Remote 2", 10, 1}, {12, "Cord 1", 126, 1}}, nil, nil)
		got := feed(t, tr, now, `[170,[1,[1]]]`)
		if diff := cmp.Diff([]string{`arm_disarm away`}, got); diff != "" {
			t.Fatal(diff)
		}
		if tr.st.Arm != event.ArmAway {
			t.Fatalf("arm %q", tr.st.Arm)
		}
	})

	t.Run("U-DOOR-OPEN-CLOSE", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{100, "Door", 1, 1}}, door, nil)
		got := feed(t, tr, now, `[208,[4,100,1,1,"Door","DUMMYGUID",1631545189,0,[""]]]`)
		if diff := cmp.Diff([]string{`sensor_activity 100 "Door" occupied=true`, `door_open 100 "Door"`}, got); diff != "" {
			t.Fatal(diff)
		}
		if !sensorState(tr, 100).Occupied || !tr.nextReset().IsZero() {
			t.Fatal("a door with door-close alerts must stay open, without a reset")
		}
		got = feed(t, tr, now, `[208,[4,100,1,0,"Door","DUMMYGUID",1631545189,0,[""]]]`)
		if diff := cmp.Diff([]string{`sensor_activity 100 "Door" occupied=false`, `door_close 100 "Door"`}, got); diff != "" {
			t.Fatal(diff)
		}
		if sensorState(tr, 100).Occupied {
			t.Fatal("still occupied")
		}
	})

	t.Run("door without door-close alerts resets", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{100, "Door", 1, 1}}, flagsOf(0), nil)
		feed(t, tr, now, `[208,[4,100,1,1,"Door","DUMMYGUID",1631545189,0,[""]]]`)
		if tr.nextReset().IsZero() {
			t.Fatal("no reset scheduled though the panel will not report closing (spec B.6.1)")
		}
	})

	t.Run("U-ALARM", func(t *testing.T) {
		var misses []string
		tr := newTracker(t, []testSensor{{100, "Hall", 1, 1}, {101, "Room", 1, 1}, {103, "Infrared", 8, 1}}, door, &misses)
		got := feed(t, tr, now,
			`[208,[3,100,1,1,"Hall","DUMMYGUID",1630876128,0,[""]]]`,
			`[208,[3,101,1,1,"Room","DUMMYGUID",1630876128,0,[""]]]`,
			`[208,[3,102,1,1,"No Room","DUMMYGUID",1630876128,0,[""]]]`,
			`[208,[3,103,8,0,"Infrared","DUMMYGUID",1630876128,0,[""]]]`)
		want := []string{
			`sensor_activity 100 "Hall" occupied=true`, `alarm 100 "Hall" tamper=false`,
			`sensor_activity 101 "Room" occupied=true`, `alarm 101 "Room" tamper=false`,
			`alarm 102 "No Room" tamper=false`,
			`sensor_activity 103 "Infrared" occupied=true`, `alarm 103 "Infrared" tamper=false`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatal(diff)
		}
		if diff := cmp.Diff([]string{`102 "No Room"`}, misses); diff != "" {
			t.Fatalf("lookup misses (-want +got):\n%s", diff)
		}
		if !tr.st.Alarm || tr.st.AlarmSensor == nil || tr.st.AlarmSensor.Index != 100 {
			t.Fatalf("alarm %v by %+v: want the first sensor, 100", tr.st.Alarm, tr.st.AlarmSensor)
		}
		for _, i := range []int{100, 101, 103} {
			if !sensorState(tr, i).Occupied {
				t.Errorf("sensor %d not occupied", i)
			}
		}
		// Disarming ends the alarm.
		feed(t, tr, now, `[170,[1,[3]]]`)
		if tr.st.Alarm || tr.st.AlarmSensor != nil {
			t.Fatalf("alarm still on after disarm: %+v", tr.st)
		}
	})

	for _, tc := range []struct{ id, alarm string }{
		{"U-TAMPER-THEN-DISARM", `[208,[3,100,1,3,"Hall","DUMMYGUID",1630876128,0,[""]]]`},
		{"U-TAMPER-INFRARED", `[208,[3,100,8,1,"Hall","DUMMYGUID",1630876128,0,[""]]]`},
	} {
		t.Run(tc.id, func(t *testing.T) {
			tr := newTracker(t, []testSensor{{100, "Hall", 1, 1}}, nil, nil)
			got := feed(t, tr, now, tc.alarm)
			want := []string{`sensor_activity 100 "Hall" occupied=true`, `tamper 100 "Hall"`, `alarm 100 "Hall" tamper=true`}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatal(diff)
			}
			if !sensorState(tr, 100).Tamper {
				t.Fatal("tamper not set")
			}
			got = feed(t, tr, now, `[170,[1,[3]]]`)
			if diff := cmp.Diff([]string{`arm_disarm disarmed`}, got); diff != "" {
				t.Fatal(diff)
			}
			if sensorState(tr, 100).Tamper {
				t.Fatal("tamper not cleared by disarm")
			}
		})
	}

	t.Run("U-SOS", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{11, "Remote", 10, 1}}, nil, nil)
		got := feed(t, tr, now,
			`[208,[1,1,0,0,"","DUMMYGUID",1734175050,0,[""]]]`,
			`[208,[3,11,10,3,"Remote","DUMMYGUID",1734177048,0,[""]]]`)
		want := []string{
			`sos 1 "Host SOS" host=true`, `alarm 1 "Host SOS" tamper=false`,
			`sos 11 "Remote" host=false`, `sensor_activity 11 "Remote" occupied=true`, `alarm 11 "Remote" tamper=false`,
			`remote_button 11 "Remote" sos`, `sensor_activity 11 "Remote" occupied=true`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatal(diff)
		}
		if !tr.st.Alarm || tr.st.AlarmSensor != nil {
			t.Fatalf("a host SOS raises the alarm with no sensor: %+v", tr.st)
		}
	})

	t.Run("U-REMOTE-BUTTON", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{11, "Remote", 10, 1}}, nil, nil)
		got := feed(t, tr, now, `[208,[4,11,10,0,"Remote","DUMMYGUID",1734176900,0,[""]]]`)
		if diff := cmp.Diff([]string{`remote_button 11 "Remote" away`, `sensor_activity 11 "Remote" occupied=true`}, got); diff != "" {
			t.Fatal(diff)
		}
	})

	t.Run("U-RFID-CARD", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{15, "Keypad-", 11, 1}}, nil, nil)
		got := feed(t, tr, now, `[208,[4,15,11,7,"Keypad-","DUMMYGUID",1734176900,0,[""]]]`)
		if diff := cmp.Diff([]string{`rfid_keypad 15 "Keypad-" card 1`, `sensor_activity 15 "Keypad-" occupied=true`}, got); diff != "" {
			t.Fatal(diff)
		}
	})

	t.Run("U-RFID-LOWBAT", func(t *testing.T) {
		tr := newTracker(t, []testSensor{{15, "Keypad-", 11, 1}}, nil, nil)
		got := feed(t, tr, now, `[208,[4,15,11,5,"Keypad-","DUMMYGUID",1734176900,0,[""]]]`)
		if diff := cmp.Diff([]string{`rfid_keypad 15 "Keypad-" low_battery`, `low_battery 15 "Keypad-"`}, got); diff != "" {
			t.Fatal(diff)
		}
		if s := sensorState(tr, 15); !s.LowBattery || s.Occupied {
			t.Fatalf("state %+v: want low battery, no activity", s)
		}
	})

	t.Run("multi-node sensor matches its panel name", func(t *testing.T) {
		// The reference compares "Name#1" with the wire name and never
		// finds such a sensor (spec B.4 step 4).
		tr := newTracker(t, []testSensor{{5, "Twin", 1, 2}}, nil, nil)
		feed(t, tr, now, `[170,[5,[5,"Twin"]]]`)
		if !sensorState(tr, 5).Occupied {
			t.Fatal("multi-node sensor not found by its panel name")
		}
	})

	t.Run("renamed sensor is a miss", func(t *testing.T) {
		var misses []string
		tr := newTracker(t, []testSensor{{5, "Old", 1, 1}}, nil, &misses)
		got := feed(t, tr, now, `[170,[5,[5,"New"]]]`)
		if diff := cmp.Diff([]string{`sensor_activity 5 "New" occupied=true`}, got); diff != "" {
			t.Fatal(diff)
		}
		if sensorState(tr, 5).Occupied || len(misses) != 1 {
			t.Fatalf("state touched or no miss reported: %+v %v", sensorState(tr, 5), misses)
		}
	})
}

// A reset that a newer activation moved does not fire early ([REC] of
// spec B.6.1: debounce).
func TestTrackerResetDebounce(t *testing.T) {
	tr := newTracker(t, []testSensor{{10, "PIR", 8, 1}}, nil, nil)
	t0 := time.Unix(1000, 0)
	feed(t, tr, t0, `[170,[5,[10,"PIR"]]]`)
	feed(t, tr, t0.Add(2*time.Second), `[170,[5,[10,"PIR"]]]`)
	if out := tr.resetDue(nil, t0.Add(3*time.Second)); len(out) != 0 {
		t.Fatalf("the first activation's reset fired: %v", out)
	}
	if out := tr.resetDue(nil, t0.Add(5*time.Second)); len(out) != 1 {
		t.Fatalf("the second activation's reset did not fire: %v", out)
	}
}

// List refreshes report only what changed, keep the state of sensors that
// stayed, and identify sensors by type, subtype, protocol and index, not
// name (spec B.8).
func TestTrackerListChanges(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := newTracker(t, []testSensor{{1, "A", 1, 1}, {2, "B", 8, 1}}, nil, nil)
	feed(t, tr, now, `[208,[4,1,1,4,"A","G",1,0,[""]]]`) // low battery on A
	out := tr.setSensors(nil, testSensorList([]testSensor{{1, "A renamed", 1, 1}, {3, "C", 10, 1}}), false, now)
	var got []string
	for _, ev := range out {
		got = append(got, summary(ev))
	}
	want := []string{`sensor_added 3 "C"`, `sensor_removed 2 "B"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if s := sensorState(tr, 1); !s.LowBattery || s.Name != "A renamed" {
		t.Fatalf("sensor 1 lost its state or kept its old name: %+v", s)
	}

	dev := func(idx, nodes int, name string) *peripheral.Device {
		return peripheral.NewDevice(1, protocol.PeripheralRecord{Name: name, Index: idx, TypeID: 128, ProtocolID: 1, NodeCount: nodes})
	}
	if out := tr.setDevices(nil, []*peripheral.Device{dev(3, 1, "Socket")}, true, now); len(out) != 0 {
		t.Fatalf("the first device list is a baseline, got %v", out)
	}
	out = tr.setDevices(nil, []*peripheral.Device{dev(6, 2, "Relay")}, false, now)
	got = got[:0]
	for _, ev := range out {
		got = append(got, fmt.Sprintf("%s %d:%d %s", ev.Type, ev.Device.Index, ev.Device.Node, ev.Device.Name))
	}
	want = []string{"device_added 6:0 Relay#1", "device_added 6:1 Relay#2", "device_removed 3:0 Socket"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
}
