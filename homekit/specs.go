//go:build !nohomekit

package homekit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/peripheral"
)

// kind is the HomeKit service an accessory stands for.
type kind uint8

const (
	svcSecurity  kind = iota // the panel: Security System
	svcContact               // doors and windows
	svcMotion                // PIR, beams, glass break, vibration
	svcSmoke                 // smoke detectors
	svcLeak                  // water sensors
	svcCO                    // gas: Carbon Monoxide Sensor (see serviceOf)
	svcOccupancy             // any other sensor that trips: SOS, doorbell, watch…
	svcButtons               // key fobs, keypads: Stateless Programmable Switches
	svcOutlet                // sockets
	svcSwitch                // every other relay node
)

var serviceNames = [...]string{
	svcSecurity: "security system", svcContact: "contact sensor", svcMotion: "motion sensor",
	svcSmoke: "smoke sensor", svcLeak: "leak sensor", svcCO: "carbon monoxide sensor",
	svcOccupancy: "occupancy sensor", svcButtons: "programmable switch",
	svcOutlet: "outlet", svcSwitch: "switch",
}

func (s kind) String() string { return serviceNames[s] }

// spec is one accessory of the bridge: what it is, not its values.
// Two specs with the same key are the same accessory, with the same aid
// across restarts; a change of anything else in a spec changes the
// accessory set, which the bridge then publishes anew.
type spec struct {
	key     string // panel/sensor/INDEX/TYPE, panel/relay/INDEX/NODE/TYPE, panel
	svc     kind
	name    string // the Home app's name: the panel's name first
	model   string // the peripheral's type name
	serial  string
	panel   int      // index in Config.Panels
	index   int      // sensor or device index on the panel
	node    int      // relay node
	buttons []string // svcButtons: the event types, one switch each
}

// serviceOf maps a row of the kind table (the one table Home Assistant's
// entities come from too, spec: home-assistant.md §2e) to the HomeKit
// service. Gas detectors become Carbon Monoxide Sensors: HomeKit has no
// service for combustible gas, and the Home app treats carbon monoxide
// like smoke — a critical alert that sounds through silent mode and Do
// Not Disturb, which is what a gas leak calls for; an Air Quality Sensor
// only shows a grade in a tile.
func serviceOf(k bridge.PeripheralKind) kind {
	switch {
	case k.Platform == "event":
		return svcButtons
	case k.Platform == "switch" && k.DeviceClass == "outlet":
		return svcOutlet
	case k.Platform == "switch":
		return svcSwitch
	}
	switch k.DeviceClass {
	case "door":
		return svcContact
	case "motion", "sound", "vibration":
		return svcMotion
	case "smoke":
		return svcSmoke
	case "moisture":
		return svcLeak
	case "gas":
		return svcCO
	}
	return svcOccupancy
}

// specsOf returns the accessories of panel i, named name, from its
// state: the panel, then each sensor, then each relay node, in the
// panel's order.
func specsOf(i int, name string, st *g90.State) []spec {
	out := []spec{{key: name, svc: svcSecurity, name: name, model: "G90 alarm panel", serial: serialOf(st, "panel"), panel: i}}
	subtypes := map[int]int{}
	for _, r := range st.SensorRecords {
		subtypes[r.Record.Index] = r.Record.Subtype
	}
	for _, s := range st.Sensors {
		sub, ok := subtypes[s.Index]
		if !ok {
			sub = bridge.AnySubtype
		}
		k, _ := bridge.KindOf(peripheral.KindSensor, s.TypeID, sub)
		sp := spec{
			key: fmt.Sprintf("%s/sensor/%d/%d", name, s.Index, s.TypeID),
			svc: serviceOf(k), name: name + " " + s.Name, model: s.Type,
			serial: serialOf(st, fmt.Sprintf("sensor %d", s.Index)), panel: i, index: s.Index,
		}
		if sp.svc == svcButtons {
			sp.buttons = k.EventTypes
		}
		out = append(out, sp)
	}
	types := map[int]int{}
	for _, r := range st.DeviceRecords {
		types[r.Record.Index] = r.Record.TypeID
	}
	for _, d := range st.Devices {
		k, _ := bridge.KindOf(peripheral.KindDevice, peripheral.Type(types[d.Index]), bridge.AnySubtype)
		out = append(out, spec{
			key: fmt.Sprintf("%s/relay/%d/%d/%d", name, d.Index, d.Node, types[d.Index]),
			svc: serviceOf(k), name: name + " " + d.Name, model: d.Type,
			serial: serialOf(st, fmt.Sprintf("relay %d.%d", d.Index, d.Node)), panel: i, index: d.Index, node: d.Node,
		})
	}
	return out
}

func serialOf(st *g90.State, what string) string {
	if st.GUID == "" {
		return what
	}
	return st.GUID + " " + what
}

// namesHash is a digest of everything a controller shows of specs but
// hap's own configuration hash leaves out (it skips values, and a name
// is a value): a change bumps the configuration number, so controllers
// read the new names.
func namesHash(specs []spec) string {
	h := sha256.New()
	for _, s := range specs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\n", s.key, s.name, s.model, s.serial, strings.Join(s.buttons, ","))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sameSet reports whether a and b are the same accessories, in order.
func sameSet(a, b []spec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.key != y.key || x.svc != y.svc || x.name != y.name || x.model != y.model || x.serial != y.serial ||
			strings.Join(x.buttons, ",") != strings.Join(y.buttons, ",") {
			return false
		}
	}
	return true
}

// Values of the HomeKit characteristics (HAP: Security System Current
// and Target State).
const (
	hkStay     = 0
	hkAway     = 1
	hkNight    = 2
	hkDisarmed = 3
	hkAlarm    = 4
)

// currentState is the Security System Current State for the panel's
// state: an alarm over anything, then the arm state. HAP has no value
// for "unknown" (MQTT says None), and a controller reads the
// characteristic whatever the bridge does, so while the arm state is
// unknown it is Disarmed, the value it starts with — but then the
// panel's StatusFault is set too (see faulted): the Home app marks the
// tile as faulty, and a user does not take the panel for disarmed.
func currentState(st *g90.State) int {
	if st.Alarm || st.Arm == event.Alarmed {
		return hkAlarm
	}
	if t, ok := targetState(st); ok {
		return t
	}
	return hkDisarmed
}

// targetState is the Security System Target State that the arm state
// stands for; false while the panel is alarmed or its state unknown,
// when the target stays what it was: an alarm does not change what the
// user asked for, and a controller's Disarm must still differ from it
// (hap ignores a write of the value a characteristic has).
func targetState(st *g90.State) (int, bool) {
	switch st.Arm {
	case event.ArmAway:
		return hkAway, true
	case event.ArmHome:
		return hkStay, true
	case event.Disarmed:
		return hkDisarmed, true
	}
	return 0, false
}

// faulted is the panel's StatusFault: set while the panel is
// unreachable, and while its arm state is unknown (not read yet), when
// the current state cannot say it (currentState). Holding the panel's
// accessory back until the state is known would be no more honest: the
// Home app would show the accessory missing, and its sensors, which may
// be known, with it; a fault says what is the case, that the bridge
// cannot tell the panel's state.
func faulted(st *g90.State) bool { return !st.Reachable || st.Arm == "" }
