package event

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEventJSONRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 8, 30, 15, 123456789, time.UTC)
	sensor := Event{Time: at, GUID: "GUID1", Source: SourceLocal, Sensor: true, Index: 3, Name: "Hall \"PIR\"\n", SensorType: "Motion: WRIR01"}
	with := func(e Event, f func(*Event)) Event { f(&e); return e }
	events := []Event{
		{Type: ArmDisarm, Time: at, GUID: "GUID1", Source: SourceCloud, State: ArmAway},
		with(sensor, func(e *Event) { e.Type, e.Occupied = SensorActivity, true }),
		with(sensor, func(e *Event) { e.Type, e.Reset = SensorActivity, true }),
		with(sensor, func(e *Event) { e.Type = DoorOpen }),
		with(sensor, func(e *Event) { e.Type, e.Tamper = Alarm, true }),
		with(sensor, func(e *Event) { e.Type = SOS }),
		{Type: SOS, Time: at, GUID: "G", Source: SourceLocal, Host: true},
		with(sensor, func(e *Event) { e.Type, e.Button = RemoteButton, ButtonSOS }),
		with(sensor, func(e *Event) { e.Type, e.Keypad, e.Card = RFIDKeypad, KeypadCard, 3 }),
		with(sensor, func(e *Event) { e.Type, e.Keypad = RFIDKeypad, KeypadDisarm }),
		{Type: DeviceAdded, Time: at, GUID: "G", Source: SourcePoll, Device: &DeviceRef{Index: 2, Node: 1, Name: "Relay ☃", Type: "Socket: JDQ"}},
		{Type: ACPowerFailure, Time: at, Source: SourceHistory},
	}
	for _, ev := range events {
		b := ev.AppendJSON(nil)
		var got Event
		if err := got.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if diff := cmp.Diff(ev, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", b, diff)
		}
		if again := got.AppendJSON(nil); !bytes.Equal(again, b) {
			t.Errorf("re-encoded\n%s\nwant\n%s", again, b)
		}
	}
}

// A host SOS names no sensor in JSON, so its index and name are lost,
// but the encoding is stable, its seq included.
func TestEventJSONStable(t *testing.T) {
	ev := Event{Type: Alarm, Time: time.Unix(1, 0).UTC(), GUID: "G", Index: 7, Name: "Host SOS", Seq: 9}
	b := ev.AppendJSON(nil)
	if !bytes.HasSuffix(b, []byte(`,"seq":9}`)) {
		t.Fatalf("%s: seq is not the last key", b)
	}
	var got Event
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if got.Seq != 9 {
		t.Errorf("seq %d, want 9", got.Seq)
	}
	if again := got.AppendJSON(nil); !bytes.Equal(again, b) {
		t.Fatalf("%s, want %s", again, b)
	}
}

func TestEventJSONErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"time":"x","type":"door_open"}`, `{"panel":"G"}`, `{"type":"alarm","sensor":{"index":"one"}}`} {
		var e Event
		if err := e.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// FuzzEventJSON: UnmarshalJSON does not panic, and what it accepts
// encodes to a line that decodes to the same line again.
//
//	go test ./notify -run '^$' -fuzz '^FuzzEventJSON$' -fuzztime 30s
func FuzzEventJSON(f *testing.F) {
	at := time.Date(2026, 11, 21, 8, 30, 15, 5, time.UTC)
	for _, ev := range []Event{
		{Type: ArmDisarm, Time: at, GUID: "G", Source: SourceLocal, State: Alarmed},
		{Type: RFIDKeypad, Time: at, Sensor: true, Index: 1, Name: "K\u00fcche", Keypad: KeypadCard, Card: 4},
		{Type: DeviceRemoved, Time: at, Device: &DeviceRef{Index: 1, Node: 2, Name: "R", Type: "T"}},
		{Type: RelaySwitched, Time: at, Source: SourceCommand, Device: &DeviceRef{Index: 1, Node: 0, Name: "Garden", Type: "Socket: S07"}, On: true},
	} {
		f.Add(ev.AppendJSON(nil))
	}
	for _, s := range []string{
		`{"type":"alarm","time":"9999-12-31T23:59:59-01:00"}`,
		`{"type":"sos","host":true,"seq":3,"extra":[1,{"a":null}]}`,
		`{"type":"x","sensor":null,"device":null,"name":"\ud800"}`,
		`{"type":"door_open","sensor":{"index":-1,"name":"a\u0000b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := e.UnmarshalJSON(b); err != nil {
			return
		}
		once := e.AppendJSON(nil)
		var e2 Event
		if err := e2.UnmarshalJSON(once); err != nil {
			t.Fatalf("%s decoded, its encoding %s does not: %v", b, once, err)
		}
		if twice := e2.AppendJSON(nil); !bytes.Equal(once, twice) {
			t.Fatalf("%s: encodes to\n%s\nthen\n%s", b, once, twice)
		}
	})
}
