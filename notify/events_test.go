package notify

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
	"github.com/google/go-cmp/cmp"
)

// TestEvents covers the enumerations and routing rows the vectors leave
// out. Alerts use unix time 1 and GUID DUMMYGUID.
func TestEvents(t *testing.T) {
	alert := func(typ event.Type, i int, n string) event.Event { return sensorEvent(typ, 1, i, n) }
	panel := func(typ event.Type) event.Event { return panelAlert(typ, 1) }
	arm := func(s event.ArmState) event.Event {
		return with(panel(event.ArmDisarm), func(e *event.Event) { e.State = s })
	}
	button := func(b event.Button) []event.Event {
		return []event.Event{with(alert(event.RemoteButton, 4, "R"), func(e *event.Event) { e.Button = b }), occupied(alert("", 4, "R"))}
	}
	keypad := func(k event.Keypad, card int) []event.Event {
		return []event.Event{with(alert(event.RFIDKeypad, 4, "K"), func(e *event.Event) { e.Keypad, e.Card = k, card }), occupied(alert("", 4, "K"))}
	}
	tamper := []event.Event{alert(event.Tamper, 4, "S"), with(alert(event.Alarm, 4, "S"), func(e *event.Event) { e.Tamper = true })}
	for _, tc := range []struct {
		text    string
		want    []event.Event
		err     bool // Events wraps ErrUnknown
		unknown bool // Known is false
	}{
		// Notification kind 1 (spec: A.6.1).
		{text: `[170,[1,[2]]]`, want: []event.Event{{Type: event.ArmDisarm, State: event.ArmHome}}},
		{text: `[170,[1,[3]]]`, want: []event.Event{{Type: event.ArmDisarm, State: event.Disarmed}}},
		{text: `[170,[1,[0]]]`, err: true, unknown: true},
		// Sensor change actions other than 1 (spec: A.3, G.12).
		{text: `[170,[4,[3,"x",0]]]`},
		// Firmware updating, any payload (spec: B.9).
		{text: `[170,[8,{"p":1}]]`, want: []event.Event{{Type: event.FirmwareUpdating}}},
		// State changes (spec: A.6.7, B.9).
		{text: `[208,[2,1,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{panel(event.ACPowerFailure)}},
		{text: `[208,[2,2,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{panel(event.ACPowerRecover)}},
		{text: `[208,[2,3,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{arm(event.Disarmed)}},
		{text: `[208,[2,5,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{arm(event.ArmHome)}},
		{text: `[208,[2,6,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{panel(event.HostLowBattery)}},
		{text: `[208,[2,8,0,0,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{panel(event.WiFiDisconnected)}},
		{text: `[208,[2,0,0,0,"","DUMMYGUID",1,0,[""]]]`, unknown: true},
		// Source and state do not matter for a state change (spec: A.5 R2).
		{text: `[208,[2,4,77,77,"","DUMMYGUID",1,0,[""]]]`, want: []event.Event{arm(event.ArmAway)}},
		// Host SOS: the name is replaced (spec: A.5 R1).
		{text: `[208,[1,1,5,9,"Panel","DUMMYGUID",1,0,[""]]]`, want: []event.Event{
			with(panel(event.SOS), func(e *event.Event) { e.Index, e.Name, e.Host = 1, "Host SOS", true }),
			with(panel(event.Alarm), func(e *event.Event) { e.Index, e.Name = 1, "Host SOS" })}},
		// Remote SOS whatever its state (spec: A.5 R3).
		{text: `[208,[3,4,10,99,"R","DUMMYGUID",1,0,[""]]]`, want: []event.Event{
			alert(event.SOS, 4, "R"), alert(event.Alarm, 4, "R"), button(event.ButtonSOS)[0], button(event.ButtonSOS)[1]}},
		// Alarm tamper on the consolidated state (spec: A.5 R4, A.6.6).
		{text: `[208,[3,4,3,3,"S","DUMMYGUID",1,0,[""]]]`, want: tamper},
		{text: `[208,[3,4,15,3,"S","DUMMYGUID",1,0,[""]]]`, want: tamper},
		{text: `[208,[3,4,8,2,"S","DUMMYGUID",1,0,[""]]]`, want: []event.Event{alert(event.Alarm, 4, "S")}},
		{text: `[208,[3,4,8,3,"S","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		{text: `[208,[3,4,1,4,"S","DUMMYGUID",1,0,[""]]]`, want: []event.Event{alert(event.Alarm, 4, "S")}},
		{text: `[208,[3,4,11,3,"S","DUMMYGUID",1,0,[""]]]`, want: tamper},
		// Remote buttons (spec: A.6.5).
		{text: `[208,[4,4,10,1,"R","DUMMYGUID",1,0,[""]]]`, want: button(event.ButtonHome)},
		{text: `[208,[4,4,10,2,"R","DUMMYGUID",1,0,[""]]]`, want: button(event.ButtonDisarm)},
		{text: `[208,[4,4,10,3,"R","DUMMYGUID",1,0,[""]]]`, want: button(event.ButtonSOS)},
		{text: `[208,[4,4,10,-1,"R","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		// RFID keypad (spec: A.6.8).
		{text: `[208,[4,4,11,0,"K","DUMMYGUID",1,0,[""]]]`, want: keypad(event.KeypadAway, 0)},
		{text: `[208,[4,4,11,1,"K","DUMMYGUID",1,0,[""]]]`, want: keypad(event.KeypadHome, 0)},
		{text: `[208,[4,4,11,2,"K","DUMMYGUID",1,0,[""]]]`, want: keypad(event.KeypadDisarm, 0)},
		{text: `[208,[4,4,11,6,"K","DUMMYGUID",1,0,[""]]]`, want: keypad(event.KeypadCard, 0)},
		{text: `[208,[4,4,11,10,"K","DUMMYGUID",1,0,[""]]]`, want: keypad(event.KeypadCard, 4)},
		{text: `[208,[4,4,11,3,"K","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		{text: `[208,[4,4,11,4,"K","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		{text: `[208,[4,4,11,11,"K","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		// Sensor activity with any other source compares raw states
		// (spec: A.5 R7): a doorbell is open, an unknown source is closed.
		{text: `[208,[4,4,12,1,"B","DUMMYGUID",1,0,[""]]]`, want: []event.Event{occupied(alert("", 4, "B")), alert(event.DoorOpen, 4, "B")}},
		{text: `[208,[4,4,8,1,"I","DUMMYGUID",1,0,[""]]]`, want: []event.Event{vacated(alert("", 4, "I")), alert(event.DoorClose, 4, "I")}},
		{text: `[208,[4,4,7,1,"U","DUMMYGUID",1,0,[""]]]`, unknown: true, want: []event.Event{vacated(alert("", 4, "U")), alert(event.DoorClose, 4, "U")}},
		// Rows R8 and R9 (spec: A.5).
		{text: `[208,[4,4,3,4,"S","DUMMYGUID",1,0,[""]]]`, err: true},
		{text: `[208,[4,4,1,2,"S","DUMMYGUID",1,0,[""]]]`, err: true},
		{text: `[208,[4,4,1,254,"S","DUMMYGUID",1,0,[""]]]`, err: true},
		// Unknown types and codes (spec: A.5 R10, A.2 step 5).
		{text: `[208,[5,4,1,1,"S","DUMMYGUID",1,0,[""]]]`, err: true, unknown: true},
		{text: `[0,[1]]`, err: true, unknown: true},
	} {
		m, err := Decode(append([]byte(tc.text), 0))
		if err != nil {
			t.Errorf("Decode(%s): %v", tc.text, err)
			continue
		}
		prefix := []event.Event{{Type: "previous"}}
		got, err := m.Events(slices.Clip(prefix))
		if !slices.Equal(got[:1], prefix) {
			t.Errorf("%s: Events overwrote dst: %+v", tc.text, got)
		}
		if tc.err != errors.Is(err, ErrUnknown) || tc.err != (err != nil) {
			t.Errorf("%s: Events error %v, want ErrUnknown: %v", tc.text, err, tc.err)
		}
		if diff := cmp.Diff(tc.want, got[1:], cmpEmpty); diff != "" {
			t.Errorf("%s: Events (-want +got):\n%s", tc.text, diff)
		}
		if m.Known() == tc.unknown {
			t.Errorf("%s: Known = %v, want %v", tc.text, m.Known(), !tc.unknown)
		}
	}
}

// cmpEmpty treats nil and empty event lists alike.
var cmpEmpty = cmp.Comparer(func(a, b []event.Event) bool {
	return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
})

// TestEventTypesAreDesignNames checks that every event type Events returns
// is one of the names of DESIGN.md "Events", the contract every consumer
// relies on.
func TestEventTypesAreDesignNames(t *testing.T) {
	design := "arm_disarm sensor_activity door_open door_close door_open_when_arming alarm tamper low_battery sos " +
		"remote_button rfid_keypad sensor_added sensor_removed ac_power_failure ac_power_recover wifi_connected " +
		"wifi_disconnected host_low_battery firmware_updating"
	names := strings.Fields(design)
	for _, typ := range []event.Type{
		event.ArmDisarm, event.SensorActivity, event.DoorOpen, event.DoorClose, event.DoorOpenWhenArming,
		event.Alarm, event.Tamper, event.LowBattery, event.SOS, event.RemoteButton, event.RFIDKeypad,
		event.SensorAdded, event.SensorRemoved, event.ACPowerFailure, event.ACPowerRecover, event.WiFiConnected,
		event.WiFiDisconnected, event.HostLowBattery, event.FirmwareUpdating,
	} {
		i := slices.Index(names, string(typ))
		if i < 0 {
			t.Errorf("event type %q is not a DESIGN.md name (or is declared twice)", typ)
			continue
		}
		names = slices.Delete(names, i, i+1)
	}
	if len(names) > 0 {
		t.Errorf("DESIGN.md names without a constant: %q", names)
	}
}

func TestCheckSender(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		host, sender netip.Addr
		ok           bool
	}{
		{netip.Addr{}, a("10.10.10.250"), true},
		{a("255.255.255.255"), a("10.10.10.250"), true},
		{a("10.10.10.250"), a("10.10.10.250"), true},
		{a("10.10.10.250"), a("::ffff:10.10.10.250"), true},
		{a("10.10.10.250"), a("10.10.10.251"), false},
	} {
		err := CheckSender(tc.host, tc.sender)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrWrongHost)) {
			t.Errorf("CheckSender(%v, %v) = %v, want ok %v", tc.host, tc.sender, err, tc.ok)
		}
	}
	const want = `notify: datagram from wrong host: "127.0.0.1", expected "1.2.3.4"`
	if err := CheckSender(a("1.2.3.4"), a("127.0.0.1")); err == nil || err.Error() != want {
		t.Errorf("CheckSender error %q, want %q", err, want)
	}
}

func TestCheckGUID(t *testing.T) {
	alert := Message{Code: protocol.CodeAlert, Alert: Alert{GUID: "G1"}}
	notification := Message{Code: protocol.CodeNotification}
	for _, tc := range []struct {
		m    Message
		guid string
		ok   bool
	}{
		{alert, "G1", true},
		{alert, "", true},
		{alert, " \t", true},
		{alert, "g1", false},
		{alert, "G1 ", false},
		{notification, "G1", true},
	} {
		err := tc.m.CheckGUID(tc.guid)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrWrongDevice)) {
			t.Errorf("CheckGUID(%q) on %+v = %v, want ok %v", tc.guid, tc.m, err, tc.ok)
		}
	}
}

// The JSON line of an event keeps UTF-8 names readable and escapes what
// JSON requires.
func TestEventJSON(t *testing.T) {
	ev := event.Event{Type: event.DoorOpen, Time: time.Unix(1631545189, 0), GUID: "G", Source: event.SourceLocal,
		Sensor: true, Index: 3, Name: "Küche \"1\"\n\xff", SensorType: "Door Sensor: WDS07"}
	got := string(ev.AppendJSON(nil))
	want := `{"time":"2021-09-13T14:59:49Z","panel":"G","source":"local","type":"door_open","sensor":{"index":3,"name":"Küche \"1\"\u000a\ufffd","type":"Door Sensor: WDS07"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	ev = event.Event{Type: event.RFIDKeypad, Sensor: true, Keypad: event.KeypadCard, Card: 2, Time: time.Unix(0, 0)}
	if got := string(ev.AppendJSON(nil)); !strings.HasSuffix(got, `"keypad":"card","card":2}`) {
		t.Fatalf("keypad event %s", got)
	}
	ev = event.Event{Type: event.SensorActivity, Sensor: true, Reset: true, Time: time.Unix(0, 0)}
	if got := string(ev.AppendJSON(nil)); !strings.HasSuffix(got, `"occupied":false,"reset":true}`) {
		t.Fatalf("reset event %s", got)
	}
}
