package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/g90alarm/g90/protocol"
)

type api struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newAPI(t *testing.T, p *Panel) *api {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &api{t: t, base: "http://" + p.ControlAddr().String(), hc: &http.Client{Transport: tr}}
}

// call returns the status and the decoded JSON body.
func (a *api) call(method, path, body string) (int, map[string]any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		a.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		a.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, b, err)
	}
	return resp.StatusCode, m
}

func (a *api) wantError(method, path, body string, status int, contains string) {
	a.t.Helper()
	got, m := a.call(method, path, body)
	msg, _ := m["error"].(string)
	if got != status || !strings.Contains(msg, contains) {
		a.t.Errorf("%s %s %s: %d %v, want %d with an error containing %q", method, path, body, got, m, status, contains)
	}
}

func TestControlState(t *testing.T) {
	p := start(t, Config{Control: "127.0.0.1:0"})
	a := newAPI(t, p)
	status, m := a.call("GET", "/state", "")
	if status != http.StatusOK {
		t.Fatalf("GET /state: %d", status)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"alarm_phones", "alert_flags", "arm_state", "cid", "cloud_server", "devices", "history", "host",
		"host_config", "net_config", "pending_device", "pending_sensor", "reboots", "relays", "sensors", "sia"}
	if !slices.Equal(keys, want) {
		t.Errorf("GET /state keys %v, want %v", keys, want)
	}
	if m["arm_state"] != "disarmed" || m["host"].(map[string]any)["guid"] != "SIMPANEL0001" {
		t.Errorf("GET /state: arm_state %v, host %v", m["arm_state"], m["host"])
	}
	first := m["sensors"].([]any)[0].(map[string]any)
	if first["name"] != "Front door" || first["index"] != 1.0 || first["user_flags"] != 63.0 {
		t.Errorf("first sensor %v", first)
	}

	// POST /state replaces the state; the panel answers from it at once.
	st := p.Snapshot()
	st.Arm = protocol.ArmHome
	st.Sensors = st.Sensors[:1]
	st.Sensors[0].Name = "Дверь"
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := a.call("POST", "/state", string(b)); status != http.StatusOK {
		t.Fatalf("POST /state: %d", status)
	}
	c := newClient(t, p.Addr())
	c.expect(`ISTART[102,102,[102,[1,10]]]IEND`, `ISTART[102,[[1,1,1],["\u0414\u0432\u0435\u0440\u044c",1,0,1,0,0,63,0,1,32,1,0,""]]]IEND`)
	c.expect(statusReq, `ISTART[100,[2,"+15550100","TSV018-C3SIA","206","206"]]IEND`)

	a.wantError("POST", "/state", `{`, http.StatusBadRequest, "invalid state")
	a.wantError("POST", "/state", ``, http.StatusBadRequest, "empty body")
	a.wantError("POST", "/state", strings.Replace(string(b), `"arm_state"`, `"arm_sate"`, 1), http.StatusBadRequest, "arm_sate")
	dup := p.Snapshot()
	dup.Sensors = append(dup.Sensors, dup.Sensors[0])
	b, _ = json.Marshal(dup)
	a.wantError("POST", "/state", string(b), http.StatusBadRequest, "two sensors with index 1")
	if got := p.Snapshot(); len(got.Sensors) != 1 {
		t.Errorf("a rejected POST /state changed the state: %d sensors", len(got.Sensors))
	}
}

func TestControlFaults(t *testing.T) {
	p := start(t, Config{Control: "127.0.0.1:0"})
	a := newAPI(t, p)
	status, m := a.call("POST", "/faults", `{"drop":0.3,"delay_ms":50,"duplicate":0.1,"stray":true}`)
	if want := (Faults{Drop: 0.3, DelayMS: 50, Duplicate: 0.1, Stray: true}); status != http.StatusOK || p.Faults() != want {
		t.Errorf("POST /faults: %d %v; faults now %+v, want %+v", status, m, p.Faults(), want)
	}
	if status, m := a.call("GET", "/faults", ""); status != http.StatusOK ||
		!reflect.DeepEqual(m, map[string]any{"drop": 0.3, "delay_ms": 50.0, "duplicate": 0.1, "stray": true, "silent": false}) {
		t.Errorf("GET /faults: %d %v", status, m)
	}
	a.wantError("POST", "/faults", `{"dropp":1}`, http.StatusBadRequest, `unknown field "dropp"`)
	a.wantError("POST", "/faults", `{"drop":1.5}`, http.StatusBadRequest, "drop 1.5 is outside 0..1")
	a.wantError("POST", "/faults", `{"delay_ms":-5}`, http.StatusBadRequest, "delay_ms -5")
	a.wantError("POST", "/faults", `{"drop":"lots"}`, http.StatusBadRequest, "invalid faults")
	a.wantError("POST", "/faults", `{"drop":0}{}`, http.StatusBadRequest, "data after")
	a.wantError("POST", "/faults", `not json`, http.StatusBadRequest, "invalid faults")
	if want := (Faults{Drop: 0.3, DelayMS: 50, Duplicate: 0.1, Stray: true}); p.Faults() != want {
		t.Errorf("rejected requests changed the faults to %+v", p.Faults())
	}
	// Absent fields are zero: posting {} heals the panel.
	if status, _ := a.call("POST", "/faults", `{}`); status != http.StatusOK || p.Faults() != (Faults{}) {
		t.Errorf("POST {}: %d, faults %+v", status, p.Faults())
	}
}

func TestControlLearnAndErrors(t *testing.T) {
	p := start(t, Config{Control: "127.0.0.1:0"})
	a := newAPI(t, p)
	a.wantError("POST", "/learn/complete", "", http.StatusConflict, "no sensor is being learned")
	c := newClient(t, p.Addr())
	c.expect(`ISTART[156,156,[156,["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]]]IEND`, `ISTARTIEND`)
	if status, m := a.call("POST", "/learn/complete", ""); status != http.StatusOK || m["index"] != 13.0 {
		t.Errorf("POST /learn/complete: %d %v", status, m)
	}
	c.expect(`ISTART[102,102,[102,[13,13]]]IEND`, `ISTART[102,[[13,13,1],["Test sensor",13,0,1,3,0,33,0,0,0,1,0,""]]]IEND`)

	a.wantError("GET", "/nope", "", http.StatusNotFound, "no such endpoint: /nope")
	a.wantError("DELETE", "/state", "", http.StatusMethodNotAllowed, "method DELETE not allowed on /state")
	a.wantError("GET", "/learn/complete", "", http.StatusMethodNotAllowed, "not allowed")
	big := `{"drop":0,"x":"` + strings.Repeat("a", maxControlBody) + `"}`
	a.wantError("POST", "/faults", big, http.StatusBadRequest, "too large")
}

// GET /state is State.MarshalJSON, and decodes back to the same state.
func TestStateJSONRoundTrip(t *testing.T) {
	st := defaultState(testNow)
	st.Sensors[0].Name = "Tür \"vorne\"\n"
	st.PendingSensor = &protocol.PeripheralRecord{Name: "Learning", Index: 0, TypeID: 1, Subtype: 3, NodeCount: 1}
	st.HostConfig.RingVolumeLevel = nil
	st.History[0].Other = protocol.ArrayValue(protocol.StringValue(""))
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, st) {
		t.Errorf("round trip changed the state\n got %+v\nwant %+v", back, st)
	}
	b2, _ := json.Marshal(back)
	if !bytes.Equal(b, b2) {
		t.Errorf("JSON not stable:\n%s\n%s", b, b2)
	}
	for _, bad := range []struct{ from, to, msg string }{
		{`"arm_state":"disarmed"`, `"arm_state":"sleeping"`, `arm_state "sleeping"`},
		{`"alarm_volume_level":2`, `"alarm_volume_level":"2"`, `host_config: field "alarm_volume_level"`},
		{`"ap_enabled":0`, `"ap_enabled":0,"ap_enable":1`, `net_config: unknown field(s) ap_enable`},
		{`"name":"Back door",`, ``, `sensors[1]: missing field "name"`},
	} {
		var s State
		err := json.Unmarshal(bytes.Replace(b, []byte(bad.from), []byte(bad.to), 1), &s)
		if err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("replacing %s by %s: error %v, want %q", bad.from, bad.to, err, bad.msg)
		}
	}
}
