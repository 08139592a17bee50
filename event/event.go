// Package event is the event model every part of g90 shares: the
// normalised happenings of a panel (DESIGN.md "Events"), the sources that
// report them and their one JSON form. The codecs decode into it (notify
// for local notifications and alerts, notify.FromCloud for the cloud
// protocol's messages, history entries through notify); the Monitor
// keeps the panel's state from it and hands it to the journal, MQTT, the
// web UI and HomeKit. It has no I/O.
package event

import (
	"time"
)

// Type names a normalised protocol event. The values are the event
// names of DESIGN.md ("Events"), used alike by the library, JSON, MQTT
// and the web UI.
type Type string

// Event types notify.Message.Events produces, with the fields each sets besides Time and
// GUID. Sensor events set Sensor, Index and Name.
const (
	ArmDisarm          Type = "arm_disarm"            // State
	SensorActivity     Type = "sensor_activity"       // sensor, Occupied
	DoorOpen           Type = "door_open"             // sensor
	DoorClose          Type = "door_close"            // sensor
	DoorOpenWhenArming Type = "door_open_when_arming" // sensor
	Alarm              Type = "alarm"                 // sensor (not for a host SOS), Tamper
	Tamper             Type = "tamper"                // sensor
	LowBattery         Type = "low_battery"           // sensor
	SOS                Type = "sos"                   // sensor (not for a host SOS), Host
	RemoteButton       Type = "remote_button"         // sensor, Button
	RFIDKeypad         Type = "rfid_keypad"           // sensor, Keypad, Card
	SensorAdded        Type = "sensor_added"          // sensor
	ACPowerFailure     Type = "ac_power_failure"
	ACPowerRecover     Type = "ac_power_recover"
	WiFiConnected      Type = "wifi_connected"
	WiFiDisconnected   Type = "wifi_disconnected"
	HostLowBattery     Type = "host_low_battery"
	FirmwareUpdating   Type = "firmware_updating"
)

// SensorRemoved is the DESIGN.md name for a sensor that left the
// panel's list. No codec returns it: no notification or alert reports
// a removal (spec: A.3, B.8); a sensor list refresh finds it.
const SensorRemoved Type = "sensor_removed"

// Device list changes (DESIGN.md). No message reports them: the panel
// sends nothing when a device is added (spec: B.8); a device list refresh
// finds them. They set Event.Device.
const (
	DeviceAdded   Type = "device_added"
	DeviceRemoved Type = "device_removed"
)

// RelaySwitched: a relay node was switched through g90 (MQTT, the
// web UI, the library) and the panel took the command. The panel reports
// no relay state (spec: peripherals.md; A.3 has no such notification),
// so the last switch is the only state there is. It sets Device and On;
// its Source is SourceCommand.
const RelaySwitched Type = "relay_switched"

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
	SourceLocal   Source = "local"   // local UDP notifications and alerts (notify.Listener)
	SourceCloud   Source = "cloud"   // the cloud server
	SourceHistory Source = "history" // history polling
	// SourcePoll marks what a read of the panel found rather than a
	// message reported: an arm state that changed unreported, sensors
	// and devices added or removed (spec: B.8).
	SourcePoll Source = "poll"
	// SourceCommand marks what a command g90 sent did (a relay switched).
	SourceCommand Source = "command"
)

// Sources is a set of Sources.
type Sources uint8

// sourceBits are the Sources in their bit order, which is also the order
// Sources.List and the JSON "sources" array give.
var sourceBits = [...]Source{SourceLocal, SourceCloud, SourceHistory, SourcePoll, SourceCommand}

// SourcesOf returns the set of the given sources; unknown ones are left
// out.
func SourcesOf(srcs ...Source) Sources {
	var set Sources
	for _, src := range srcs {
		set = set.With(src)
	}
	return set
}

// With returns s with src added; an unknown src leaves s as it is.
func (s Sources) With(src Source) Sources {
	for i, b := range sourceBits {
		if b == src {
			return s | 1<<i
		}
	}
	return s
}

// Has reports whether src is in s.
func (s Sources) Has(src Source) bool { return s != 0 && s&Sources(0).With(src) != 0 }

// List returns the sources in s, in a fixed order.
func (s Sources) List() []Source {
	var out []Source
	for i, b := range sourceBits {
		if s&(1<<i) != 0 {
			out = append(out, b)
		}
	}
	return out
}

// Event is one normalised protocol event. Fields that do not apply to the
// Type are zero.
type Event struct {
	Type Type
	// Time is the panel's clock from an alert's unix_time. It is zero for
	// notifications, which carry no time; the receiver fills it in.
	Time time.Time
	// GUID is the panel GUID from an alert's device_id; empty for
	// notifications.
	GUID string
	// Source is the source that reported the event first; the codecs
	// leave it empty and whoever delivers the event sets it.
	Source Source
	// Seq numbers the events of one panel (by GUID): 1, 2, 3, … assigned
	// once, by the Monitor that delivers the event, so that the journal,
	// MQTT and the web UI show the same number (issue 13.11). Zero until
	// then; the codecs leave it zero.
	Seq uint64
	// Index and Name identify a sensor when Sensor is set. For a host
	// SOS and its alarm, Sensor is false but Index is the alert's event_id
	// and Name is "Host SOS", as the reference reports them (spec: A.5 R1).
	Index int
	Name  string
	// SensorType is the sensor's definition name (as in the sensor list,
	// e.g. "Door Sensor: WRDS01"), filled in by whoever knows the sensor
	// list; the codecs leave it empty.
	SensorType string
	// Device is the device node of device_added and device_removed.
	Device *DeviceRef

	State  ArmState // arm_disarm
	Button Button   // remote_button
	Keypad Keypad   // rfid_keypad
	Card   int      // rfid_keypad with Keypad == KeypadCard: card 0-4

	// The one-byte fields last, together: an Event is copied from stage
	// to stage of the event pipeline, and packed it is 192 bytes, three
	// cache lines, instead of 216 (issue 20.3).

	// Sources is every source that reported this happening: the Monitor
	// merges the reports of one happening (a notification and an alert,
	// the local and the cloud link, a history entry of what was seen
	// live) into one event (issue 16.1). Zero for a raw event.
	Sources Sources
	// Sensor reports that Index and Name identify a sensor.
	Sensor   bool
	Occupied bool // sensor_activity: active (true) or inactive (false, a door close)
	Tamper   bool // alarm: a tamper alarm (a tamper event precedes it)
	Host     bool // sos: from the panel itself (true) or a remote (false)
	On       bool // relay_switched: on (true) or off
	// Reset marks a sensor_activity with Occupied false that no message
	// reported: the occupancy auto-reset of a sensor that never reports
	// "inactive" (spec: B.6.1). The reference changes only the sensor's
	// state then; we emit it so that every consumer sees the change.
	Reset bool
}
