package cloudproto

import (
	"encoding/binary"
	"fmt"
)

// Code is the command byte of a header (spec: D.3).
type Code uint8

// Command codes (spec: D.3).
const (
	CodeHello        Code = 0x01 // also ping, discovery and command responses
	CodeStatusChange Code = 0x21
	CodeNotification Code = 0x22
	CodeCommand      Code = 0x29 // cloud → panel
	CodeHelloAck     Code = 0x41
	CodeHelloInfo    Code = 0x63
)

// Direction is the source or destination byte of a header (spec: D.3).
type Direction uint8

// Direction codes (spec: D.3).
const (
	DirUnspecified     Direction = 0x00
	DirDevice          Direction = 0x10 // the panel
	DirCloud           Direction = 0x20 // the cloud server
	DirDeviceDiscovery Direction = 0x30 // the panel, discovery phase
	DirCloudCommand    Direction = 0x50 // source of cloud → panel commands; unnamed in the spec
	DirCloudDiscovery  Direction = 0xD0 // the cloud, discovery phase
)

// Header sizes (spec: D.2).
const (
	BasicHeaderSize     = 8
	VersionedHeaderSize = 12
)

// Version is the only version of the versioned header (spec: D.2).
const Version = 1

// MaxMessageSize is the largest message_length the Framer accepts. The
// spec suggests 64 KiB (spec: D.6.2); the panel's largest messages are a
// few hundred bytes.
const MaxMessageSize = 64 << 10

// Header is the basic header (8 bytes, `<4Bi`) and, for the kinds that
// use it, the versioned header (12 bytes, `<4BiHH`) (spec: D.2).
type Header struct {
	Code   Code
	Source Direction
	Flag   uint8 // always 00 observed and sent; kept as received
	Dest   Direction
	// Length is message_length, the total size including the header.
	// Decode sets it; Message.Append ignores it and writes the real size.
	Length int
	// Version and Sequence are zero for kinds with a basic header.
	Version  uint16
	Sequence uint16 // 0 for a single message; 1, 2, 3 in a multi-message reply
}

// Kind is a message kind of the catalogue (spec: D.4). Status changes
// M4a, M4b and M4c are one kind told apart by StatusChange.Type.
type Kind uint8

// Message kinds (spec: D.4).
const (
	KindUnknown Kind = iota
	// KindPing is M1, and also M7: the ping reply is byte for byte the
	// ping (spec: D.5.10).
	KindPing
	KindHello             // M2
	KindDiscovery         // M3
	KindStatusChange      // M4a, M4b, M4c
	KindNotification      // M5
	KindCommandResponse   // M6
	KindHelloAck          // M8
	KindHelloResponse     // M9
	KindHelloInfo         // M10
	KindDiscoveryResponse // M11
	KindCommand           // M12
)

// kindInfo is one row of the catalogue (spec: D.4): the key that
// identifies the kind, its header form and the size of its fixed fields.
type kindInfo struct {
	name      string
	code      Code
	src, dst  Direction
	versioned bool
	fixed     int // payload bytes of the fixed layout
	// exact is set for the kinds whose every message has just the fixed
	// layout (spec: D.4, column Total); the others end with a body of
	// JSON text and one NUL (spec: D.5.7-D.5.9).
	exact bool
}

var kinds = [...]kindInfo{
	KindUnknown:           {name: "unknown"},
	KindPing:              {"M1 ping", CodeHello, DirDevice, DirUnspecified, false, 0, true},
	KindHello:             {"M2 hello", CodeHello, DirDevice, DirCloud, true, helloSize, true},
	KindDiscovery:         {"M3 hello discovery", CodeHello, DirDeviceDiscovery, DirCloud, true, discoverySize, true},
	KindStatusChange:      {"M4 status change", CodeStatusChange, DirDevice, DirCloud, true, statusSize, true},
	KindNotification:      {"M5 notification", CodeNotification, DirDevice, DirCloud, true, 0, false},
	KindCommandResponse:   {"M6 command response", CodeHello, DirUnspecified, DirCloud, false, responseSize, false},
	KindHelloAck:          {"M8 hello ack", CodeHelloAck, DirCloud, DirDevice, true, 1, true},
	KindHelloResponse:     {"M9 hello response", CodeHello, DirCloud, DirDevice, true, 1, true},
	KindHelloInfo:         {"M10 hello info", CodeHelloInfo, DirCloud, DirDevice, true, 4, true},
	KindDiscoveryResponse: {"M11 discovery response", CodeHello, DirCloudDiscovery, DirDevice, true, discoveryReplySize, true},
	KindCommand:           {"M12 command", CodeCommand, DirCloudCommand, DirDevice, true, commandSize, false},
}

// String returns the kind's number and name in the spec, e.g. "M2 hello".
func (k Kind) String() string {
	if int(k) < len(kinds) {
		return kinds[k].name
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Versioned reports whether messages of kind k have the 12-byte versioned
// header (spec: D.4). Unknown messages are read with the basic header.
func (k Kind) Versioned() bool { return int(k) < len(kinds) && kinds[k].versioned }

// HeaderSize is the size of k's header.
func (k Kind) HeaderSize() int {
	if k.Versioned() {
		return VersionedHeaderSize
	}
	return BasicHeaderSize
}

// MinSize is the smallest message_length of a well-formed message of
// kind k: its header and fixed fields (spec: D.5).
func (k Kind) MinSize() int {
	if int(k) >= len(kinds) {
		return BasicHeaderSize
	}
	return k.HeaderSize() + kinds[k].fixed
}

// Lookup returns the kind identified by a header's command, source and
// destination (spec: D.4), or KindUnknown. The flag is not part of the
// key.
func Lookup(code Code, src, dst Direction) Kind {
	for k := KindPing; int(k) < len(kinds); k++ {
		if i := &kinds[k]; i.code == code && i.src == src && i.dst == dst {
			return k
		}
	}
	return KindUnknown
}

// Header returns the header every message of kind k is sent with: its
// command, source and destination, and version 1 when versioned (spec:
// D.4). Sequence is 0, as in a single message.
func (k Kind) Header() Header {
	i := &kinds[k]
	h := Header{Code: i.code, Source: i.src, Dest: i.dst}
	if i.versioned {
		h.Version = Version
	}
	return h
}

// appendHeader appends h in k's form with message_length = length.
func appendHeader(dst []byte, k Kind, h *Header, length int) []byte {
	dst = append(dst, byte(h.Code), byte(h.Source), h.Flag, byte(h.Dest))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(length)))
	if k.Versioned() {
		dst = binary.LittleEndian.AppendUint16(dst, h.Version)
		dst = binary.LittleEndian.AppendUint16(dst, h.Sequence)
	}
	return dst
}

// messageLength reads message_length from the first 8 bytes of b.
func messageLength(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b[4:8])) }
