package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// simSensor returns the simulator's sensor with that index.
func simSensor(t *testing.T, s *sim.Panel, index int) (protocol.PeripheralRecord, bool) {
	t.Helper()
	for _, r := range s.Snapshot().Sensors {
		if r.Index == index {
			return r, true
		}
	}
	return protocol.PeripheralRecord{}, false
}

// list returns GET .../path's entries.
func (r *rig) list(t *testing.T, path string) []map[string]any {
	t.Helper()
	status, out := r.do(t, "GET", "/api/panels/Home/"+path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, out)
	}
	var es []map[string]any
	for _, e := range out[path].([]any) {
		es = append(es, e.(map[string]any))
	}
	return es
}

func byIndex(es []map[string]any, index int) map[string]any {
	for _, e := range es {
		if e["index"] == float64(index) {
			return e
		}
	}
	return nil
}

func TestManageSensors(t *testing.T) {
	r := startRig(t, rigConfig{})
	ss := r.list(t, "sensors")
	if len(ss) != len(r.sim.Snapshot().Sensors) {
		t.Fatalf("%d sensors, the simulator has %d", len(ss), len(r.sim.Snapshot().Sensors))
	}
	if back := byIndex(ss, 2); back == nil || back["name"] != "Back door" || back["type"] != "Door Sensor: WRDS01" || back["enabled"] != true {
		t.Errorf("sensor 2: %v", back)
	}

	// Rename: the answer, the panel and the live state all have the name.
	status, out := r.do(t, "PATCH", "/api/panels/Home/sensors/2", `{"name":"Patio door"}`)
	if status != 200 || out["name"] != "Patio door" || out["index"] != float64(2) {
		t.Fatalf("rename: %d %v", status, out)
	}
	if rec, _ := simSensor(t, r.sim, 2); rec.Name != "Patio door" {
		t.Errorf("simulator has %q", rec.Name)
	}
	eventually.True(t, "the state naming the sensor Patio door", func() bool { return stateHasSensor(r, t, "Patio door") })

	// Disable, flags and alert mode, verified on the panel.
	status, out = r.do(t, "PATCH", "/api/panels/Home/sensors/2", `{"enabled":false,"flags":["door_chime","arm_delay"],"alert_mode":"away"}`)
	if status != 200 || out["enabled"] != false || out["alert_mode"] != "alert_when_away" {
		t.Fatalf("disable: %d %v", status, out)
	}
	if fl := fmt.Sprint(out["flags"]); !strings.Contains(fl, "door_chime") || !strings.Contains(fl, "arm_delay") || strings.Contains(fl, "enabled") {
		t.Errorf("flags %v", out["flags"])
	}
	rec, _ := simSensor(t, r.sim, 2)
	if rec.UserFlags&1 != 0 || rec.UserFlags&8 == 0 || rec.UserFlags&2 == 0 || rec.UserFlags&96 != 64 {
		t.Errorf("simulator's user_flags %d", rec.UserFlags)
	}
	// The list is the whole set: door_chime alone clears arm_delay.
	status, out = r.do(t, "PATCH", "/api/panels/Home/sensors/2", `{"enabled":true,"flags":["door_chime"]}`)
	if status != 200 || fmt.Sprint(out["flags"]) != "[enabled door_chime alert_when_away]" {
		t.Fatalf("flags: %d %v", status, out)
	}

	// Bad values name their field and send nothing.
	before := r.sent.Writes()
	for _, c := range []struct{ path, body, field string }{
		{"sensors/2", `{"name":"` + strings.Repeat("x", 32) + `"}`, "name"},
		{"sensors/2", `{"name":"a\tb"}`, "name"},
		{"sensors/2", `{"flags":["supports_updating_subtype"]}`, "flags"},
		{"sensors/2", `{"flags":["enabled"]}`, "flags"},
		{"sensors/2", `{"alert_mode":"sideways"}`, "alert_mode"},
		{"relays/6", `{"alert_mode":"away"}`, "alert_mode"},
	} {
		status, out := r.do(t, "PATCH", "/api/panels/Home/"+c.path, c.body)
		if status != 400 || out["field"] != c.field {
			t.Errorf("PATCH %s %s: %d %v, want 400 naming %s", c.path, c.body, status, out, c.field)
		}
	}
	if status, out := r.do(t, "PATCH", "/api/panels/Home/sensors/2", `{}`); status != 400 || !strings.Contains(fmt.Sprint(out["error"]), "nothing to change") {
		t.Errorf("empty change: %d %v", status, out)
	}
	if status, out := r.do(t, "PATCH", "/api/panels/Home/sensors/999", `{"name":"x"}`); status != 404 {
		t.Errorf("unknown sensor: %d %v", status, out)
	}
	if status, out := r.do(t, "DELETE", "/api/panels/Home/sensors/999", ""); status != 404 {
		t.Errorf("delete unknown sensor: %d %v", status, out)
	}
	if n := r.sent.Writes(); n != before {
		t.Errorf("refused changes sent %d writes", n-before)
	}

	// Delete.
	if status, out := r.do(t, "DELETE", "/api/panels/Home/sensors/2", ""); status != 200 || out["ok"] != true {
		t.Fatalf("delete: %d %v", status, out)
	}
	if _, ok := simSensor(t, r.sim, 2); ok {
		t.Error("sensor still on the simulator")
	}
	if byIndex(r.list(t, "sensors"), 2) != nil {
		t.Error("sensor still listed")
	}
	eventually.True(t, "the state without the sensor", func() bool { return !stateHasSensor(r, t, "Patio door") })
}

func stateHasSensor(r *rig, t *testing.T, name string) bool {
	for _, s := range r.panelState(t).State.Sensors {
		if s.Name == name {
			return true
		}
	}
	return false
}

func TestManageRelays(t *testing.T) {
	r := startRig(t, rigConfig{})
	board := byIndex(r.list(t, "relays"), 6)
	if board == nil || board["name"] != "Relay board" || len(board["nodes"].([]any)) != 4 {
		t.Fatalf("relay 6: %v", board)
	}
	status, out := r.do(t, "PATCH", "/api/panels/Home/relays/6", `{"name":"Pumps","enabled":false}`)
	if status != 200 || out["name"] != "Pumps" || out["enabled"] != false {
		t.Fatalf("rename relay: %d %v", status, out)
	}
	if n := out["nodes"].([]any); n[3].(map[string]any)["name"] != "Pumps#4" {
		t.Errorf("nodes %v", n)
	}
	for _, d := range r.sim.Snapshot().Devices {
		if d.Index == 6 && (d.Name != "Pumps" || d.UserFlags&1 != 0) {
			t.Errorf("simulator's device %+v", d)
		}
	}

	// Learning a socket: the simulator confirms a device at once.
	status, out = r.do(t, "POST", "/api/panels/Home/relays", `{"type":"Socket: S07","name":"Heater"}`)
	if status != 202 {
		t.Fatalf("learn relay: %d %v", status, out)
	}
	job := r.waitJob(t, out["job"].(string))
	if job["state"] != "done" || job["kind"] != "relay" {
		t.Fatalf("job %v", job)
	}
	res := job["result"].(map[string]any)
	if res["name"] != "Heater" {
		t.Errorf("learnt %v", res)
	}
	idx := int(res["index"].(float64))
	if byIndex(r.list(t, "relays"), idx) == nil {
		t.Error("new relay not listed")
	}
	// The state follows, so the new socket can be switched at once.
	eventually.True(t, "the state listing the new relay", func() bool {
		status, _ := r.do(t, "POST", fmt.Sprintf("/api/panels/Home/relays/%d/0", idx), `{"on":true}`)
		return status == 200
	})
	if !r.sim.Snapshot().Relays[idx][0] {
		t.Error("new socket not switched on")
	}
	if status, out := r.do(t, "DELETE", fmt.Sprintf("/api/panels/Home/relays/%d", idx), ""); status != 200 {
		t.Fatalf("delete relay: %d %v", status, out)
	}
	if byIndex(r.list(t, "relays"), idx) != nil {
		t.Error("deleted relay still listed")
	}
}

// waitJob polls a job until it has ended.
func (r *rig) waitJob(t *testing.T, id string) map[string]any {
	t.Helper()
	var job map[string]any
	eventually.True(t, "job "+id+" ending", func() bool {
		status, out := r.do(t, "GET", "/api/panels/Home/jobs/"+id, "")
		if status != 200 {
			t.Fatalf("job %s: %d %v", id, status, out)
		}
		job = out
		return out["state"] != "waiting"
	})
	return job
}

func TestLearnSensor(t *testing.T) {
	r := startRig(t, rigConfig{})
	status, out := r.do(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07","name":"Garage side door"}`)
	if status != 202 || out["timeout_s"] != float64(30) {
		t.Fatalf("learn: %d %v", status, out)
	}
	id := out["job"].(string)
	if d, err := time.Parse(time.RFC3339, out["deadline"].(string)); err != nil || time.Until(d) < 20*time.Second {
		t.Errorf("deadline %v: %v", out["deadline"], err)
	}
	status, job := r.do(t, "GET", "/api/panels/Home/jobs/"+id, "")
	if status != 200 || job["state"] != "waiting" || job["remaining_s"].(float64) < 20 || job["kind"] != "sensor" {
		t.Errorf("job while waiting: %d %v", status, job)
	}
	// One job per panel.
	if status, out := r.do(t, "POST", "/api/panels/Home/relays", `{"type":"Socket: S07"}`); status != 409 {
		t.Errorf("second job: %d %v", status, out)
	}
	eventually.True(t, "the simulator learning a sensor", func() bool { return r.sim.Snapshot().PendingSensor != nil })
	inject(t, r.sim, sim.Injection{Event: "learn", Type: "Door Sensor: WDS07"})
	job = r.waitJob(t, id)
	res, _ := job["result"].(map[string]any)
	if job["state"] != "done" || res["name"] != "Garage side door" || res["type"] != "Door Sensor: WDS07" || res["enabled"] != true {
		t.Fatalf("job %v", job)
	}
	index := int(res["index"].(float64))
	if rec, ok := simSensor(t, r.sim, index); !ok || rec.Name != "Garage side door" {
		t.Errorf("simulator's sensor %d: %+v", index, rec)
	}
	eventually.True(t, "the state listing the new sensor", func() bool { return stateHasSensor(r, t, "Garage side door") })

	// Bad learn requests name the field and start nothing.
	for _, c := range []struct{ path, body, field string }{
		{"sensors", `{"type":"Toaster"}`, "type"},
		{"sensors", `{"type":"Socket: S07"}`, "type"}, // a device's, not a sensor's
		{"relays", `{"type":"Socket: S07","name":"` + strings.Repeat("x", 40) + `"}`, "name"},
	} {
		if status, out := r.do(t, "POST", "/api/panels/Home/"+c.path, c.body); status != 400 || out["field"] != c.field {
			t.Errorf("POST %s %s: %d %v", c.path, c.body, status, out)
		}
	}
	if status, _ := r.do(t, "GET", "/api/panels/Home/jobs/nosuchjob", ""); status != 404 {
		t.Errorf("unknown job: %d", status)
	}
}

func TestLearnTimeoutCancelAndForget(t *testing.T) {
	r := startRig(t, rigConfig{})
	web.SetLearnTimeout(r.srv, 300*time.Millisecond)
	// Nobody triggers the sensor.
	status, out := r.do(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07"}`)
	if status != 202 {
		t.Fatalf("learn: %d %v", status, out)
	}
	job := r.waitJob(t, out["job"].(string))
	if job["state"] != "failed" || !strings.Contains(fmt.Sprint(job["error"]), "registration did not complete") || !strings.Contains(fmt.Sprint(job["error"]), `panel "Home"`) {
		t.Errorf("timed-out job %v", job)
	}

	// Cancelled: DELETE ends the wait at once and the next may start.
	web.SetLearnTimeout(r.srv, time.Minute)
	status, out = r.do(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07"}`)
	if status != 202 {
		t.Fatalf("learn: %d %v", status, out)
	}
	id := out["job"].(string)
	status, job = r.do(t, "DELETE", "/api/panels/Home/jobs/"+id, "")
	if status != 200 || job["state"] != "cancelled" {
		t.Fatalf("cancel: %d %v", status, job)
	}
	if status, job := r.do(t, "GET", "/api/panels/Home/jobs/"+id, ""); status != 200 || job["state"] != "cancelled" {
		t.Errorf("cancelled job: %d %v", status, job)
	}

	// Ended jobs are forgotten after a while, and at most a handful kept.
	web.SetJobKeep(r.srv, 50*time.Millisecond)
	eventually.True(t, "the cancelled job forgotten", func() bool {
		status, _ := r.do(t, "GET", "/api/panels/Home/jobs/"+id, "")
		return status == 404
	})
	web.SetJobKeep(r.srv, time.Hour)
	web.SetLearnTimeout(r.srv, time.Millisecond)
	var ids []string
	for range 12 {
		status, out := r.do(t, "POST", "/api/panels/Home/relays", `{"type":"Socket: S07"}`)
		if status != 202 {
			t.Fatalf("learn: %d %v", status, out)
		}
		ids = append(ids, out["job"].(string))
		r.waitJob(t, ids[len(ids)-1])
	}
	if status, _ := r.do(t, "GET", "/api/panels/Home/jobs/"+ids[0], ""); status != 404 {
		t.Errorf("the oldest of 12 jobs is still kept: %d", status)
	}
	if status, _ := r.do(t, "GET", "/api/panels/Home/jobs/"+ids[11], ""); status != 200 {
		t.Errorf("the newest job is forgotten: %d", status)
	}
}

// A job running when Run ends is cancelled and waited for: no goroutine
// is left (startRig's leak check), and no new job starts.
func TestLearnEndsWithRun(t *testing.T) {
	r := startRig(t, rigConfig{})
	status, out := r.do(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07"}`)
	if status != 202 {
		t.Fatalf("learn: %d %v", status, out)
	}
	id := out["job"].(string)
	r.stop()
	status, job := r.do(t, "GET", "/api/panels/Home/jobs/"+id, "")
	if status != 200 || job["state"] != "cancelled" || !strings.Contains(fmt.Sprint(job["error"]), "server stopped") {
		t.Errorf("job after Run: %d %v", status, job)
	}
	if status, out := r.do(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07"}`); status != 503 {
		t.Errorf("learn after Run: %d %v", status, out)
	}
}

func TestTypes(t *testing.T) {
	r := startRig(t, rigConfig{})
	status, out := r.do(t, "GET", "/api/types", "")
	if status != 200 {
		t.Fatalf("%d %v", status, out)
	}
	has := func(list, name, kind string) bool {
		return slices.ContainsFunc(out[list].([]any), func(d any) bool {
			m := d.(map[string]any)
			return m["name"] == name && m["kind"] == kind
		})
	}
	if !has("sensors", "Door Sensor: WDS07", "door") || !has("relays", "Socket: S07", "socket") || has("sensors", "Socket: S07", "socket") {
		t.Errorf("types %v", out)
	}
}

func TestManageConfig(t *testing.T) {
	r := startRig(t, rigConfig{})
	status, out := r.do(t, "GET", "/api/panels/Home/config", "")
	if status != 200 || fmt.Sprint(out["sections"]) != "[host net phones alerts sia cid]" {
		t.Fatalf("sections: %d %v", status, out)
	}
	field := func(sec map[string]any, name string) map[string]any {
		for _, f := range sec["fields"].([]any) {
			if m := f.(map[string]any); m["name"] == name {
				return m
			}
		}
		t.Fatalf("no field %s in %v", name, sec)
		return nil
	}
	status, host := r.do(t, "GET", "/api/panels/Home/config/host", "")
	if status != 200 || host["section"] != "host" {
		t.Fatalf("host: %d %v", status, host)
	}
	if f := field(host, "arm_delay"); f["value"] != float64(30) || f["type"] != "int" || f["min"] != float64(0) || f["max"] != float64(255) || f["writable"] != true || f["help"] == "" {
		t.Errorf("arm_delay %v", f)
	}
	if f := field(host, "speech_language"); fmt.Sprint(f["enum"].([]any)[1]) != "map[name:English female value:1]" || len(f["enum"].([]any)) != 19 {
		t.Errorf("speech_language %v", f)
	}
	if f := field(host, "arm_delay"); f["enum"] != nil {
		t.Errorf("arm_delay has an enum: %v", f)
	}
	status, net := r.do(t, "GET", "/api/panels/Home/config/net", "")
	if f := field(net, "gsm_operator"); status != 200 || f["writable"] != false || f["value"] != "26201" || f["type"] != "string" {
		t.Errorf("gsm_operator %v", f)
	}
	// Passwords and keys are never sent, only whether one is set; a
	// PUT sets them.
	if f := field(net, "ap_password"); f["value"] != nil || f["secret"] != true || f["set"] != true || f["writable"] != true {
		t.Errorf("ap_password %v", f)
	}
	if status, phones := r.do(t, "PUT", "/api/panels/Home/config/phones", `{"values":{"panel_password":"4321"}}`); status != 200 || field(phones, "panel_password")["value"] != nil {
		t.Errorf("PUT phones: %d %v", status, phones)
	} else if got := r.sim.Snapshot().AlarmPhones.PanelPassword; got != "4321" {
		t.Errorf("the panel's password %q after the PUT", got)
	}
	status, alerts := r.do(t, "GET", "/api/panels/Home/config/alerts", "")
	if f := field(alerts, "door_open"); status != 200 || f["type"] != "bool" || f["value"] != true {
		t.Errorf("door_open %v", f)
	}

	// A verified write: the answer is what the panel then holds.
	status, host = r.do(t, "PUT", "/api/panels/Home/config/host", `{"values":{"arm_delay":45,"alarm_siren_duration":"120"}}`)
	if status != 200 || field(host, "arm_delay")["value"] != float64(45) || field(host, "alarm_siren_duration")["value"] != float64(120) {
		t.Fatalf("PUT host: %d %v", status, host)
	}
	if c := r.sim.Snapshot().HostConfig; c.ArmDelay != 45 || c.AlarmSirenDuration != 120 {
		t.Errorf("simulator's host config %+v", c)
	}
	status, alerts = r.do(t, "PUT", "/api/panels/Home/config/alerts", `{"values":{"door_open":false}}`)
	if status != 200 || field(alerts, "door_open")["value"] != false || r.sim.Snapshot().AlertFlags&protocol.AlertDoorOpen != 0 {
		t.Errorf("PUT alerts: %d %v", status, alerts)
	}

	// Bad values name the field and send nothing.
	before := r.sent.Writes()
	for _, c := range []struct{ sec, body, field string }{
		{"host", `{"values":{"arm_delay":256}}`, "arm_delay"},
		{"host", `{"values":{"arm_delay":"soon"}}`, "arm_delay"},
		{"host", `{"values":{"arm_delay":1.5}}`, "arm_delay"},
		{"host", `{"values":{"no_such_field":1}}`, "no_such_field"},
		{"phones", `{"values":{"panel_password":"12a4"}}`, "panel_password"},
		{"phones", `{"values":{"phone_number_1":5550123}}`, "phone_number_1"},
		{"net", `{"values":{"gsm_operator":"1"}}`, "gsm_operator"},
		{"sia", `{"values":{"event_flags":"0"}}`, "event_flags"},
		{"host", `{"values":{}}`, "values"},
	} {
		status, out := r.do(t, "PUT", "/api/panels/Home/config/"+c.sec, c.body)
		if status != 400 || out["field"] != c.field {
			t.Errorf("PUT %s %s: %d %v, want 400 naming %s", c.sec, c.body, status, out, c.field)
		}
	}
	if n := r.sent.Writes(); n != before {
		t.Errorf("refused writes sent %d", n-before)
	}
	if status, _ := r.do(t, "GET", "/api/panels/Home/config/nope", ""); status != 404 {
		t.Errorf("unknown section: %d", status)
	}
	if status, _ := r.do(t, "PUT", "/api/panels/Home/config/nope", `{"values":{"a":1}}`); status != 404 {
		t.Errorf("PUT unknown section: %d", status)
	}
}

func TestRebootAndHistory(t *testing.T) {
	r := startRig(t, rigConfig{})
	if status, out := r.do(t, "POST", "/api/panels/Home/reboot", ""); status != 200 || out["ok"] != true {
		t.Fatalf("reboot: %d %v", status, out)
	}
	// The panel does not answer a reboot; the simulator counts them.
	eventually.True(t, "the simulator rebooting", func() bool {
		rb := r.sim.Snapshot().Reboots
		return rb.GSM == 1 && rb.MCU == 1 && rb.WiFi == 1
	})

	status, out := r.do(t, "GET", "/api/panels/Home/history?count=5", "")
	if status != 200 {
		t.Fatalf("history: %d %v", status, out)
	}
	es := out["entries"].([]any)
	want := r.sim.Snapshot().History[:5]
	if len(es) != 5 {
		t.Fatalf("%d entries", len(es))
	}
	for i, e := range es {
		m := e.(map[string]any)
		at, err := time.Parse(time.RFC3339, m["time"].(string))
		if err != nil || at.Unix() != int64(want[i].UnixTime) || m["name"] != want[i].Name || m["type"] != want[i].Type.String() {
			t.Errorf("entry %d: %v, want %+v", i, m, want[i])
		}
	}
	status, out = r.do(t, "GET", "/api/panels/Home/history?start=3&count=1", "")
	if es := out["entries"].([]any); status != 200 || len(es) != 1 || es[0].(map[string]any)["position"] != float64(3) {
		t.Errorf("history from 3: %d %v", status, out)
	}
	for _, q := range []string{"count=0", "count=501", "start=0", "start=x"} {
		if status, out := r.do(t, "GET", "/api/panels/Home/history?"+q, ""); status != 400 || out["param"] == nil {
			t.Errorf("history?%s: %d %v", q, status, out)
		}
	}
}

// With a PIN, what can weaken the alarm needs it: wrong is 403, too many
// wrong ones 429 with Retry-After; a rename does not.
func TestManagePIN(t *testing.T) {
	r := startRig(t, rigConfig{pin: "1234"})
	before := r.sent.Writes()
	wrong := []struct{ method, path, body string }{
		{"PATCH", "sensors/2", `{"enabled":false,"pin":"0000"}`},
		{"PATCH", "sensors/2", `{"alert_mode":"away"}`},
		{"PUT", "config/host", `{"values":{"arm_delay":10},"pin":"1111"}`},
		{"POST", "reboot", `{"pin":"2222"}`},
	}
	for _, c := range wrong {
		if status, out := r.do(t, c.method, "/api/panels/Home/"+c.path, c.body); status != 403 {
			t.Errorf("%s %s %s: %d %v, want 403", c.method, c.path, c.body, status, out)
		}
	}
	if n := r.sent.Writes(); n != before {
		t.Errorf("refused commands sent %d writes", n-before)
	}
	// The fifth wrong one in a row locks the PIN, the right one too.
	if status, _ := r.do(t, "DELETE", "/api/panels/Home/sensors/2", "", "X-G90-PIN", "3333"); status != 403 {
		t.Errorf("delete with a wrong PIN: %d", status)
	}
	resp := r.raw(t, "POST", "/api/panels/Home/sensors", `{"type":"Door Sensor: WDS07","pin":"1234"}`)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("locked out: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// A rename needs none.
	if status, out := r.do(t, "PATCH", "/api/panels/Home/sensors/2", `{"name":"Patio door"}`); status != 200 {
		t.Errorf("rename: %d %v", status, out)
	}
}

func TestManagePINAccepted(t *testing.T) {
	r := startRig(t, rigConfig{pin: "1234"})
	if status, out := r.do(t, "DELETE", "/api/panels/Home/sensors/2", "", "X-G90-PIN", "1234"); status != 200 {
		t.Fatalf("delete with the PIN: %d %v", status, out)
	}
	if status, out := r.do(t, "PUT", "/api/panels/Home/config/host", `{"values":{"arm_delay":10},"pin":"1234"}`); status != 200 {
		t.Fatalf("PUT with the PIN: %d %v", status, out)
	}
	if r.sim.Snapshot().HostConfig.ArmDelay != 10 {
		t.Error("not written")
	}
}

// A panel that does not carry out a command is 502, naming the panel and
// the command.
func TestManagePanelFails(t *testing.T) {
	r := startRig(t, rigConfig{})
	if err := r.sim.SetFaults(sim.Faults{IgnoreCode: int(protocol.GetSensorList)}); err != nil {
		t.Fatal(err)
	}
	status, out := r.do(t, "GET", "/api/panels/Home/sensors", "")
	if msg := fmt.Sprint(out["error"]); status != 502 || !strings.Contains(msg, `panel "Home"`) || !strings.Contains(msg, "sensors") {
		t.Errorf("list: %d %v", status, out)
	}
	if err := r.sim.SetFaults(sim.Faults{IgnoreCode: int(protocol.SetHostConfig)}); err != nil {
		t.Fatal(err)
	}
	status, out = r.do(t, "PUT", "/api/panels/Home/config/host", `{"values":{"arm_delay":45}}`)
	if msg := fmt.Sprint(out["error"]); status != 502 || !strings.Contains(msg, `panel "Home"`) || !strings.Contains(msg, "set host config") || out["field"] != nil {
		t.Errorf("write: %d %v", status, out)
	}
}
