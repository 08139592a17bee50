package notify

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object to dst: the keys time (RFC 3339,
// UTC), panel (the GUID), source and type, then sensor ({index, name,
// type}) when the event is about a sensor, device ({index, node, name,
// type}) for a device list change, then only the fields of e's
// type: state, occupied and reset, tamper, host, button, keypad and card.
// This is the line format of `g90 listen --json` and of the MQTT event
// topic.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","panel":`...)
	dst = appendJSONString(dst, e.GUID)
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, string(e.Source))
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, string(e.Type))
	if e.Sensor {
		dst = append(dst, `,"sensor":{"index":`...)
		dst = strconv.AppendInt(dst, int64(e.Index), 10)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, e.Name)
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, e.SensorType)
		dst = append(dst, '}')
	}
	if d := e.Device; d != nil {
		dst = append(dst, `,"device":{"index":`...)
		dst = strconv.AppendInt(dst, int64(d.Index), 10)
		dst = append(dst, `,"node":`...)
		dst = strconv.AppendInt(dst, int64(d.Node), 10)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, d.Name)
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, d.Type)
		dst = append(dst, '}')
	}
	if e.State != "" {
		dst = append(dst, `,"state":`...)
		dst = appendJSONString(dst, string(e.State))
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
	}
	if e.Button != "" {
		dst = append(dst, `,"button":`...)
		dst = appendJSONString(dst, string(e.Button))
	}
	if e.Keypad != "" {
		dst = append(dst, `,"keypad":`...)
		dst = appendJSONString(dst, string(e.Keypad))
		if e.Keypad == KeypadCard {
			dst = append(dst, `,"card":`...)
			dst = strconv.AppendInt(dst, int64(e.Card), 10)
		}
	}
	return append(dst, '}')
}

// MarshalJSON returns AppendJSON's encoding.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// appendJSONString appends s as a JSON string. UTF-8 is kept as is; quote,
// backslash and control characters are escaped, and invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
