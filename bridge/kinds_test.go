package bridge

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/sim"
)

// catalogue is spec/peripheral-types.json, read as the spec has it, not
// through the generated tables: a row the generator dropped would
// otherwise pass unseen.
type catalogue struct {
	Enums struct {
		PeripheralTypes []struct {
			ID     int      `json:"id"`
			Name   string   `json:"name"`
			Tables []string `json:"in_definition_tables"`
		} `json:"peripheral_types"`
	} `json:"enums"`
	Sensors []catalogueEntry `json:"sensor_definitions"`
	Devices []catalogueEntry `json:"device_definitions"`
}

type catalogueEntry struct {
	Name    string `json:"name"`
	TypeID  int    `json:"type_id"`
	Subtype int    `json:"subtype"`
}

func readCatalogue(t *testing.T) catalogue {
	t.Helper()
	b, err := os.ReadFile("../spec/peripheral-types.json")
	if err != nil {
		t.Fatal(err)
	}
	var c catalogue
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Sensors) == 0 || len(c.Devices) == 0 || len(c.Enums.PeripheralTypes) == 0 {
		t.Fatal("the catalogue has no definitions or types")
	}
	return c
}

// Every entry of the catalogue, and every peripheral type it names, has
// its row of the kind table (spec: home-assistant.md §2e); a wired
// input's by its subtype, not the row of wired inputs we cannot tell.
func TestKindTableCoversCatalogue(t *testing.T) {
	c := readCatalogue(t)
	for _, set := range []struct {
		kind    peripheral.Kind
		entries []catalogueEntry
	}{{peripheral.KindSensor, c.Sensors}, {peripheral.KindDevice, c.Devices}} {
		for _, e := range set.entries {
			k, ok := KindOf(set.kind, peripheral.Type(e.TypeID), e.Subtype)
			switch {
			case !ok:
				t.Errorf("%s %q (type %d subtype %d): no row", set.kind, e.Name, e.TypeID, e.Subtype)
			case e.TypeID == int(peripheral.TypeCordSensor) && k.Subtype != e.Subtype:
				t.Errorf("%s %q: the row of any wired input, not of subtype %d", set.kind, e.Name, e.Subtype)
			}
			if r := kindOfDefinition(set.kind, e.Name, 0); r.Type != k.Type || r.Subtype != k.Subtype {
				t.Errorf("%q: by name the row of %d/%d, by type %d/%d", e.Name, r.Type, r.Subtype, k.Type, k.Subtype)
			}
		}
	}
	for _, typ := range c.Enums.PeripheralTypes {
		if typ.Name == "unknown" {
			continue
		}
		kinds := []peripheral.Kind{peripheral.KindSensor, peripheral.KindDevice}
		if slices.Equal(typ.Tables, []string{"sensor"}) {
			kinds = kinds[:1]
		} else if slices.Equal(typ.Tables, []string{"device"}) {
			kinds = kinds[1:]
		}
		if !slices.ContainsFunc(kinds, func(k peripheral.Kind) bool { _, ok := KindOf(k, peripheral.Type(typ.ID), AnySubtype); return ok }) {
			t.Errorf("type %d %s: no row", typ.ID, typ.Name)
		}
	}
}

// Every row is well formed: each platform's device classes are Home
// Assistant's (developers.home-assistant.io, the binary sensor, event and
// switch entities), event entities have event types and offer no flags,
// and no row comes twice.
func TestKindTableRows(t *testing.T) {
	classes := map[string][]string{
		"binary_sensor": {"", "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door",
			"gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
			"presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"},
		"event":  {"button", "doorbell", "motion"},
		"switch": {"", "outlet", "switch"},
	}
	seen := map[[3]int]bool{}
	for _, k := range PeripheralKinds() {
		where := k.Kind.String() + " " + k.Type.String()
		key := [3]int{int(k.Kind), int(k.Type), k.Subtype}
		if seen[key] {
			t.Errorf("%s subtype %d: two rows", where, k.Subtype)
		}
		seen[key] = true
		if !slices.Contains(classes[k.Platform], k.DeviceClass) {
			t.Errorf("%s: %s device class %q", where, k.Platform, k.DeviceClass)
		}
		if (k.Platform == "event") != (len(k.EventTypes) > 0) {
			t.Errorf("%s: a %s with event types %v", where, k.Platform, k.EventTypes)
		}
		if k.Platform == "event" && (k.Flags != 0 || k.AlertMode) {
			t.Errorf("%s: a fob or keypad is no alarm zone, yet offers flags %v, alert mode %v", where, k.Flags, k.AlertMode)
		}
		if (k.Kind == peripheral.KindDevice) != (k.Platform == "switch") {
			t.Errorf("%s: platform %s", where, k.Platform)
		}
		if k.Offers(peripheral.FlagDoorChime) != k.Offers(peripheral.FlagDetectDoor) {
			t.Errorf("%s: the door flags come together", where)
		}
	}
}

// The rows the issue names: a wired door is a door (not motion, as its
// type 126 once made it); a key fob is an event entity with triggers,
// not a lock; a PIR is motion without the door switches.
func TestKindRows(t *testing.T) {
	byName := func(name string) PeripheralKind {
		t.Helper()
		d := peripheral.LookupName(peripheral.KindSensor, name)
		if d == nil {
			t.Fatalf("no definition %q", name)
		}
		k, ok := KindOf(peripheral.KindSensor, d.TypeID, d.Subtype)
		if !ok {
			t.Fatalf("%q: no row", name)
		}
		return k
	}
	door := byName("Door Sensor: Wired")
	if door.Platform != "binary_sensor" || door.DeviceClass != "door" || !door.Offers(peripheral.FlagDetectDoor) || !door.Offers(peripheral.FlagDoorChime) {
		t.Errorf("wired door: %+v", door)
	}
	for _, name := range []string{"Remote: RMC07", "Remote: RMC08", "Remote: RMC2.4G"} {
		fob := byName(name)
		if fob.Platform != "event" || fob.DeviceClass != "button" || !slices.Equal(fob.EventTypes, []string{"away", "home", "disarm", "sos"}) {
			t.Errorf("%s: %+v", name, fob)
		}
	}
	for _, name := range []string{"RFID: K07", "RFID: Wired"} {
		keypad := byName(name)
		if keypad.Platform != "event" || !slices.Contains(keypad.EventTypes, "card_4") || slices.Contains(keypad.EventTypes, "low_battery") {
			t.Errorf("%s: %+v", name, keypad)
		}
	}
	for _, name := range []string{"PIR Motion Sensor: WMS08", "PIR Motion Sensor: Wired"} {
		pir := byName(name)
		if pir.DeviceClass != "motion" || pir.Offers(peripheral.FlagDetectDoor) || pir.Offers(peripheral.FlagDoorChime) || !pir.Offers(peripheral.FlagArmDelay) {
			t.Errorf("%s: %+v", name, pir)
		}
	}
	for name, class := range map[string]string{
		"Smoke Sensor: WSD02": "smoke", "Gas Sensor: WGD01": "gas", "Water Leak Sensor: LSTC01": "moisture",
		"Glass Break Sensor: BLPS": "sound", "Vibration Sensor: WSS01": "vibration", "Beam Sensor: ABT": "motion",
		"Beam Sensor: Wired": "motion", "SOS Button: WEB01": "safety", "Fingerprint: Lock": "lock",
	} {
		if k := byName(name); k.DeviceClass != class || k.Offers(peripheral.FlagDoorChime) {
			t.Errorf("%s: %+v, want %s without the door flags", name, k, class)
		}
	}
	if k := byName("Smoke Sensor: WSD02"); k.Offers(peripheral.FlagArmDelay) || !k.AlertMode || !k.Offers(peripheral.FlagIndependentZone) {
		t.Errorf("smoke: %+v: a 24-hour zone, without arm delay", k)
	}
	if k, ok := KindOf(peripheral.KindDevice, peripheral.TypeSocket, 3); !ok || k.Platform != "switch" || k.DeviceClass != "outlet" {
		t.Errorf("socket: %+v", k)
	}
}

// Over the simulator: a key fob's device has an event entity and a
// device trigger per button, and the binary sensor earlier versions
// published is removed; a PIR has no door switches; a press reaches the
// press topic, not retained, as the event type both read.
func TestFobPresses(t *testing.T) {
	r := startRig(t, "")
	const fob, pir = 21, 7 // Remote: RMC07, PIR Motion Sensor: WMS08
	d, err := CheckDiscovery([]byte(r.w.WaitFor(t, sensorDisc(fob), anyPayload)))
	if err != nil {
		t.Fatal(err)
	}
	id := "g90_simpanel0001_sensor_21"
	if e, ok := d.Entities[id+"_press"]; !ok || e.Platform != "event" || !slices.Contains(d.Removed, id) || len(d.Triggers) != 4 {
		t.Errorf("fob: entities %v, removed %v, triggers %v", d.Entities, d.Removed, d.Triggers)
	}
	for _, key := range []string{"arm_delay", "detect_door", "door_chime", "independent_zone", "alert_mode", "open_arming"} {
		if !slices.Contains(d.Removed, id+"_"+key) {
			t.Errorf("fob: %s not removed", key)
		}
	}
	d, err = CheckDiscovery([]byte(r.w.WaitFor(t, sensorDisc(pir), anyPayload)))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"detect_door", "door_chime", "open_arming"} {
		if _, ok := d.Entities["g90_simpanel0001_sensor_7_"+key]; ok {
			t.Errorf("PIR: has %s", key)
		}
	}
	if _, ok := d.Entities["g90_simpanel0001_sensor_7_arm_delay"]; !ok {
		t.Error("PIR: no arm delay")
	}
	n := fob
	if _, err := r.sim.Inject(sim.Injection{Event: "remote_button", Sensor: &n, Button: "home"}); err != nil {
		t.Fatal(err)
	}
	topic := base + "sensor/21/press"
	r.w.WaitFor(t, topic, mqtttest.Is(`{"event_type":"home"}`))
	// By now (the bridge publishes in order), the states an earlier
	// version retained for the flags a PIR lacks are cleared, once: an
	// empty message (retained; the broker passes it on live without the
	// flag).
	for _, key := range []string{"detect_door", "door_chime"} {
		if m := r.w.All(base + "sensor/7/" + key); len(m) != 1 || m[0].Payload != "" {
			t.Errorf("PIR %s: %v, want one empty message", key, m)
		}
	}
	if _, err := r.sim.Inject(sim.Injection{Event: "remote_button", Sensor: &n, Button: "sos"}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, topic, mqtttest.Is(`{"event_type":"sos"}`))
	card, keypad := 3, 25
	if _, err := r.sim.Inject(sim.Injection{Event: "rfid", Sensor: &keypad, Card: &card}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"sensor/25/press", mqtttest.Is(`{"event_type":"card_3"}`))
	for _, m := range r.w.All(base + "sensor/") {
		if strings.HasSuffix(m.Topic, "/press") && m.Retained {
			t.Errorf("%s: retained", m.Topic)
		}
	}
	// A PIR's activity is no press.
	p := pir
	if _, err := r.sim.Inject(sim.Injection{Event: "motion", Sensor: &p}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"sensor/7", func(s string) bool { return strings.Contains(s, `"occupied":true`) })
	if got := r.w.All(base + "sensor/7/press"); len(got) != 0 {
		t.Errorf("a PIR pressed: %v", got)
	}
}
