package notify

import (
	"time"

	"github.com/g90alarm/g90/event"
)

// The rows of TestVectors: what this package does with every L-* vector
// of spec: F.1 and F.2, in the spec's order.

// row is the expected outcome of one vector.
type row struct {
	id string
	// decodeErr is the sentinel Decode returns; nil when it decodes.
	decodeErr error
	// record and offset locate a decode error: the DecodeError's Record
	// (shape errors) or Offset (framing and syntax errors).
	record string
	offset int
	// unknown means Message.Known is false.
	unknown bool
	// eventsErr means Events returns an error wrapping ErrUnknown.
	eventsErr bool
	// want are the events.
	want []event.Event
	// senderErr and guidErr are the results of CheckSender and CheckGUID
	// for vectors that configure a host or a GUID.
	senderErr, guidErr error
	// why explains where we differ from the reference's outcome (the
	// datagram dropped, or expect_protocol); the test demands it exactly
	// where the outcomes differ.
	why string
}

const guid = "DUMMYGUID"

// sensorEvent is an event of an alert about sensor i named n at unix.
func sensorEvent(t event.Type, unix int64, i int, n string) event.Event {
	return event.Event{Type: t, Time: time.Unix(unix, 0).UTC(), GUID: guid, Sensor: true, Index: i, Name: n}
}

// notified is an event of a notification about sensor i named n.
func notified(t event.Type, i int, n string) event.Event {
	return event.Event{Type: t, Sensor: true, Index: i, Name: n}
}

func panelAlert(t event.Type, unix int64) event.Event {
	return event.Event{Type: t, Time: time.Unix(unix, 0).UTC(), GUID: guid}
}

func with(e event.Event, f func(*event.Event)) event.Event { f(&e); return e }

func occupied(e event.Event) event.Event {
	e.Type, e.Occupied = event.SensorActivity, true
	return e
}

func vacated(e event.Event) event.Event {
	e.Type, e.Occupied = event.SensorActivity, false
	return e
}

var rows = []row{
	// spec: F.1.
	// Bytes that are not UTF-8 inside a string become U+FFFD (the panel
	// sends such names, spec: local-protocol.md 1.5 step 4) instead of
	// dropping the datagram; this one is dropped anyway, as a JSON syntax
	// error at its first byte.
	{id: "L-ERR-UTF8", decodeErr: ErrSyntax, offset: 0},
	{id: "L-ERR-NOEND", decodeErr: ErrMissingEndMarker, offset: 13},
	{id: "L-ERR-JSON", decodeErr: ErrSyntax, offset: 12},
	{id: "L-ERR-TOPLEVEL", decodeErr: ErrMalformed, record: "message"},
	{id: "L-ERR-NOTIF-SHAPE", decodeErr: ErrMalformed, record: "notification"},
	{id: "L-ERR-ALERT-SHAPE", decodeErr: ErrMalformed, record: "alert"},
	{id: "L-ERR-NOTIF-KIND", unknown: true, eventsErr: true},
	{id: "L-ERR-ALERT-TYPE", unknown: true, eventsErr: true},
	// The source address filter runs before decoding; the datagram itself
	// is L-ERR-ALERT-TYPE.
	{id: "L-ERR-WRONG-HOST", senderErr: ErrWrongHost, unknown: true, eventsErr: true},
	{id: "L-ERR-WRONG-GUID", guidErr: ErrWrongDevice,
		want: []event.Event{with(panelAlert(event.ArmDisarm, 1630876128), func(e *event.Event) { e.GUID, e.State = "DIFFERENTGUID", event.ArmAway })}},
	{id: "L-ERR-CODE", unknown: true, eventsErr: true},
	{id: "L-ERR-DOUBLE-NUL", decodeErr: ErrSyntax, offset: 13},
	{id: "L-ERR-EXTRA-FIELD", decodeErr: ErrMalformed, record: "sensor activity"},
	{id: "L-ERR-FIRMWARE", want: []event.Event{{Type: event.FirmwareUpdating}},
		why: "spec B.9 [REC]: firmware updating is an event, with its payload kept opaque in the Message"},
	{id: "L-ERR-INFRARED-ACTIVITY-BATTERY", eventsErr: true},
	{id: "L-ERR-ARM-STATE", unknown: true, eventsErr: true},
	{id: "L-ERR-REMOTE-STATE", unknown: true, eventsErr: true},
	{id: "L-ERR-ALARM-SOURCE", unknown: true, eventsErr: true},
	{id: "L-ERR-ALARM-STATE", unknown: true, eventsErr: true},

	// spec: F.2.
	{id: "L-N-SENSOR", want: []event.Event{occupied(notified("", 100, "Hall"))}},
	{id: "L-N-ARM", want: []event.Event{{Type: event.ArmDisarm, State: event.ArmAway}}},
	{id: "L-N-ALARMED", want: []event.Event{{Type: event.ArmDisarm, State: event.Alarmed}}},
	{id: "L-N-DOWA", want: []event.Event{notified(event.DoorOpenWhenArming, 21, "Hall")}},
	{id: "L-N-SENSOR-ADDED", want: []event.Event{notified(event.SensorAdded, 3, "Test sensor")}},
	{id: "L-N-SENSOR-CHANGED",
		why: "the reference's sensor_change(added=false) only feeds a waiting registration and has no user event (spec: B.3, B.8); DESIGN.md has no event for an update and action 2 is not a removal (spec: G.12), so no event"},
	{id: "L-A-ARM-AWAY", want: []event.Event{with(panelAlert(event.ArmDisarm, 1630876128), func(e *event.Event) { e.State = event.ArmAway })}},
	{id: "L-A-WIFI-CONNECTED", want: []event.Event{panelAlert(event.WiFiConnected, 1)},
		why: "spec B.9 [REC]: Wi-Fi connected is an event; the reference accepts it without one"},
	{id: "L-A-UNKNOWN-STATE-CHANGE", unknown: true},
	{id: "L-A-DOOR-OPEN", want: []event.Event{
		occupied(sensorEvent("", 1631545189, 100, "Hall")),
		sensorEvent(event.DoorOpen, 1631545189, 100, "Hall")}},
	{id: "L-A-DOOR-CLOSE", want: []event.Event{
		vacated(sensorEvent("", 1631545189, 100, "Hall")),
		sensorEvent(event.DoorClose, 1631545189, 100, "Hall")}},
	{id: "L-A-DOORBELL", want: []event.Event{
		occupied(sensorEvent("", 1655745021, 111, "Doorbell")),
		sensorEvent(event.DoorOpen, 1655745021, 111, "Doorbell")}},
	{id: "L-A-DOORBELL-1", want: []event.Event{
		occupied(sensorEvent("", 1, 111, "Doorbell")),
		sensorEvent(event.DoorOpen, 1, 111, "Doorbell")}},
	{id: "L-A-INFRARED-ACTIVITY", want: []event.Event{
		vacated(sensorEvent("", 1, 103, "Infrared")),
		sensorEvent(event.DoorClose, 1, 103, "Infrared")}},
	{id: "L-A-DEVICE-SOURCE-OPEN", want: []event.Event{
		vacated(sensorEvent("", 1, 5, "X")),
		sensorEvent(event.DoorClose, 1, 5, "X")}},
	{id: "L-A-LOW-BATTERY", want: []event.Event{sensorEvent(event.LowBattery, 1719223959, 26, "Hall")}},
	{id: "L-A-REMOTE-ARM-AWAY", want: []event.Event{
		with(sensorEvent(event.RemoteButton, 1734176900, 11, "Remote"), func(e *event.Event) { e.Button = event.ButtonAway }),
		occupied(sensorEvent("", 1734176900, 11, "Remote"))}},
	{id: "L-A-RFID-CARD1", want: []event.Event{
		with(sensorEvent(event.RFIDKeypad, 1734176900, 15, "Keypad-"), func(e *event.Event) { e.Keypad, e.Card = event.KeypadCard, 1 }),
		occupied(sensorEvent("", 1734176900, 15, "Keypad-"))}},
	{id: "L-A-RFID-LOWBAT", want: []event.Event{
		with(sensorEvent(event.RFIDKeypad, 1734176900, 15, "Keypad-"), func(e *event.Event) { e.Keypad = event.KeypadLowBattery }),
		sensorEvent(event.LowBattery, 1734176900, 15, "Keypad-")}},
	{id: "L-A-ALARM", want: []event.Event{sensorEvent(event.Alarm, 1630876128, 11, "Hall")}},
	{id: "L-A-ALARM-TAMPER", want: []event.Event{
		sensorEvent(event.Tamper, 1630876128, 11, "Hall"),
		with(sensorEvent(event.Alarm, 1630876128, 11, "Hall"), func(e *event.Event) { e.Tamper = true })}},
	{id: "L-A-ALARM-INFRARED-TAMPER", want: []event.Event{
		sensorEvent(event.Tamper, 1630876128, 100, "Hall"),
		with(sensorEvent(event.Alarm, 1630876128, 100, "Hall"), func(e *event.Event) { e.Tamper = true })}},
	{id: "L-A-ALARM-INFRARED-MOTION", want: []event.Event{sensorEvent(event.Alarm, 1630876128, 103, "Infrared")}},
	{id: "L-A-ALARM-SOS-STATE", want: []event.Event{sensorEvent(event.Alarm, 1, 5, "X")}},
	{id: "L-A-ALARM-GENERIC", want: []event.Event{sensorEvent(event.Alarm, 1, 5, "X")}},
	{id: "L-A-HOST-SOS", want: []event.Event{
		with(panelAlert(event.SOS, 1734175050), func(e *event.Event) { e.Index, e.Name, e.Host = 1, "Host SOS", true }),
		with(panelAlert(event.Alarm, 1734175050), func(e *event.Event) { e.Index, e.Name = 1, "Host SOS" })}},
	{id: "L-A-REMOTE-SOS", want: []event.Event{
		sensorEvent(event.SOS, 1734177048, 1, "Remote"),
		sensorEvent(event.Alarm, 1734177048, 1, "Remote"),
		with(sensorEvent(event.RemoteButton, 1734177048, 1, "Remote"), func(e *event.Event) { e.Button = event.ButtonSOS }),
		occupied(sensorEvent("", 1734177048, 1, "Remote"))}},
}
