package notify

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// EventType names a normalised protocol event. The values are the event
// names of DESIGN.md ("Events"), used alike by the library, JSON, MQTT
// and the web UI.
type EventType string

// Event types Events produces, with the fields each sets besides Time and
// GUID. Sensor events set Sensor, Index and Name.
const (
	EventArmDisarm          EventType = "arm_disarm"            // State
	EventSensorActivity     EventType = "sensor_activity"       // sensor, Occupied
	EventDoorOpen           EventType = "door_open"             // sensor
	EventDoorClose          EventType = "door_close"            // sensor
	EventDoorOpenWhenArming EventType = "door_open_when_arming" // sensor
	EventAlarm              EventType = "alarm"                 // sensor (not for a host SOS), Tamper
	EventTamper             EventType = "tamper"                // sensor
	EventLowBattery         EventType = "low_battery"           // sensor
	EventSOS                EventType = "sos"                   // sensor (not for a host SOS), Host
	EventRemoteButton       EventType = "remote_button"         // sensor, Button
	EventRFIDKeypad         EventType = "rfid_keypad"           // sensor, Keypad, Card
	EventSensorAdded        EventType = "sensor_added"          // sensor
	EventACPowerFailure     EventType = "ac_power_failure"
	EventACPowerRecover     EventType = "ac_power_recover"
	EventWiFiConnected      EventType = "wifi_connected"
	EventWiFiDisconnected   EventType = "wifi_disconnected"
	EventHostLowBattery     EventType = "host_low_battery"
	EventFirmwareUpdating   EventType = "firmware_updating"
)

// EventSensorRemoved is the DESIGN.md name for a sensor that left the
// panel's list. Events never returns it: no notification or alert reports
// a removal (spec: A.3, B.8); a sensor list refresh finds it.
const EventSensorRemoved EventType = "sensor_removed"

// Device list changes (DESIGN.md). No message reports them: the panel
// sends nothing when a device is added (spec: B.8); a device list refresh
// finds them. They set Event.Device.
const (
	EventDeviceAdded   EventType = "device_added"
	EventDeviceRemoved EventType = "device_removed"
)

// EventRelaySwitched: a relay node was switched through g90 (MQTT, the
// web UI, the library) and the panel took the command. The panel reports
// no relay state (spec: peripherals.md; A.3 has no such notification),
// so the last switch is the only state there is. It sets Device and On;
// its Source is SourceCommand.
const EventRelaySwitched EventType = "relay_switched"

// DeviceRef names one node of a device (relay, socket, siren) in a
// device_added or device_removed event.
type DeviceRef struct {
	Index int    `json:"index"`
	Node  int    `json:"node"` // 0-based node (subindex)
	Name  string `json:"name"`
	Type  string `json:"type"` // the definition name, as in the device list
}

// ArmState is the panel's arm state in an arm_disarm event.
type ArmState string

// Arm states (spec: A.6.1).
const (
	ArmAway  ArmState = "away"
	ArmHome  ArmState = "home"
	Disarmed ArmState = "disarmed"
	Alarmed  ArmState = "alarmed"
)

// Button is the key fob button of a remote_button event.
type Button string

// Remote buttons (spec: A.6.5).
const (
	ButtonAway   Button = "away"
	ButtonHome   Button = "home"
	ButtonDisarm Button = "disarm"
	ButtonSOS    Button = "sos"
)

// Keypad is the action of an rfid_keypad event.
type Keypad string

// RFID keypad actions (spec: A.6.8).
const (
	KeypadAway       Keypad = "away"
	KeypadHome       Keypad = "home"
	KeypadDisarm     Keypad = "disarm"
	KeypadLowBattery Keypad = "low_battery"
	KeypadCard       Keypad = "card" // a card was presented; Event.Card says which
)

// Source says which transport an event came through (DESIGN.md "Events").
type Source string

// Event sources.
const (
	SourceLocal   Source = "local"   // local UDP notifications, this package
	SourceCloud   Source = "cloud"   // the cloud server
	SourceHistory Source = "history" // history polling
	// SourcePoll marks what a read of the panel found rather than a
	// message reported: an arm state that changed unreported, sensors
	// and devices added or removed (spec: B.8).
	SourcePoll Source = "poll"
	// SourceCommand marks what a command g90 sent did (a relay switched).
	SourceCommand Source = "command"
)

// Event is one normalised protocol event. Fields that do not apply to the
// Type are zero.
type Event struct {
	Type EventType
	// Time is the panel's clock from an alert's unix_time. It is zero for
	// notifications, which carry no time; the receiver fills it in.
	Time time.Time
	// GUID is the panel GUID from an alert's device_id; empty for
	// notifications.
	GUID string
	// Source is left empty by Events; whoever delivers the event sets it.
	Source Source
	// Seq numbers the events of one panel (by GUID): 1, 2, 3, … assigned
	// once, by the Monitor that delivers the event, so that the journal,
	// MQTT and the web UI show the same number (issue 13.11). Zero until
	// then; Events leaves it zero.
	Seq uint64
	// Sensor reports that Index and Name identify a sensor. For a host
	// SOS and its alarm, Sensor is false but Index is the alert's event_id
	// and Name is "Host SOS", as the reference reports them (spec: A.5 R1).
	Sensor bool
	Index  int
	Name   string
	// SensorType is the sensor's definition name (as in the sensor list,
	// e.g. "Door Sensor: WRDS01"), filled in by whoever knows the sensor
	// list; Events leaves it empty.
	SensorType string
	// Device is the device node of device_added and device_removed.
	Device *DeviceRef

	State    ArmState // arm_disarm
	Occupied bool     // sensor_activity: active (true) or inactive (false, a door close)
	Tamper   bool     // alarm: a tamper alarm (a tamper event precedes it)
	Host     bool     // sos: from the panel itself (true) or a remote (false)
	Button   Button   // remote_button
	Keypad   Keypad   // rfid_keypad
	Card     int      // rfid_keypad with Keypad == KeypadCard: card 0-4
	On       bool     // relay_switched: on (true) or off
	// Reset marks a sensor_activity with Occupied false that no message
	// reported: the occupancy auto-reset of a sensor that never reports
	// "inactive" (spec: B.6.1). The reference changes only the sensor's
	// state then; we emit it so that every consumer sees the change.
	Reset bool
}

// ErrUnknown is wrapped by the error of Message.Events for a message the
// spec drops after decoding it: an unknown code or notification kind, an
// alert no routing row matches, or an enumeration value out of range
// (spec: A.7.3).
var ErrUnknown = errors.New("notify: unknown message")

// Events appends to dst the events m stands for and returns the extended
// slice. The events are those the reference's handlers emit whatever the
// library's state (spec: B.2, B.3), in the reference's dispatch order,
// plus the events of spec: B.9 that the reference drops. Events that
// depend on sensor lookups or per-sensor state (the SensorState events,
// the activity an alarm adds for an unoccupied sensor) are left to the
// state tracker.
//
// A message the spec handles without an event (an unknown state-change
// code, spec: A.5 R2; a sensor change that is not an addition) gives no
// events and no error. A message the spec drops gives an error wrapping
// ErrUnknown and no events. Events does not check the GUID; see
// CheckGUID.
func (m *Message) Events(dst []Event) ([]Event, error) {
	r := m.rule()
	if r == nil {
		return dst, m.unknown()
	}
	var (
		ev Event
		in input
	)
	if m.Code == protocol.CodeAlert {
		a := &m.Alert
		ev = Event{Time: time.Unix(a.UnixTime, 0).UTC(), GUID: a.GUID, Sensor: true, Index: a.EventID, Name: a.Name}
		in = input{src: a.Source, state: a.State, id: a.EventID}
	} else {
		n := &m.Notification
		ev = Event{Sensor: true, Index: n.Index, Name: n.Name}
		in = input{state: int(n.State), id: n.Action}
	}
	out, err := r.emit(dst, ev, in)
	if err != nil {
		return dst, fmt.Errorf("%w: %s: %v", ErrUnknown, r.spec, err)
	}
	return out, nil
}

// rule is one row of the mapping: the message it matches and what it
// emits. emit gets ev with Time, GUID, Index and Name already set.
type rule struct {
	spec  string // where the spec gives the row
	code  protocol.Code
	kind  int // notification kind or alert type
	src   int // alert source, or anyValue
	state int // alert state, or anyValue
	emit  emitter
}

// emitter appends a rule's events to dst.
type emitter func(dst []Event, ev Event, in input) ([]Event, error)

// input is what the emitters read from a message. It is passed by value so
// that the Message, behind a call through a func value, stays on the
// caller's stack.
type input struct {
	src   protocol.AlertSource // alert source
	state int                  // alert state, or the arm state of a notification
	id    int                  // alert event_id, or the action of a sensor change
}

// anyValue in a rule matches every value.
const anyValue = math.MinInt

func notification(k Kind, spec string, emit emitter) rule {
	return rule{spec: spec, code: protocol.CodeNotification, kind: int(k), src: anyValue, state: anyValue, emit: emit}
}

func alert(t protocol.AlertType, src, state int, spec string, emit emitter) rule {
	return rule{spec: spec, code: protocol.CodeAlert, kind: int(t), src: src, state: state, emit: emit}
}

// rules is the whole mapping; the first row that matches wins (spec: A.5).
// A message no row matches is unknown.
var rules = [...]rule{
	// Notifications (spec: A.3, B.2).
	notification(KindArmDisarm, "spec A.3 kind 1", armDisarm),
	notification(KindSensorChange, "spec A.3 kind 4", sensorChange),
	notification(KindSensorActivity, "spec A.3 kind 5", sensorActivity),
	notification(KindDoorOpenWhenArming, "spec A.3 kind 6", one(EventDoorOpenWhenArming)),
	notification(KindFirmwareUpdating, "spec B.9 firmware updating", panelEvent(EventFirmwareUpdating)),

	// Alerts (spec: A.5, rows in the spec's order).
	alert(protocol.TypeHostSOS, anyValue, anyValue, "spec A.5 R1", hostSOS),
	alert(protocol.TypeStateChange, anyValue, anyValue, "spec A.5 R2", stateChange),
	alert(protocol.TypeAlarm, int(protocol.SourceRemote), anyValue, "spec A.5 R3", remoteSOS),
	alert(protocol.TypeAlarm, anyValue, anyValue, "spec A.5 R4", alarm),
	alert(protocol.TypeSensorActivity, int(protocol.SourceRemote), anyValue, "spec A.5 R5", remoteButton),
	alert(protocol.TypeSensorActivity, int(protocol.SourceRFID), anyValue, "spec A.5 R6", rfidKeypad),
	alert(protocol.TypeSensorActivity, anyValue, stateDoorClose, "spec A.5 R7", doorOpenClose),
	alert(protocol.TypeSensorActivity, anyValue, stateDoorOpen, "spec A.5 R7", doorOpenClose),
	alert(protocol.TypeSensorActivity, int(protocol.SourceSensor), stateLowBattery, "spec A.5 R8", one(EventLowBattery)),
	// Anything else is R9 / R10: unknown.
}

// rule returns the first rule matching m, or nil.
func (m *Message) rule() *rule {
	kind, src, state := 0, 0, 0
	switch m.Code {
	case protocol.CodeNotification:
		kind = int(m.Notification.Kind)
	case protocol.CodeAlert:
		kind, src, state = int(m.Alert.Type), int(m.Alert.Source), m.Alert.State
	default:
		return nil
	}
	for i := range rules {
		r := &rules[i]
		if r.code == m.Code && r.kind == kind && (r.src == anyValue || r.src == src) && (r.state == anyValue || r.state == state) {
			return r
		}
	}
	return nil
}

// unknown says why no rule matches m.
func (m *Message) unknown() error {
	switch m.Code {
	case protocol.CodeNotification:
		return fmt.Errorf("%w: notification kind %d (spec: A.3)", ErrUnknown, m.Notification.Kind)
	case protocol.CodeAlert:
		a := &m.Alert
		return fmt.Errorf("%w: alert type %d, source %d, state %d matches no row of spec A.5", ErrUnknown, a.Type, a.Source, a.State)
	}
	return fmt.Errorf("%w: code %d (spec: A.2 step 5)", ErrUnknown, m.Code)
}

// Raw alert states of every source but infrared (spec: A.6.4).
const (
	stateDoorClose  = 0
	stateDoorOpen   = 1
	stateSOS        = 2
	stateTamper     = 3
	stateLowBattery = 4
	stateAlarm      = 254
)

// stateChanges maps the event_id of a state-change alert to its event
// (spec: A.6.7). Note the numbering differs from spec: A.6.1. Codes 1, 2,
// 6, 7 and 8 give no event in the reference; we emit them (spec: B.9).
var stateChanges = [...]struct {
	typ   EventType
	state ArmState
}{
	1: {EventACPowerFailure, ""},
	2: {EventACPowerRecover, ""},
	3: {EventArmDisarm, Disarmed},
	4: {EventArmDisarm, ArmAway},
	5: {EventArmDisarm, ArmHome},
	6: {EventHostLowBattery, ""},
	7: {EventWiFiConnected, ""},
	8: {EventWiFiDisconnected, ""},
}

// armStates maps a notification's arm state (spec: A.6.1).
var armStates = [...]ArmState{protocol.ArmAway: ArmAway, protocol.ArmHome: ArmHome, protocol.Disarmed: Disarmed, protocol.ArmAlarm: Alarmed}

// buttons maps the state of a remote alert (spec: A.6.5).
var buttons = [...]Button{ButtonAway, ButtonHome, ButtonDisarm, ButtonSOS}

// keypads maps the state of an RFID alert (spec: A.6.8); 3 and 4 are
// undefined.
var keypads = [...]Keypad{0: KeypadAway, 1: KeypadHome, 2: KeypadDisarm, 5: KeypadLowBattery,
	6: KeypadCard, 7: KeypadCard, 8: KeypadCard, 9: KeypadCard, 10: KeypadCard}

// firstCardState is the RFID state of card 0 (spec: A.6.8).
const firstCardState = 6

// lookup returns t[i], or false when i is outside t or t[i] is zero.
func lookup[T comparable](t []T, i int) (T, bool) {
	var zero T
	if i < 0 || i >= len(t) || t[i] == zero {
		return zero, false
	}
	return t[i], true
}

// consolidate maps a raw alert state to the reference's consolidated
// state (spec: A.6.6): infrared has its own codes, every other source uses
// spec: A.6.4. Values with no meaning give false.
func consolidate(src protocol.AlertSource, state int) (int, bool) {
	const motion = 5
	if src == protocol.SourceInfrared {
		switch state {
		case 0:
			return motion, true
		case 1:
			return stateTamper, true
		case 2:
			return stateLowBattery, true
		}
		return 0, false
	}
	switch state {
	case stateDoorClose, stateDoorOpen, stateSOS, stateTamper, stateLowBattery, stateAlarm:
		return state, true
	}
	return 0, false
}

// Known reports whether the spec defines every code m carries that the
// mapping reads: the message code and notification kind, the arm state
// (spec: A.6.1), the alert type, the state-change code (spec: A.6.7), and
// for alarms and sensor activity the source (spec: A.6.3) and a state in
// the table the routing row uses for it: none for a remote's alarm,
// spec: A.6.5 and A.6.8 for a remote's and a keypad's activity, A.6.4 or
// the infrared codes of A.6.6 otherwise. An unknown message still decodes and may still
// give events where the spec routes it anyway (e.g. spec: A.5 R7 takes
// any source); Events reports the ones the spec drops.
func (m *Message) Known() bool {
	switch m.Code {
	case protocol.CodeNotification:
		if m.Notification.Kind == KindArmDisarm {
			_, ok := lookup(armStates[:], int(m.Notification.State))
			return ok
		}
		return m.Notification.Kind.Known()
	case protocol.CodeAlert:
		a := &m.Alert
		switch a.Type {
		case protocol.TypeHostSOS:
			return true
		case protocol.TypeStateChange:
			_, ok := lookup(stateChanges[:], a.EventID)
			return ok
		case protocol.TypeAlarm:
			if a.Source == protocol.SourceRemote {
				return true // spec: A.5 R3 does not examine the state
			}
			_, ok := consolidate(a.Source, a.State)
			return ok && a.Source.Known()
		case protocol.TypeSensorActivity:
			var ok bool
			switch a.Source {
			case protocol.SourceRemote:
				_, ok = lookup(buttons[:], a.State)
			case protocol.SourceRFID:
				_, ok = lookup(keypads[:], a.State)
			default:
				_, ok = consolidate(a.Source, a.State)
			}
			return ok && a.Source.Known()
		}
	}
	return false
}

// The emitters, one per rule. Each follows a handler of spec: B.3 and
// keeps its dispatch order.

// one emits a single sensor event.
func one(t EventType) emitter {
	return func(dst []Event, ev Event, _ input) ([]Event, error) {
		ev.Type = t
		return append(dst, ev), nil
	}
}

// panelEvent emits a single event about the panel itself.
func panelEvent(t EventType) emitter {
	return func(dst []Event, ev Event, _ input) ([]Event, error) {
		return append(dst, Event{Type: t, Time: ev.Time, GUID: ev.GUID}), nil
	}
}

// armDisarm: notification kind 1 (spec: A.3, B.3 ArmDisarm). A state
// outside spec: A.6.1 is an uncaught error in the reference; we drop it
// with an error ([REC], spec: A.3 notes).
func armDisarm(dst []Event, ev Event, in input) ([]Event, error) {
	s, ok := lookup(armStates[:], in.state)
	if !ok {
		return dst, fmt.Errorf("arm state %d out of range (spec: A.6.1)", in.state)
	}
	return append(dst, Event{Type: EventArmDisarm, Time: ev.Time, GUID: ev.GUID, State: s}), nil
}

// sensorChange: notification kind 4 (spec: A.3, B.8). The reference emits
// no user event for it (spec: B.3 SensorChange); we add sensor_added as a
// hint for action 1, the only value the spec gives a meaning. Other
// actions are believed to be updates (spec: G.12), not removals, so they
// give no event.
func sensorChange(dst []Event, ev Event, in input) ([]Event, error) {
	if in.id != 1 {
		return dst, nil
	}
	ev.Type = EventSensorAdded
	return append(dst, ev), nil
}

// sensorActivity: notification kind 5 (spec: B.3 SensorActivity with
// occupied = true).
func sensorActivity(dst []Event, ev Event, _ input) ([]Event, error) {
	ev.Type, ev.Occupied = EventSensorActivity, true
	return append(dst, ev), nil
}

// hostSOS: R1. The wire name is replaced by "Host SOS" (spec: A.5 R1);
// B.3 SOS emits SOS, then chains Alarm(tamper = false).
func hostSOS(dst []Event, ev Event, _ input) ([]Event, error) {
	ev.Sensor, ev.Name = false, "Host SOS"
	sos, alarm := ev, ev
	sos.Type, sos.Host = EventSOS, true
	alarm.Type = EventAlarm
	return append(dst, sos, alarm), nil
}

// stateChange: R2. The code is the event_id; source and state are
// ignored; an unknown code is accepted without an event (spec: A.5 R2).
func stateChange(dst []Event, ev Event, in input) ([]Event, error) {
	sc, ok := lookup(stateChanges[:], in.id)
	if !ok {
		return dst, nil
	}
	return append(dst, Event{Type: sc.typ, Time: ev.Time, GUID: ev.GUID, State: sc.state}), nil
}

// remoteSOS: R3, an alarm from a key fob is an SOS; the state is not
// examined. B.3 SOS: SOS, Alarm(tamper = false), then RemoteButtonPress
// (SOS), which emits the button and SensorActivity(true); the panel sends
// no separate button alert for it.
func remoteSOS(dst []Event, ev Event, _ input) ([]Event, error) {
	sos, alarm, button, activity := ev, ev, ev, ev
	sos.Type = EventSOS
	alarm.Type = EventAlarm
	button.Type, button.Button = EventRemoteButton, ButtonSOS
	activity.Type, activity.Occupied = EventSensorActivity, true
	return append(dst, sos, alarm, button, activity), nil
}

// alarm: R4. The source must be known and the state valid for it; tamper
// is decided on the consolidated state, so infrared state 1 is a tamper
// (spec: A.6.6). B.3 Alarm: Tamper (when tampered), then Alarm.
func alarm(dst []Event, ev Event, in input) ([]Event, error) {
	if !in.src.Known() {
		return dst, fmt.Errorf("alarm source %d unknown (spec: A.6.3)", in.src)
	}
	st, ok := consolidate(in.src, in.state)
	if !ok {
		return dst, fmt.Errorf("alarm state %d invalid for source %v (spec: A.6.4, A.6.6)", in.state, in.src)
	}
	ev.Tamper = st == stateTamper
	if ev.Tamper {
		tamper := ev
		tamper.Type, tamper.Tamper = EventTamper, false
		dst = append(dst, tamper)
	}
	ev.Type = EventAlarm
	return append(dst, ev), nil
}

// remoteButton: R5. B.3 RemoteButtonPress: the button, then
// SensorActivity(true).
func remoteButton(dst []Event, ev Event, in input) ([]Event, error) {
	b, ok := lookup(buttons[:], in.state)
	if !ok {
		return dst, fmt.Errorf("remote button %d out of range (spec: A.6.5)", in.state)
	}
	button, activity := ev, ev
	button.Type, button.Button = EventRemoteButton, b
	activity.Type, activity.Occupied = EventSensorActivity, true
	return append(dst, button, activity), nil
}

// rfidKeypad: R6. B.3 RFIDKeypad: the keypad event, then LowBattery for
// state 5 or SensorActivity(true) for any other state (which would clear
// the low-battery flag).
func rfidKeypad(dst []Event, ev Event, in input) ([]Event, error) {
	st := in.state
	k, ok := lookup(keypads[:], st)
	if !ok {
		return dst, fmt.Errorf("RFID keypad state %d undefined (spec: A.6.8)", st)
	}
	keypad, next := ev, ev
	keypad.Type, keypad.Keypad = EventRFIDKeypad, k
	if k == KeypadCard {
		keypad.Card = st - firstCardState
	}
	if k == KeypadLowBattery {
		next.Type = EventLowBattery
	} else {
		next.Type, next.Occupied = EventSensorActivity, true
	}
	return append(dst, keypad, next), nil
}

// doorOpenClose: R7. The raw state is compared, without the infrared
// remapping (spec: A.6.6): only a sensor's state 1 is open, and a doorbell
// is always open. B.3 DoorOpenClose: SensorActivity(occupied = open), then
// the door event.
func doorOpenClose(dst []Event, ev Event, in input) ([]Event, error) {
	open := (in.src == protocol.SourceSensor && in.state == stateDoorOpen) || in.src == protocol.SourceDoorbell
	activity, door := ev, ev
	activity.Type, activity.Occupied = EventSensorActivity, open
	door.Type = EventDoorClose
	if open {
		door.Type = EventDoorOpen
	}
	return append(dst, activity, door), nil
}
