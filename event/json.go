package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// AppendJSON appends e as one JSON object to dst: the keys time (RFC 3339,
// UTC), panel (the GUID), source (the first that reported it) and type, then sensor ({index, name,
// type}) when the event is about a sensor, device ({index, node, name,
// type}) for a device list change, then only the fields of e's
// type: state, occupied and reset, tamper, host, on, button, keypad and card;
// then sources (every source that reported the happening, in a fixed
// order; the Monitor merges their reports) and last seq, when the event
// has its number. This is the line format of `g90 listen --json` and of the MQTT event
// topic.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","panel":`...)
	dst = protocol.AppendJSONString(dst, e.GUID)
	dst = append(dst, `,"source":`...)
	dst = protocol.AppendJSONString(dst, string(e.Source))
	dst = append(dst, `,"type":`...)
	dst = protocol.AppendJSONString(dst, string(e.Type))
	if e.Sensor {
		dst = append(dst, `,"sensor":{"index":`...)
		dst = strconv.AppendInt(dst, int64(e.Index), 10)
		dst = append(dst, `,"name":`...)
		dst = protocol.AppendJSONString(dst, e.Name)
		dst = append(dst, `,"type":`...)
		dst = protocol.AppendJSONString(dst, e.SensorType)
		dst = append(dst, '}')
	}
	if d := e.Device; d != nil {
		dst = append(dst, `,"device":{"index":`...)
		dst = strconv.AppendInt(dst, int64(d.Index), 10)
		dst = append(dst, `,"node":`...)
		dst = strconv.AppendInt(dst, int64(d.Node), 10)
		dst = append(dst, `,"name":`...)
		dst = protocol.AppendJSONString(dst, d.Name)
		dst = append(dst, `,"type":`...)
		dst = protocol.AppendJSONString(dst, d.Type)
		dst = append(dst, '}')
	}
	if e.State != "" {
		dst = append(dst, `,"state":`...)
		dst = protocol.AppendJSONString(dst, string(e.State))
	}
	switch e.Type {
	case SensorActivity:
		dst = append(dst, `,"occupied":`...)
		dst = strconv.AppendBool(dst, e.Occupied)
		if e.Reset {
			dst = append(dst, `,"reset":true`...)
		}
	case Alarm:
		dst = append(dst, `,"tamper":`...)
		dst = strconv.AppendBool(dst, e.Tamper)
	case SOS:
		dst = append(dst, `,"host":`...)
		dst = strconv.AppendBool(dst, e.Host)
	case RelaySwitched:
		dst = append(dst, `,"on":`...)
		dst = strconv.AppendBool(dst, e.On)
	}
	if e.Button != "" {
		dst = append(dst, `,"button":`...)
		dst = protocol.AppendJSONString(dst, string(e.Button))
	}
	if e.Keypad != "" {
		dst = append(dst, `,"keypad":`...)
		dst = protocol.AppendJSONString(dst, string(e.Keypad))
		if e.Keypad == KeypadCard {
			dst = append(dst, `,"card":`...)
			dst = strconv.AppendInt(dst, int64(e.Card), 10)
		}
	}
	if e.Sources != 0 {
		dst = append(dst, `,"sources":[`...)
		first := true
		for i, b := range sourceBits {
			if e.Sources&(1<<i) != 0 {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, '"')
				dst = append(dst, b...)
				dst = append(dst, '"')
			}
		}
		dst = append(dst, ']')
	}
	if e.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, e.Seq, 10)
	}
	return append(dst, '}')
}

// MarshalJSON returns AppendJSON's encoding.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// eventJSON is the shape AppendJSON writes.
type eventJSON struct {
	Time    time.Time `json:"time"`
	Panel   string    `json:"panel"`
	Source  Source    `json:"source"`
	Sources []Source  `json:"sources"`
	Type    Type      `json:"type"`
	Sensor  *struct {
		Index int    `json:"index"`
		Name  string `json:"name"`
		Type  string `json:"type"`
	} `json:"sensor"`
	Device   *DeviceRef `json:"device"`
	State    ArmState   `json:"state"`
	Occupied bool       `json:"occupied"`
	Reset    bool       `json:"reset"`
	Tamper   bool       `json:"tamper"`
	Host     bool       `json:"host"`
	Button   Button     `json:"button"`
	Keypad   Keypad     `json:"keypad"`
	Card     int        `json:"card"`
	On       bool       `json:"on"`
	Seq      uint64     `json:"seq"`
}

// UnmarshalJSON decodes one object in AppendJSON's format, so that a
// stored event (the journal, an MQTT message) becomes an Event again. Keys
// AppendJSON does not write are ignored; type is required. AppendJSON of the result gives the same bytes back.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("event: decode: %w", err)
	}
	if j.Type == "" {
		return fmt.Errorf("event: decode: no type")
	}
	// AppendJSON writes the time in UTC; RFC 3339 has four-digit years.
	if y := j.Time.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("event: decode: time %v outside RFC 3339 in UTC", j.Time)
	}
	*e = Event{
		Type: j.Type, Time: j.Time, GUID: j.Panel, Source: j.Source, Device: j.Device,
		State: j.State, Occupied: j.Occupied, Reset: j.Reset, Tamper: j.Tamper, Host: j.Host,
		Button: j.Button, Keypad: j.Keypad, Card: j.Card, On: j.On, Seq: j.Seq,
	}
	for _, src := range j.Sources {
		e.Sources = e.Sources.With(src) // unknown ones are ignored
	}
	if s := j.Sensor; s != nil {
		e.Sensor, e.Index, e.Name, e.SensorType = true, s.Index, s.Name, s.Type
	}
	return nil
}
