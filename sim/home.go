package sim

import (
	"time"

	"github.com/g90alarm/g90/protocol"
)

// DefaultState returns the simulated home: a GSM panel with SIA support,
// disarmed, with a dozen sensors, three devices and a few days of history
// ending now.
func DefaultState() State { return defaultState(time.Now()) }

// User flag values (spec: local-protocol.md 3.5.4).
const (
	flagsAwayAndHome = 33 // ENABLED | ALERT_WHEN_AWAY_AND_HOME, what registration uses
	flagsDoor        = 63 // ENABLED | ARM_DELAY | DETECT_DOOR | DOOR_CHIME | INDEPENDENT_ZONE | AWAY_AND_HOME
	flagsAwayOnly    = 65 // ENABLED | ALERT_WHEN_AWAY
	flagsAlways      = 1  // ENABLED, alert always: 24-hour sensors
	flagsDisabled    = 32 // ALERT_WHEN_AWAY_AND_HOME without ENABLED
)

// peripheral builds a read-layout record. type/subtype/protocol, baudrate,
// reserved_data and node count come from the definition tables (spec:
// local-protocol.md Appendix A); mask is 0 and private_data "" as in
// every capture (spec: local-protocol.md 3.5.1).
func peripheral(name string, index, typ, subtype, proto, baud, reserved, nodes, flags int) protocol.PeripheralRecord {
	return protocol.PeripheralRecord{
		Name: name, Index: index, TypeID: typ, Subtype: subtype, UserFlags: flags,
		Baudrate: baud, ProtocolID: proto, ReservedData: reserved, NodeCount: nodes,
	}
}

// defaultSensors is the sensor list in panel order. Indexes have gaps and
// the last sensor was added after the others, so list order is not index
// order, as on a real panel.
func defaultSensors() []protocol.PeripheralRecord {
	return []protocol.PeripheralRecord{
		peripheral("Front door", 1, 1, 0, 1, 0, 32, 1, flagsDoor),            // Door Sensor: WDS07
		peripheral("Back door", 2, 1, 3, 0, 0, 0, 1, flagsAwayAndHome),       // Door Sensor: WRDS01
		peripheral("Hall PIR", 7, 8, 3, 1, 0, 16, 1, flagsAwayAndHome),       // PIR Motion Sensor: WMS08
		peripheral("Living room PIR", 8, 8, 2, 1, 0, 16, 1, flagsAwayOnly),   // PIR Motion Sensor: WMS07
		peripheral("Kitchen smoke", 11, 4, 0, 0, 0, 0, 1, flagsAlways),       // Smoke Sensor: WSD02
		peripheral("Boiler gas", 12, 3, 0, 0, 0, 0, 1, flagsAlways),          // Gas Sensor: WGD01
		peripheral("Bathroom leak", 15, 7, 0, 0, 0, 0, 1, flagsAlways),       // Water Leak Sensor: LSTC01
		peripheral("Key fob Anna", 20, 10, 1, 0, 0, 16, 1, flagsAwayAndHome), // Remote: RMC08
		peripheral("Key fob Ben", 21, 10, 0, 1, 0, 32, 1, flagsAwayAndHome),  // Remote: RMC07
		peripheral("Entry keypad", 25, 11, 1, 0, 0, 16, 1, flagsAwayAndHome), // RFID: K07
		peripheral("Office window", 30, 1, 0, 1, 0, 32, 1, flagsDisabled),    // Door Sensor: WDS07, disabled
		peripheral("Garage door", 4, 126, 1, 5, 1480, 16, 1, flagsDoor),      // Door Sensor: Wired
	}
}

// defaultDevices: a single socket, a four-channel relay and a siren.
func defaultDevices() []protocol.PeripheralRecord {
	return []protocol.PeripheralRecord{
		peripheral("Garden lights", 3, 128, 3, 0, 1190, 17, 1, 1), // Socket: S07
		peripheral("Relay board", 6, 128, 0, 0, 1480, 17, 4, 1),   // Socket: JDQ
		peripheral("Porch siren", 9, 129, 0, 0, 1480, 33, 1, 1),   // Siren: SS08
	}
}

// History codes (spec: local-protocol.md 3.15.2–3.15.5).
const (
	scACFailure = 1
	scACRecover = 2
	scDisarm    = 3
	scArmAway   = 4
	scArmHome   = 5
	scHostBatt  = 6
	scWiFiUp    = 7
	scWiFiDown  = 8

	stDoorClose = 0
	stDoorOpen  = 1
	stSOS       = 2
	stTamper    = 3
	stLowBatt   = 4

	irMotion  = 0
	irTamper  = 1
	irLowBatt = 2

	btnArmAway = 0
	btnArmHome = 1
	btnDisarm  = 2
	btnSOS     = 3

	rfidDisarm  = 2
	rfidArmAway = 0
	rfidLowBatt = 5
	rfidCard0   = 6
	rfidCard1   = 7
)

func stateChange(code int) protocol.HistoryEntry {
	return protocol.HistoryEntry{Type: protocol.TypeStateChange, EventID: code, Source: protocol.SourceDevice}
}

func activity(src protocol.AlertSource, index, state int, name string) protocol.HistoryEntry {
	return protocol.HistoryEntry{Type: protocol.TypeSensorActivity, EventID: index, Source: src, State: state, Name: name}
}

func alarm(src protocol.AlertSource, index, state int, name string) protocol.HistoryEntry {
	return protocol.HistoryEntry{Type: protocol.TypeAlarm, EventID: index, Source: src, State: state, Name: name}
}

// defaultHistory is four days of a household, oldest first, as offsets
// from now; defaultState reverses it into the panel's newest-first order.
func defaultHistory(now time.Time) []protocol.HistoryEntry {
	type at struct {
		ago time.Duration
		e   protocol.HistoryEntry
	}
	// day(d, hh, mm) is d days ago at hh:mm, taking now as 10:00.
	day := func(d int, hh, mm int) time.Duration {
		return time.Duration(d)*24*time.Hour + 10*time.Hour - time.Duration(hh)*time.Hour - time.Duration(mm)*time.Minute
	}
	script := []at{
		// Four days ago: a normal working day.
		{day(4, 7, 40), activity(protocol.SourceRemote, 20, btnDisarm, "Key fob Anna")},
		{day(4, 7, 40), stateChange(scDisarm)},
		{day(4, 7, 55), activity(protocol.SourceSensor, 1, stDoorOpen, "Front door")},
		{day(4, 7, 56), activity(protocol.SourceSensor, 1, stDoorClose, "Front door")},
		{day(4, 8, 10), activity(protocol.SourceRFID, 25, rfidArmAway, "Entry keypad")},
		{day(4, 8, 10), stateChange(scArmAway)},
		{day(4, 13, 2), stateChange(scACFailure)},
		{day(4, 13, 47), stateChange(scACRecover)},
		{day(4, 17, 30), activity(protocol.SourceRFID, 25, rfidCard1, "Entry keypad")},
		{day(4, 17, 30), stateChange(scDisarm)},
		{day(4, 22, 45), activity(protocol.SourceRemote, 20, btnArmHome, "Key fob Anna")},
		{day(4, 22, 45), stateChange(scArmHome)},
		// Three days ago: the cat sets off the hall PIR while armed away.
		{day(3, 7, 5), activity(protocol.SourceRemote, 20, btnDisarm, "Key fob Anna")},
		{day(3, 7, 5), stateChange(scDisarm)},
		{day(3, 8, 20), activity(protocol.SourceRemote, 21, btnArmAway, "Key fob Ben")},
		{day(3, 8, 20), stateChange(scArmAway)},
		{day(3, 11, 14), alarm(protocol.SourceInfrared, 7, irMotion, "Hall PIR")},
		{day(3, 11, 20), activity(protocol.SourceRemote, 21, btnDisarm, "Key fob Ben")},
		{day(3, 11, 20), stateChange(scDisarm)},
		{day(3, 11, 26), alarm(protocol.SourceInfrared, 7, irTamper, "Hall PIR")},
		{day(3, 19, 3), activity(protocol.SourceSensor, 2, stDoorOpen, "Back door")},
		// Two days ago: a door left open while armed, a leak sensor battery.
		{day(2, 6, 58), activity(protocol.SourceSensor, 15, stLowBatt, "Bathroom leak")},
		{day(2, 8, 15), stateChange(scArmAway)},
		{day(2, 9, 42), alarm(protocol.SourceSensor, 1, stDoorOpen, "Front door")},
		{day(2, 9, 44), activity(protocol.SourceRFID, 25, rfidDisarm, "Entry keypad")},
		{day(2, 9, 44), stateChange(scDisarm)},
		{day(2, 9, 45), activity(protocol.SourceSensor, 1, stDoorClose, "Front door")},
		{day(2, 21, 30), alarm(protocol.SourceRemote, 21, btnSOS, "Key fob Ben")},
		// Yesterday: someone pressed SOS on the panel itself.
		{day(1, 6, 30), stateChange(scArmHome)},
		{day(1, 7, 12), stateChange(scDisarm)},
		{day(1, 12, 1), protocol.HistoryEntry{Type: protocol.TypeHostSOS, EventID: 1, Source: protocol.SourceDevice}},
		{day(1, 12, 3), stateChange(scDisarm)},
		{day(1, 18, 40), activity(protocol.SourceSensor, 1, stDoorOpen, "Front door")},
		{day(1, 18, 41), activity(protocol.SourceSensor, 1, stDoorClose, "Front door")},
		{day(1, 23, 0), activity(protocol.SourceRemote, 20, btnArmHome, "Key fob Anna")},
		{day(1, 23, 0), stateChange(scArmHome)},
		// This morning.
		{day(0, 7, 5), activity(protocol.SourceRemote, 20, btnDisarm, "Key fob Anna")},
		{day(0, 7, 5), stateChange(scDisarm)},
	}
	out := make([]protocol.HistoryEntry, len(script))
	for i, s := range script {
		e := s.e
		e.UnixTime = int(now.Add(-s.ago).Unix())
		e.Other = protocol.StringValue("")
		out[len(script)-1-i] = e // newest first
	}
	return out
}

func defaultState(now time.Time) State {
	ring := 1
	heartbeat := 60
	s := State{
		Host: Host{
			GUID:                 "SIMPANEL0001",
			ProductName:          "TSV018-C3SIA",
			WiFiProtocolVersion:  "1.2",
			CloudProtocolVersion: "1.1",
			MCUHWVersion:         "206",
			WiFiHWVersion:        "206",
			FWVersion:            "1.8",
			GSMStatus:            3,
			WiFiStatus:           3,
			GPRS3GActive:         0,
			WiFiSetupProgress:    2,
			BatteryVoltage:       "4264",
			GSMSignalLevel:       75,
			WiFiSignalLevel:      100,
			ServerStatus:         1,
		},
		Arm: protocol.Disarmed,
		HostConfig: protocol.HostConfig{
			AlarmSirenDuration: 180, ArmDelay: 30, AlarmDelay: 15, BacklightDuration: 30,
			AlarmVolumeLevel: 2, SpeechVolumeLevel: 1, RingDuration: 60, SpeechLanguage: 1,
			KeyToneVolumeLevel: 1, TimezoneOffsetM: 60, RingVolumeLevel: &ring,
		},
		AlarmPhones: protocol.AlarmPhones{
			PanelPassword:    "1234",
			PanelPhoneNumber: "+15550100",
			PhoneNumbers:     [6]string{"+15550101", "+15550102"},
			SMSPushNumbers:   [2]string{"+15550101"},
		},
		// Every alert kind the common setups enable, so history grows with
		// arm/disarm, door and power events (spec: local-protocol.md 3.18).
		AlertFlags: protocol.AlertACPowerFailure | protocol.AlertACPowerRecover | protocol.AlertArmDisarm |
			protocol.AlertHostLowVoltage | protocol.AlertSensorLowVoltage | protocol.AlertWiFiAvailable |
			protocol.AlertWiFiUnavailable | protocol.AlertDoorOpen | protocol.AlertDoorClose,
		NetConfig: protocol.NetConfig{
			APEnabled: 0, APPassword: "simpanel123", WiFiEnabled: 1, GPRSEnabled: 1,
			APNName: "internet", APNAuth: 0, GSMOperator: "26201", HasGSMOperator: true,
		},
		SIA: protocol.SIAConfig{
			Host: "127.0.0.1", Port: 12345, Account: "1234", Receiver: "R1", Prefix: "L0",
			EventFlags: "0000FFFF", HeartbeatInterval: &heartbeat,
		},
		CID:         protocol.CIDConfig{EventFlags: "000F"},
		Sensors:     defaultSensors(),
		Devices:     defaultDevices(),
		History:     defaultHistory(now),
		CloudServer: CloudServer{Primary: "47.88.7.61", Secondary: "47.88.7.61", Port: 5678}, // vendor default (spec: local-protocol.md 5.3)
	}
	_ = s.normalize() // fills the relay table; the data above is valid
	return s
}
