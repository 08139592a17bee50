package cloudproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of Decode, wrapped by every *DecodeError; test with
// errors.Is. They are the invalid inputs of spec: D.12 that remain once
// the Framer has cut the stream into messages.
var (
	// ErrShort: fewer bytes than the header or the kind's fixed layout
	// needs (spec: D.6.1 (a), (c)).
	ErrShort = errors.New("cloudproto: message too short")
	// ErrLength: message_length does not match the bytes given (spec:
	// D.6.1 (a)).
	ErrLength = errors.New("cloudproto: bad message length")
	// ErrVersion: a versioned header whose version is not 1 (spec: D.2).
	ErrVersion = errors.New("cloudproto: unsupported header version")
)

// DecodeError is a message Decode rejects, with the field and byte offset
// (from the first byte of the message) where it failed.
type DecodeError struct {
	Err    error // ErrShort, ErrLength or ErrVersion
	Kind   Kind  // the kind the header names; KindUnknown if unread
	Field  string
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %v %s at byte %d: %s", e.Err, e.Kind, e.Field, e.Offset, e.Msg)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Sizes of the fixed payload layouts (spec: D.5).
const (
	helloSize          = 60  // `<15sx4i3sx6i`, spec: D.5.2
	discoverySize      = 48  // `<15sx4i3sx3i`, spec: D.5.3
	statusSize         = 108 // `<2B34xi68x` / `<4B32si68x`, spec: D.5.4-D.5.6
	responseSize       = 16  // `<HiHi2H`, spec: D.5.8
	commandSize        = 10  // spec: D.5.9
	discoveryReplySize = 32  // `<16s4i`, spec: D.5.10
	guidSize           = 15
	fwSize             = 3
	nameSize           = 32
	serverIPSize       = 16
)

// Message is one decoded message of any kind. Only the fields of its Kind
// are set. Decode keeps every value the spec does not interpret, except
// the bytes the spec marks pad or ignore, which Append writes as 00
// (spec: 0.2).
type Message struct {
	Kind   Kind
	Header Header
	// Hello is the payload of KindHello and KindDiscovery.
	Hello Hello
	// Status is the payload of KindStatusChange.
	Status StatusChange
	// Response is the fixed part of KindCommandResponse.
	Response CommandResponse
	// Command is the fixed part of KindCommand.
	Command Command
	// Value is the one payload byte of KindHelloAck (01) and
	// KindHelloResponse (1F) (spec: D.5.10).
	Value uint8
	// Port is the payload of KindHelloInfo (spec: D.5.10).
	Port int32
	// Discovery is the payload of KindDiscoveryResponse.
	Discovery DiscoveryResponse
	// Body holds the bytes after the kind's fixed fields: the local
	// notification datagram of KindNotification, the JSON text and NUL
	// of KindCommandResponse and KindCommand, everything after the basic
	// header of KindUnknown, and any extra bytes after a fixed layout,
	// which the spec accepts and ignores (spec: D.6.1 (c)). Nil when
	// empty.
	Body []byte
}

// Hello is the payload of M2 Hello and M3 Hello discovery (spec: D.5.2,
// D.5.3). Only the GUID has a known meaning.
type Hello struct {
	// GUID is the panel GUID, trailing NULs removed ([REC], spec: D.5.2).
	GUID                                   string
	Unknown1, Unknown2, Unknown3, Unknown4 int32
	// FirmwareVersion is fw_version, e.g. "207", trailing NULs removed.
	FirmwareVersion               string
	Unknown5, Unknown6, Unknown7  int32
	Unknown8, Unknown9, Unknown10 int32 // M2 only
}

// StatusType is byte 0 of a status change payload (spec: D.4).
type StatusType uint8

// Status change types (spec: D.5.4-D.5.6). Others exist (1, host SOS)
// and are skipped (spec: D.4).
const (
	StatusState  StatusType = 2 // M4a, panel state
	StatusAlarm  StatusType = 3 // M4c
	StatusSensor StatusType = 4 // M4b, sensor activity
)

// StatusChange is the 108-byte payload of M4a, M4b and M4c (spec: D.5.4-
// D.5.6). Type StatusState uses StateChange and UnixTime; every other type
// is read with the `<4B32si68x` layout of M4b and M4c.
type StatusChange struct {
	Type StatusType
	// StateChange is the state-change code of M4a (spec: A.6.7).
	StateChange uint8
	// Index is sensor_index of M4b and M4c.
	Index uint8
	// Source is byte 14: the alert source of M4b (spec: A.6.3), the
	// peripheral type of the sensor in M4c (spec: D.5.6, A.6.10).
	Source uint8
	// State is the raw alert state (spec: A.6.4-A.6.8).
	State uint8
	// Name is sensor_name cut at its first NUL ([REC], spec: D.5.6), as
	// raw bytes: it may not be UTF-8.
	Name string
	// UnixTime is the panel clock in seconds.
	UnixTime int32
}

// CommandResponse is the fixed part of M6 in the [REF] reading of a basic
// header followed by `<HiHi2H` (spec: D.5.8, G.7); Message.Body is the
// JSON result and its NUL.
type CommandResponse struct {
	Unknown1       uint16 // 1 observed; or the version of a versioned header
	Seq1           int32  // the sequence of the M12 being answered
	Unknown2       uint16
	Seq2           int32
	CommandCode    uint16
	SubcommandCode uint16
}

// Command is the fixed part of M12 (spec: D.5.9); Message.Body is the
// JSON parameters and a NUL, or just the NUL.
type Command struct {
	Unknown1       uint16 // 2 observed
	CommandCode    uint16
	SubcommandCode uint16
	Unknown2       int32 // 5 observed
}

// DiscoveryResponse is the payload of M11 (spec: D.5.10).
type DiscoveryResponse struct {
	// ServerIP is the address the panel should use, as dotted text, cut
	// at its first NUL.
	ServerIP           string
	Unknown1, Unknown2 int32
	ServerPort         int32
	Timestamp          int32 // UTC Unix seconds; the panel sets its clock from it
}

// GUID returns the panel GUID a Hello or Hello discovery carries, or ""
// for other kinds and for a GUID that is empty or white space, which the
// spec ignores (spec: D.11, A.7.2).
func (m *Message) GUID() string {
	if m.Kind != KindHello && m.Kind != KindDiscovery {
		return ""
	}
	if strings.TrimSpace(m.Hello.GUID) == "" {
		return ""
	}
	return m.Hello.GUID
}

// Decode decodes b, which must be exactly one message: message_length
// equal to len(b), as Framer.Next returns them. A header whose command,
// source and destination are not in the catalogue gives KindUnknown with
// its bytes in Body, not an error (spec: D.6.2). An error is always a
// *DecodeError. Body aliases b; strings are copies.
func Decode(b []byte) (Message, error) {
	if len(b) < BasicHeaderSize {
		return Message{}, &DecodeError{Err: ErrShort, Field: "header", Offset: len(b), Msg: fmt.Sprintf("%d bytes, need %d", len(b), BasicHeaderSize)}
	}
	h := Header{Code: Code(b[0]), Source: Direction(b[1]), Flag: b[2], Dest: Direction(b[3]), Length: int(messageLength(b))}
	k := Lookup(h.Code, h.Source, h.Dest)
	if h.Length != len(b) {
		return Message{}, &DecodeError{Err: ErrLength, Kind: k, Field: "message_length", Offset: 4, Msg: fmt.Sprintf("%d, but the message has %d bytes", h.Length, len(b))}
	}
	if k.Versioned() {
		if len(b) < VersionedHeaderSize {
			return Message{}, &DecodeError{Err: ErrShort, Kind: k, Field: "header", Offset: len(b), Msg: fmt.Sprintf("%d bytes, the versioned header needs %d", len(b), VersionedHeaderSize)}
		}
		h.Version, h.Sequence = le16(b[8:]), le16(b[10:])
		if h.Version != Version {
			return Message{}, &DecodeError{Err: ErrVersion, Kind: k, Field: "version", Offset: 8, Msg: fmt.Sprintf("%d, want %d", h.Version, Version)}
		}
	}
	p := b[k.HeaderSize():]
	if len(p) < kinds[k].fixed {
		return Message{}, &DecodeError{Err: ErrShort, Kind: k, Field: "payload", Offset: len(b), Msg: fmt.Sprintf("%d bytes, the layout needs %d", len(p), kinds[k].fixed)}
	}
	m := Message{Kind: k, Header: h}
	switch k {
	case KindHello, KindDiscovery:
		m.Hello.decode(p, k == KindHello)
	case KindStatusChange:
		m.Status.decode(p)
	case KindCommandResponse:
		r := &m.Response
		r.Unknown1, r.Seq1, r.Unknown2 = le16(p), le32(p[2:]), le16(p[6:])
		r.Seq2, r.CommandCode, r.SubcommandCode = le32(p[8:]), le16(p[12:]), le16(p[14:])
	case KindCommand:
		c := &m.Command
		c.Unknown1, c.CommandCode, c.SubcommandCode, c.Unknown2 = le16(p), le16(p[2:]), le16(p[4:]), le32(p[6:])
	case KindHelloAck, KindHelloResponse:
		m.Value = p[0]
	case KindHelloInfo:
		m.Port = le32(p)
	case KindDiscoveryResponse:
		d := &m.Discovery
		d.ServerIP = cutNUL(p[:serverIPSize])
		d.Unknown1, d.Unknown2, d.ServerPort, d.Timestamp = le32(p[16:]), le32(p[20:]), le32(p[24:]), le32(p[28:])
	}
	if rest := p[kinds[k].fixed:]; len(rest) > 0 {
		m.Body = rest
	}
	return m, nil
}

// decode reads `<15sx4i3sx6i` (M2) or `<15sx4i3sx3i` (M3).
func (h *Hello) decode(p []byte, hello bool) {
	h.GUID = trimNUL(p[:guidSize])
	h.Unknown1, h.Unknown2, h.Unknown3, h.Unknown4 = le32(p[16:]), le32(p[20:]), le32(p[24:]), le32(p[28:])
	h.FirmwareVersion = trimNUL(p[32 : 32+fwSize])
	h.Unknown5, h.Unknown6, h.Unknown7 = le32(p[36:]), le32(p[40:]), le32(p[44:])
	if hello {
		h.Unknown8, h.Unknown9, h.Unknown10 = le32(p[48:]), le32(p[52:]), le32(p[56:])
	}
}

// decode reads `<2B34xi68x` for StatusState, `<4B32si68x` otherwise.
func (s *StatusChange) decode(p []byte) {
	s.Type = StatusType(p[0])
	if s.Type == StatusState {
		s.StateChange = p[1]
	} else {
		s.Index, s.Source, s.State = p[1], p[2], p[3]
		s.Name = cutNUL(p[4 : 4+nameSize])
	}
	s.UnixTime = le32(p[36:])
}

// Append appends the wire form of m to dst: the header of m.Kind with
// m.Header's fields and the real message_length, the kind's fixed fields,
// then m.Body. Strings longer than their fixed field are truncated; pad
// and ignored bytes are 00. Decode(m.Append(nil)) gives m back for every
// message Decode returns.
func (m *Message) Append(dst []byte) []byte {
	k := m.Kind
	if int(k) >= len(kinds) {
		k = KindUnknown
	}
	start := len(dst)
	dst = appendHeader(dst, k, &m.Header, 0)
	switch k {
	case KindHello, KindDiscovery:
		h := &m.Hello
		dst = append(appendString(dst, h.GUID, guidSize), 0)
		dst = appendInts(dst, h.Unknown1, h.Unknown2, h.Unknown3, h.Unknown4)
		dst = append(appendString(dst, h.FirmwareVersion, fwSize), 0)
		dst = appendInts(dst, h.Unknown5, h.Unknown6, h.Unknown7)
		if k == KindHello {
			dst = appendInts(dst, h.Unknown8, h.Unknown9, h.Unknown10)
		}
	case KindStatusChange:
		s := &m.Status
		if s.Type == StatusState {
			dst = append(dst, byte(s.Type), s.StateChange)
			dst = append(dst, make([]byte, 34)...)
		} else {
			dst = append(dst, byte(s.Type), s.Index, s.Source, s.State)
			dst = appendString(dst, s.Name, nameSize)
		}
		dst = appendInts(dst, s.UnixTime)
		dst = append(dst, make([]byte, 68)...)
	case KindCommandResponse:
		r := &m.Response
		dst = binary.LittleEndian.AppendUint16(dst, r.Unknown1)
		dst = appendInts(dst, r.Seq1)
		dst = binary.LittleEndian.AppendUint16(dst, r.Unknown2)
		dst = appendInts(dst, r.Seq2)
		dst = binary.LittleEndian.AppendUint16(dst, r.CommandCode)
		dst = binary.LittleEndian.AppendUint16(dst, r.SubcommandCode)
	case KindCommand:
		c := &m.Command
		dst = binary.LittleEndian.AppendUint16(dst, c.Unknown1)
		dst = binary.LittleEndian.AppendUint16(dst, c.CommandCode)
		dst = binary.LittleEndian.AppendUint16(dst, c.SubcommandCode)
		dst = appendInts(dst, c.Unknown2)
	case KindHelloAck, KindHelloResponse:
		dst = append(dst, m.Value)
	case KindHelloInfo:
		dst = appendInts(dst, m.Port)
	case KindDiscoveryResponse:
		d := &m.Discovery
		dst = appendString(dst, d.ServerIP, serverIPSize)
		dst = appendInts(dst, d.Unknown1, d.Unknown2, d.ServerPort, d.Timestamp)
	}
	dst = append(dst, m.Body...)
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(int32(len(dst)-start)))
	return dst
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) int32  { return int32(binary.LittleEndian.Uint32(b)) }

func appendInts(dst []byte, vs ...int32) []byte {
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
	}
	return dst
}

// appendString appends s in a NUL-padded field of n bytes, truncating it.
func appendString(dst []byte, s string, n int) []byte {
	if len(s) > n {
		s = s[:n]
	}
	dst = append(dst, s...)
	for range n - len(s) {
		dst = append(dst, 0)
	}
	return dst
}

// trimNUL returns b without its trailing NULs.
func trimNUL(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }

// cutNUL returns b up to its first NUL.
func cutNUL(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
