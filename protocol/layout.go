package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is a positional field that does not decode, or a value that
// breaks a field's write range.
type FieldError struct {
	Record string // e.g. "host config"
	Field  string // spec field name, e.g. "alarm_siren_duration"
	Pos    int    // position in the array, 0-based
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("protocol: %s field %s (#%d): %s", e.Record, e.Field, e.Pos, e.Msg)
}

// FieldKind is the wire type of a record field.
type FieldKind uint8

// Field kinds.
const (
	FieldInt FieldKind = iota
	FieldString
	FieldAny // kept as a Value (e.g. history "other")
)

// FieldInfo describes one positional field of a record: its spec name, its
// type and the range the reference enforces when the user changes it
// (spec: local-protocol.md 7.3). For strings the range counts characters.
type FieldInfo struct {
	Name     string
	Kind     FieldKind
	Min, Max int
	Ranged   bool // Min/Max apply
	Optional bool // a trailing field only some panels send
	ReadOnly bool // read but never written back
	// WriteAs, when set, replaces the value on write (spec:
	// local-protocol.md 3.20, 3.21: SIA/CID event flags are forced).
	WriteAs string
	Help    string
	// Text, for string fields, is what they may hold on write.
	Text TextFormat
	// Secret: the value is a password or key, shown to no one who did
	// not ask for it (the web API, MQTT's retained states, logs).
	Secret bool
	// Choices, for an int field that takes one of a few values, are
	// those values with their meanings, in order. A panel may hold one
	// that is not listed; it is written back as it is (spec:
	// local-protocol.md 3.22).
	Choices []Choice
}

// Choice is one value of an int field that takes one of a few, with
// its meaning.
type Choice struct {
	Value int
	Name  string
}

// choiceHelp describes choices as "0 mute, 1 low, 2 high"; computed
// once per list, not per layout call.
func choiceHelp(cs []Choice) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = strconv.Itoa(c.Value) + " " + c.Name
	}
	return strings.Join(parts, ", ")
}

// TextFormat is what a string field may hold.
type TextFormat int

// The text formats.
const (
	TextAny    TextFormat = iota
	TextDigits            // 0–9 only (a password typed on a phone's keypad)
	TextPhone             // digits with an optional leading + (spec: local-protocol.md 3.17)
)

// check says what is wrong with s, or "".
func (t TextFormat) check(s string) string {
	switch t {
	case TextDigits:
		if strings.Trim(s, "0123456789") != "" {
			return fmt.Sprintf("%q: want digits only", s)
		}
	case TextPhone:
		if strings.Trim(strings.TrimPrefix(s, "+"), "0123456789") != "" {
			return fmt.Sprintf("%q: want a phone number, digits with an optional leading +", s)
		}
	}
	return ""
}

// field binds a FieldInfo to the struct member that holds it.
type field struct {
	FieldInfo
	i    *int
	s    *string
	v    *Value
	oi   **int
	oset *bool // for optional string fields: whether present
}

func fInt(name string, p *int) field { return field{FieldInfo: FieldInfo{Name: name}, i: p} }
func fStr(name string, p *string) field {
	return field{FieldInfo: FieldInfo{Name: name, Kind: FieldString}, s: p}
}
func fAny(name string, p *Value) field {
	return field{FieldInfo: FieldInfo{Name: name, Kind: FieldAny}, v: p}
}
func fOptInt(name string, p **int) field {
	return field{FieldInfo: FieldInfo{Name: name, Optional: true}, oi: p}
}
func fOptStr(name string, p *string, present *bool) field {
	return field{FieldInfo: FieldInfo{Name: name, Kind: FieldString, Optional: true}, s: p, oset: present}
}

func (f field) rng(lo, hi int) field    { f.Min, f.Max, f.Ranged = lo, hi, true; return f }
func (f field) help(h string) field     { f.Help = h; return f }
func (f field) text(t TextFormat) field { f.Text = t; return f }
func (f field) readOnly() field         { f.ReadOnly = true; return f }
func (f field) enum(c []Choice) field   { f.Choices = c; return f }
func (f field) writeAs(s string) field  { f.WriteAs = s; return f }
func (f field) secret() field           { f.Secret = true; return f }
func (f field) present() bool {
	return f.Optional && ((f.oi != nil && *f.oi != nil) || (f.oset != nil && *f.oset))
}
func (f field) has() bool  { return !f.Optional || f.present() }
func (f field) setAbsent() { setOptional(f, false) }
func setOptional(f field, on bool) {
	if f.oset != nil {
		*f.oset = on
		if !on {
			*f.s = "" // a reused record must not keep an earlier reply's value
		}
	}
	if f.oi != nil && !on {
		*f.oi = nil
	}
}

// decodeFields fills the bound fields from data. Optional trailing fields
// may be absent; elements past the last known field are kept in extra so
// newer firmware is not fatal (spec: local-protocol.md 7, issue contract).
func decodeFields(record string, data []Value, fs []field, extra *[]Value) error {
	for pos, f := range fs {
		if pos >= len(data) {
			if !f.Optional {
				return &FieldError{Record: record, Field: f.Name, Pos: pos, Msg: fmt.Sprintf("missing (%d fields received)", len(data))}
			}
			f.setAbsent()
			continue
		}
		v := data[pos]
		switch {
		case f.Kind == FieldAny:
			*f.v = v
		case f.Kind == FieldInt && v.Kind == Int:
			if v.Int < -1<<31 || v.Int > 1<<31-1 {
				return &FieldError{Record: record, Field: f.Name, Pos: pos, Msg: fmt.Sprintf("integer %d out of range", v.Int)}
			}
			if f.oi != nil {
				n := int(v.Int) // only optional fields need their own int
				*f.oi = &n
			} else {
				*f.i = int(v.Int)
			}
		case f.Kind == FieldString && v.Kind == String:
			*f.s = v.Str
			setOptional(f, true)
		default:
			want := "int"
			if f.Kind == FieldString {
				want = "string"
			}
			return &FieldError{Record: record, Field: f.Name, Pos: pos, Msg: fmt.Sprintf("want %s, got %v %s", want, v.Kind, v)}
		}
	}
	*extra = nil
	if len(data) > len(fs) {
		*extra = append([]Value(nil), data[len(fs):]...)
	}
	return nil
}

// encodeFields returns the positional array of the bound fields. With
// write set it stops at the first read-only field and leaves out the
// extras after it (spec: local-protocol.md 3.19: gsm_operator is never
// written).
func encodeFields(fs []field, extra []Value, write bool) []Value {
	out := make([]Value, 0, len(fs)+len(extra))
	for _, f := range fs {
		if write && f.ReadOnly {
			return out
		}
		if !f.has() {
			return out // optional fields are trailing: nothing follows
		}
		switch {
		case f.Kind == FieldAny:
			out = append(out, *f.v)
		case f.oi != nil:
			out = append(out, IntValue(**f.oi))
		case f.Kind == FieldInt:
			out = append(out, IntValue(*f.i))
		case write && f.WriteAs != "":
			out = append(out, StringValue(f.WriteAs))
		default:
			out = append(out, StringValue(*f.s))
		}
	}
	return append(out, extra...)
}

// validateFields checks every present field against its write range;
// with only set, just the positions it reports.
func validateFields(record string, fs []field, only func(pos int) bool) error {
	for pos, f := range fs {
		if !f.Ranged || !f.has() || (only != nil && !only(pos)) {
			continue
		}
		var n int
		unit := ""
		switch {
		case f.oi != nil:
			n = **f.oi
		case f.Kind == FieldInt:
			n = *f.i
		default:
			n, unit = utf8.RuneCountInString(*f.s), " characters"
		}
		if f.Kind == FieldString {
			if msg := f.Text.check(*f.s); msg != "" {
				return &FieldError{Record: record, Field: f.Name, Pos: pos, Msg: msg}
			}
		}
		if n < f.Min || n > f.Max {
			msg := fmt.Sprintf("%d is outside %d..%d", n, f.Min, f.Max)
			if unit != "" {
				msg = fmt.Sprintf("length %d is outside %d..%d%s", n, f.Min, f.Max, unit)
				if f.Min == f.Max {
					msg = fmt.Sprintf("length %d, want exactly %d%s", n, f.Min, unit)
				}
			}
			return &FieldError{Record: record, Field: f.Name, Pos: pos, Msg: msg}
		}
	}
	return nil
}

// setField parses text into the named field, as a user types it on the
// command line. It does not validate the range; see validateFields.
func setField(record string, fs []field, name, text string) error {
	for pos, f := range fs {
		if f.Name != name {
			continue
		}
		if f.ReadOnly {
			return &FieldError{Record: record, Field: name, Pos: pos, Msg: "is read-only"}
		}
		if f.Optional && !f.present() {
			return &FieldError{Record: record, Field: name, Pos: pos, Msg: "is not supported by this panel"}
		}
		switch {
		case f.Kind == FieldString:
			*f.s = text
		default:
			n, err := strconv.Atoi(text)
			if err != nil {
				return &FieldError{Record: record, Field: name, Pos: pos, Msg: fmt.Sprintf("want an integer, got %q", text)}
			}
			if f.oi != nil {
				*f.oi = &n
			} else {
				*f.i = n
			}
		}
		return nil
	}
	return &FieldError{Record: record, Field: name, Pos: -1, Msg: "no such field"}
}

// fieldsJSON encodes the fields as a JSON object keyed by spec field names,
// in wire order; absent optional fields are left out and extras go under
// "extra".
func fieldsJSON(fs []field, extra []Value) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, f := range fs {
		if !f.has() {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(f.Name)
		b.Write(k)
		b.WriteByte(':')
		var v []byte
		switch {
		case f.Kind == FieldAny:
			v = f.v.AppendJSON(nil)
		case f.oi != nil:
			v = strconv.AppendInt(nil, int64(**f.oi), 10)
		case f.Kind == FieldInt:
			v = strconv.AppendInt(nil, int64(*f.i), 10)
		default:
			v, _ = json.Marshal(*f.s) // UTF-8 text for humans, not the wire escaping
		}
		b.Write(v)
	}
	if len(extra) > 0 {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"extra":`)
		b.Write(ArrayValue(extra...).AppendJSON(nil))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func infos(fs []field) []FieldInfo {
	out := make([]FieldInfo, len(fs))
	for i, f := range fs {
		out[i] = f.FieldInfo
	}
	return out
}
