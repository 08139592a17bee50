package protocol

import "strconv"

// AlertType is the type of a history entry or alert (spec:
// local-protocol.md 3.15.2).
type AlertType int

// Alert types.
const (
	TypeHostSOS        AlertType = 1
	TypeStateChange    AlertType = 2
	TypeAlarm          AlertType = 3
	TypeSensorActivity AlertType = 4
)

var alertTypeNames = map[AlertType]string{
	TypeHostSOS: "host_sos", TypeStateChange: "state_change",
	TypeAlarm: "alarm", TypeSensorActivity: "sensor_activity",
}

// String returns the type's name, or unknown(N).
func (t AlertType) String() string { return enumName(alertTypeNames, int(t)) }

// AlertSource is the source of a history entry or alert (spec:
// local-protocol.md 3.15.4).
type AlertSource int

// Alert sources.
const (
	SourceDevice      AlertSource = 0
	SourceSensor      AlertSource = 1
	SourceTamper      AlertSource = 3
	SourceInfrared    AlertSource = 8
	SourceRemote      AlertSource = 10
	SourceRFID        AlertSource = 11
	SourceDoorbell    AlertSource = 12
	SourceFingerprint AlertSource = 15
)

var alertSourceNames = map[AlertSource]string{
	SourceDevice: "device", SourceSensor: "sensor", SourceTamper: "tamper",
	SourceInfrared: "infrared", SourceRemote: "remote", SourceRFID: "rfid",
	SourceDoorbell: "doorbell", SourceFingerprint: "fingerprint",
}

// String returns the source's name, or unknown(N).
func (s AlertSource) String() string { return enumName(alertSourceNames, int(s)) }

// Known reports whether s is in the spec's table.
func (s AlertSource) Known() bool { _, ok := alertSourceNames[s]; return ok }

func enumName[K ~int](m map[K]string, v int) string {
	if n, ok := m[K(v)]; ok {
		return n
	}
	return "unknown(" + strconv.Itoa(v) + ")"
}

// HistoryState is the consolidated meaning of an entry's state, named as
// the reference's history-state enum (spec: local-protocol.md 3.15.6). It
// never travels on the wire.
type HistoryState string

// History states. StateUnknown covers codes outside the spec's tables;
// StateNone is HOST_SOS, which has no state.
const (
	StateNone              HistoryState = ""
	StateUnknown           HistoryState = "unknown"
	StateDoorClose         HistoryState = "door_close"
	StateDoorOpen          HistoryState = "door_open"
	StateTamper            HistoryState = "tamper"
	StateAlarm             HistoryState = "alarm"
	StateACPowerFailure    HistoryState = "ac_power_failure"
	StateACPowerRecover    HistoryState = "ac_power_recover"
	StateDisarm            HistoryState = "disarm"
	StateArmAway           HistoryState = "arm_away"
	StateArmHome           HistoryState = "arm_home"
	StateLowBattery        HistoryState = "low_battery"
	StateWiFiConnected     HistoryState = "wifi_connected"
	StateWiFiDisconnected  HistoryState = "wifi_disconnected"
	StateRemoteArmAway     HistoryState = "remote_button_arm_away"
	StateRemoteArmHome     HistoryState = "remote_button_arm_home"
	StateRemoteDisarm      HistoryState = "remote_button_disarm"
	StateRemoteSOS         HistoryState = "remote_button_sos"
	StateRFIDArmAway       HistoryState = "rfid_key_arm_away"
	StateRFIDArmHome       HistoryState = "rfid_key_arm_home"
	StateRFIDDisarm        HistoryState = "rfid_key_disarm"
	StateMotionDetected    HistoryState = "motion_detected"
	stateRFIDCardPrefix                 = "rfid_card_"
	firstRFIDCardStateCode              = 6
)

// State-change codes, the event_id of a STATE_CHANGE entry (spec:
// local-protocol.md 3.15.3).
var stateChangeStates = map[int]HistoryState{
	1: StateACPowerFailure, 2: StateACPowerRecover, 3: StateDisarm,
	4: StateArmAway, 5: StateArmHome, 6: StateLowBattery,
	7: StateWiFiConnected, 8: StateWiFiDisconnected,
}

// Ordinary sensor states and the infrared table (spec:
// local-protocol.md 3.15.5). SOS (2) maps to unknown, as in the reference.
var (
	ordinaryStates = map[int]HistoryState{0: StateDoorClose, 1: StateDoorOpen, 3: StateTamper, 4: StateLowBattery, 254: StateAlarm}
	infraredStates = map[int]HistoryState{0: StateMotionDetected, 1: StateTamper, 2: StateLowBattery}
	remoteStates   = map[int]HistoryState{0: StateRemoteArmAway, 1: StateRemoteArmHome, 2: StateRemoteDisarm, 3: StateRemoteSOS}
	rfidStates     = map[int]HistoryState{0: StateRFIDArmAway, 1: StateRFIDArmHome, 2: StateRFIDDisarm, 5: StateLowBattery}
)

// ClassifyState maps (type, event_id, source, state) to a history state,
// the algorithm of spec: local-protocol.md 3.15.6 step 2. Unknown codes
// give StateUnknown, never an error.
func ClassifyState(t AlertType, eventID int, src AlertSource, state int) HistoryState {
	lookup := func(m map[int]HistoryState, k int) HistoryState {
		if s, ok := m[k]; ok {
			return s
		}
		return StateUnknown
	}
	switch {
	case t == TypeHostSOS:
		return StateNone
	case t == TypeAlarm || t == TypeSensorActivity:
		switch src {
		case SourceRemote:
			return lookup(remoteStates, state)
		case SourceRFID:
			if state >= firstRFIDCardStateCode && state <= firstRFIDCardStateCode+4 {
				return HistoryState(stateRFIDCardPrefix + strconv.Itoa(state-firstRFIDCardStateCode))
			}
			return lookup(rfidStates, state)
		case SourceInfrared:
			return lookup(infraredStates, state)
		}
		return lookup(ordinaryStates, state)
	}
	return lookup(stateChangeStates, eventID)
}

// SensorIndex returns the index of the sensor an entry is about: the
// event_id when the source is SENSOR, RFID or INFRARED (spec:
// local-protocol.md 3.15.6 step 3).
func SensorIndex(t AlertType, eventID int, src AlertSource) (int, bool) {
	if t != TypeAlarm && t != TypeSensorActivity && t != TypeStateChange {
		return 0, false
	}
	switch src {
	case SourceSensor, SourceRFID, SourceInfrared:
		return eventID, true
	}
	return 0, false
}

// HistoryState returns the entry's consolidated state.
func (h *HistoryEntry) HistoryState() HistoryState {
	return ClassifyState(h.Type, h.EventID, h.Source, h.State)
}

// SensorIndex returns the index of the sensor the entry is about, if any.
func (h *HistoryEntry) SensorIndex() (int, bool) { return SensorIndex(h.Type, h.EventID, h.Source) }

// AlertFlags is the alert configuration bitmask (spec: local-protocol.md
// 3.18). Unknown bits must be kept on write.
type AlertFlags int

// Alert flag bits.
const (
	AlertACPowerFailure   AlertFlags = 1
	AlertACPowerRecover   AlertFlags = 2
	AlertArmDisarm        AlertFlags = 4
	AlertHostLowVoltage   AlertFlags = 8
	AlertSensorLowVoltage AlertFlags = 16
	AlertWiFiAvailable    AlertFlags = 32
	AlertWiFiUnavailable  AlertFlags = 64
	AlertDoorOpen         AlertFlags = 128
	AlertDoorClose        AlertFlags = 256
	AlertSMSPush          AlertFlags = 512
	AlertUnknown1         AlertFlags = 2048
	AlertUnknown2         AlertFlags = 8192
)

// AlertFlagNames lists the named bits in bit order, with the names used
// in JSON and on the command line.
var AlertFlagNames = []struct {
	Flag AlertFlags
	Name string
}{
	{AlertACPowerFailure, "ac_power_failure"}, {AlertACPowerRecover, "ac_power_recover"},
	{AlertArmDisarm, "arm_disarm"}, {AlertHostLowVoltage, "host_low_voltage"},
	{AlertSensorLowVoltage, "sensor_low_voltage"}, {AlertWiFiAvailable, "wifi_available"},
	{AlertWiFiUnavailable, "wifi_unavailable"}, {AlertDoorOpen, "door_open"},
	{AlertDoorClose, "door_close"}, {AlertSMSPush, "sms_push"},
	{AlertUnknown1, "unknown1"}, {AlertUnknown2, "unknown2"},
}
