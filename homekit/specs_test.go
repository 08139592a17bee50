//go:build !nohomekit

package homekit

import (
	"net/http"
	"testing"

	"github.com/brutella/hap/characteristic"
	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// testState is a panel with one sensor of each kind and two relays.
func testState() *g90.State {
	st := &g90.State{GUID: "GUID1", Arm: event.Disarmed, Reachable: true}
	add := func(index int, name string, typ peripheral.Type, sub int) {
		st.Sensors = append(st.Sensors, g90.SensorState{SensorRef: g90.SensorRef{Index: index, Name: name, Type: "t"}, TypeID: typ, Enabled: true})
		st.SensorRecords = append(st.SensorRecords, peripheral.NewSensor(len(st.SensorRecords)+1, protocol.PeripheralRecord{Name: name, Index: index, TypeID: int(typ), Subtype: sub, NodeCount: 1}))
	}
	add(1, "Door", peripheral.TypeDoor, 0)
	add(2, "PIR", peripheral.TypeInfrared, 0)
	add(3, "Smoke", peripheral.TypeSmoke, 0)
	add(4, "Leak", peripheral.TypeWater, 0)
	add(5, "Gas", peripheral.TypeGas, 0)
	add(6, "Fob", peripheral.TypeRemote, 0)
	add(7, "Keypad", peripheral.TypeRFID, 0)
	add(8, "Wired door", peripheral.TypeCordSensor, int(peripheral.TypeDoor))
	add(9, "SOS", peripheral.TypeSOS, 0)
	add(10, "Glass", peripheral.TypeGlass, 0)
	on := true
	st.Devices = []g90.DeviceRef{{Index: 3, Node: 0, Name: "Lights", Type: "Socket", On: &on}, {Index: 9, Node: 0, Name: "Siren", Type: "Siren"}}
	st.DeviceRecords = []*peripheral.Device{
		peripheral.NewDevice(1, protocol.PeripheralRecord{Name: "Lights", Index: 3, TypeID: int(peripheral.TypeSocket), NodeCount: 1}),
		peripheral.NewDevice(2, protocol.PeripheralRecord{Name: "Siren", Index: 9, TypeID: int(peripheral.TypeSiren), NodeCount: 1}),
	}
	return st
}

// TestSpecs: each sensor and relay becomes the HomeKit service its kind
// calls for (the kind table Home Assistant's entities come from too),
// named after its panel, with a key that survives a rename and not a
// change of type.
func TestSpecs(t *testing.T) {
	specs := specsOf(0, "home", testState())
	type row struct {
		Key, Name string
		Svc       string
		Buttons   int
	}
	var got []row
	for _, s := range specs {
		got = append(got, row{s.key, s.name, s.svc.String(), len(s.buttons)})
	}
	want := []row{
		{"home", "home", "security system", 0},
		{"home/sensor/1/1", "home Door", "contact sensor", 0},
		{"home/sensor/2/8", "home PIR", "motion sensor", 0},
		{"home/sensor/3/4", "home Smoke", "smoke sensor", 0},
		{"home/sensor/4/7", "home Leak", "leak sensor", 0},
		{"home/sensor/5/3", "home Gas", "carbon monoxide sensor", 0},
		{"home/sensor/6/10", "home Fob", "programmable switch", 4},
		{"home/sensor/7/11", "home Keypad", "programmable switch", 8},
		{"home/sensor/8/126", "home Wired door", "contact sensor", 0},
		{"home/sensor/9/5", "home SOS", "occupancy sensor", 0},
		{"home/sensor/10/2", "home Glass", "motion sensor", 0},
		{"home/relay/3/0/128", "home Lights", "outlet", 0},
		{"home/relay/9/0/129", "home Siren", "switch", 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}

	renamed := testState()
	renamed.Sensors[0].Name = "Front door"
	next := specsOf(0, "home", renamed)
	if next[1].key != specs[1].key || sameSet(specs, next) || namesHash(specs) == namesHash(next) {
		t.Error("a rename must keep the key and change the set and its names hash")
	}
	retyped := testState()
	retyped.Sensors[0].TypeID = peripheral.TypeInfrared
	if specsOf(0, "home", retyped)[1].key == specs[1].key {
		t.Error("a sensor of another type at the same index must be another accessory")
	}
	if !sameSet(specs, specsOf(0, "home", testState())) {
		t.Error("the same state must give the same set")
	}
}

func TestArmStates(t *testing.T) {
	for _, c := range []struct {
		arm             event.ArmState
		alarm           bool
		current, target int
		targetKnown     bool
	}{
		{event.ArmAway, false, hkAway, hkAway, true},
		{event.ArmHome, false, hkStay, hkStay, true},
		{event.Disarmed, false, hkDisarmed, hkDisarmed, true},
		{event.ArmAway, true, hkAlarm, hkAway, true},
		{event.Alarmed, true, hkAlarm, 0, false},
		{"", false, hkDisarmed, 0, false},
	} {
		st := &g90.State{Arm: c.arm, Alarm: c.alarm}
		tg, ok := targetState(st)
		if cur := currentState(st); cur != c.current || tg != c.target || ok != c.targetKnown {
			t.Errorf("%q alarm %v: current %d, target %d %v; want %d, %d %v", c.arm, c.alarm, cur, tg, ok, c.current, c.target, c.targetKnown)
		}
	}
}

// TestUpdate: the characteristics follow the state, the same facts MQTT
// and the web UI show; a press of a fob's button is a single press of
// that button's switch only.
func TestUpdate(t *testing.T) {
	st := testState()
	specs := specsOf(0, "home", st)
	accs := map[string]*acc{}
	for i, sp := range specs {
		accs[sp.key] = build(sp, uint64(i+2), "1", handlers{})
	}
	st.Sensors[0].Occupied = true
	st.Sensors[0].Tamper = true
	st.Sensors[1].LowBattery = true
	st.Sensors[2].Enabled = false
	st.Reachable = false
	st.Arm, st.Alarm = event.ArmAway, true
	for _, x := range accs {
		x.update(st)
	}
	p, door, pir, smoke := accs["home"], accs["home/sensor/1/1"], accs["home/sensor/2/8"], accs["home/sensor/3/4"]
	for name, c := range map[string]struct{ got, want any }{
		"panel current":        {p.current.Value(), hkAlarm},
		"panel target":         {p.target.Value(), hkAway},
		"panel fault":          {p.fault.Value(), characteristic.StatusFaultGeneralFault},
		"panel tampered":       {p.tamper.Value(), 1},
		"door open":            {door.state.Value(), characteristic.ContactSensorStateContactNotDetected},
		"door tampered":        {door.tamper.Value(), 1},
		"door active":          {door.active.Value(), true},
		"pir low battery":      {pir.battery.Value(), 1},
		"pir motion":           {pir.motion.Value(), false},
		"smoke not active":     {smoke.active.Value(), false},
		"lights on":            {accs["home/relay/3/0/128"].on.Value(), true},
		"lights in use":        {accs["home/relay/3/0/128"].inUse.Value(), true},
		"siren never switched": {accs["home/relay/9/0/129"].on.Value(), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
	if p.target.ValidVals == nil || len(p.target.ValidVals) != 3 {
		t.Errorf("target valid values %v: want Stay, Away, Disarm", p.target.ValidVals)
	}

	// The arm state unknown (not read yet), the panel reachable: HAP has
	// no "unknown", so the current state stays Disarmed, but with a
	// fault, which the Home app shows; MQTT says None. Known again, the
	// fault goes.
	unknown := testState()
	unknown.Arm = ""
	p.update(unknown)
	if f, cur, tg := p.fault.Value(), p.current.Value(), p.target.Value(); f != characteristic.StatusFaultGeneralFault || cur != hkDisarmed || tg != hkAway {
		t.Errorf("arm state unknown: fault %v, current %v, target %v; want a fault, Disarmed, the target as it was (Away)", f, cur, tg)
	}
	p.update(testState())
	if f, cur := p.fault.Value(), p.current.Value(); f != characteristic.StatusFaultNoFault || cur != hkDisarmed {
		t.Errorf("disarmed and reachable: fault %v, current %v; want no fault, Disarmed", f, cur)
	}

	fob := accs["home/sensor/6/10"]
	pressed := make([]int, len(fob.presses))
	for i, c := range fob.presses {
		c.OnValueUpdate(func(int, int, *http.Request) { pressed[i]++ })
	}
	home := event.Event{Type: event.RemoteButton, Sensor: true, Index: 6, Button: event.ButtonHome}
	for range 2 {
		if !fob.press(&home) {
			t.Fatal("the fob's home button not pressed")
		}
	}
	other := event.Event{Type: event.RemoteButton, Sensor: true, Index: 7, Button: event.ButtonHome}
	if fob.press(&other) {
		t.Error("another sensor's press pressed the fob")
	}
	if want := []int{0, 2, 0, 0}; !cmp.Equal(pressed, want) {
		t.Errorf("presses per button %v, want %v (away, home, disarm, sos; each press an event)", pressed, want)
	}
}
