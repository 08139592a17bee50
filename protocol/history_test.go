package protocol

import "testing"

// The mapping of spec: local-protocol.md 3.15.6 beyond the worked example
// that TestVectors covers.
func TestClassifyState(t *testing.T) {
	for _, tc := range []struct {
		typ     AlertType
		eventID int
		src     AlertSource
		state   int
		want    HistoryState
	}{
		{TypeHostSOS, 1, SourceSensor, 1, StateNone},
		// Ordinary table, also for source 0 and unknown sources.
		{TypeAlarm, 5, SourceSensor, 0, StateDoorClose},
		{TypeAlarm, 5, SourceSensor, 1, StateDoorOpen},
		{TypeAlarm, 5, SourceSensor, 2, StateUnknown}, // SOS maps to unknown
		{TypeAlarm, 5, SourceSensor, 3, StateTamper},
		{TypeAlarm, 5, SourceSensor, 4, StateLowBattery},
		{TypeAlarm, 5, SourceSensor, 254, StateAlarm},
		{TypeAlarm, 5, SourceSensor, 5, StateUnknown},
		{TypeSensorActivity, 5, SourceDevice, 1, StateDoorOpen},
		{TypeSensorActivity, 5, SourceTamper, 3, StateTamper},
		{TypeSensorActivity, 5, 99, 0, StateDoorClose},
		// Infrared has its own table.
		{TypeAlarm, 5, SourceInfrared, 0, StateMotionDetected},
		{TypeAlarm, 5, SourceInfrared, 1, StateTamper},
		{TypeAlarm, 5, SourceInfrared, 2, StateLowBattery},
		{TypeAlarm, 5, SourceInfrared, 254, StateUnknown},
		// Remote buttons.
		{TypeAlarm, 5, SourceRemote, 0, StateRemoteArmAway},
		{TypeSensorActivity, 5, SourceRemote, 1, StateRemoteArmHome},
		{TypeSensorActivity, 5, SourceRemote, 2, StateRemoteDisarm},
		{TypeAlarm, 5, SourceRemote, 3, StateRemoteSOS},
		{TypeAlarm, 5, SourceRemote, 4, StateUnknown},
		// RFID keypads.
		{TypeSensorActivity, 5, SourceRFID, 0, StateRFIDArmAway},
		{TypeSensorActivity, 5, SourceRFID, 1, StateRFIDArmHome},
		{TypeSensorActivity, 5, SourceRFID, 2, StateRFIDDisarm},
		{TypeSensorActivity, 5, SourceRFID, 3, StateUnknown},
		{TypeSensorActivity, 5, SourceRFID, 5, StateLowBattery},
		{TypeSensorActivity, 5, SourceRFID, 6, "rfid_card_0"},
		{TypeSensorActivity, 5, SourceRFID, 10, "rfid_card_4"},
		{TypeSensorActivity, 5, SourceRFID, 11, StateUnknown},
		// State changes go by event_id, whatever the source and state.
		{TypeStateChange, 1, SourceDevice, 9, StateACPowerFailure},
		{TypeStateChange, 2, SourceDevice, 0, StateACPowerRecover},
		{TypeStateChange, 3, SourceSensor, 0, StateDisarm},
		{TypeStateChange, 4, SourceDevice, 0, StateArmAway},
		{TypeStateChange, 5, SourceDevice, 0, StateArmHome},
		{TypeStateChange, 6, SourceDevice, 0, StateLowBattery},
		{TypeStateChange, 7, SourceDevice, 0, StateWiFiConnected},
		{TypeStateChange, 8, SourceDevice, 0, StateWiFiDisconnected},
		{TypeStateChange, 9, SourceDevice, 0, StateUnknown},
		{TypeStateChange, 0, SourceDevice, 0, StateUnknown},
		// Unknown types are treated like state changes.
		{254, 4, SourceDevice, 0, StateArmAway},
	} {
		if got := ClassifyState(tc.typ, tc.eventID, tc.src, tc.state); got != tc.want {
			t.Errorf("ClassifyState(%v, %d, %v, %d) = %q, want %q", tc.typ, tc.eventID, tc.src, tc.state, got, tc.want)
		}
	}
}

func TestSensorIndex(t *testing.T) {
	for _, tc := range []struct {
		typ AlertType
		src AlertSource
		ok  bool
	}{
		{TypeAlarm, SourceSensor, true},
		{TypeSensorActivity, SourceRFID, true},
		{TypeAlarm, SourceInfrared, true},
		{TypeStateChange, SourceSensor, true},
		{TypeAlarm, SourceRemote, false},
		{TypeAlarm, SourceDevice, false},
		{TypeAlarm, SourceTamper, false},
		{TypeAlarm, SourceDoorbell, false},
		// spec 3.15.6 step 1: only types 2-4 take the source field; the
		// rest are DEVICE, which names no sensor.
		{TypeHostSOS, SourceSensor, false},
		{254, SourceSensor, false},
	} {
		idx, ok := SensorIndex(tc.typ, 42, tc.src)
		if ok != tc.ok || ok && idx != 42 {
			t.Errorf("SensorIndex(%v, 42, %v) = %d, %v; want ok=%v", tc.typ, tc.src, idx, ok, tc.ok)
		}
	}
}

func TestAlertEnums(t *testing.T) {
	for v, want := range map[AlertType]string{TypeHostSOS: "host_sos", TypeStateChange: "state_change", TypeAlarm: "alarm", TypeSensorActivity: "sensor_activity", 0: "unknown(0)"} {
		if got := v.String(); got != want {
			t.Errorf("AlertType(%d) = %q, want %q", int(v), got, want)
		}
	}
	for v, want := range map[AlertSource]string{SourceDevice: "device", SourceFingerprint: "fingerprint", 2: "unknown(2)"} {
		if got := v.String(); got != want {
			t.Errorf("AlertSource(%d) = %q, want %q", int(v), got, want)
		}
		if v.Known() != (v != 2) {
			t.Errorf("AlertSource(%d).Known() = %v", int(v), v.Known())
		}
	}
	var all AlertFlags
	for i, f := range AlertFlagNames {
		if i > 0 && f.Flag <= AlertFlagNames[i-1].Flag {
			t.Errorf("AlertFlagNames not in bit order at %s", f.Name)
		}
		all |= f.Flag
	}
	// spec 3.18: bits 1..512, 2048 and 8192 are named.
	if all != 1023|2048|8192 {
		t.Errorf("named bits = %d", all)
	}
}
