package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	defs "github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// Injection is something happening at the panel that no command caused: a
// door opening, a key fob button, mains power failing. POST /inject takes
// it as JSON, e.g. {"event":"door_open","sensor":1}.
type Injection struct {
	// Event is one of InjectEvents.
	Event string `json:"event"`
	// Sensor is the index of the sensor the event comes from; required by
	// the sensor events, optional for sos (without it: the panel's own
	// SOS).
	Sensor *int `json:"sensor,omitempty"`
	// Button is the key fob button of remote_button: away, home, disarm
	// or sos.
	Button string `json:"button,omitempty"`
	// Card (0–4) or Action (away, home, disarm) is what rfid does.
	Card   *int   `json:"card,omitempty"`
	Action string `json:"action,omitempty"`
	// Type is the sensor definition of learn, e.g. "Door Sensor: WDS07"
	// (spec: peripherals.md 19): a sensor of that model transmits while
	// the panel is learning one after ADDSENSOR, and is stored as
	// CompleteLearn stores it. It must match the model being learned.
	Type string `json:"type,omitempty"`
}

// InjectEvents lists the events Inject accepts.
var InjectEvents = []string{
	"door_open", "door_close", "motion", "alarm", "tamper", "low_battery", "sos",
	"remote_button", "rfid", "ac_power_failure", "ac_power_recover",
	"wifi_disconnected", "wifi_connected", "host_low_battery", "learn",
}

// ErrBadInjection is an injection the panel cannot act on: an unknown
// event, a missing or wrong sensor, an unknown button or card.
var ErrBadInjection = errors.New("sim: bad injection")

// Inject makes the panel act as if the event happened: its state changes,
// it records history and sends notifications and alerts as a panel does
// (spec: notifications-and-cloud.md A.3–A.5). It returns the datagrams
// the panel sent, in order; they reach Config.Notify when it is set.
func (p *Panel) Inject(in Injection) ([][]byte, error) {
	out, err := p.apply(injectEvent{in})
	return out.sent, err
}

type injectEvent struct{ Injection }

func (e injectEvent) fail(format string, args ...any) (outcome, error) {
	return outcome{}, fmt.Errorf("%w: %s: %s", ErrBadInjection, e.Event, fmt.Sprintf(format, args...))
}

// sensor returns the record the injection names.
func (e injectEvent) sensor(st *State) (protocol.PeripheralRecord, error) {
	if e.Sensor == nil {
		return protocol.PeripheralRecord{}, fmt.Errorf("%w: %s needs \"sensor\": an index", ErrBadInjection, e.Event)
	}
	i := find(st.Sensors, *e.Sensor)
	if i < 0 {
		return protocol.PeripheralRecord{}, fmt.Errorf("%w: %s: no sensor with index %d", ErrBadInjection, e.Event, *e.Sensor)
	}
	return st.Sensors[i], nil
}

// Sensor kinds, by type and by wired subtype (spec: peripherals.md 7.1).
const (
	typeSOS      = 5
	typeInfrared = 8
	typeRemote   = 10
	typeRFID     = 11
	typeDoorbell = 12
	typeRemote24 = 17
	typeCord     = 126
	sensorAdded  = 1 // sensor change action (spec: notifications-and-cloud.md A.3)
)

// kind is the sensor's type, or a wired sensor's subtype.
func kind(r protocol.PeripheralRecord) int {
	if r.TypeID == typeCord {
		return r.Subtype
	}
	return r.TypeID
}

// source is the alert source a sensor reports as (spec:
// notifications-and-cloud.md A.6.3: infrared, remote, RFID and doorbell
// have their own; every other sensor is 1).
func source(r protocol.PeripheralRecord) protocol.AlertSource {
	switch kind(r) {
	case typeInfrared:
		return protocol.SourceInfrared
	case typeRemote, typeRemote24:
		return protocol.SourceRemote
	case typeRFID:
		return protocol.SourceRFID
	case typeDoorbell:
		return protocol.SourceDoorbell
	}
	return protocol.SourceSensor
}

// alarms reports whether a trigger of r sounds the alarm in the current
// arm state: disabled sensors never do; "alert always" zones (smoke, gas,
// water) always do; "away" zones only when armed away; "away and home"
// zones when armed either way (spec: peripherals.md 7.4).
func alarms(st *State, r protocol.PeripheralRecord) bool {
	if r.UserFlags&1 == 0 {
		return false
	}
	switch mode := r.UserFlags & 96; {
	case mode == 0, st.Arm == protocol.ArmAway, st.Arm == protocol.ArmAlarm:
		return true
	case st.Arm == protocol.ArmHome:
		return mode == 32
	}
	return false
}

// soundAlarm puts the panel into the alarm state, announced like any arm
// state change (spec: notifications-and-cloud.md A.6.1 ALARMED).
func soundAlarm(st *State, out *outcome) {
	if st.Arm != protocol.ArmAlarm {
		st.Arm = protocol.ArmAlarm
		out.notes = append(out.notes, armNote(protocol.ArmAlarm))
	}
}

// arm changes the arm state from a key fob or keypad, with the same
// notification and state-change alert as SETHOSTSTATUS.
func arm(st *State, s protocol.ArmState, out *outcome) error {
	a, err := armEvent{s}.apply(st, time.Time{})
	out.notes = append(out.notes, a.notes...)
	out.alerts = append(out.alerts, a.alerts...)
	out.lateNotes = append(out.lateNotes, a.lateNotes...)
	return err
}

var armButtons = map[string]struct {
	state protocol.ArmState
	code  int
}{
	"away":   {protocol.ArmAway, btnArmAway},
	"home":   {protocol.ArmHome, btnArmHome},
	"disarm": {protocol.Disarmed, btnDisarm},
}

// learn is a sensor transmitting during the learning window ADDSENSOR
// opened (spec: local-protocol.md 3.9 step 3).
func (e injectEvent) learn(st *State, now time.Time) (outcome, error) {
	if e.Type == "" {
		return e.fail("needs \"type\": a sensor definition name")
	}
	def := defs.LookupName(defs.KindSensor, e.Type)
	if def == nil {
		return e.fail("no sensor definition named %q", e.Type)
	}
	pending := st.PendingSensor
	if pending == nil {
		return outcome{}, fmt.Errorf("%w: learn: %w; send ADDSENSOR first", ErrBadInjection, ErrNotLearning)
	}
	if pending.TypeID != int(def.TypeID) || pending.Subtype != def.Subtype || pending.ProtocolID != int(def.ProtocolID) {
		want := defs.Lookup(defs.KindSensor, defs.Type(pending.TypeID), pending.Subtype, defs.Protocol(pending.ProtocolID))
		name := fmt.Sprintf("type %d subtype %d protocol %d", pending.TypeID, pending.Subtype, pending.ProtocolID)
		if want != nil {
			name = want.Name
		}
		return e.fail("the panel is learning a %q, not a %q", name, e.Type)
	}
	return learnedEvent{}.apply(st, now)
}

func (e injectEvent) apply(st *State, now time.Time) (outcome, error) {
	var out outcome
	switch e.Event {
	case "learn":
		return e.learn(st, now)
	case "ac_power_failure", "ac_power_recover", "wifi_disconnected", "wifi_connected", "host_low_battery":
		// spec: notifications-and-cloud.md A.6.7
		code := map[string]int{"ac_power_failure": scACFailure, "ac_power_recover": scACRecover,
			"host_low_battery": scHostBatt, "wifi_connected": scWiFiUp, "wifi_disconnected": scWiFiDown}[e.Event]
		switch e.Event {
		case "wifi_connected":
			st.Host.WiFiStatus = 3
		case "wifi_disconnected":
			st.Host.WiFiStatus = 1
		}
		out.alerts = append(out.alerts, stateChange(code))
		return out, nil
	case "sos":
		if e.Sensor == nil { // the panel's own SOS (spec: A.5 R1)
			out.alerts = append(out.alerts, protocol.HistoryEntry{Type: protocol.TypeHostSOS, EventID: 1, Source: protocol.SourceDevice})
			soundAlarm(st, &out)
			return out, nil
		}
	}
	if !slices.Contains(InjectEvents, e.Event) {
		return e.fail("unknown event; want one of %v", InjectEvents)
	}
	r, err := e.sensor(st)
	if err != nil {
		return outcome{}, err
	}
	if r.UserFlags&1 == 0 {
		return out, nil // a disabled sensor is ignored by the panel
	}
	src, ir := source(r), kind(r) == typeInfrared
	triggered := func(state int) {
		// A trigger is activity; in an armed zone it is an alarm (spec:
		// notifications-and-cloud.md A.3 kind 5, A.5 R4/R7).
		out.notes = append(out.notes, activityNote(r))
		if alarms(st, r) {
			out.alerts = append(out.alerts, alarm(src, r.Index, state, r.Name))
			soundAlarm(st, &out)
		} else if !ir {
			out.alerts = append(out.alerts, activity(src, r.Index, state, r.Name))
		}
	}
	switch e.Event {
	case "door_open", "motion":
		if ir {
			triggered(irMotion)
		} else {
			triggered(stDoorOpen)
			if e.Event == "door_open" {
				if i, found := slices.BinarySearch(st.OpenDoors, r.Index); !found {
					st.OpenDoors = slices.Insert(st.OpenDoors, i, r.Index)
				}
			}
		}
	case "door_close":
		out.alerts = append(out.alerts, activity(src, r.Index, stDoorClose, r.Name))
		st.OpenDoors = slices.DeleteFunc(st.OpenDoors, func(j int) bool { return j == r.Index })
	case "alarm":
		out.notes = append(out.notes, activityNote(r))
		out.alerts = append(out.alerts, alarm(src, r.Index, map[bool]int{true: irMotion, false: stDoorOpen}[ir], r.Name))
		soundAlarm(st, &out)
	case "tamper":
		out.alerts = append(out.alerts, alarm(src, r.Index, map[bool]int{true: irTamper, false: stTamper}[ir], r.Name))
		soundAlarm(st, &out)
	case "low_battery":
		if src == protocol.SourceRFID {
			out.alerts = append(out.alerts, activity(src, r.Index, rfidLowBatt, r.Name))
		} else {
			out.alerts = append(out.alerts, activity(protocol.SourceSensor, r.Index, stLowBatt, r.Name))
		}
	case "sos":
		switch {
		case src == protocol.SourceRemote:
			out.alerts = append(out.alerts, alarm(src, r.Index, btnSOS, r.Name))
		case kind(r) == typeSOS:
			out.alerts = append(out.alerts, alarm(src, r.Index, stSOS, r.Name))
		default:
			return e.fail("sensor %d is neither a remote nor an SOS button", r.Index)
		}
		soundAlarm(st, &out)
	case "remote_button":
		if src != protocol.SourceRemote {
			return e.fail("sensor %d is not a remote", r.Index)
		}
		if e.Button == "sos" {
			out.alerts = append(out.alerts, alarm(src, r.Index, btnSOS, r.Name)) // spec: A.5 R3
			soundAlarm(st, &out)
			return out, nil
		}
		b, ok := armButtons[e.Button]
		if !ok {
			return e.fail("button %q; want away, home, disarm or sos", e.Button)
		}
		out.alerts = append(out.alerts, activity(src, r.Index, b.code, r.Name)) // spec: A.5 R5
		return out, arm(st, b.state, &out)
	case "rfid":
		if src != protocol.SourceRFID {
			return e.fail("sensor %d is not an RFID keypad", r.Index)
		}
		switch {
		case e.Card != nil && e.Action == "":
			if *e.Card < 0 || *e.Card > 4 {
				return e.fail("card %d; want 0 to 4", *e.Card)
			}
			out.alerts = append(out.alerts, activity(src, r.Index, rfidCard0+*e.Card, r.Name)) // spec: A.6.8
		case e.Card == nil:
			b, ok := armButtons[e.Action]
			if !ok {
				return e.fail("action %q; want away, home or disarm (or a card)", e.Action)
			}
			out.alerts = append(out.alerts, activity(src, r.Index, b.code, r.Name))
			return out, arm(st, b.state, &out)
		default:
			return e.fail("give a card or an action, not both")
		}
	}
	return out, nil
}
