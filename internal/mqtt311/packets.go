package mqtt311

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Type is a control packet type, the high nibble of a packet's first
// byte (MQTT 3.1.1 §2.2.1).
type Type byte

// The control packet types.
const (
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
)

var typeNames = [...]string{
	TypeConnect: "CONNECT", TypeConnack: "CONNACK", TypePublish: "PUBLISH", TypePuback: "PUBACK",
	TypePubrec: "PUBREC", TypePubrel: "PUBREL", TypePubcomp: "PUBCOMP", TypeSubscribe: "SUBSCRIBE",
	TypeSuback: "SUBACK", TypeUnsubscribe: "UNSUBSCRIBE", TypeUnsuback: "UNSUBACK", TypePingreq: "PINGREQ",
	TypePingresp: "PINGRESP", TypeDisconnect: "DISCONNECT",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("packet type %d", byte(t))
}

// fixedFlags are the flags every type but PUBLISH must carry in the low
// nibble of its first byte (MQTT 3.1.1 §2.2.2).
func (t Type) fixedFlags() byte {
	if t == TypePubrel || t == TypeSubscribe || t == TypeUnsubscribe {
		return 0b0010
	}
	return 0
}

// MaxRemainingLength is the largest remaining length the four bytes of
// its encoding hold (MQTT 3.1.1 §2.2.3).
const MaxRemainingLength = 268_435_455

// MaxHeaderLen is the longest fixed header: the first byte and four
// bytes of remaining length.
const MaxHeaderLen = 5

// Errors of the codec: a *DecodeError or an encoding error wraps one.
var (
	// ErrMalformed: the bytes break a rule of MQTT 3.1.1.
	ErrMalformed = errors.New("mqtt311: malformed packet")
	// ErrUnsupported: a well-formed packet this codec does not handle
	// (UNSUBSCRIBE, UNSUBACK, MQTT 3.1's CONNECT).
	ErrUnsupported = errors.New("mqtt311: unsupported packet")
	// ErrEncode: a packet's fields cannot be encoded.
	ErrEncode = errors.New("mqtt311: cannot encode")
)

// DecodeError says where a packet failed to decode.
type DecodeError struct {
	Err    error // ErrMalformed or ErrUnsupported
	Type   Type  // the type the first byte names; 0 if unread
	Field  string
	Offset int // of the field, from the packet's first byte
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %v %s at byte %d: %s", e.Err, e.Type, e.Field, e.Offset, e.Msg)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Header is a packet's fixed header.
type Header struct {
	Type      Type
	Flags     byte // the low nibble of the first byte
	Remaining int  // the length of what follows the header
}

// ParseHeader reads the fixed header at the start of b and returns it
// with its length; n is 0 when b does not hold the whole header yet.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) == 0 {
		return h, 0, nil
	}
	h.Type, h.Flags = Type(b[0]>>4), b[0]&0x0F
	mult := 1
	for i := 1; i < MaxHeaderLen; i++ {
		if i >= len(b) {
			return h, 0, nil
		}
		h.Remaining += int(b[i]&0x7F) * mult
		if b[i]&0x80 == 0 {
			return h, i + 1, nil
		}
		mult *= 128
	}
	return h, 0, &DecodeError{Err: ErrMalformed, Type: h.Type, Field: "remaining length", Offset: 1,
		Msg: "more than 4 bytes (MQTT 3.1.1 §2.2.3)"}
}

// appendHeader appends a fixed header.
func appendHeader(b []byte, first byte, remaining int) []byte {
	b = append(b, first)
	for {
		d := byte(remaining % 128)
		remaining /= 128
		if remaining > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if remaining == 0 {
			return b
		}
	}
}

// Packet is one control packet.
type Packet interface {
	// Type is the packet's type.
	Type() Type
	// Append appends the packet's encoding to b; an error wraps
	// ErrEncode and names the field that cannot be encoded.
	Append(b []byte) ([]byte, error)
}

// Will is the message the broker publishes when the client goes without
// a DISCONNECT (MQTT 3.1.1 §3.1.2.5).
type Will struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Connect opens a session (MQTT 3.1.1 §3.1). Username and Password are
// sent when not empty; a password needs a user name (§3.1.2.9), so an
// empty one is sent along with it.
type Connect struct {
	ClientID     string
	CleanSession bool
	KeepAlive    uint16 // seconds; 0 turns keepalive off
	Will         *Will
	Username     string
	Password     []byte
}

// Connack answers a Connect (MQTT 3.1.1 §3.2); a ReturnCode other than 0
// refuses the connection.
type Connack struct {
	SessionPresent bool
	ReturnCode     byte
}

// Publish carries a message (MQTT 3.1.1 §3.3). PacketID is 0 for QoS 0
// and not 0 otherwise.
type Publish struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retain   bool
	Dup      bool
	PacketID uint16
}

// Puback acknowledges a QoS 1 Publish (MQTT 3.1.1 §3.4).
type Puback struct{ PacketID uint16 }

// Pubrec is the first answer to a QoS 2 Publish (MQTT 3.1.1 §3.5).
type Pubrec struct{ PacketID uint16 }

// Pubrel answers a Pubrec (MQTT 3.1.1 §3.6).
type Pubrel struct{ PacketID uint16 }

// Pubcomp answers a Pubrel, ending a QoS 2 exchange (MQTT 3.1.1 §3.7).
type Pubcomp struct{ PacketID uint16 }

// Subscription is one topic filter of a Subscribe and the QoS asked for.
type Subscription struct {
	Topic string
	QoS   byte
}

// Subscribe asks for messages on topic filters (MQTT 3.1.1 §3.8).
type Subscribe struct {
	PacketID      uint16
	Subscriptions []Subscription
}

// SubackFailure is the return code of a refused subscription (MQTT
// 3.1.1 §3.9.3).
const SubackFailure = 0x80

// Suback answers a Subscribe with one return code per filter: the QoS
// granted, or SubackFailure (MQTT 3.1.1 §3.9).
type Suback struct {
	PacketID    uint16
	ReturnCodes []byte
}

// Pingreq asks the broker for a Pingresp (MQTT 3.1.1 §3.12).
type Pingreq struct{}

// Pingresp answers a Pingreq (MQTT 3.1.1 §3.13).
type Pingresp struct{}

// Disconnect ends a connection cleanly; the broker discards the will
// (MQTT 3.1.1 §3.14).
type Disconnect struct{}

func (*Connect) Type() Type    { return TypeConnect }
func (*Connack) Type() Type    { return TypeConnack }
func (*Publish) Type() Type    { return TypePublish }
func (*Puback) Type() Type     { return TypePuback }
func (*Pubrec) Type() Type     { return TypePubrec }
func (*Pubrel) Type() Type     { return TypePubrel }
func (*Pubcomp) Type() Type    { return TypePubcomp }
func (*Subscribe) Type() Type  { return TypeSubscribe }
func (*Suback) Type() Type     { return TypeSuback }
func (*Pingreq) Type() Type    { return TypePingreq }
func (*Pingresp) Type() Type   { return TypePingresp }
func (*Disconnect) Type() Type { return TypeDisconnect }

func encodeErr(t Type, field, format string, args ...any) error {
	return fmt.Errorf("%w %v: %s: %s", ErrEncode, t, field, fmt.Sprintf(format, args...))
}

// checkString checks a UTF-8 encoded string (MQTT 3.1.1 §1.5.3): at
// most 65,535 bytes, well-formed, no U+0000. It returns why not, or "".
func checkString(s string) string {
	switch {
	case len(s) > 65535:
		return fmt.Sprintf("%d bytes, at most 65535", len(s))
	case !utf8.ValidString(s):
		return "not UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains U+0000"
	}
	return ""
}

// checkTopic checks a topic name of a PUBLISH or a will: a string, not
// empty, without wildcards (MQTT 3.1.1 §4.7.3, §3.3.2.1).
func checkTopic(s string) string {
	if why := checkString(s); why != "" {
		return why
	}
	if s == "" {
		return "empty"
	}
	if strings.ContainsAny(s, "+#") {
		return "a wildcard (+ #) in a topic name"
	}
	return ""
}

// checkFilter checks a topic filter: a string, not empty, '#' only as
// the whole last level and '+' only as a whole level (MQTT 3.1.1
// §4.7.1).
func checkFilter(s string) string {
	if why := checkString(s); why != "" {
		return why
	}
	if s == "" {
		return "empty"
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#") && (l != "#" || i != len(levels)-1):
			return "# not alone as the last level"
		case strings.Contains(l, "+") && l != "+":
			return "+ not alone in its level"
		}
	}
	return ""
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Append implements Packet.
func (p *Connect) Append(b []byte) ([]byte, error) {
	if why := checkString(p.ClientID); why != "" {
		return b, encodeErr(TypeConnect, "client id", "%s", why)
	}
	if why := checkString(p.Username); why != "" {
		return b, encodeErr(TypeConnect, "user name", "%s", why)
	}
	if len(p.Password) > 65535 {
		return b, encodeErr(TypeConnect, "password", "%d bytes, at most 65535", len(p.Password))
	}
	// Variable header: protocol name and level, flags, keepalive
	// (§3.1.2).
	n := 10 + 2 + len(p.ClientID)
	var flags byte
	if p.CleanSession {
		flags |= 0x02
	}
	if w := p.Will; w != nil {
		if why := checkTopic(w.Topic); why != "" {
			return b, encodeErr(TypeConnect, "will topic", "%s", why)
		}
		if len(w.Payload) > 65535 {
			return b, encodeErr(TypeConnect, "will payload", "%d bytes, at most 65535", len(w.Payload))
		}
		if w.QoS > 2 {
			return b, encodeErr(TypeConnect, "will QoS", "%d", w.QoS)
		}
		flags |= 0x04 | w.QoS<<3
		if w.Retain {
			flags |= 0x20
		}
		n += 2 + len(w.Topic) + 2 + len(w.Payload)
	}
	if p.Username != "" || len(p.Password) > 0 {
		flags |= 0x80
		n += 2 + len(p.Username)
	}
	if len(p.Password) > 0 {
		flags |= 0x40
		n += 2 + len(p.Password)
	}
	b = appendHeader(b, byte(TypeConnect)<<4, n)
	b = append(b, 0, 4, 'M', 'Q', 'T', 'T', 4, flags)
	b = binary.BigEndian.AppendUint16(b, p.KeepAlive)
	b = appendString(b, p.ClientID)
	if w := p.Will; w != nil {
		b = appendString(b, w.Topic)
		b = appendBytes(b, w.Payload)
	}
	if flags&0x80 != 0 {
		b = appendString(b, p.Username)
	}
	if flags&0x40 != 0 {
		b = appendBytes(b, p.Password)
	}
	return b, nil
}

// Append implements Packet.
func (p *Connack) Append(b []byte) ([]byte, error) {
	var f byte
	if p.SessionPresent {
		f = 1
	}
	return append(b, byte(TypeConnack)<<4, 2, f, p.ReturnCode), nil
}

// Append implements Packet.
func (p *Publish) Append(b []byte) ([]byte, error) {
	if why := checkTopic(p.Topic); why != "" {
		return b, encodeErr(TypePublish, "topic", "%s", why)
	}
	switch {
	case p.QoS > 2:
		return b, encodeErr(TypePublish, "QoS", "%d", p.QoS)
	case p.QoS == 0 && (p.PacketID != 0 || p.Dup):
		return b, encodeErr(TypePublish, "packet id", "QoS 0 has no packet id and no DUP (§3.3.1.1, §2.3.1)")
	case p.QoS > 0 && p.PacketID == 0:
		return b, encodeErr(TypePublish, "packet id", "0 (§2.3.1)")
	}
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if n > MaxRemainingLength {
		return b, encodeErr(TypePublish, "payload", "%d bytes, more than a packet holds", len(p.Payload))
	}
	first := byte(TypePublish)<<4 | p.QoS<<1
	if p.Dup {
		first |= 0x08
	}
	if p.Retain {
		first |= 0x01
	}
	b = appendHeader(b, first, n)
	b = appendString(b, p.Topic)
	if p.QoS > 0 {
		b = binary.BigEndian.AppendUint16(b, p.PacketID)
	}
	return append(b, p.Payload...), nil
}

func appendAck(b []byte, t Type, id uint16) ([]byte, error) {
	if id == 0 {
		return b, encodeErr(t, "packet id", "0 (§2.3.1)")
	}
	return binary.BigEndian.AppendUint16(append(b, byte(t)<<4|t.fixedFlags(), 2), id), nil
}

// Append implements Packet.
func (p *Puback) Append(b []byte) ([]byte, error) { return appendAck(b, TypePuback, p.PacketID) }

// Append implements Packet.
func (p *Pubrec) Append(b []byte) ([]byte, error) { return appendAck(b, TypePubrec, p.PacketID) }

// Append implements Packet.
func (p *Pubrel) Append(b []byte) ([]byte, error) { return appendAck(b, TypePubrel, p.PacketID) }

// Append implements Packet.
func (p *Pubcomp) Append(b []byte) ([]byte, error) { return appendAck(b, TypePubcomp, p.PacketID) }

// Append implements Packet.
func (p *Subscribe) Append(b []byte) ([]byte, error) {
	if p.PacketID == 0 {
		return b, encodeErr(TypeSubscribe, "packet id", "0 (§2.3.1)")
	}
	if len(p.Subscriptions) == 0 {
		return b, encodeErr(TypeSubscribe, "subscriptions", "none (§3.8.3)")
	}
	n := 2
	for i, s := range p.Subscriptions {
		if why := checkFilter(s.Topic); why != "" {
			return b, encodeErr(TypeSubscribe, fmt.Sprintf("subscription %d topic filter", i), "%s", why)
		}
		if s.QoS > 2 {
			return b, encodeErr(TypeSubscribe, fmt.Sprintf("subscription %d QoS", i), "%d", s.QoS)
		}
		n += 2 + len(s.Topic) + 1
	}
	if n > MaxRemainingLength {
		return b, encodeErr(TypeSubscribe, "subscriptions", "more than a packet holds")
	}
	b = appendHeader(b, byte(TypeSubscribe)<<4|TypeSubscribe.fixedFlags(), n)
	b = binary.BigEndian.AppendUint16(b, p.PacketID)
	for _, s := range p.Subscriptions {
		b = append(appendString(b, s.Topic), s.QoS)
	}
	return b, nil
}

// Append implements Packet.
func (p *Suback) Append(b []byte) ([]byte, error) {
	if p.PacketID == 0 {
		return b, encodeErr(TypeSuback, "packet id", "0 (§2.3.1)")
	}
	if len(p.ReturnCodes) == 0 {
		return b, encodeErr(TypeSuback, "return codes", "none (§3.9.3)")
	}
	for i, c := range p.ReturnCodes {
		if !validSubackCode(c) {
			return b, encodeErr(TypeSuback, fmt.Sprintf("return code %d", i), "0x%02x", c)
		}
	}
	b = appendHeader(b, byte(TypeSuback)<<4, 2+len(p.ReturnCodes))
	b = binary.BigEndian.AppendUint16(b, p.PacketID)
	return append(b, p.ReturnCodes...), nil
}

func validSubackCode(c byte) bool { return c <= 2 || c == SubackFailure }

// Append implements Packet.
func (*Pingreq) Append(b []byte) ([]byte, error) { return append(b, byte(TypePingreq)<<4, 0), nil }

// Append implements Packet.
func (*Pingresp) Append(b []byte) ([]byte, error) { return append(b, byte(TypePingresp)<<4, 0), nil }

// Append implements Packet.
func (*Disconnect) Append(b []byte) ([]byte, error) {
	return append(b, byte(TypeDisconnect)<<4, 0), nil
}

// reader reads the fields of one packet and says where one fails.
type reader struct {
	b   []byte
	off int
	t   Type
}

func (r *reader) fail(err error, field, format string, args ...any) *DecodeError {
	return &DecodeError{Err: err, Type: r.t, Field: field, Offset: r.off, Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) byte(field string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(ErrMalformed, field, "the packet ends before it")
	}
	r.off++
	return r.b[r.off-1], nil
}

func (r *reader) uint16(field string) (uint16, error) {
	if len(r.b)-r.off < 2 {
		return 0, r.fail(ErrMalformed, field, "the packet ends within it")
	}
	r.off += 2
	return binary.BigEndian.Uint16(r.b[r.off-2:]), nil
}

// bytes reads a length-prefixed field; the result aliases the packet.
func (r *reader) bytes(field string) ([]byte, error) {
	if len(r.b)-r.off < 2 {
		return nil, r.fail(ErrMalformed, field+" length", "the packet ends within it")
	}
	n := int(binary.BigEndian.Uint16(r.b[r.off:]))
	if n > len(r.b)-r.off-2 {
		return nil, r.fail(ErrMalformed, field, "length %d, beyond the packet's %d bytes", n, len(r.b))
	}
	r.off += 2
	r.off += n
	return r.b[r.off-n : r.off], nil
}

// string reads a UTF-8 encoded string; check, if not nil, says why it
// is not acceptable.
func (r *reader) string(field string, check func(string) string) (string, error) {
	start := r.off
	b, err := r.bytes(field)
	if err != nil {
		return "", err
	}
	s := string(b)
	if check == nil {
		check = checkString
	}
	if why := check(s); why != "" {
		r.off = start
		return "", r.fail(ErrMalformed, field, "%q: %s", s, why)
	}
	return s, nil
}

func (r *reader) packetID() (uint16, error) {
	id, err := r.uint16("packet id")
	if err == nil && id == 0 {
		r.off -= 2
		return 0, r.fail(ErrMalformed, "packet id", "0 (§2.3.1)")
	}
	return id, err
}

func (r *reader) end() error {
	if r.off != len(r.b) {
		return r.fail(ErrMalformed, "end", "%d bytes more than the packet's fields", len(r.b)-r.off)
	}
	return nil
}

// Decode decodes one whole packet, b holding exactly its bytes (a
// header from ParseHeader and the remaining length after it). The
// payloads of Publish and Will, a Connect's password and a Suback's
// return codes alias b.
func Decode(b []byte) (Packet, error) {
	h, n, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &DecodeError{Err: ErrMalformed, Field: "fixed header", Offset: len(b), Msg: "the bytes end within it"}
	}
	r := &reader{b: b, off: n, t: h.Type}
	if h.Remaining != len(b)-n {
		return nil, r.fail(ErrMalformed, "remaining length", "%d, but %d bytes follow the header", h.Remaining, len(b)-n)
	}
	if h.Type != TypePublish && h.Flags != h.Type.fixedFlags() {
		r.off = 0
		return nil, r.fail(ErrMalformed, "flags", "0x%x, want 0x%x (§2.2.2)", h.Flags, h.Type.fixedFlags())
	}
	var p Packet
	switch h.Type {
	case TypeConnect:
		p, err = decodeConnect(r)
	case TypeConnack:
		p, err = decodeConnack(r)
	case TypePublish:
		p, err = decodePublish(r, h.Flags)
	case TypePuback:
		var id uint16
		id, err = r.packetID()
		p = &Puback{id}
	case TypePubrec:
		var id uint16
		id, err = r.packetID()
		p = &Pubrec{id}
	case TypePubrel:
		var id uint16
		id, err = r.packetID()
		p = &Pubrel{id}
	case TypePubcomp:
		var id uint16
		id, err = r.packetID()
		p = &Pubcomp{id}
	case TypeSubscribe:
		p, err = decodeSubscribe(r)
	case TypeSuback:
		p, err = decodeSuback(r)
	case TypePingreq:
		p = &Pingreq{}
	case TypePingresp:
		p = &Pingresp{}
	case TypeDisconnect:
		p = &Disconnect{}
	case TypeUnsubscribe, TypeUnsuback:
		r.off = 0
		return nil, r.fail(ErrUnsupported, "type", "not used by this client")
	default:
		r.off = 0
		return nil, r.fail(ErrMalformed, "type", "reserved (§2.2.1)")
	}
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return p, nil
}

func decodeConnect(r *reader) (Packet, error) {
	start := r.off
	name, err := r.bytes("protocol name")
	if err != nil {
		return nil, err
	}
	level, err := r.byte("protocol level")
	if err != nil {
		return nil, err
	}
	if string(name) != "MQTT" || level != 4 {
		r.off = start
		return nil, r.fail(ErrUnsupported, "protocol", "%q level %d, want \"MQTT\" level 4 (§3.1.2.1, §3.1.2.2)", name, level)
	}
	flags, err := r.byte("connect flags")
	if err != nil {
		return nil, err
	}
	bad := func(why string) error {
		r.off--
		return r.fail(ErrMalformed, "connect flags", "0x%02x: %s", flags, why)
	}
	willQoS := flags >> 3 & 3
	switch {
	case flags&0x01 != 0:
		return nil, bad("the reserved bit is set (§3.1.2.3)")
	case flags&0x04 == 0 && flags&0x38 != 0:
		return nil, bad("will QoS or retain without a will (§3.1.2.6, §3.1.2.7)")
	case willQoS == 3:
		return nil, bad("will QoS 3 (§3.1.2.6)")
	case flags&0x40 != 0 && flags&0x80 == 0:
		return nil, bad("a password without a user name (§3.1.2.9)")
	}
	p := &Connect{CleanSession: flags&0x02 != 0}
	if p.KeepAlive, err = r.uint16("keepalive"); err != nil {
		return nil, err
	}
	if p.ClientID, err = r.string("client id", nil); err != nil {
		return nil, err
	}
	if flags&0x04 != 0 {
		w := &Will{QoS: willQoS, Retain: flags&0x20 != 0}
		if w.Topic, err = r.string("will topic", checkTopic); err != nil {
			return nil, err
		}
		if w.Payload, err = r.bytes("will payload"); err != nil {
			return nil, err
		}
		p.Will = w
	}
	if flags&0x80 != 0 {
		if p.Username, err = r.string("user name", nil); err != nil {
			return nil, err
		}
	}
	if flags&0x40 != 0 {
		if p.Password, err = r.bytes("password"); err != nil {
			return nil, err
		}
		if len(p.Password) == 0 {
			p.Password = nil // as the encoder sends it: not at all
		}
	}
	return p, nil
}

func decodeConnack(r *reader) (Packet, error) {
	f, err := r.byte("acknowledge flags")
	if err != nil {
		return nil, err
	}
	if f&^1 != 0 {
		r.off--
		return nil, r.fail(ErrMalformed, "acknowledge flags", "0x%02x: reserved bits set (§3.2.2.1)", f)
	}
	code, err := r.byte("return code")
	if err != nil {
		return nil, err
	}
	return &Connack{SessionPresent: f == 1, ReturnCode: code}, nil
}

func decodePublish(r *reader, flags byte) (Packet, error) {
	p := &Publish{QoS: flags >> 1 & 3, Dup: flags&0x08 != 0, Retain: flags&0x01 != 0}
	switch {
	case p.QoS == 3:
		r.off = 0
		return nil, r.fail(ErrMalformed, "flags", "QoS 3 (§3.3.1.2)")
	case p.QoS == 0 && p.Dup:
		r.off = 0
		return nil, r.fail(ErrMalformed, "flags", "DUP with QoS 0 (§3.3.1.1)")
	}
	var err error
	if p.Topic, err = r.string("topic", checkTopic); err != nil {
		return nil, err
	}
	if p.QoS > 0 {
		if p.PacketID, err = r.packetID(); err != nil {
			return nil, err
		}
	}
	p.Payload = r.b[r.off:]
	r.off = len(r.b)
	return p, nil
}

func decodeSubscribe(r *reader) (Packet, error) {
	id, err := r.packetID()
	if err != nil {
		return nil, err
	}
	p := &Subscribe{PacketID: id}
	for r.off < len(r.b) {
		field := fmt.Sprintf("subscription %d", len(p.Subscriptions))
		var s Subscription
		if s.Topic, err = r.string(field+" topic filter", checkFilter); err != nil {
			return nil, err
		}
		if s.QoS, err = r.byte(field + " QoS"); err != nil {
			return nil, err
		}
		if s.QoS > 2 {
			r.off--
			return nil, r.fail(ErrMalformed, field+" QoS", "0x%02x (§3.8.3.1)", s.QoS)
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if len(p.Subscriptions) == 0 {
		return nil, r.fail(ErrMalformed, "subscriptions", "none (§3.8.3)")
	}
	return p, nil
}

func decodeSuback(r *reader) (Packet, error) {
	id, err := r.packetID()
	if err != nil {
		return nil, err
	}
	codes := r.b[r.off:]
	if len(codes) == 0 {
		return nil, r.fail(ErrMalformed, "return codes", "none (§3.9.3)")
	}
	for i, c := range codes {
		if !validSubackCode(c) {
			r.off += i
			return nil, r.fail(ErrMalformed, fmt.Sprintf("return code %d", i), "0x%02x (§3.9.3)", c)
		}
	}
	r.off = len(r.b)
	return &Suback{PacketID: id, ReturnCodes: codes}, nil
}
