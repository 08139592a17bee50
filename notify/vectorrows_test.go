package notify

import (
	"time"
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
	want []Event
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
func sensorEvent(t EventType, unix int64, i int, n string) Event {
	return Event{Type: t, Time: time.Unix(unix, 0).UTC(), GUID: guid, Sensor: true, Index: i, Name: n}
}

// notified is an event of a notification about sensor i named n.
func notified(t EventType, i int, n string) Event {
	return Event{Type: t, Sensor: true, Index: i, Name: n}
}

func panelAlert(t EventType, unix int64) Event {
	return Event{Type: t, Time: time.Unix(unix, 0).UTC(), GUID: guid}
}

func with(e Event, f func(*Event)) Event { f(&e); return e }

func occupied(e Event) Event {
	e.Type, e.Occupied = EventSensorActivity, true
	return e
}

func vacated(e Event) Event {
	e.Type, e.Occupied = EventSensorActivity, false
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
		want: []Event{with(panelAlert(EventArmDisarm, 1630876128), func(e *Event) { e.GUID, e.State = "DIFFERENTGUID", ArmAway })}},
	{id: "L-ERR-CODE", unknown: true, eventsErr: true},
	{id: "L-ERR-DOUBLE-NUL", decodeErr: ErrSyntax, offset: 13},
	{id: "L-ERR-EXTRA-FIELD", decodeErr: ErrMalformed, record: "sensor activity"},
	{id: "L-ERR-FIRMWARE", want: []Event{{Type: EventFirmwareUpdating}},
		why: "spec B.9 [REC]: firmware updating is an event, with its payload kept opaque in the Message"},
	{id: "L-ERR-INFRARED-ACTIVITY-BATTERY", eventsErr: true},
	{id: "L-ERR-ARM-STATE", unknown: true, eventsErr: true},
	{id: "L-ERR-REMOTE-STATE", unknown: true, eventsErr: true},
	{id: "L-ERR-ALARM-SOURCE", unknown: true, eventsErr: true},
	{id: "L-ERR-ALARM-STATE", unknown: true, eventsErr: true},

	// spec: F.2.
	{id: "L-N-SENSOR", want: []Event{occupied(notified("", 100, "Hall"))}},
	{id: "L-N-ARM", want: []Event{{Type: EventArmDisarm, State: ArmAway}}},
	{id: "L-N-ALARMED", want: []Event{{Type: EventArmDisarm, State: Alarmed}}},
	{id: "L-N-DOWA", want: []Event{notified(EventDoorOpenWhenArming, 21, "Hall")}},
	{id: "L-N-SENSOR-ADDED", want: []Event{notified(EventSensorAdded, 3, "Test sensor")}},
	{id: "L-N-SENSOR-CHANGED",
		why: "the reference's sensor_change(added=false) only feeds a waiting registration and has no user event (spec: B.3, B.8); DESIGN.md has no event for an update and action 2 is not a removal (spec: G.12), so no event"},
	{id: "L-A-ARM-AWAY", want: []Event{with(panelAlert(EventArmDisarm, 1630876128), func(e *Event) { e.State = ArmAway })}},
	{id: "L-A-WIFI-CONNECTED", want: []Event{panelAlert(EventWiFiConnected, 1)},
		why: "spec B.9 [REC]: Wi-Fi connected is an event; the reference accepts it without one"},
	{id: "L-A-UNKNOWN-STATE-CHANGE", unknown: true},
	{id: "L-A-DOOR-OPEN", want: []Event{
		occupied(sensorEvent("", 1631545189, 100, "Hall")),
		sensorEvent(EventDoorOpen, 1631545189, 100, "Hall")}},
	{id: "L-A-DOOR-CLOSE", want: []Event{
		vacated(sensorEvent("", 1631545189, 100, "Hall")),
		sensorEvent(EventDoorClose, 1631545189, 100, "Hall")}},
	{id: "L-A-DOORBELL", want: []Event{
		occupied(sensorEvent("", 1655745021, 111, "Doorbell")),
		sensorEvent(EventDoorOpen, 1655745021, 111, "Doorbell")}},
	{id: "L-A-DOORBELL-1", want: []Event{
		occupied(sensorEvent("", 1, 111, "Doorbell")),
		sensorEvent(EventDoorOpen, 1, 111, "Doorbell")}},
	{id: "L-A-INFRARED-ACTIVITY", want: []Event{
		vacated(sensorEvent("", 1, 103, "Infrared")),
		sensorEvent(EventDoorClose, 1, 103, "Infrared")}},
	{id: "L-A-DEVICE-SOURCE-OPEN", want: []Event{
		vacated(sensorEvent("", 1, 5, "X")),
		sensorEvent(EventDoorClose, 1, 5, "X")}},
	{id: "L-A-LOW-BATTERY", want: []Event{sensorEvent(EventLowBattery, 1719223959, 26, "Hall")}},
	{id: "L-A-REMOTE-ARM-AWAY", want: []Event{
		with(sensorEvent(EventRemoteButton, 1734176900, 11, "Remote"), func(e *Event) { e.Button = ButtonAway }),
		occupied(sensorEvent("", 1734176900, 11, "Remote"))}},
	{id: "L-A-RFID-CARD1", want: []Event{
		with(sensorEvent(EventRFIDKeypad, 1734176900, 15, "Keypad-"), func(e *Event) { e.Keypad, e.Card = KeypadCard, 1 }),
		occupied(sensorEvent("", 1734176900, 15, "Keypad-"))}},
	{id: "L-A-RFID-LOWBAT", want: []Event{
		with(sensorEvent(EventRFIDKeypad, 1734176900, 15, "Keypad-"), func(e *Event) { e.Keypad = KeypadLowBattery }),
		sensorEvent(EventLowBattery, 1734176900, 15, "Keypad-")}},
	{id: "L-A-ALARM", want: []Event{sensorEvent(EventAlarm, 1630876128, 11, "Hall")}},
	{id: "L-A-ALARM-TAMPER", want: []Event{
		sensorEvent(EventTamper, 1630876128, 11, "Hall"),
		with(sensorEvent(EventAlarm, 1630876128, 11, "Hall"), func(e *Event) { e.Tamper = true })}},
	{id: "L-A-ALARM-INFRARED-TAMPER", want: []Event{
		sensorEvent(EventTamper, 1630876128, 100, "Hall"),
		with(sensorEvent(EventAlarm, 1630876128, 100, "Hall"), func(e *Event) { e.Tamper = true })}},
	{id: "L-A-ALARM-INFRARED-MOTION", want: []Event{sensorEvent(EventAlarm, 1630876128, 103, "Infrared")}},
	{id: "L-A-ALARM-SOS-STATE", want: []Event{sensorEvent(EventAlarm, 1, 5, "X")}},
	{id: "L-A-ALARM-GENERIC", want: []Event{sensorEvent(EventAlarm, 1, 5, "X")}},
	{id: "L-A-HOST-SOS", want: []Event{
		with(panelAlert(EventSOS, 1734175050), func(e *Event) { e.Index, e.Name, e.Host = 1, "Host SOS", true }),
		with(panelAlert(EventAlarm, 1734175050), func(e *Event) { e.Index, e.Name = 1, "Host SOS" })}},
	{id: "L-A-REMOTE-SOS", want: []Event{
		sensorEvent(EventSOS, 1734177048, 1, "Remote"),
		sensorEvent(EventAlarm, 1734177048, 1, "Remote"),
		with(sensorEvent(EventRemoteButton, 1734177048, 1, "Remote"), func(e *Event) { e.Button = ButtonSOS }),
		occupied(sensorEvent("", 1734177048, 1, "Remote"))}},
}
