package notify

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
)

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
func (m *Message) Events(dst []event.Event) ([]event.Event, error) {
	r := m.rule()
	if r == nil {
		return dst, m.unknown()
	}
	// The emitter gets its template as dst's last element, built in
	// place: an Event is some 200 bytes, copied by value into every call
	// before (issue 20.3).
	var in input
	orig := dst
	if m.Code == protocol.CodeAlert {
		a := &m.Alert
		dst = append(dst, event.Event{Time: time.Unix(a.UnixTime, 0).UTC(), GUID: a.GUID, Sensor: true, Index: a.EventID, Name: a.Name})
		in = input{src: a.Source, state: a.State, id: a.EventID}
	} else {
		n := &m.Notification
		dst = append(dst, event.Event{Sensor: true, Index: n.Index, Name: n.Name})
		in = input{state: int(n.State), id: n.Action}
	}
	out, err := r.emit(dst, in)
	if err != nil || len(out) == len(orig) {
		dst[len(dst)-1] = event.Event{} // no name kept alive
		if err != nil {
			return orig, fmt.Errorf("%w: %s: %v", ErrUnknown, r.spec, err)
		}
		return orig, nil
	}
	return out, nil
}

// rule is one row of the mapping: the message it matches and what it
// emits.
type rule struct {
	spec  string // where the spec gives the row
	code  protocol.Code
	kind  int // notification kind or alert type
	src   int // alert source, or anyValue
	state int // alert state, or anyValue
	emit  emitter
}

// emitter turns the template, dst's last element (with Time, GUID,
// Index and Name set), into a rule's events: it changes the template in
// place, appends copies of it, or cuts it off (no event). Events drops
// the template on error.
type emitter func(dst []event.Event, in input) ([]event.Event, error)

// template splits dst into the events before the template and the
// template itself.
func template(dst []event.Event) ([]event.Event, *event.Event) {
	return dst[:len(dst)-1], &dst[len(dst)-1]
}

// copies appends n-1 copies of the template, dst's last element, and
// returns dst with the n events last.
func copies(dst []event.Event, n int) []event.Event {
	for range n - 1 {
		dst = append(dst, dst[len(dst)-1])
	}
	return dst
}

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
	notification(KindDoorOpenWhenArming, "spec A.3 kind 6", one(event.DoorOpenWhenArming)),
	notification(KindFirmwareUpdating, "spec B.9 firmware updating", panelEvent(event.FirmwareUpdating)),

	// Alerts (spec: A.5, rows in the spec's order).
	alert(protocol.TypeHostSOS, anyValue, anyValue, "spec A.5 R1", hostSOS),
	alert(protocol.TypeStateChange, anyValue, anyValue, "spec A.5 R2", stateChange),
	alert(protocol.TypeAlarm, int(protocol.SourceRemote), anyValue, "spec A.5 R3", remoteSOS),
	alert(protocol.TypeAlarm, anyValue, anyValue, "spec A.5 R4", alarm),
	alert(protocol.TypeSensorActivity, int(protocol.SourceRemote), anyValue, "spec A.5 R5", remoteButton),
	alert(protocol.TypeSensorActivity, int(protocol.SourceRFID), anyValue, "spec A.5 R6", rfidKeypad),
	alert(protocol.TypeSensorActivity, anyValue, stateDoorClose, "spec A.5 R7", doorOpenClose),
	alert(protocol.TypeSensorActivity, anyValue, stateDoorOpen, "spec A.5 R7", doorOpenClose),
	alert(protocol.TypeSensorActivity, int(protocol.SourceSensor), stateLowBattery, "spec A.5 R8", one(event.LowBattery)),
	// Anything else is R9 / R10: unknown.
}

// rule returns the first rule matching m, or nil.
func (m *Message) rule() *rule {
	kind, src, state, code := 0, 0, 0, 0
	switch m.Code {
	case protocol.CodeNotification:
		kind = int(m.Notification.Kind)
	case protocol.CodeAlert:
		kind, src, state, code = int(m.Alert.Type), int(m.Alert.Source), m.Alert.State, 1
	default:
		return nil
	}
	candidates := rules[:]
	if k := uint(kind); k < uint(len(rulesOf[code])) {
		candidates = rulesOf[code][k]
	}
	for i := range candidates {
		r := &candidates[i]
		if r.code == m.Code && r.kind == kind && (r.src == anyValue || r.src == src) && (r.state == anyValue || r.state == state) {
			return r
		}
	}
	return nil
}

// rulesOf holds, for notifications (0) and alerts (1) and each small kind
// or type, the rows of rules that may match, in their order: rule looks
// at those alone (issue 20.3: scanning every row was a twentieth of the
// alert path).
var rulesOf = func() (by [2][16][]rule) {
	for _, r := range rules {
		code := 0
		if r.code == protocol.CodeAlert {
			code = 1
		}
		by[code][r.kind] = append(by[code][r.kind], r)
	}
	return by
}()

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
	typ   event.Type
	state event.ArmState
}{
	1: {event.ACPowerFailure, ""},
	2: {event.ACPowerRecover, ""},
	3: {event.ArmDisarm, event.Disarmed},
	4: {event.ArmDisarm, event.ArmAway},
	5: {event.ArmDisarm, event.ArmHome},
	6: {event.HostLowBattery, ""},
	7: {event.WiFiConnected, ""},
	8: {event.WiFiDisconnected, ""},
}

// armStates maps a notification's arm state (spec: A.6.1).
var armStates = [...]event.ArmState{protocol.ArmAway: event.ArmAway, protocol.ArmHome: event.ArmHome, protocol.Disarmed: event.Disarmed, protocol.ArmAlarm: event.Alarmed}

// buttons maps the state of a remote alert (spec: A.6.5).
var buttons = [...]event.Button{event.ButtonAway, event.ButtonHome, event.ButtonDisarm, event.ButtonSOS}

// keypads maps the state of an RFID alert (spec: A.6.8); 3 and 4 are
// undefined.
var keypads = [...]event.Keypad{0: event.KeypadAway, 1: event.KeypadHome, 2: event.KeypadDisarm, 5: event.KeypadLowBattery,
	6: event.KeypadCard, 7: event.KeypadCard, 8: event.KeypadCard, 9: event.KeypadCard, 10: event.KeypadCard}

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
func one(t event.Type) emitter {
	return func(dst []event.Event, _ input) ([]event.Event, error) {
		dst[len(dst)-1].Type = t
		return dst, nil
	}
}

// panelEvent emits a single event about the panel itself.
func panelEvent(t event.Type) emitter {
	return func(dst []event.Event, _ input) ([]event.Event, error) {
		_, ev := template(dst)
		*ev = event.Event{Type: t, Time: ev.Time, GUID: ev.GUID}
		return dst, nil
	}
}

// armDisarm: notification kind 1 (spec: A.3, B.3 ArmDisarm). A state
// outside spec: A.6.1 is an uncaught error in the reference; we drop it
// with an error ([REC], spec: A.3 notes).
func armDisarm(dst []event.Event, in input) ([]event.Event, error) {
	s, ok := lookup(armStates[:], in.state)
	if !ok {
		return dst, fmt.Errorf("arm state %d out of range (spec: A.6.1)", in.state)
	}
	_, ev := template(dst)
	*ev = event.Event{Type: event.ArmDisarm, Time: ev.Time, GUID: ev.GUID, State: s}
	return dst, nil
}

// sensorChange: notification kind 4 (spec: A.3, B.8). The reference emits
// no user event for it (spec: B.3 SensorChange); we add sensor_added as a
// hint for action 1, the only value the spec gives a meaning. Other
// actions are believed to be updates (spec: G.12), not removals, so they
// give no event.
func sensorChange(dst []event.Event, in input) ([]event.Event, error) {
	before, ev := template(dst)
	if in.id != 1 {
		return before, nil
	}
	ev.Type = event.SensorAdded
	return dst, nil
}

// sensorActivity: notification kind 5 (spec: B.3 SensorActivity with
// occupied = true).
func sensorActivity(dst []event.Event, _ input) ([]event.Event, error) {
	_, ev := template(dst)
	ev.Type, ev.Occupied = event.SensorActivity, true
	return dst, nil
}

// hostSOS: R1. The wire name is replaced by "Host SOS" (spec: A.5 R1);
// B.3 SOS emits SOS, then chains Alarm(tamper = false).
func hostSOS(dst []event.Event, _ input) ([]event.Event, error) {
	_, ev := template(dst)
	ev.Sensor, ev.Name = false, "Host SOS"
	dst = copies(dst, 2)
	sos, alarm := &dst[len(dst)-2], &dst[len(dst)-1]
	sos.Type, sos.Host = event.SOS, true
	alarm.Type = event.Alarm
	return dst, nil
}

// stateChange: R2. The code is the event_id; source and state are
// ignored; an unknown code is accepted without an event (spec: A.5 R2).
func stateChange(dst []event.Event, in input) ([]event.Event, error) {
	before, ev := template(dst)
	sc, ok := lookup(stateChanges[:], in.id)
	if !ok {
		return before, nil
	}
	*ev = event.Event{Type: sc.typ, Time: ev.Time, GUID: ev.GUID, State: sc.state}
	return dst, nil
}

// remoteSOS: R3, an alarm from a key fob is an SOS; the state is not
// examined. B.3 SOS: SOS, Alarm(tamper = false), then RemoteButtonPress
// (SOS), which emits the button and SensorActivity(true); the panel sends
// no separate button alert for it.
func remoteSOS(dst []event.Event, _ input) ([]event.Event, error) {
	dst = copies(dst, 4)
	evs := dst[len(dst)-4:]
	sos, alarm, button, activity := &evs[0], &evs[1], &evs[2], &evs[3]
	sos.Type = event.SOS
	alarm.Type = event.Alarm
	button.Type, button.Button = event.RemoteButton, event.ButtonSOS
	activity.Type, activity.Occupied = event.SensorActivity, true
	return dst, nil
}

// alarm: R4. The source must be known and the state valid for it; tamper
// is decided on the consolidated state, so infrared state 1 is a tamper
// (spec: A.6.6). B.3 Alarm: Tamper (when tampered), then Alarm.
func alarm(dst []event.Event, in input) ([]event.Event, error) {
	if !in.src.Known() {
		return dst, fmt.Errorf("alarm source %d unknown (spec: A.6.3)", in.src)
	}
	st, ok := consolidate(in.src, in.state)
	if !ok {
		return dst, fmt.Errorf("alarm state %d invalid for source %v (spec: A.6.4, A.6.6)", in.state, in.src)
	}
	if st == stateTamper {
		dst = copies(dst, 2)
		tamper, alarm := &dst[len(dst)-2], &dst[len(dst)-1]
		tamper.Type = event.Tamper
		alarm.Type, alarm.Tamper = event.Alarm, true
		return dst, nil
	}
	dst[len(dst)-1].Type = event.Alarm
	return dst, nil
}

// remoteButton: R5. B.3 RemoteButtonPress: the button, then
// SensorActivity(true).
func remoteButton(dst []event.Event, in input) ([]event.Event, error) {
	b, ok := lookup(buttons[:], in.state)
	if !ok {
		return dst, fmt.Errorf("remote button %d out of range (spec: A.6.5)", in.state)
	}
	dst = copies(dst, 2)
	button, activity := &dst[len(dst)-2], &dst[len(dst)-1]
	button.Type, button.Button = event.RemoteButton, b
	activity.Type, activity.Occupied = event.SensorActivity, true
	return dst, nil
}

// rfidKeypad: R6. B.3 RFIDKeypad: the keypad event, then LowBattery for
// state 5 or SensorActivity(true) for any other state (which would clear
// the low-battery flag).
func rfidKeypad(dst []event.Event, in input) ([]event.Event, error) {
	st := in.state
	k, ok := lookup(keypads[:], st)
	if !ok {
		return dst, fmt.Errorf("RFID keypad state %d undefined (spec: A.6.8)", st)
	}
	dst = copies(dst, 2)
	keypad, next := &dst[len(dst)-2], &dst[len(dst)-1]
	keypad.Type, keypad.Keypad = event.RFIDKeypad, k
	if k == event.KeypadCard {
		keypad.Card = st - firstCardState
	}
	if k == event.KeypadLowBattery {
		next.Type = event.LowBattery
	} else {
		next.Type, next.Occupied = event.SensorActivity, true
	}
	return dst, nil
}

// doorOpenClose: R7. The raw state is compared, without the infrared
// remapping (spec: A.6.6): only a sensor's state 1 is open, and a doorbell
// is always open. B.3 DoorOpenClose: SensorActivity(occupied = open), then
// the door event.
func doorOpenClose(dst []event.Event, in input) ([]event.Event, error) {
	open := (in.src == protocol.SourceSensor && in.state == stateDoorOpen) || in.src == protocol.SourceDoorbell
	dst = copies(dst, 2)
	activity, door := &dst[len(dst)-2], &dst[len(dst)-1]
	activity.Type, activity.Occupied = event.SensorActivity, open
	door.Type = event.DoorClose
	if open {
		door.Type = event.DoorOpen
	}
	return dst, nil
}
