package notify

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/g90alarm/g90/protocol"
)

// Sentinel errors of Decode, wrapped by every *DecodeError; test with
// errors.Is. They are the drop reasons of spec: A.7.3.
var (
	// ErrMissingEndMarker: the datagram does not end with a NUL byte
	// (spec: A.2 step 2).
	ErrMissingEndMarker = errors.New("notify: missing end marker")
	// ErrSyntax: the text before the NUL is not JSON (spec: A.2 step 3),
	// including a second trailing NUL and bytes that are not UTF-8 outside
	// a string.
	ErrSyntax = errors.New("notify: invalid JSON")
	// ErrMalformed: the JSON does not have the shape the spec gives for its
	// code and kind: wrong arity or a field of the wrong type (spec: A.2
	// step 4, A.3, A.4).
	ErrMalformed = errors.New("notify: malformed message")
)

// DecodeError is a datagram Decode rejects. It says where: a byte offset
// for framing and syntax errors, a record and field for shape errors.
type DecodeError struct {
	Err    error  // ErrMissingEndMarker, ErrSyntax or ErrMalformed
	Offset int    // byte offset in the datagram; -1 for a shape error
	Record string // e.g. "alert", "sensor activity"; empty for framing and syntax errors
	Field  string // spec field name, e.g. "zone_name"; empty when the record's arity is wrong
	Pos    int    // position of Field in its array, 0-based; -1 without a Field
	Msg    string
	// Cause is the underlying *protocol.SyntaxError of an ErrSyntax, or nil.
	Cause error
}

func (e *DecodeError) Error() string {
	switch {
	case e.Field != "":
		return fmt.Sprintf("%v: %s field %s (#%d): %s", e.Err, e.Record, e.Field, e.Pos, e.Msg)
	case e.Record != "":
		return fmt.Sprintf("%v: %s: %s", e.Err, e.Record, e.Msg)
	}
	return fmt.Sprintf("%v at byte %d: %s", e.Err, e.Offset, e.Msg)
}

// Unwrap returns the sentinel and, for syntax errors, the parser's error.
func (e *DecodeError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Kind is the kind of a notification (spec: A.3).
type Kind int

// Notification kinds (spec: A.3).
const (
	KindArmDisarm          Kind = 1
	KindSensorChange       Kind = 4
	KindSensorActivity     Kind = 5
	KindDoorOpenWhenArming Kind = 6
	KindFirmwareUpdating   Kind = 8
)

var kindNames = map[Kind]string{
	KindArmDisarm: "arm/disarm", KindSensorChange: "sensor change",
	KindSensorActivity: "sensor activity", KindDoorOpenWhenArming: "door open when arming",
	KindFirmwareUpdating: "firmware updating",
}

// String returns the kind's name in the spec, or kind(N).
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Known reports whether k is in the spec's table (spec: A.3).
func (k Kind) Known() bool { _, ok := kindNames[k]; return ok }

// Message is one decoded datagram: a notification (code 170), an alert
// (code 208) or a message with an unknown code. Decode keeps every value
// it does not interpret, so Append gives back the same message.
type Message struct {
	// Code is protocol.CodeNotification, protocol.CodeAlert, or a code the
	// spec does not know (spec: A.2 step 5).
	Code protocol.Code
	// Alert before Notification: an alert, the message that comes in
	// bursts, is then read from the cache lines next to Code (issue
	// 20.3).
	Alert        Alert        // when Code is protocol.CodeAlert
	Notification Notification // when Code is protocol.CodeNotification
	// Data is the data of any other code, as received; Append writes the
	// zero Value as [].
	Data protocol.Value
}

// Notification is the data of a code 170 message:
// [kind,[field,...]] (spec: A.3).
type Notification struct {
	Kind Kind
	// State is the arm state of KindArmDisarm (spec: A.6.1), kept even
	// when it is out of range.
	State protocol.ArmState
	// Index and Name are the sensor of KindSensorChange,
	// KindSensorActivity and KindDoorOpenWhenArming.
	Index int
	Name  string
	// Action is the action of KindSensorChange: 1 means added; other
	// values are believed to mean updated (spec: A.3, G.12).
	Action int
	// Payload is the payload of KindFirmwareUpdating, whose format is
	// unknown (spec: B.9, G.3), and of kinds the spec does not know, as
	// received. It is the zero Value for the other kinds; Append writes
	// the zero Value as [].
	Payload protocol.Value
}

// Alert is the data of a code 208 message: nine positional fields
// [type,event_id,source,state,zone_name,device_id,unix_time,reserved,other]
// (spec: A.4).
type Alert struct {
	Type protocol.AlertType // spec: A.6.2
	// EventID is the sensor index for sensor alerts, the state-change
	// code for protocol.TypeStateChange (spec: A.6.7).
	EventID  int
	Source   protocol.AlertSource // spec: A.6.3
	State    int                  // source-dependent, spec: A.6.4-A.6.8
	Name     string               // zone_name: the sensor name, "" for panel events
	GUID     string               // device_id: the panel GUID
	UnixTime int64                // panel clock, seconds since the epoch
	// Reserved and Other are ignored by the spec (observed 0 and [""]) and
	// kept as received, whatever their type. Append writes the zero Value
	// as the observed 0 and [""].
	Reserved protocol.Value
	Other    protocol.Value
}

// Decode decodes one datagram from the panel's notification port: JSON
// text followed by exactly one NUL byte (spec: A.2).
//
// It is lenient where the panel needs it: white space JSON allows is
// accepted anywhere, and bytes that are not UTF-8 inside a string become
// U+FFFD (the panel sends such names, spec: local-protocol.md 1.5 step 4)
// instead of dropping the whole datagram as the reference does (spec: A.2
// step 1). Codes, kinds, types, sources and states the spec does not know
// decode without error; see Message.Known and Message.Events. An error is
// always a *DecodeError.
func Decode(b []byte) (Message, error) {
	var d Decoder
	return d.Decode(b)
}

// Decoder decodes datagrams like Decode, and remembers the panel GUIDs
// and sensor names of the alerts it decoded, so that a burst of alerts
// allocates nothing for them. A Listener has one; one goroutine uses a
// Decoder at a time. The zero value is ready.
type Decoder struct {
	guids, names protocol.StringCache
}

// Decode decodes one datagram, as Decode does.
func (d *Decoder) Decode(b []byte) (m Message, err error) {
	// The last byte alone: bytes.CutSuffix compared it through memequal,
	// a tenth of the decode (issue 20.3).
	if len(b) == 0 || b[len(b)-1] != 0 {
		return Message{}, &DecodeError{Err: ErrMissingEndMarker, Offset: len(b), Pos: -1, Msg: "datagram does not end with a NUL byte"}
	}
	// Into the result: a Message is some 350 bytes, and this is the
	// path of every alert (issue 20.3).
	text := b[:len(b)-1]
	if d.decodeAlert(text, &m.Alert) {
		m.Code = protocol.CodeAlert
		return m, nil
	}
	return decodeTree(text)
}

// decodeAlert is the fast path for the message that comes in bursts, an
// alert: it reads the fields in place instead of building a tree. Any
// other message, and any alert that is not well formed, gives false and
// goes the general way, which decides the result and the error (a is
// then left half filled). The fuzz test checks both ways agree.
func (d *Decoder) decodeAlert(text []byte, a *Alert) bool {
	if d.decodeCompact(text, a) {
		return true
	}
	s := protocol.NewScanner(text)
	defer s.Release()
	if !s.Enter() {
		return false
	}
	if code, ok := s.Int(); !ok || code != int(protocol.CodeAlert) || !s.Next() || !s.Enter() {
		return false
	}
	var ints [4]int
	for i := range ints {
		if i > 0 && !s.Next() {
			return false
		}
		var ok bool
		if ints[i], ok = s.Int(); !ok {
			return false
		}
	}
	a.Type, a.EventID, a.Source, a.State = protocol.AlertType(ints[0]), ints[1], protocol.AlertSource(ints[2]), ints[3]
	var ok, ok2, ok3, ok4, ok5 bool
	ok = s.Next()
	a.Name, ok2 = s.CachedString(&d.names)
	if !ok || !ok2 || !s.Next() {
		return false
	}
	a.GUID, ok = s.CachedString(&d.guids)
	if !ok || !s.Next() {
		return false
	}
	var t int
	t, ok = s.Int()
	ok2 = s.Next()
	if n, isInt := s.Int(); isInt { // 0 in every capture (spec: A.4)
		a.Reserved, ok3 = protocol.IntValue(n), true
	} else {
		a.Reserved, ok3 = s.Value()
	}
	ok4 = s.Next()
	if s.Literal(`[""]`) {
		a.Other, ok5 = observedOther, true
	} else {
		a.Other, ok5 = s.Value()
	}
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 || !s.Leave() || !s.Leave() || !s.End() {
		return false
	}
	a.UnixTime = int64(t)
	return true
}

// decodeCompact is the fastest path, for an alert written as every
// captured one is (spec: A.4, F.2): compact JSON, plain numbers, ASCII
// names without escapes, reserved 0 and other [""]:
//
//	[208,[4,100,1,1,"Hall","DUMMYGUID",1631545189,0,[""]]]
//
// It reads the bytes in one pass with the index in a register, where the
// Scanner costs a call and a load and store of its position per field
// (issue 20.3: it was a fifth of the alert path). Anything else gives
// false, and the Scanner decides.
func (d *Decoder) decodeCompact(b []byte, a *Alert) bool {
	const head, tail = `[208,[`, `,0,[""]]]`
	if len(b) < len(head)+len(tail) || string(b[:len(head)]) != head || string(b[len(b)-len(tail):]) != tail {
		return false
	}
	b = b[:len(b)-len(tail)]
	i := len(head)
	var ints [4]int
	for k := range ints {
		n, j, ok := plainInt(b, i)
		if !ok || j >= len(b) || b[j] != ',' {
			return false
		}
		ints[k], i = n, j+1
	}
	name, i, ok := d.plainString(b, i, &d.names)
	if !ok || i >= len(b) || b[i] != ',' {
		return false
	}
	guid, i, ok := d.plainString(b, i+1, &d.guids)
	if !ok || i >= len(b) || b[i] != ',' {
		return false
	}
	t, j, ok := plainInt(b, i+1)
	if !ok || j != len(b) {
		return false
	}
	a.Type, a.EventID, a.Source, a.State = protocol.AlertType(ints[0]), ints[1], protocol.AlertSource(ints[2]), ints[3]
	a.Name, a.GUID, a.UnixTime = name, guid, int64(t)
	a.Reserved, a.Other = protocol.IntValue(0), observedOther
	return true
}

// plainInt reads the integer at b[i:] as the Scanner's short path does:
// 1 to 15 digits, no sign, no leading zero, not followed by a fraction or
// an exponent. It returns the value and the index after it.
func plainInt(b []byte, i int) (n, j int, ok bool) {
	j = i
	for j < len(b) && j-i < 16 && b[j] >= '0' && b[j] <= '9' {
		n = n*10 + int(b[j]-'0')
		j++
	}
	ok = j > i && j-i < 16 && (j-i == 1 || b[i] != '0') && (j == len(b) || (b[j] != '.' && b[j] != 'e' && b[j] != 'E'))
	return n, j, ok
}

// plainString reads the string at b[i:], which must be plain ASCII
// without escapes, through c; the empty string too. It returns the index
// after the closing quote.
func (d *Decoder) plainString(b []byte, i int, c *protocol.StringCache) (s string, j int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	j = i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] < utf8.RuneSelf {
		j++
	}
	if j == len(b) || b[j] != '"' {
		return "", i, false
	}
	if j == i+1 {
		return "", j + 1, true
	}
	return c.Get(b[i+1 : j]), j + 1, true
}

// observedOther is the other field every captured alert has (spec: A.4),
// shared by the alerts the fast path decodes. Values are not changed in
// place, so sharing it is safe.
var observedOther = protocol.ArrayValue(protocol.StringValue(""))

// decodeTree decodes any message from its parsed tree.
func decodeTree(text []byte) (Message, error) {
	v, err := protocol.ParseValue(text)
	if err != nil {
		de := &DecodeError{Err: ErrSyntax, Pos: -1, Msg: err.Error(), Cause: err}
		var se *protocol.SyntaxError
		if errors.As(err, &se) {
			de.Offset, de.Msg = se.Offset, se.Msg
		}
		return Message{}, de
	}
	// spec: A.2 step 4: [code, data]; [REC] any non-array is malformed.
	top, err := fields(v, "message", 2)
	if err != nil {
		return Message{}, err
	}
	code, err := intField(top, "message", 0, "code")
	if err != nil {
		return Message{}, err
	}
	m := Message{Code: protocol.Code(code)}
	switch m.Code {
	case protocol.CodeNotification:
		err = m.Notification.decode(top[1])
	case protocol.CodeAlert:
		err = m.Alert.decode(top[1])
	default:
		m.Data = top[1]
	}
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// decode reads [kind, payload] (spec: A.3).
func (n *Notification) decode(data protocol.Value) error {
	kp, err := fields(data, "notification", 2)
	if err != nil {
		return err
	}
	kind, err := intField(kp, "notification", 0, "kind")
	if err != nil {
		return err
	}
	n.Kind = Kind(kind)
	rec := n.Kind.String()
	switch n.Kind {
	case KindArmDisarm:
		p, err := fields(kp[1], rec, 1)
		if err != nil {
			return err
		}
		state, err := intField(p, rec, 0, "state")
		n.State = protocol.ArmState(state)
		return err
	case KindSensorChange, KindSensorActivity, KindDoorOpenWhenArming:
		arity := 2
		if n.Kind == KindSensorChange {
			arity = 3
		}
		p, err := fields(kp[1], rec, arity)
		if err != nil {
			return err
		}
		if n.Index, err = intField(p, rec, 0, "sensor_index"); err != nil {
			return err
		}
		if n.Name, err = stringField(p, rec, 1, "sensor_name"); err != nil {
			return err
		}
		if arity == 3 {
			n.Action, err = intField(p, rec, 2, "action")
		}
		return err
	}
	// Firmware updating and unknown kinds: opaque (spec: B.9).
	n.Payload = kp[1]
	return nil
}

// alertFields names the positions of an alert (spec: A.4).
var alertFields = [...]string{"type", "event_id", "source", "state", "zone_name", "device_id", "unix_time", "reserved", "other"}

// decode reads the nine fields of an alert (spec: A.4).
func (a *Alert) decode(data protocol.Value) error {
	const rec = "alert"
	f, err := fields(data, rec, len(alertFields))
	if err != nil {
		return err
	}
	var ints [4]int
	for i := range ints {
		if ints[i], err = intField(f, rec, i, alertFields[i]); err != nil {
			return err
		}
	}
	a.Type, a.EventID, a.Source, a.State = protocol.AlertType(ints[0]), ints[1], protocol.AlertSource(ints[2]), ints[3]
	if a.Name, err = stringField(f, rec, 4, alertFields[4]); err != nil {
		return err
	}
	if a.GUID, err = stringField(f, rec, 5, alertFields[5]); err != nil {
		return err
	}
	if f[6].Kind != protocol.Int {
		return wrongKind(rec, 6, alertFields[6], "an integer", f[6])
	}
	a.UnixTime = f[6].Int
	a.Reserved, a.Other = f[7], f[8]
	return nil
}

// fields returns the elements of v, which must be an array of n.
func fields(v protocol.Value, rec string, n int) ([]protocol.Value, error) {
	if v.Kind != protocol.Array {
		return nil, &DecodeError{Err: ErrMalformed, Offset: -1, Record: rec, Pos: -1, Msg: fmt.Sprintf("want an array of %d, got %v %s", n, v.Kind, clip(v))}
	}
	if len(v.Arr) != n {
		return nil, &DecodeError{Err: ErrMalformed, Offset: -1, Record: rec, Pos: -1, Msg: fmt.Sprintf("want %d fields, got %d", n, len(v.Arr))}
	}
	return v.Arr, nil
}

func intField(f []protocol.Value, rec string, pos int, name string) (int, error) {
	v := f[pos]
	if v.Kind != protocol.Int || int64(int(v.Int)) != v.Int {
		return 0, wrongKind(rec, pos, name, "an integer", v)
	}
	return int(v.Int), nil
}

func stringField(f []protocol.Value, rec string, pos int, name string) (string, error) {
	if f[pos].Kind != protocol.String {
		return "", wrongKind(rec, pos, name, "a string", f[pos])
	}
	return f[pos].Str, nil
}

func wrongKind(rec string, pos int, name, want string, v protocol.Value) error {
	return &DecodeError{Err: ErrMalformed, Offset: -1, Record: rec, Field: name, Pos: pos, Msg: fmt.Sprintf("want %s, got %v %s", want, v.Kind, clip(v))}
}

// clip returns v's JSON text, shortened so an error stays one short line.
func clip(v protocol.Value) string {
	const max = 40
	s := v.String()
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Append appends the datagram of m, the panel's wire form, to dst:
// compact JSON followed by one NUL byte (spec: A.2). Decode(m.Append(nil))
// gives m back for every message Decode returns.
func (m *Message) Append(dst []byte) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(m.Code), 10)
	dst = append(dst, ',')
	switch m.Code {
	case protocol.CodeNotification:
		dst = m.Notification.append(dst)
	case protocol.CodeAlert:
		dst = m.Alert.append(dst)
	default:
		dst = appendValue(dst, m.Data, "[]")
	}
	return append(dst, ']', 0)
}

func (n *Notification) append(dst []byte) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(n.Kind), 10)
	dst = append(dst, ',')
	switch n.Kind {
	case KindArmDisarm:
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(n.State), 10)
		dst = append(dst, ']')
	case KindSensorChange, KindSensorActivity, KindDoorOpenWhenArming:
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(n.Index), 10)
		dst = append(dst, ',')
		dst = protocol.StringValue(n.Name).AppendJSON(dst)
		if n.Kind == KindSensorChange {
			dst = append(dst, ',')
			dst = strconv.AppendInt(dst, int64(n.Action), 10)
		}
		dst = append(dst, ']')
	default:
		dst = appendValue(dst, n.Payload, "[]")
	}
	return append(dst, ']')
}

func (a *Alert) append(dst []byte) []byte {
	dst = append(dst, '[')
	for _, i := range [...]int{int(a.Type), a.EventID, int(a.Source), a.State} {
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, ',')
	}
	dst = protocol.StringValue(a.Name).AppendJSON(dst)
	dst = append(dst, ',')
	dst = protocol.StringValue(a.GUID).AppendJSON(dst)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, a.UnixTime, 10)
	dst = append(dst, ',')
	dst = appendValue(dst, a.Reserved, "0")
	dst = append(dst, ',')
	dst = appendValue(dst, a.Other, `[""]`)
	return append(dst, ']')
}

// appendValue appends v, or def for the zero Value, which Decode never
// returns.
func appendValue(dst []byte, v protocol.Value, def string) []byte {
	if v.Kind == protocol.Invalid {
		return append(dst, def...)
	}
	return v.AppendJSON(dst)
}
