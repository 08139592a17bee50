package cloudproto_test

import (
	"errors"
	"github.com/g90alarm/g90/cloudproto"
	"net/netip"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeErrors covers what the vectors leave out: where each error
// points (spec: D.12).
func TestDecodeErrors(t *testing.T) {
	replies := cloudproto.HelloReplies(5678)
	hello := replies[0].Append(nil)                       // 13 bytes, versioned
	short := append(replies[2].Append(nil)[:12:12], 0x2e) // M10 with 1 of its 4 bytes
	short[4] = 13
	tests := []struct {
		name   string
		b      []byte
		err    error
		kind   cloudproto.Kind
		field  string
		offset int
	}{
		{"empty", nil, cloudproto.ErrShort, cloudproto.KindUnknown, "header", 0},
		{"7 bytes", cloudproto.PingBytes[:7], cloudproto.ErrShort, cloudproto.KindUnknown, "header", 7},
		{"length too big", append(cloudproto.PingBytes[:8:8], 0), cloudproto.ErrLength, cloudproto.KindPing, "message_length", 4},
		{"versioned kind with a basic header", []byte{0x41, 0x20, 0x00, 0x10, 0x08, 0, 0, 0}, cloudproto.ErrShort, cloudproto.KindHelloAck, "header", 8},
		{"version 2", func() []byte { b := append([]byte(nil), hello...); b[8] = 2; return b }(), cloudproto.ErrVersion, cloudproto.KindHelloAck, "version", 8},
		{"payload short", short, cloudproto.ErrShort, cloudproto.KindHelloInfo, "payload", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := cloudproto.Decode(tt.b)
			var de *cloudproto.DecodeError
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
	hello := cloudproto.Hello{GUID: "GA00000A0000000", Unknown1: 1, Unknown2: 2, Unknown3: 3, Unknown4: 4, FirmwareVersion: "207",
		Unknown5: 5, Unknown6: 6, Unknown7: 7, Unknown8: 8, Unknown9: 9, Unknown10: 10}
	disc := hello
	disc.Unknown8, disc.Unknown9, disc.Unknown10 = 0, 0, 0
	msgs := []cloudproto.Message{
		{Kind: cloudproto.KindPing},
		{Kind: cloudproto.KindHello, Hello: hello},
		{Kind: cloudproto.KindDiscovery, Hello: disc},
		{Kind: cloudproto.KindStatusChange, Status: cloudproto.StatusChange{Type: cloudproto.StatusState, StateChange: 4, UnixTime: -5}},
		{Kind: cloudproto.KindStatusChange, Status: cloudproto.StatusChange{Type: cloudproto.StatusSensor, Index: 7, Source: 10, State: 3, Name: "Küche\xff", UnixTime: 1 << 30}},
		{Kind: cloudproto.KindStatusChange, Status: cloudproto.StatusChange{Type: 1, Index: 1, Name: "Host"}},
		{Kind: cloudproto.KindNotification, Body: []byte("[170,[1,[3]]]\x00")},
		{Kind: cloudproto.KindCommandResponse, Response: cloudproto.CommandResponse{1, 6, 0, 6, 106, 106}, Body: []byte("[]\x00")},
		{Kind: cloudproto.KindHelloAck, Value: 1},
		{Kind: cloudproto.KindHelloResponse, Value: 0x1f},
		{Kind: cloudproto.KindHelloInfo, Port: 5678},
		{Kind: cloudproto.KindDiscoveryResponse, Discovery: cloudproto.DiscoveryResponse{ServerIP: "255.255.255.255", Unknown1: 1, Unknown2: 2, ServerPort: 5678, Timestamp: 1735689600}},
		{Kind: cloudproto.KindCommand, Command: cloudproto.Command{2, 100, 100, 5}, Body: []byte{0}},
		{Kind: cloudproto.KindUnknown, Header: cloudproto.Header{Code: 0x99, Source: cloudproto.DirDevice}, Body: []byte{1, 0, 0, 0}},
		{Kind: cloudproto.KindPing, Body: []byte{9}}, // extra bytes after a fixed layout
	}
	for _, m := range msgs {
		if m.Kind != cloudproto.KindUnknown {
			m.Header = m.Kind.Header()
			m.Header.Sequence = 3 * uint16(m.Kind.HeaderSize()/12)
		}
		b := m.Append(nil)
		m.Header.Length = len(b)
		got, err := cloudproto.Decode(b)
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
	sensor := cloudproto.Message{Kind: cloudproto.KindStatusChange, Status: cloudproto.StatusChange{Type: cloudproto.StatusSensor, Index: 3, Source: 10, State: 0, Name: "Fob\xff", UnixTime: 100}}
	nm, ok, err := notify.FromCloud(&sensor, guid)
	if !ok || err != nil {
		t.Fatalf("Notify = %v, %v", ok, err)
	}
	want := notify.Alert{Type: 4, EventID: 3, Source: 10, State: 0, Name: "Fob\uFFFD", GUID: guid, UnixTime: 100}
	if diff := cmp.Diff(want, nm.Alert); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	evs, err := nm.Events(nil)
	if err != nil || len(evs) != 2 || evs[0].Button != event.ButtonAway {
		t.Errorf("Events = %+v, %v", evs, err)
	}

	// Type 1 (host SOS) is skipped silently (spec: D.4).
	sos := cloudproto.Message{Kind: cloudproto.KindStatusChange, Status: cloudproto.StatusChange{Type: 1}}
	if _, ok, err := notify.FromCloud(&sos, guid); ok || err != nil {
		t.Errorf("type 1: Notify = %v, %v; want skipped", ok, err)
	}
	// A wrapped alert from another panel is dropped (spec: D.10.4).
	wrapped := cloudproto.Message{Kind: cloudproto.KindNotification, Body: []byte(`[208,[2,4,0,0,"","OTHER",1630876128,0,[""]]]` + "\x00")}
	if _, ok, err := notify.FromCloud(&wrapped, guid); ok || !errors.Is(err, notify.ErrWrongDevice) {
		t.Errorf("wrong GUID: Notify = %v, %v", ok, err)
	}
	if _, ok, err := notify.FromCloud(&wrapped, ""); !ok || err != nil {
		t.Errorf("no stored GUID: Notify = %v, %v", ok, err)
	}
	ping := cloudproto.PingReply()
	if _, ok, err := notify.FromCloud(&ping, guid); ok || err != nil {
		t.Errorf("ping: Notify = %v, %v", ok, err)
	}
	if g := (&cloudproto.Message{Kind: cloudproto.KindHello, Hello: cloudproto.Hello{GUID: " \t"}}).GUID(); g != "" {
		t.Errorf("blank GUID = %q, want it ignored", g)
	}
}

// TestDiscoveryResponse: the advertised address in its 16-byte field
// (spec: D.5.10).
func TestDiscoveryResponse(t *testing.T) {
	m := cloudproto.DiscoveryReply(netip.MustParseAddrPort("[::ffff:192.168.1.10]:5679"), time.Unix(1735689600, 0))
	if m.Discovery.ServerIP != "192.168.1.10" || m.Discovery.ServerPort != 5679 || m.Discovery.Timestamp != 0x67748580 {
		t.Errorf("DiscoveryResponse = %+v", m.Discovery)
	}
}
