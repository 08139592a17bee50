package bridge

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

const (
	base      = "g90/SIMPANEL0001/"
	panelDisc = "homeassistant/device/g90_simpanel0001/config"
)

func sensorDisc(i int) string {
	return "homeassistant/device/g90_simpanel0001_sensor_" + itoa(i) + "/config"
}
func relayDisc(i int) string {
	return "homeassistant/device/g90_simpanel0001_relay_" + itoa(i) + "/config"
}

// waitSim waits until the simulated panel's state satisfies ok.
func waitSim(t *testing.T, s *sim.Panel, what string, ok func(sim.State) bool) {
	t.Helper()
	eventually.True(t, "the simulated panel to get "+what, func() bool { return ok(s.Snapshot()) })
}

func anyPayload(string) bool { return true }

// The table covers spec home-assistant.md §2: every row there has its
// entity here, and every row is well-formed for its platform.
func TestEntityTable(t *testing.T) {
	spec := map[Scope][]string{
		ScopePanel: {
			"alarm", "wifi_status", "gsm_status", "gprs_3g_active", "notifications", "wifi_signal", "gsm_signal",
			"cellular_operator", "battery_voltage",
			"alert_ac_power_failure", "alert_ac_power_recover", "alert_arm_disarm", "alert_host_low_voltage",
			"alert_sensor_low_voltage", "alert_wifi_available", "alert_wifi_unavailable", "alert_door_open",
			"alert_door_close", "alert_sms_push",
			"reboot", "ap_enabled", "gprs_enabled", "sia_enabled", "sia_encryption", "cid_enabled",
			"alarm_siren_duration", "arm_delay", "alarm_delay", "backlight_duration", "ring_duration", "timezone_offset",
			"sia_port", "sia_heartbeat_interval",
			"alarm_volume", "speech_volume", "key_tone_volume", "ring_volume", "speech_language", "apn_auth",
			"new_sensor_type", "new_relay_type",
			"panel_password", "ap_password", "apn_password", "sia_aes_key",
			"panel_phone_number", "phone_number_1", "phone_number_2", "phone_number_3", "phone_number_4",
			"phone_number_5", "phone_number_6", "sms_push_number_1", "sms_push_number_2", "apn_name", "apn_user",
			"sia_host", "sia_account", "sia_receiver", "sia_prefix", "cid_phone1", "cid_phone2", "cid_user",
			"new_sensor_name", "new_relay_name", "register_sensor", "register_relay", "refresh",
			"sms_alert_when_armed", "history_alerts",
		},
		ScopeSensor: {"", "press", "trigger", "tamper", "low_battery", "open_arming", "enabled", "arm_delay", "detect_door", "door_chime",
			"independent_zone", "alert_mode", "name", "delete"},
		ScopeRelay: {"node", "name", "delete"},
	}
	all := Entities()
	for scope, keys := range spec {
		for _, k := range keys {
			if !slices.ContainsFunc(all, func(e Entity) bool { return e.Scope == scope && e.Key == k }) {
				t.Errorf("%s entity %q of spec §2 is not in the table", scope, k)
			}
		}
	}
	platforms := []string{"alarm_control_panel", "event", "binary_sensor", "sensor", "switch", "number", "select", "text", "button", "device_automation"}
	for _, e := range all {
		where := string(e.Scope) + " " + e.Key
		switch {
		case !slices.Contains(platforms, e.Platform):
			t.Errorf("%s: platform %q", where, e.Platform)
		case e.Category != "" && e.Category != "config" && e.Category != "diagnostic":
			t.Errorf("%s: category %q", where, e.Category)
		case (e.Platform == "sensor" || e.Platform == "binary_sensor") && e.Category == "config":
			t.Errorf("%s: Home Assistant refuses config sensors", where)
		case e.Platform == "button" && (e.State || !e.Command):
			t.Errorf("%s: a button is a command without state", where)
		case e.Platform == "select" && (len(e.Options) < 2 || len(slices.Compact(slices.Clone(e.Options))) != len(e.Options)):
			t.Errorf("%s: options %v", where, e.Options)
		case e.Platform == "number" && e.Min >= e.Max:
			t.Errorf("%s: range %d..%d", where, e.Min, e.Max)
		case e.Platform == "text" && (e.Min > e.Max || e.Max > 255 || e.Max == 0):
			t.Errorf("%s: length %d..%d", where, e.Min, e.Max)
		case e.Category == "config" && !e.Command:
			t.Errorf("%s: a config entity without a command", where)
		case e.Section != "" && e.Field == "":
			t.Errorf("%s: section without field", where)
		}
	}
	// Ranges come from the protocol's write validators (spec:
	// local-protocol.md 7.3).
	for key, want := range map[string][2]int{"alarm_siren_duration": {0, 999}, "timezone_offset": {-720, 720}, "panel_password": {4, 4}, "ap_password": {9, 64}, "sia_port": {0, 65535}} {
		e := lookup(ScopePanel, key)
		if e.Min != want[0] || e.Max != want[1] {
			t.Errorf("%s: range %d..%d, want %v", key, e.Min, e.Max, want)
		}
	}
}

// Every device's discovery payload is well-formed and has every entity of
// the table its panel, sensor or relay supports: on the simulator, a GSM
// panel with SIA and CID, that is all of them.
func TestDiscoveryMatchesTable(t *testing.T) {
	r := startRig(t, "")
	snap := r.sim.Snapshot()
	d, err := CheckDiscovery([]byte(r.w.WaitFor(t, panelDisc, anyPayload)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Scope != ScopePanel || len(d.Removed) != 0 {
		t.Errorf("panel payload: scope %s, removed %v", d.Scope, d.Removed)
	}
	// All but the cloud panel's.
	if n := len(d.Entities); n != len(panelTable)-1 {
		var missing []string
		for _, e := range panelTable {
			if e.When == IfCloud {
				continue
			}
			if !slices.ContainsFunc(slices.Collect(maps.Values(d.Entities)), func(x Entity) bool { return x.Key == e.Key }) {
				missing = append(missing, e.Key)
			}
		}
		t.Errorf("panel has %d entities, want all %d but cloud_conflict: missing %v", n, len(panelTable), missing)
	}
	for _, rec := range snap.Sensors {
		d, err := CheckDiscovery([]byte(r.w.WaitFor(t, sensorDisc(rec.Index), anyPayload)))
		if err != nil {
			t.Fatalf("sensor %d: %v", rec.Index, err)
		}
		// The rows its kind offers (the sensor, its diagnostics and
		// delete; without a definition, nothing that writes it).
		kind, _ := KindOf(peripheral.KindSensor, peripheral.Type(rec.TypeID), rec.Subtype)
		updatable := peripheral.NewSensor(1, rec).Definition != nil
		want := 0
		for _, e := range sensorTable {
			if o, ok := e.src.(offerer); e.Key != keyTrigger && (!ok || o.offered(&kind)) && (updatable || e.When == Always) {
				want++
			}
		}
		if d.Scope != ScopeSensor || len(d.Entities) != want || len(d.Missing()) != 0 {
			t.Errorf("sensor %d: scope %s, %d entities, want %d; missing %v", rec.Index, d.Scope, len(d.Entities), want, d.Missing())
		}
	}
	for _, rec := range snap.Devices {
		d, err := CheckDiscovery([]byte(r.w.WaitFor(t, relayDisc(rec.Index), anyPayload)))
		if err != nil {
			t.Fatalf("relay %d: %v", rec.Index, err)
		}
		if len(d.Entities) != rec.NodeCount+2 || len(d.Missing()) != 0 {
			t.Errorf("relay %d: %d entities, want %d switches, name and delete", rec.Index, len(d.Entities), rec.NodeCount)
		}
	}
	// And the checker refuses what breaks the conventions.
	for _, bad := range []string{
		strings.Replace(r.w.WaitFor(t, panelDisc, anyPayload), `"default_entity_id":"number.`, `"object_id":"x","default_entity_id":"number.`, 1),
		strings.Replace(r.w.WaitFor(t, panelDisc, anyPayload), `"availability_mode":"all"`, `"availability_mode":"any"`, 1),
		strings.Replace(r.w.WaitFor(t, panelDisc, anyPayload), `"max":999`, `"max":1000`, 1),
		strings.Replace(r.w.WaitFor(t, sensorDisc(1), anyPayload), `"via_device":"g90_simpanel0001"`, `"via_device":"elsewhere"`, 1),
	} {
		if _, err := CheckDiscovery([]byte(bad)); err == nil {
			t.Errorf("CheckDiscovery accepted %.120s…", bad)
		}
	}
}

// The panel's settings: a command on each kind of entity reaches the
// simulated panel, and the state topic shows the new value at once.
func TestConfigCommands(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"arm_delay", mqtttest.Is("30"))
	for _, c := range []struct {
		key, payload string
		ok           func(sim.State) bool
	}{
		{"alert_door_open", "OFF", func(s sim.State) bool { return s.AlertFlags&protocol.AlertDoorOpen == 0 }},
		{"alert_sms_push", "ON", func(s sim.State) bool { return s.AlertFlags&protocol.AlertSMSPush != 0 }},
		{"alarm_siren_duration", "120", func(s sim.State) bool { return s.HostConfig.AlarmSirenDuration == 120 }},
		{"timezone_offset", "-120", func(s sim.State) bool { return s.HostConfig.TimezoneOffsetM == -120 }},
		{"speech_volume", "high", func(s sim.State) bool { return s.HostConfig.SpeechVolumeLevel == 2 }},
		{"ring_volume", "mute", func(s sim.State) bool { return *s.HostConfig.RingVolumeLevel == 0 }},
		{"speech_language", "German (male)", func(s sim.State) bool { return s.HostConfig.SpeechLanguage == 6 }},
		{"phone_number_3", "+15550103", func(s sim.State) bool { return s.AlarmPhones.PhoneNumbers[2] == "+15550103" }},
		// Empty clears it: not taken for the bridge's clearing of the
		// topic after the command before, which the broker sent back.
		{"phone_number_3", "", func(s sim.State) bool { return s.AlarmPhones.PhoneNumbers[2] == "" }},
		{"ap_enabled", "ON", func(s sim.State) bool { return s.NetConfig.APEnabled == 1 }},
		{"apn_auth", "chap", func(s sim.State) bool { return s.NetConfig.APNAuth == 2 }},
		{"apn_name", "web.example", func(s sim.State) bool { return s.NetConfig.APNName == "web.example" }},
		{"sia_enabled", "ON", func(s sim.State) bool { return s.SIA.Enabled == 1 }},
		{"sia_heartbeat_interval", "120", func(s sim.State) bool { return *s.SIA.HeartbeatInterval == 120 }},
		{"cid_phone1", "+15550999", func(s sim.State) bool { return s.CID.Phone1 == "+15550999" }},
		{"cid_enabled", "ON", func(s sim.State) bool { return s.CID.Enabled == 1 }},
	} {
		r.w.Publish(t, base+c.key+"/set", c.payload)
		r.w.WaitFor(t, base+c.key, mqtttest.Is(c.payload))
		// The state follows the panel's reply: the panel holds it already.
		if !c.ok(r.sim.Snapshot()) {
			t.Errorf("%s=%s: state published, but the simulated panel does not hold it", c.key, c.payload)
		}
	}
	if st := r.b.Stats(); st.RejectedCommand != 0 || st.CommandErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Invalid payloads are ignored with a log line, and nothing at all is
// sent to the panel.
func TestInvalidPayloadsSendNothing(t *testing.T) {
	r := startRigWith(t, "", nil, nil)
	r.w.WaitFor(t, base+"sensor/1/name", mqtttest.Is("Front door"))
	before := r.sim.Snapshot()
	sent := r.sent.Writes()
	bad := [][2]string{
		{"alarm_siren_duration", "1000"}, {"alarm_siren_duration", "abc"}, {"arm_delay", "12.5"}, {"arm_delay", "-1"},
		{"alarm_volume", "loud"}, {"alert_door_open", "MAYBE"}, {"alert_door_open", "on"},
		{"panel_password", "123"}, {"phone_number_1", "+123456789012345"}, {"apn_name", `say "hi"`},
		{"apn_user", "line\nbreak"}, {"cellular_operator", "26202"}, {"registration", "idle"}, {"no_such_entity", "ON"},
		{"new_sensor_type", "Toaster"}, {"new_sensor_name", `bad\name`}, {"reboot", "NOW"}, {"register_sensor", ""},
		{"sensor/1/name", ""}, {"sensor/1/name", strings.Repeat("x", 32)}, {"sensor/1/door_chime", "true"},
		{"sensor/1/alert_mode", "sometimes"}, {"sensor/999/enabled", "ON"}, {"sensor/1/delete", "YES"},
		{"sensor/1/tamper", "ON"}, {"sensor/x/enabled", "ON"}, {"relay/6/name", ""}, {"relay/6/9", "ON"}, {"relay/6/node", "ON"},
		{"relay/6/delete", "press"}, {"relay/3/tamper", "ON"},
		// Flags the sensor's kind does not offer: a PIR's door chime, a
		// fob's arm delay and alert mode (the kind table).
		{"sensor/7/door_chime", "ON"}, {"sensor/7/detect_door", "OFF"}, {"sensor/21/arm_delay", "ON"},
		{"sensor/21/alert_mode", "alert_always"}, {"sensor/21/press", `{"event_type":"away"}`},
	}
	for _, b := range bad {
		r.w.Publish(t, base+b[0]+"/set", b[1])
	}
	waitStat(t, r.b, "every bad command rejected", func(s Stats) bool { return s.RejectedCommand == uint64(len(bad)) })
	if st := r.b.Stats(); st.Commands != 0 || st.CommandErrors != 0 {
		t.Errorf("stats %+v: every command should have been rejected", st)
	}
	if n := r.sent.Writes() - sent; n != 0 {
		t.Errorf("%d commands sent to the panel", n)
	}
	after := r.sim.Snapshot()
	if after.HostConfig.AlarmSirenDuration != before.HostConfig.AlarmSirenDuration || after.AlertFlags != before.AlertFlags ||
		after.Sensors[0].Name != before.Sensors[0].Name || len(after.Sensors) != len(before.Sensors) {
		t.Error("the simulated panel changed")
	}
}

// A write the panel does not carry out is logged, and the state topic
// shows the real value again.
func TestRejectedWriteRepublishes(t *testing.T) {
	r := startRig(t, "")
	topic := base + "arm_delay"
	r.w.WaitFor(t, topic, mqtttest.Is("30"))
	n := r.w.Count(topic)
	if err := r.sim.SetFaults(sim.Faults{IgnoreCode: int(protocol.SetHostConfig)}); err != nil {
		t.Fatal(err)
	}
	r.w.Publish(t, topic+"/set", "45")
	waitStat(t, r.b, "a command error", func(s Stats) bool { return s.CommandErrors == 1 })
	eventually.True(t, "the state published again", func() bool { return r.w.Count(topic) > n })
	if p, _ := r.w.Get(topic); p != "30" || r.sim.Snapshot().HostConfig.ArmDelay != 30 {
		t.Fatalf("state %q, panel %d: want both 30", p, r.sim.Snapshot().HostConfig.ArmDelay)
	}
}

// After a failed write the Monitor reads the section again, so the state
// shows what the panel holds even when it changed behind the bridge's
// back (the bridge does not read the panel itself).
func TestFailedWriteShowsThePanelsValue(t *testing.T) {
	r := startRig(t, "")
	topic := base + "arm_delay"
	r.w.WaitFor(t, topic, mqtttest.Is("30"))
	st := r.sim.Snapshot()
	st.HostConfig.ArmDelay = 50 // changed at the keypad, say
	if err := r.sim.SetState(st); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.SetFaults(sim.Faults{IgnoreCode: int(protocol.SetHostConfig)}); err != nil {
		t.Fatal(err)
	}
	r.w.Publish(t, topic+"/set", "45")
	waitStat(t, r.b, "the failed write", func(s Stats) bool { return s.CommandErrors == 1 })
	r.w.WaitFor(t, topic, mqtttest.Is("50"))
}

// A sensor's settings: flags, alert mode and name reach the panel; a
// new name renames the Home Assistant device too.
func TestSensorCommands(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"sensor/1/door_chime", mqtttest.Is("ON"))
	flags := func(index int) int {
		for _, s := range r.sim.Snapshot().Sensors {
			if s.Index == index {
				return s.UserFlags
			}
		}
		return -1
	}
	r.w.Publish(t, base+"sensor/1/door_chime/set", "OFF")
	r.w.WaitFor(t, base+"sensor/1/door_chime", mqtttest.Is("OFF"))
	if flags(1)&int(peripheral.FlagDoorChime) != 0 || flags(1)&int(peripheral.FlagDetectDoor) == 0 {
		t.Errorf("sensor 1 flags %d: want door chime off, the rest as it was", flags(1))
	}
	r.w.Publish(t, base+"sensor/8/alert_mode/set", "alert_when_away_and_home")
	r.w.WaitFor(t, base+"sensor/8/alert_mode", mqtttest.Is("alert_when_away_and_home"))
	if m, _ := peripheral.UserFlags(flags(8)).AlertMode(); m != peripheral.AlertWhenAwayAndHome {
		t.Errorf("sensor 8 alert mode %v", m)
	}
	r.w.Publish(t, base+"sensor/30/enabled/set", "ON")
	r.w.WaitFor(t, base+"sensor/30/enabled", mqtttest.Is("ON"))
	r.w.Publish(t, base+"sensor/2/name/set", "Patio door")
	r.w.WaitFor(t, base+"sensor/2/name", mqtttest.Is("Patio door"))
	r.w.WaitFor(t, sensorDisc(2), func(p string) bool { return strings.Contains(p, `"name":"Patio door"`) })
	if s := r.sim.Snapshot().Sensors[1]; s.Index != 2 || s.Name != "Patio door" {
		t.Errorf("sensor 2 on the panel: %+v", s)
	}
	r.w.Publish(t, base+"relay/3/name/set", "Garden lamps")
	r.w.WaitFor(t, base+"relay/3/name", mqtttest.Is("Garden lamps"))
	r.w.WaitFor(t, relayDisc(3), func(p string) bool { return strings.Contains(p, `"name":"Garden lamps"`) })
}

// The delete button deletes the sensor or relay on the panel and its
// device in Home Assistant: an empty retained discovery payload, and its
// retained states are cleared.
func TestDeleteButtons(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"sensor/2/name", mqtttest.Is("Back door"))
	r.w.WaitFor(t, base+"relay/9/name", mqtttest.Is("Porch siren"))
	r.w.Publish(t, base+"sensor/2/delete/set", "PRESS")
	r.w.WaitFor(t, sensorDisc(2), mqtttest.Is(""))
	r.w.WaitFor(t, base+"sensor/2", mqtttest.Is(""))
	r.w.WaitFor(t, base+"sensor/2/name", mqtttest.Is(""))
	if slices.ContainsFunc(r.sim.Snapshot().Sensors, func(s protocol.PeripheralRecord) bool { return s.Index == 2 }) {
		t.Error("sensor 2 is still on the panel")
	}
	r.w.Publish(t, base+"relay/9/delete/set", "PRESS")
	r.w.WaitFor(t, relayDisc(9), mqtttest.Is(""))
	r.w.WaitFor(t, base+"relay/9/name", mqtttest.Is(""))
	if slices.ContainsFunc(r.sim.Snapshot().Devices, func(d protocol.PeripheralRecord) bool { return d.Index == 9 }) {
		t.Error("relay 9 is still on the panel")
	}
	// Once the monitor has read the lists, nothing brings them back.
	eventually.True(t, "the monitor to see sensor 2 gone", func() bool {
		return !slices.ContainsFunc(r.mon.State().Sensors, func(s g90.SensorState) bool { return s.Index == 2 })
	})
	// Republished in list order, relays after sensors.
	n := r.w.Count(relayDisc(6))
	r.w.Publish(t, "homeassistant/status", "online")
	eventually.True(t, "discovery again", func() bool { return r.w.Count(relayDisc(6)) > n })
	if p, _ := r.w.Get(sensorDisc(2)); p != "" {
		t.Errorf("sensor 2's device is back: %.80s", p)
	}
	if st := r.b.Stats(); st.CommandErrors != 0 || st.Commands != 2 {
		t.Errorf("stats %+v", st)
	}
}

// The register button learns a sensor of the chosen type and name: the
// registration sensor shows the progress, the new sensor's device
// appears, and the type and name go back to their defaults.
func TestRegisterSensor(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"registration", mqtttest.Is("idle"))
	r.w.Publish(t, base+"new_sensor_type/set", "Door Sensor: WRDS01")
	r.w.Publish(t, base+"new_sensor_name/set", "Shed door")
	r.w.WaitFor(t, base+"new_sensor_name", mqtttest.Is("Shed door"))
	r.w.WaitFor(t, base+"new_sensor_type", mqtttest.Is("Door Sensor: WRDS01"))
	r.w.Publish(t, base+"register_sensor/set", "PRESS")
	r.w.WaitFor(t, base+"registration", mqtttest.Is("registering"))
	// A second press while the first runs is refused.
	r.w.Publish(t, base+"register_relay/set", "PRESS")
	waitStat(t, r.b, "the second press rejected", func(s Stats) bool { return s.RejectedCommand == 1 })
	waitSim(t, r.sim, "a sensor to learn", func(s sim.State) bool { return s.PendingSensor != nil })
	if _, err := r.sim.Inject(sim.Injection{Event: "learn", Type: "Door Sensor: WRDS01"}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"registration", mqtttest.Is("registered"))
	attrs := r.w.WaitFor(t, base+"registration/attributes", func(p string) bool { return strings.Contains(p, `"index"`) })
	snap := r.sim.Snapshot()
	added := snap.Sensors[len(snap.Sensors)-1]
	if added.Name != "Shed door" || !strings.Contains(attrs, `"index":`+itoa(added.Index)) {
		t.Fatalf("added %+v; attributes %s", added, attrs)
	}
	r.w.WaitFor(t, sensorDisc(added.Index), func(p string) bool { return strings.Contains(p, `"name":"Shed door"`) })
	r.w.WaitFor(t, base+"sensor/"+itoa(added.Index)+"/name", mqtttest.Is("Shed door"))
	r.w.WaitFor(t, base+"new_sensor_name", mqtttest.Is(""))
	r.w.WaitFor(t, base+"new_sensor_type", mqtttest.Is(peripheral.Definitions(peripheral.KindSensor)[0].Name))
}

// A relay registers at once on the simulator.
func TestRegisterRelay(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"registration", mqtttest.Is("idle"))
	r.w.Publish(t, base+"new_relay_type/set", "Socket: S07")
	r.w.Publish(t, base+"new_relay_name/set", "Lamp")
	r.w.WaitFor(t, base+"new_relay_name", mqtttest.Is("Lamp"))
	r.w.Publish(t, base+"register_relay/set", "PRESS")
	r.w.WaitFor(t, base+"registration", mqtttest.Is("registered"))
	snap := r.sim.Snapshot()
	added := snap.Devices[len(snap.Devices)-1]
	if added.Name != "Lamp" {
		t.Fatalf("added %+v", added)
	}
	r.w.WaitFor(t, relayDisc(added.Index), func(p string) bool { return strings.Contains(p, `"name":"Lamp"`) })
	r.w.WaitFor(t, base+"new_relay_name", mqtttest.Is(""))
}

// The diagnostics come from the host info; the notifications entity goes
// on when a packet comes from the panel.
func TestDiagnostics(t *testing.T) {
	r := startRig(t, "")
	for topic, want := range map[string]string{
		"wifi_status": "ON", "gsm_status": "ON", "gprs_3g_active": "OFF", "wifi_signal": "100", "gsm_signal": "75",
		"battery_voltage": "4264", "cellular_operator": "26201",
	} {
		r.w.WaitFor(t, base+topic, mqtttest.Is(want))
	}
	one := 1
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"notifications", mqtttest.Is("ON"))
	r.w.WaitFor(t, base+"notifications/attributes", func(p string) bool { return !strings.Contains(p, `"last_local_packet":null`) })
}

// Home Assistant's birth message brings the settings' states again too.
func TestBirthRepublishesStates(t *testing.T) {
	r := startRig(t, "")
	topic := base + "alarm_siren_duration"
	r.w.WaitFor(t, topic, mqtttest.Is("180"))
	n := r.w.Count(topic)
	r.w.Publish(t, "homeassistant/status", "online")
	eventually.True(t, "the state published again", func() bool { return r.w.Count(topic) > n })
}

// Alert flags changed elsewhere (the vendor app, the keypad) show: the
// monitor polls them, and the bridge reads them when they change.
func TestAlertFlagsChangedElsewhere(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+"alert_arm_disarm", mqtttest.Is("ON"))
	st := r.sim.Snapshot()
	st.AlertFlags &^= protocol.AlertArmDisarm
	if err := r.sim.SetState(st); err != nil {
		t.Fatal(err)
	}
	r.w.WaitFor(t, base+"alert_arm_disarm", mqtttest.Is("OFF"))
}

// A panel without a cellular module, whose SIA read goes unanswered, and
// no history poller given: no ring volume, operator, SIA or history
// entities, the rest all there.
func TestEntitiesThePanelLacks(t *testing.T) {
	r := startRigWith(t, "", func(_ *Config, mc *g90.MonitorConfig) { mc.Sources = mc.Sources[:1] }, func(s *sim.Panel) {
		st := s.Snapshot()
		st.HostConfig.RingVolumeLevel = nil
		st.NetConfig.GSMOperator, st.NetConfig.HasGSMOperator = "", false
		if err := s.SetState(st); err != nil {
			t.Fatal(err)
		}
		if err := s.SetFaults(sim.Faults{IgnoreCode: int(protocol.GetSIA)}); err != nil {
			t.Fatal(err)
		}
	})
	d, err := CheckDiscovery([]byte(r.w.WaitFor(t, panelDisc, anyPayload)))
	if err != nil || len(d.Missing()) != 0 {
		t.Fatalf("%v; missing %v", err, d.Missing())
	}
	for _, e := range panelTable {
		_, has := d.Entities["g90_simpanel0001_"+e.Key]
		lacks := e.Key == "ring_volume" || e.Key == "cellular_operator" || e.Section == g90.SectionSIA || e.Key == keyHistory || e.When == IfCloud
		if has == lacks {
			t.Errorf("%s: published %v", e.Key, has)
		}
	}
	// Home Assistant's birth brings the states again, and no SIA
	// entities.
	n := r.w.Count(base + "cid_enabled")
	r.w.Publish(t, "homeassistant/status", "online")
	eventually.True(t, "states again", func() bool { return r.w.Count(base+"cid_enabled") > n })
	if _, ok := r.w.Get(base + "sia_enabled"); ok {
		t.Error("SIA state published")
	}
}

// A panel with a PIN: Home Assistant sends no code with its
// configuration entities and Reboot, so they are refused and nothing
// reaches the panel; arming with the code, relays and Refresh work. With
// AllowConfigChanges they work too (issue 13.4).
func TestConfigChangesNeedPermission(t *testing.T) {
	var logs lockedbuf.Buffer
	r := startRigWith(t, "4321", func(c *Config, _ *g90.MonitorConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, nil)
	r.w.WaitFor(t, base+"sensor/1/name", mqtttest.Is("Front door"))
	before := r.sim.Snapshot()
	sent := r.sent.Writes()
	refused := [][2]string{
		{"alert_door_open", "OFF"}, {"sensor/1/enabled", "OFF"}, {"sensor/1/delete", "PRESS"}, {"relay/6/delete", "PRESS"},
		{"reboot", "PRESS"}, {"panel_password", "9999"}, {"sia_enabled", "ON"}, {"register_sensor", "PRESS"},
		{keySMSWhenArmed, "ON"}, {"arm_delay", "5"},
	}
	for _, c := range refused {
		r.w.Publish(t, base+c[0]+"/set", c[1])
	}
	waitStat(t, r.b, "every refused command rejected", func(s Stats) bool { return s.RejectedCommand == uint64(len(refused)) })
	if n := r.sent.Writes() - sent; n != 0 || !cmp.Equal(r.sim.Snapshot().Sensors, before.Sensors) || r.sim.Snapshot().AlertFlags != before.AlertFlags {
		t.Fatalf("%d commands reached the panel, or it changed", n)
	}
	if n := strings.Count(logs.String(), "configuration changes from MQTT need mqtt.allow_config_changes"); n != len(refused) {
		t.Errorf("%d refusals logged, want %d:\n%s", n, len(refused), logs.String())
	}
	r.w.Publish(t, base+"relay/6/2/set", "ON")
	r.w.WaitFor(t, base+"relay/6/2", mqtttest.Is("ON"))
	r.w.Publish(t, base+"alarm/set", `{"action":"ARM_HOME","code":"4321"}`)
	r.w.WaitFor(t, base+"alarm", mqtttest.Is("armed_home"))
	r.w.Publish(t, base+"refresh/set", "PRESS")
	waitStat(t, r.b, "3 commands sent to the panel", func(s Stats) bool { return s.Commands == 3 })

	allowed := startRigWith(t, "4321", func(c *Config, _ *g90.MonitorConfig) { c.AllowConfigChanges = true }, nil)
	allowed.w.WaitFor(t, base+"alert_door_open", mqtttest.Is("ON"))
	allowed.w.Publish(t, base+"alert_door_open/set", "OFF")
	allowed.w.WaitFor(t, base+"alert_door_open", mqtttest.Is("OFF"))
	if allowed.sim.Snapshot().AlertFlags&protocol.AlertDoorOpen != 0 {
		t.Fatal("allowed, the alert flag did not change on the panel")
	}
}
