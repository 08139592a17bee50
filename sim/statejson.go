package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/g90alarm/g90/protocol"
)

// stateJSON is the JSON form of State. Records are objects keyed by the
// spec's field names (protocol.MarshalRecord), in wire order.
type stateJSON struct {
	Host          Host              `json:"host"`
	ArmState      string            `json:"arm_state"`
	HostConfig    json.RawMessage   `json:"host_config"`
	AlarmPhones   json.RawMessage   `json:"alarm_phones"`
	AlertFlags    int               `json:"alert_flags"`
	NetConfig     json.RawMessage   `json:"net_config"`
	SIA           json.RawMessage   `json:"sia"`
	CID           json.RawMessage   `json:"cid"`
	Sensors       []json.RawMessage `json:"sensors"`
	Devices       []json.RawMessage `json:"devices"`
	Relays        map[int][]bool    `json:"relays"`
	OpenDoors     []int             `json:"open_doors,omitempty"`
	History       []json.RawMessage `json:"history"`
	CloudServer   CloudServer       `json:"cloud_server"`
	Reboots       Reboots           `json:"reboots"`
	PendingSensor json.RawMessage   `json:"pending_sensor"`
	PendingDevice json.RawMessage   `json:"pending_device"`
}

// MarshalJSON encodes the state with stable snake_case keys:
//
//	{"host":{"guid":…},"arm_state":"disarmed","host_config":{…},
//	 "alarm_phones":{…},"alert_flags":511,"net_config":{…},"sia":{…},
//	 "cid":{…},"sensors":[{"name":…,"index":…,…}],"devices":[…],
//	 "relays":{"6":[false,true,false,false]},"history":[{"type":2,…}],
//	 "cloud_server":{…},"reboots":{…},"pending_sensor":null,"pending_device":null}
func (s State) MarshalJSON() ([]byte, error) {
	j := stateJSON{
		Host:          s.Host,
		ArmState:      s.Arm.String(),
		HostConfig:    marshalRecord(&s.HostConfig),
		AlarmPhones:   marshalRecord(&s.AlarmPhones),
		AlertFlags:    int(s.AlertFlags),
		NetConfig:     marshalRecord(&s.NetConfig),
		SIA:           marshalRecord(&s.SIA),
		CID:           marshalRecord(&s.CID),
		Sensors:       marshalPeripherals(s.Sensors),
		Devices:       marshalPeripherals(s.Devices),
		Relays:        s.Relays,
		OpenDoors:     s.OpenDoors,
		History:       make([]json.RawMessage, len(s.History)),
		CloudServer:   s.CloudServer,
		Reboots:       s.Reboots,
		PendingSensor: json.RawMessage("null"),
		PendingDevice: json.RawMessage("null"),
	}
	if j.Relays == nil {
		j.Relays = map[int][]bool{}
	}
	for i := range s.History {
		j.History[i] = marshalRecord(&s.History[i])
	}
	if s.PendingSensor != nil {
		j.PendingSensor = marshalRecord(s.PendingSensor)
	}
	if s.PendingDevice != nil {
		j.PendingDevice = marshalRecord(s.PendingDevice)
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form MarshalJSON writes. Unknown keys and
// missing records are errors, so a typo in a state file is reported
// rather than silently ignored.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	arm, ok := protocol.ParseArmState(j.ArmState)
	if !ok {
		return fmt.Errorf("arm_state %q: want away, home, disarmed or alarm", j.ArmState)
	}
	n := State{
		Host:        j.Host,
		Arm:         arm,
		AlertFlags:  protocol.AlertFlags(j.AlertFlags),
		Relays:      j.Relays,
		OpenDoors:   j.OpenDoors,
		CloudServer: j.CloudServer,
		Reboots:     j.Reboots,
	}
	for _, r := range []struct {
		key string
		raw json.RawMessage
		rec protocol.Record
	}{
		{"host_config", j.HostConfig, &n.HostConfig},
		{"alarm_phones", j.AlarmPhones, &n.AlarmPhones},
		{"net_config", j.NetConfig, &n.NetConfig},
		{"sia", j.SIA, &n.SIA},
		{"cid", j.CID, &n.CID},
	} {
		if err := unmarshalRecord(r.rec, r.raw); err != nil {
			return fmt.Errorf("%s: %w", r.key, err)
		}
	}
	var err error
	if n.Sensors, err = unmarshalPeripherals("sensors", j.Sensors); err != nil {
		return err
	}
	if n.Devices, err = unmarshalPeripherals("devices", j.Devices); err != nil {
		return err
	}
	n.History = make([]protocol.HistoryEntry, len(j.History))
	for i, raw := range j.History {
		if err := unmarshalRecord(&n.History[i], raw); err != nil {
			return fmt.Errorf("history[%d]: %w", i, err)
		}
	}
	if n.PendingSensor, err = unmarshalPending("pending_sensor", j.PendingSensor); err != nil {
		return err
	}
	if n.PendingDevice, err = unmarshalPending("pending_device", j.PendingDevice); err != nil {
		return err
	}
	*s = n
	return nil
}

func marshalRecord(r protocol.Record) json.RawMessage {
	b, err := protocol.MarshalRecord(r)
	if err != nil { // MarshalRecord cannot fail today; keep the JSON valid if it ever does
		return json.RawMessage("null")
	}
	return b
}

func marshalPeripherals(list []protocol.PeripheralRecord) []json.RawMessage {
	out := make([]json.RawMessage, len(list))
	for i := range list {
		out[i] = marshalRecord(&list[i])
	}
	return out
}

func unmarshalPeripherals(key string, raws []json.RawMessage) ([]protocol.PeripheralRecord, error) {
	out := make([]protocol.PeripheralRecord, len(raws))
	for i, raw := range raws {
		if err := unmarshalRecord(&out[i], raw); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	return out, nil
}

func unmarshalPending(key string, raw json.RawMessage) (*protocol.PeripheralRecord, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var r protocol.PeripheralRecord
	if err := unmarshalRecord(&r, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &r, nil
}

// unmarshalRecord is the inverse of protocol.MarshalRecord: it turns an
// object keyed by spec field names back into positional data and decodes
// that, so the record's own layout decides types and optional fields.
func unmarshalRecord(r protocol.Record, raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	if obj == nil {
		return fmt.Errorf("missing")
	}
	used := map[string]bool{}
	var data []protocol.Value
	for _, f := range protocol.Fields(r) {
		v, ok := obj[f.Name]
		if !ok {
			if f.Optional {
				break // optional fields are trailing
			}
			return fmt.Errorf("missing field %q", f.Name)
		}
		used[f.Name] = true
		var val protocol.Value
		switch f.Kind {
		case protocol.FieldInt:
			var n int
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
			val = protocol.IntValue(n)
		case protocol.FieldString:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
			val = protocol.StringValue(s)
		default:
			var err error
			if val, err = protocol.ParseValue(v); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
		data = append(data, val)
	}
	if v, ok := obj["extra"]; ok {
		used["extra"] = true
		extra, err := protocol.ParseValue(v)
		if err != nil || extra.Kind != protocol.Array {
			return fmt.Errorf("field \"extra\" must be an array")
		}
		data = append(data, extra.Arr...)
	}
	if len(used) != len(obj) {
		var unknown []string
		for k := range obj {
			if !used[k] {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		return fmt.Errorf("unknown field(s) %s", strings.Join(unknown, ", "))
	}
	return protocol.Decode(r, data)
}
