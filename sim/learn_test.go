package sim

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// POST /inject {"event":"learn","type":…} is a sensor of that model
// transmitting while the panel learns one: it is stored, announced with
// the sensor-change notification (spec: local-protocol.md 3.9 step 3),
// and kept in the state file. Outside the learning window, or for another
// model, it is refused and nothing changes.
func TestInjectLearn(t *testing.T) {
	l := listen(t)
	file := t.TempDir() + "/state.json"
	p := start(t, Config{Notify: l.conn.LocalAddr().String(), Control: "127.0.0.1:0", StateFile: file})
	a := newAPI(t, p)

	a.wantError("POST", "/inject", `{"event":"learn","type":"Door Sensor: WRDS01"}`, http.StatusBadRequest, "no sensor is being learned")
	if _, err := p.Inject(Injection{Event: "learn", Type: "Door Sensor: WRDS01"}); !errors.Is(err, ErrNotLearning) || !errors.Is(err, ErrBadInjection) {
		t.Errorf("learn outside the window: %v", err)
	}

	c := newClient(t, p.Addr())
	// "Door Sensor: WRDS01": type 1, subtype 3, protocol 0 (spec: local-protocol.md 3.9)
	c.expect(`ISTART[156,156,[156,["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]]]IEND`, `ISTARTIEND`)
	before := p.Snapshot()
	a.wantError("POST", "/inject", `{"event":"learn"}`, http.StatusBadRequest, "type")
	a.wantError("POST", "/inject", `{"event":"learn","type":"Toaster"}`, http.StatusBadRequest, "no sensor definition")
	a.wantError("POST", "/inject", `{"event":"learn","type":"Door Sensor: WDS07"}`, http.StatusBadRequest, `learning a "Door Sensor: WRDS01"`)
	if after := p.Snapshot(); len(after.Sensors) != len(before.Sensors) || after.PendingSensor == nil {
		t.Fatal("a refused learn changed the state")
	}

	status, m := a.call("POST", "/inject", `{"event":"learn","type":"Door Sensor: WRDS01"}`)
	if status != http.StatusOK {
		t.Fatalf("learn: %d %v", status, m)
	}
	st := p.Snapshot()
	if st.PendingSensor != nil || len(st.Sensors) != len(before.Sensors)+1 {
		t.Fatalf("after learn: pending %v, %d sensors", st.PendingSensor, len(st.Sensors))
	}
	added := st.Sensors[len(st.Sensors)-1]
	if added.Name != "Test sensor" || added.TypeID != 1 || added.Subtype != 3 {
		t.Errorf("learned %+v", added)
	}
	want := fmt.Sprintf(`[170,[4,[%d,"Test sensor",1]]]`, added.Index)
	if sent := m["sent"].([]any); len(sent) != 1 || sent[0] != want {
		t.Errorf("sent %v, want [%s]", sent, want)
	}
	l.expect(p.Addr(), want)
	saved, _, err := loadStateFile(file)
	if err != nil || len(saved.Sensors) != len(st.Sensors) {
		t.Errorf("state file: %v, %d sensors, want %d", err, len(saved.Sensors), len(st.Sensors))
	}
	// The window is closed again.
	a.wantError("POST", "/inject", `{"event":"learn","type":"Door Sensor: WRDS01"}`, http.StatusBadRequest, "no sensor is being learned")
	// The other events still work.
	if _, err := p.Inject(Injection{Event: "door_open", Sensor: intp(1)}); err != nil {
		t.Errorf("door_open after learn: %v", err)
	}
}
