package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/g90alarm/g90/protocol"
)

// maxPeripherals bounds each of the sensor and device lists; registering
// more fails. The real panels' limit is not documented.
const maxPeripherals = 128

// maxHistory bounds the event log; the oldest entries fall off, as on a
// panel with a fixed-size log. The real capacity is not documented.
const maxHistory = 512

// State is everything the simulated panel knows. It is what GET /state
// shows and what the state file holds; see MarshalJSON for the JSON form.
type State struct {
	Host Host
	// Arm is the arm state GETHOSTSTATUS reports (spec: local-protocol.md 3.1).
	Arm protocol.ArmState
	// HostConfig, AlarmPhones, AlertFlags, NetConfig, SIA and CID are the
	// configuration objects (spec: local-protocol.md 3.16–3.21). Their shape
	// decides the panel model: a RingVolumeLevel, a GSM operator and a SIA
	// heartbeat make it a GSM panel with SIA, which is the default; clear
	// them to simulate a panel without. GETHOSTSTATUS reports
	// AlarmPhones.PanelPhoneNumber as the host phone number.
	HostConfig  protocol.HostConfig
	AlarmPhones protocol.AlarmPhones
	AlertFlags  protocol.AlertFlags
	NetConfig   protocol.NetConfig
	SIA         protocol.SIAConfig
	CID         protocol.CIDConfig
	// Sensors and Devices are in list order, the order the paginated
	// commands return them in; that order is not the index order.
	Sensors []protocol.PeripheralRecord
	Devices []protocol.PeripheralRecord
	// Relays holds the on (true) / off state of every node of every
	// device, keyed by device index. The panel cannot report it; the
	// simulator tracks it so tests can see what CONTROLDEVICE did.
	Relays map[int][]bool
	// OpenDoors are the indices of the sensors last reported open (a
	// door_open without a door_close since), in ascending order: arming
	// reports those whose door check is on (spec:
	// notifications-and-cloud.md A.3 kind 6).
	OpenDoors []int
	// History is the event log, newest first.
	History     []protocol.HistoryEntry
	CloudServer CloudServer
	Reboots     Reboots
	// PendingSensor is the sensor ADDSENSOR put into learning mode, until
	// CompleteLearn stores it. PendingDevice is the device ADDDEVICE
	// announced, until SENDREGDEVICERESULT stores or cancels it.
	PendingSensor *protocol.PeripheralRecord
	PendingDevice *protocol.PeripheralRecord
}

// Host is the panel's identity and radio status: the fields of
// GETHOSTINFO (spec: local-protocol.md 3.3) plus those of the targeted
// discovery answer (spec: local-protocol.md 6.2).
type Host struct {
	GUID                 string `json:"guid"`
	ProductName          string `json:"product_name"`
	WiFiProtocolVersion  string `json:"wifi_protocol_version"`
	CloudProtocolVersion string `json:"cloud_protocol_version"`
	MCUHWVersion         string `json:"mcu_hw_version"`
	WiFiHWVersion        string `json:"wifi_hw_version"`
	FWVersion            string `json:"fw_version"`
	GSMStatus            int    `json:"gsm_status"`
	WiFiStatus           int    `json:"wifi_status"`
	GPRS3GActive         int    `json:"gprs_3g_active"`
	WiFiSetupProgress    int    `json:"wifi_setup_progress"`
	BatteryVoltage       string `json:"battery_voltage"`
	GSMSignalLevel       int    `json:"gsm_signal_level"`
	WiFiSignalLevel      int    `json:"wifi_signal_level"`
	// ServerStatus is the probe answer's server_status field
	// (spec: local-protocol.md 6.2, probably the cloud connection).
	ServerStatus int `json:"server_status"`
}

// CloudServer is where the panel connects for the cloud protocol, set by
// the 1,78 system command (spec: local-protocol.md 5.3).
type CloudServer struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary"`
	Port      int    `json:"port"`
}

// Reboots counts the module reboots the system commands asked for
// (spec: local-protocol.md 5.2).
type Reboots struct {
	MCU  int `json:"mcu"`
	GSM  int `json:"gsm"`
	WiFi int `json:"wifi"`
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	c := s
	c.HostConfig.RingVolumeLevel = clonePtr(s.HostConfig.RingVolumeLevel)
	c.HostConfig.Extra = slices.Clone(s.HostConfig.Extra)
	c.AlarmPhones.Extra = slices.Clone(s.AlarmPhones.Extra)
	c.NetConfig.Extra = slices.Clone(s.NetConfig.Extra)
	c.SIA.HeartbeatInterval = clonePtr(s.SIA.HeartbeatInterval)
	c.SIA.Extra = slices.Clone(s.SIA.Extra)
	c.CID.Extra = slices.Clone(s.CID.Extra)
	c.Sensors = clonePeripherals(s.Sensors)
	c.OpenDoors = slices.Clone(s.OpenDoors)
	c.Devices = clonePeripherals(s.Devices)
	if s.Relays != nil {
		c.Relays = make(map[int][]bool, len(s.Relays))
		for k, v := range s.Relays {
			c.Relays[k] = slices.Clone(v)
		}
	}
	if s.History != nil {
		c.History = make([]protocol.HistoryEntry, len(s.History))
		for i, h := range s.History {
			h.Extra = slices.Clone(h.Extra)
			c.History[i] = h // Values are never mutated in place, sharing is safe
		}
	}
	c.PendingSensor = clonePeripheral(s.PendingSensor)
	c.PendingDevice = clonePeripheral(s.PendingDevice)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func clonePeripheral(p *protocol.PeripheralRecord) *protocol.PeripheralRecord {
	if p == nil {
		return nil
	}
	c := *p
	c.Extra = slices.Clone(p.Extra)
	return &c
}

func clonePeripherals(ps []protocol.PeripheralRecord) []protocol.PeripheralRecord {
	if ps == nil {
		return nil
	}
	out := make([]protocol.PeripheralRecord, len(ps))
	for i := range ps {
		out[i] = *clonePeripheral(&ps[i])
	}
	return out
}

// errState reports a State that cannot be served.
var errState = errors.New("sim: invalid state")

// normalize checks s and fills what can be derived: relay entries for
// every device, nothing for devices that are gone, and a bounded history.
func (s *State) normalize() error {
	if s.Arm < protocol.ArmAway || s.Arm > protocol.ArmAlarm {
		return fmt.Errorf("%w: arm state %d", errState, s.Arm)
	}
	for _, l := range []struct {
		what string
		list []protocol.PeripheralRecord
	}{{"sensor", s.Sensors}, {"device", s.Devices}} {
		if len(l.list) > maxPeripherals {
			return fmt.Errorf("%w: %d %ss, at most %d", errState, len(l.list), l.what, maxPeripherals)
		}
		seen := map[int]bool{}
		for _, r := range l.list {
			if seen[r.Index] {
				return fmt.Errorf("%w: two %ss with index %d", errState, l.what, r.Index)
			}
			seen[r.Index] = true
		}
	}
	relays := make(map[int][]bool, len(s.Devices))
	for _, d := range s.Devices {
		nodes := s.Relays[d.Index]
		relays[d.Index] = append(slices.Clone(nodes), make([]bool, max(0, nodeCount(d)-len(nodes)))...)[:nodeCount(d)]
	}
	s.Relays = relays
	if len(s.History) > maxHistory {
		s.History = s.History[:maxHistory]
	}
	return nil
}

// nodeCount is the number of controllable nodes of a device; a record
// claiming none still has one (spec: peripherals.md 15).
func nodeCount(d protocol.PeripheralRecord) int { return max(1, d.NodeCount) }

// indexes returns the set of indexes used in list.
func indexes(list []protocol.PeripheralRecord) map[int]bool {
	m := make(map[int]bool, len(list))
	for _, r := range list {
		m[r.Index] = true
	}
	return m
}

// find returns the list position of the record with index, or -1.
func find(list []protocol.PeripheralRecord, index int) int {
	return slices.IndexFunc(list, func(r protocol.PeripheralRecord) bool { return r.Index == index })
}
