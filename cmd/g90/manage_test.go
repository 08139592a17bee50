package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// runErr runs the CLI and wants an error containing every one of want.
func runErr(t *testing.T, s *sim.Panel, want []string, args ...string) {
	t.Helper()
	_, err := run(t, s, args...)
	if err == nil {
		t.Errorf("g90 %s: no error", strings.Join(args, " "))
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("g90 %s: error %q lacks %q", strings.Join(args, " "), err, w)
		}
	}
}

// config show SECTION --json is an object keyed by exactly the keys
// config set takes; config set changes the panel and prints the result.
func TestConfigShowAndSet(t *testing.T) {
	s := startSim(t)
	for _, sec := range g90.Sections {
		var m map[string]any
		runJSON(t, s, &m, "config", "show", string(sec))
		keys, _ := g90.ConfigKeys(sec)
		var want, got []string
		for _, k := range keys {
			want = append(want, k.Name)
		}
		for k := range m {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("config show %s keys %v, want %v", sec, got, want)
		}
	}

	var host map[string]any
	runJSON(t, s, &host, "config", "set", "host", "alarm_siren_duration=120", "timezone_offset_m=-300")
	if host["alarm_siren_duration"] != 120.0 || host["timezone_offset_m"] != -300.0 {
		t.Errorf("config set host printed %v", host)
	}
	if c := s.Snapshot().HostConfig; c.AlarmSirenDuration != 120 || c.TimezoneOffsetM != -300 {
		t.Errorf("panel host config %+v", c)
	}
	var alerts map[string]any
	runJSON(t, s, &alerts, "config", "set", "alerts", "door_open=off", "sms_push=on")
	if alerts["door_open"] != false || alerts["sms_push"] != true {
		t.Errorf("config set alerts printed %v", alerts)
	}
	if f := s.Snapshot().AlertFlags; f&protocol.AlertDoorOpen != 0 || f&protocol.AlertSMSPush == 0 {
		t.Errorf("panel alert flags %d", f)
	}
	out, err := run(t, s, "config", "set", "phones", "phone_number_3=+15550199")
	if err != nil || !strings.Contains(out, `"+15550199"`) || s.Snapshot().AlarmPhones.PhoneNumbers[2] != "+15550199" {
		t.Errorf("config set phones: %v\n%s", err, out)
	}

	before := s.Snapshot()
	runErr(t, s, []string{"alarm_siren_duration", "0..999"}, "config", "set", "host", "alarm_siren_duration=1000")
	runErr(t, s, []string{"arm_delay", "integer"}, "config", "set", "host", "arm_delay=soon")
	runErr(t, s, []string{"panel_password", "exactly 4"}, "config", "set", "phones", "panel_password=12345")
	runErr(t, s, []string{"gsm_operator", "read-only"}, "config", "set", "net", "gsm_operator=1")
	runErr(t, s, []string{"nosuch", "alarm_siren_duration"}, "config", "set", "host", "nosuch=1")
	runErr(t, s, []string{"key=value"}, "config", "set", "host", "arm_delay")
	runErr(t, s, []string{"no such section"}, "config", "set", "garage", "a=1")
	runErr(t, s, []string{"door_open", "on or off"}, "config", "set", "alerts", "door_open=maybe")
	if _, err := run(t, s, "config", "set", "host"); err == nil {
		t.Error("config set host without keys: no error")
	}
	if after := s.Snapshot(); after.HostConfig.ArmDelay != before.HostConfig.ArmDelay || after.AlarmPhones.PanelPassword != before.AlarmPhones.PanelPassword || after.AlertFlags != before.AlertFlags {
		t.Error("refused config set changed the panel")
	}
}

// config set --help lists every key of every section with its type and
// range, from the layouts.
func TestConfigSetHelpListsKeys(t *testing.T) {
	s := startSim(t)
	out, err := run(t, s, "config", "set", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range g90.Sections {
		keys, _ := g90.ConfigKeys(sec)
		for _, k := range keys {
			if !strings.Contains(out, "  "+k.Name+" ") {
				t.Errorf("help lacks %s key %s", sec, k.Name)
			}
		}
	}
	for _, w := range []string{"integer 0..999", "text, exactly 4 characters", "integer -720..720", "on|off", "read-only"} {
		if !strings.Contains(out, w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

func simSensorNamed(s *sim.Panel, name string) (protocol.PeripheralRecord, bool) {
	for _, r := range s.Snapshot().Sensors {
		if r.Name == name {
			return r, true
		}
	}
	return protocol.PeripheralRecord{}, false
}

func TestSensorSetDeleteAdd(t *testing.T) {
	s := startSim(t)
	var info map[string]any
	runJSON(t, s, &info, "sensor", "set", "Back door", "--name", "Patio door", "--disable",
		"--flag", "door_chime=on", "--alert-mode", "away")
	if info["name"] != "Patio door" || info["enabled"] != false || info["alert_mode"] != "alert_when_away" {
		t.Errorf("sensor set printed %v", info)
	}
	r, ok := simSensorNamed(s, "Patio door")
	if !ok || r.UserFlags != 8|64 {
		t.Errorf("panel has %+v", r)
	}
	runJSON(t, s, &info, "sensor", "set", "2", "--enable", "--flag", "door_chime=off", "--alert-mode", "alert_always")
	if r, _ := simSensorNamed(s, "Patio door"); r.UserFlags != 1 {
		t.Errorf("flags %d, want 1", r.UserFlags)
	}

	before := s.Snapshot()
	runErr(t, s, []string{"no sensor", "999"}, "sensor", "set", "999", "--name", "x")
	runErr(t, s, []string{"nothing to change"}, "sensor", "set", "2")
	runErr(t, s, []string{"at most 31"}, "sensor", "set", "2", "--name", strings.Repeat("x", 32))
	runErr(t, s, []string{"control characters"}, "sensor", "set", "2", "--name", "a\tb")
	runErr(t, s, []string{"not a user flag"}, "sensor", "set", "2", "--flag", "supports_updating_subtype=on")
	runErr(t, s, []string{"on or off"}, "sensor", "set", "2", "--flag", "door_chime=maybe")
	runErr(t, s, []string{"--alert-mode"}, "sensor", "set", "2", "--alert-mode", "sideways")
	runErr(t, s, nil, "sensor", "set", "2", "--enable", "--disable")
	runErr(t, s, []string{"no sensor"}, "sensor", "delete", "Nobody")
	runErr(t, s, []string{"no such definition", "Toaster"}, "sensor", "add", "--type", "Toaster")
	runErr(t, s, []string{"type"}, "sensor", "add", "--name", "x")
	if after := s.Snapshot(); !slices.EqualFunc(before.Sensors, after.Sensors, protocol.PeripheralRecord.Equal) {
		t.Error("refused sensor commands changed the panel")
	}

	if _, err := run(t, s, "sensor", "delete", "Patio door"); err != nil {
		t.Fatal(err)
	}
	if _, ok := simSensorNamed(s, "Patio door"); ok {
		t.Error("sensor not deleted")
	}

	// The sensor transmits once the panel is learning. The command runs
	// on a goroutine of its own, so that the test's goroutine may fail
	// while it waits for the learning; run's t.Context then ends the
	// command, and the cleanup waits for it.
	add := []string{"sensor", "add", "--type", "Door Sensor: WDS07", "--name", "Garage side door", "--timeout", "20s", "--json"}
	var (
		out    string
		addErr error
	)
	added := make(chan struct{})
	go func() {
		defer close(added)
		out, addErr = run(t, s, add...)
	}()
	t.Cleanup(func() { <-added })
	eventually.True(t, "the simulator learning a sensor", func() bool { return s.Snapshot().PendingSensor != nil })
	if _, err := s.Inject(sim.Injection{Event: "learn", Type: "Door Sensor: WDS07"}); err != nil {
		t.Fatal(err)
	}
	<-added
	if addErr != nil {
		t.Fatalf("g90 %s: %v", strings.Join(add, " "), addErr)
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("g90 %s: %v\n%s", strings.Join(add, " "), err, out)
	}
	if info["name"] != "Garage side door" || info["type"] != "Door Sensor: WDS07" || info["enabled"] != true {
		t.Errorf("sensor add printed %v", info)
	}
	if _, ok := simSensorNamed(s, "Garage side door"); !ok {
		t.Error("sensor not on the panel")
	}
	// Nobody triggers the sensor.
	runErr(t, s, []string{"registration did not complete"}, "sensor", "add", "--type", "Door Sensor: WDS07", "--timeout", "50ms")
}

func TestDeviceSetDeleteAdd(t *testing.T) {
	s := startSim(t)
	var nodes []map[string]any
	runJSON(t, s, &nodes, "device", "set", "Relay board#2", "--name", "Pumps")
	if len(nodes) != 4 || nodes[3]["name"] != "Pumps#4" {
		t.Errorf("device set printed %v", nodes)
	}
	runJSON(t, s, &nodes, "device", "set", "6", "--disable")
	for _, d := range s.Snapshot().Devices {
		if d.Index == 6 && (d.Name != "Pumps" || d.UserFlags&1 != 0) {
			t.Errorf("panel device %+v", d)
		}
	}
	runErr(t, s, []string{"nothing to change"}, "device", "set", "6")
	runErr(t, s, []string{"no device"}, "device", "set", "Nope", "--name", "x")
	runErr(t, s, []string{"unknown flag"}, "device", "set", "6", "--flag", "door_chime=on")

	runJSON(t, s, &nodes, "device", "add", "--type", "Socket: S07", "--name", "Heater")
	if len(nodes) != 1 || nodes[0]["name"] != "Heater" {
		t.Fatalf("device add printed %v", nodes)
	}
	idx := int(nodes[0]["index"].(float64))
	if _, err := run(t, s, "relay", "on", strconv.Itoa(idx)); err != nil || !s.Snapshot().Relays[idx][0] {
		t.Errorf("new socket not switched: %v", err)
	}
	if _, err := run(t, s, "device", "delete", "Pumps#3"); err != nil {
		t.Fatal(err)
	}
	for _, d := range s.Snapshot().Devices {
		if d.Index == 6 {
			t.Error("device not deleted")
		}
	}
	runErr(t, s, []string{"no such definition"}, "device", "add", "--type", "Door Sensor: WDS07")
}

func TestDump(t *testing.T) {
	s := startSim(t)
	st := s.Snapshot()
	out, err := run(t, s, "dump")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("dump is not one JSON document: %v\n%s", err, out)
	}
	hasKeys(t, "dump", doc, "panel", "info", "status", "config", "sensors", "devices", "history")
	if _, ok := doc["errors"]; ok {
		t.Errorf("dump errors: %v", doc["errors"])
	}
	config := doc["config"].(map[string]any)
	hasKeys(t, "dump config", config, "host", "net", "phones", "alerts", "sia", "cid")
	if n := len(doc["sensors"].([]any)); n != len(st.Sensors) {
		t.Errorf("%d sensors", n)
	}
	if n := len(doc["history"].([]any)); n != min(50, len(st.History)) {
		t.Errorf("%d history entries, want %d", n, min(50, len(st.History)))
	}
	if doc["info"].(map[string]any)["guid"] != st.Host.GUID || !strings.Contains(out, st.AlarmPhones.PhoneNumbers[0]) {
		t.Error("unredacted dump lacks the GUID or phone numbers")
	}

	out, err = run(t, s, "dump", "--redact")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{st.Host.GUID, st.AlarmPhones.PanelPhoneNumber, st.NetConfig.APPassword, st.SIA.Host, s.Addr().String(), "127.0.0.1"}
	secrets = append(secrets, st.AlarmPhones.PhoneNumbers[:2]...)
	if st.CID.Phone1 != "" {
		secrets = append(secrets, st.CID.Phone1)
	}
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Errorf("redacted dump contains %q", sec)
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	config = doc["config"].(map[string]any)
	for path, v := range map[string]any{
		"phones.panel_password": config["phones"].(map[string]any)["panel_password"],
		"phones.phone_number_1": config["phones"].(map[string]any)["phone_number_1"],
		"phones.phone_number_6": config["phones"].(map[string]any)["phone_number_6"],
		"net.ap_password":       config["net"].(map[string]any)["ap_password"],
		"sia.aes_key":           config["sia"].(map[string]any)["aes_key"],
		"info.guid":             doc["info"].(map[string]any)["guid"],
		"panel":                 doc["panel"],
	} {
		want := "REDACTED"
		if path == "phones.phone_number_6" || path == "sia.aes_key" {
			want = "" // empty values stay empty
		}
		if v != want {
			t.Errorf("redacted %s = %v, want %q", path, v, want)
		}
	}
	if name := doc["sensors"].([]any)[0].(map[string]any)["name"]; name != st.Sensors[0].Name {
		t.Errorf("redaction touched a sensor name: %v", name)
	}

	// A part that cannot be read is reported in the document and the exit.
	if err := s.SetFaults(sim.Faults{IgnoreCode: int(protocol.GetCID)}); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, s, "dump", "--retries", "1", "--timeout", "100ms")
	if err == nil || !strings.Contains(out, `"config.cid"`) {
		t.Errorf("dump with an unreadable CID: %v\n%s", err, out)
	}
}

// Every node of every device can be switched, by index or by name.
func TestRelayEveryNode(t *testing.T) {
	s := startSim(t)
	var nodes []map[string]any
	runJSON(t, s, &nodes, "devices")
	for _, on := range []string{"on", "off"} {
		for i, n := range nodes {
			idx, node := int(n["index"].(float64)), int(n["node"].(float64))
			target := n["name"].(string)
			if i%2 == 0 {
				target = strconv.Itoa(idx) + ":" + strconv.Itoa(node)
			}
			if _, err := run(t, s, "relay", on, target); err != nil {
				t.Fatalf("relay %s %s: %v", on, target, err)
			}
			if got := s.Snapshot().Relays[idx][node]; got != (on == "on") {
				t.Errorf("relay %s %s: node is %v", on, target, got)
			}
		}
	}
	runErr(t, s, []string{"no device"}, "relay", "on", "Nothing#9")
}
