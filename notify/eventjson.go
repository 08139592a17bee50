package notify

import (
	"strconv"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// AppendJSON appends e as one JSON object to dst: the keys time (RFC 3339,
// UTC), panel (the GUID), source and type, then sensor ({index, name,
// type}) when the event is about a sensor, device ({index, node, name,
// type}) for a device list change, then only the fields of e's
// type: state, occupied and reset, tamper, host, on, button, keypad and card;
// last seq, when the event has its number. This is the line format of `g90 listen --json` and of the MQTT event
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
	case EventSensorActivity:
		dst = append(dst, `,"occupied":`...)
		dst = strconv.AppendBool(dst, e.Occupied)
		if e.Reset {
			dst = append(dst, `,"reset":true`...)
		}
	case EventAlarm:
		dst = append(dst, `,"tamper":`...)
		dst = strconv.AppendBool(dst, e.Tamper)
	case EventSOS:
		dst = append(dst, `,"host":`...)
		dst = strconv.AppendBool(dst, e.Host)
	case EventRelaySwitched:
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
	if e.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, e.Seq, 10)
	}
	return append(dst, '}')
}

// MarshalJSON returns AppendJSON's encoding.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }
