package cloudproto

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/g90alarm/g90/notify"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeErrors covers what the vectors leave out: where each error
// points (spec: D.12).
func TestDecodeErrors(t *testing.T) {
	replies := HelloReplies(5678)
	hello := replies[0].Append(nil)                       // 13 bytes, versioned
	short := append(replies[2].Append(nil)[:12:12], 0x2e) // M10 with 1 of its 4 bytes
	short[4] = 13
	tests := []struct {
		name   string
		b      []byte
		err    error
		kind   Kind
		field  string
		offset int
	}{
		{"empty", nil, ErrShort, KindUnknown, "header", 0},
		{"7 bytes", pingBytes[:7], ErrShort, KindUnknown, "header", 7},
		{"length too big", append(pingBytes[:8:8], 0), ErrLength, KindPing, "message_length", 4},
		{"versioned kind with a basic header", []byte{0x41, 0x20, 0x00, 0x10, 0x08, 0, 0, 0}, ErrShort, KindHelloAck, "header", 8},
		{"version 2", func() []byte { b := append([]byte(nil), hello...); b[8] = 2; return b }(), ErrVersion, KindHelloAck, "version", 8},
		{"payload short", short, ErrShort, KindHelloInfo, "payload", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.b)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tt.err) {
				t.Fatalf("Decode = %+v, %v; want a *DecodeError wrapping %v", m, err, tt.err)
			}
			if de.Kind != tt.kind || de.Field != tt.field || de.Offset != tt.offset {
				t.Errorf("error %v: kind %v field %q offset %d, want %v %q %d", err, de.Kind, de.Field, de.Offset, tt.kind, tt.field, tt.offset)
			}
		})
	}
}

// TestRoundTripEveryKind encodes one message of every kind with every
// field set and decodes it back.
func TestRoundTripEveryKind(t *testing.T) {
	hello := Hello{GUID: "GA00000A0000000", Unknown1: 1, Unknown2: 2, Unknown3: 3, Unknown4: 4, FirmwareVersion: "207",
		Unknown5: 5, Unknown6: 6, Unknown7: 7, Unknown8: 8, Unknown9: 9, Unknown10: 10}
	disc := hello
	disc.Unknown8, disc.Unknown9, disc.Unknown10 = 0, 0, 0
	msgs := []Message{
		{Kind: KindPing},
		{Kind: KindHello, Hello: hello},
		{Kind: KindDiscovery, Hello: disc},
		{Kind: KindStatusChange, Status: StatusChange{Type: StatusState, StateChange: 4, UnixTime: -5}},
		{Kind: KindStatusChange, Status: StatusChange{Type: StatusSensor, Index: 7, Source: 10, State: 3, Name: "Küche\xff", UnixTime: 1 << 30}},
		{Kind: KindStatusChange, Status: StatusChange{Type: 1, Index: 1, Name: "Host"}},
		{Kind: KindNotification, Body: []byte("[170,[1,[3]]]\x00")},
		{Kind: KindCommandResponse, Response: CommandResponse{1, 6, 0, 6, 106, 106}, Body: []byte("[]\x00")},
		{Kind: KindHelloAck, Value: 1},
		{Kind: KindHelloResponse, Value: 0x1f},
		{Kind: KindHelloInfo, Port: 5678},
		{Kind: KindDiscoveryResponse, Discovery: DiscoveryResponse{ServerIP: "255.255.255.255", Unknown1: 1, Unknown2: 2, ServerPort: 5678, Timestamp: 1735689600}},
		{Kind: KindCommand, Command: Command{2, 100, 100, 5}, Body: []byte{0}},
		{Kind: KindUnknown, Header: Header{Code: 0x99, Source: DirDevice}, Body: []byte{1, 0, 0, 0}},
		{Kind: KindPing, Body: []byte{9}}, // extra bytes after a fixed layout
	}
	for _, m := range msgs {
		if m.Kind != KindUnknown {
			m.Header = m.Kind.Header()
			m.Header.Sequence = 3 * uint16(m.Kind.HeaderSize()/12)
		}
		b := m.Append(nil)
		m.Header.Length = len(b)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%v: Decode(% x): %v", m.Kind, b, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("%v: round trip (-sent +decoded):\n%s", m.Kind, diff)
		}
		if len(b) < m.Kind.MinSize() {
			t.Errorf("%v: %d bytes, MinSize %d", m.Kind, len(b), m.Kind.MinSize())
		}
	}
}

// TestNotify covers the conversions the vectors leave out (spec: D.10).
func TestNotify(t *testing.T) {
	const guid = "GA00000A0000000"
	sensor := Message{Kind: KindStatusChange, Status: StatusChange{Type: StatusSensor, Index: 3, Source: 10, State: 0, Name: "Fob\xff", UnixTime: 100}}
	nm, ok, err := sensor.Notify(guid)
	if !ok || err != nil {
		t.Fatalf("Notify = %v, %v", ok, err)
	}
	want := notify.Alert{Type: 4, EventID: 3, Source: 10, State: 0, Name: "Fob\uFFFD", GUID: guid, UnixTime: 100}
	if diff := cmp.Diff(want, nm.Alert); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	evs, err := nm.Events(nil)
	if err != nil || len(evs) != 2 || evs[0].Button != notify.ButtonAway {
		t.Errorf("Events = %+v, %v", evs, err)
	}

	// Type 1 (host SOS) is skipped silently (spec: D.4).
	sos := Message{Kind: KindStatusChange, Status: StatusChange{Type: 1}}
	if _, ok, err := sos.Notify(guid); ok || err != nil {
		t.Errorf("type 1: Notify = %v, %v; want skipped", ok, err)
	}
	// A wrapped alert from another panel is dropped (spec: D.10.4).
	wrapped := Message{Kind: KindNotification, Body: []byte(`[208,[2,4,0,0,"","OTHER",1630876128,0,[""]]]` + "\x00")}
	if _, ok, err := wrapped.Notify(guid); ok || !errors.Is(err, notify.ErrWrongDevice) {
		t.Errorf("wrong GUID: Notify = %v, %v", ok, err)
	}
	if _, ok, err := wrapped.Notify(""); !ok || err != nil {
		t.Errorf("no stored GUID: Notify = %v, %v", ok, err)
	}
	ping := PingReply()
	if _, ok, err := ping.Notify(guid); ok || err != nil {
		t.Errorf("ping: Notify = %v, %v", ok, err)
	}
	if g := (&Message{Kind: KindHello, Hello: Hello{GUID: " \t"}}).GUID(); g != "" {
		t.Errorf("blank GUID = %q, want it ignored", g)
	}
}

// TestDiscoveryResponse: the advertised address in its 16-byte field
// (spec: D.5.10).
func TestDiscoveryResponse(t *testing.T) {
	m := DiscoveryReply(netip.MustParseAddrPort("[::ffff:192.168.1.10]:5679"), time.Unix(1735689600, 0))
	if m.Discovery.ServerIP != "192.168.1.10" || m.Discovery.ServerPort != 5679 || m.Discovery.Timestamp != 0x67748580 {
		t.Errorf("DiscoveryResponse = %+v", m.Discovery)
	}
}
