package mqtt311

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pk builds a packet's bytes: ints are bytes, strings their bytes.
func pk(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		default:
			panic(fmt.Sprintf("pk: %T", p))
		}
	}
	return b
}

// golden is one row of the packet table: bytes and what they decode to,
// or why they do not; or a packet and why it does not encode.
type golden struct {
	name string
	raw  []byte
	p    Packet
	// err is ErrMalformed or ErrUnsupported for bytes that do not
	// decode (field names the failing field), ErrEncode for a packet
	// that does not encode.
	err   error
	field string
	// decodeOnly: the bytes decode to p, but p encodes otherwise (the
	// encoder writes one canonical form).
	decodeOnly bool
}

var payload200 = bytes.Repeat([]byte{'x'}, 200)

// packets is the golden table (MQTT 3.1.1, the section of each rule in
// the codec's comments).
var packets = []golden{
	// CONNECT
	{name: "connect minimal", raw: pk(0x10, 15, 0, 4, "MQTT", 4, 0x02, 0, 20, 0, 3, "g90"),
		p: &Connect{ClientID: "g90", CleanSession: true, KeepAlive: 20}},
	{name: "connect bridge: will, user name, password, kept session",
		raw: pk(0x10, 56, 0, 4, "MQTT", 4, 0xEC, 0, 20, 0, 10, "g90-bridge", 0, 17, "g90/bridge/status", 0, 7, "offline", 0, 1, "u", 0, 1, "p"),
		p: &Connect{ClientID: "g90-bridge", KeepAlive: 20, Username: "u", Password: []byte("p"),
			Will: &Will{Topic: "g90/bridge/status", Payload: []byte("offline"), QoS: 1, Retain: true}}},
	{name: "connect user name only", raw: pk(0x10, 17, 0, 4, "MQTT", 4, 0x82, 0, 0, 0, 1, "c", 0, 2, "me"),
		p: &Connect{ClientID: "c", CleanSession: true, Username: "me"}},
	{name: "connect empty client id, will QoS 2", raw: pk(0x10, 20, 0, 4, "MQTT", 4, 0x16, 0x01, 0x2C, 0, 0, 0, 1, "w", 0, 3, "bye"),
		p: &Connect{CleanSession: true, KeepAlive: 300, Will: &Will{Topic: "w", Payload: []byte("bye"), QoS: 2}}},
	{name: "connect empty password sent", raw: pk(0x10, 18, 0, 4, "MQTT", 4, 0xC2, 0, 0, 0, 1, "c", 0, 1, "u", 0, 0),
		p: &Connect{ClientID: "c", CleanSession: true, Username: "u"}, decodeOnly: true},

	// CONNACK
	{name: "connack accepted", raw: pk(0x20, 2, 0, 0), p: &Connack{}},
	{name: "connack session present", raw: pk(0x20, 2, 1, 0), p: &Connack{SessionPresent: true}},
	{name: "connack unacceptable protocol version", raw: pk(0x20, 2, 0, 1), p: &Connack{ReturnCode: 1}},
	{name: "connack not authorized", raw: pk(0x20, 2, 0, 5), p: &Connack{ReturnCode: 5}},

	// PUBLISH
	{name: "publish QoS 0", raw: pk(0x30, 7, 0, 3, "a/b", "hi"), p: &Publish{Topic: "a/b", Payload: []byte("hi")}},
	{name: "publish QoS 1 retained", raw: pk(0x33, 27, 0, 17, "g90/bridge/status", 0, 1, "online"),
		p: &Publish{Topic: "g90/bridge/status", Payload: []byte("online"), QoS: 1, Retain: true, PacketID: 1}},
	{name: "publish QoS 2 duplicate", raw: pk(0x3C, 8, 0, 1, "t", 0x12, 0x34, "abc"),
		p: &Publish{Topic: "t", Payload: []byte("abc"), QoS: 2, Dup: true, PacketID: 0x1234}},
	{name: "publish empty retained (deletes)", raw: pk(0x31, 5, 0, 3, "a/b"), p: &Publish{Topic: "a/b", Retain: true}},
	{name: "publish two-byte remaining length", raw: pk(0x30, 0xCB, 0x01, 0, 1, "t", payload200),
		p: &Publish{Topic: "t", Payload: payload200}},
	{name: "publish UTF-8 topic", raw: pk(0x30, 9, 0, 6, "g90/é", "!"), p: &Publish{Topic: "g90/é", Payload: []byte("!")}},
	{name: "publish non-minimal remaining length", raw: pk(0x30, 0x87, 0x00, 0, 3, "a/b", "hi"),
		p: &Publish{Topic: "a/b", Payload: []byte("hi")}, decodeOnly: true},

	// Acknowledgements
	{name: "puback", raw: pk(0x40, 2, 0, 1), p: &Puback{1}},
	{name: "pubrec", raw: pk(0x50, 2, 0x12, 0x34), p: &Pubrec{0x1234}},
	{name: "pubrel", raw: pk(0x62, 2, 0xFF, 0xFF), p: &Pubrel{0xFFFF}},
	{name: "pubcomp", raw: pk(0x70, 2, 0x12, 0x34), p: &Pubcomp{0x1234}},

	// SUBSCRIBE, SUBACK
	{name: "subscribe two filters", raw: pk(0x82, 35, 0, 7, 0, 20, "homeassistant/status", 1, 0, 7, "g90/+/#", 0),
		p: &Subscribe{PacketID: 7, Subscriptions: []Subscription{{"homeassistant/status", 1}, {"g90/+/#", 0}}}},
	{name: "suback granted and refused", raw: pk(0x90, 5, 0, 7, 1, 0, 0x80), p: &Suback{PacketID: 7, ReturnCodes: []byte{1, 0, 0x80}}},

	// No payload
	{name: "pingreq", raw: pk(0xC0, 0), p: &Pingreq{}},
	{name: "pingresp", raw: pk(0xD0, 0), p: &Pingresp{}},
	{name: "disconnect", raw: pk(0xE0, 0), p: &Disconnect{}},

	// Malformed or unsupported bytes
	{name: "empty", raw: pk(), err: ErrMalformed, field: "fixed header"},
	{name: "header cut", raw: pk(0x30, 0x80), err: ErrMalformed, field: "fixed header"},
	{name: "remaining length of 5 bytes", raw: pk(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), err: ErrMalformed, field: "remaining length"},
	{name: "remaining length too long", raw: pk(0x40, 3, 0, 1), err: ErrMalformed, field: "remaining length"},
	{name: "remaining length too short", raw: pk(0x40, 1, 0, 1), err: ErrMalformed, field: "remaining length"},
	{name: "reserved type 0", raw: pk(0x00, 0), err: ErrMalformed, field: "type"},
	{name: "reserved type 15", raw: pk(0xF0, 0), err: ErrMalformed, field: "type"},
	{name: "unsuback", raw: pk(0xB0, 2, 0, 1), err: ErrUnsupported, field: "type"},
	{name: "unsubscribe", raw: pk(0xA2, 5, 0, 1, 0, 1, "a"), err: ErrUnsupported, field: "type"},
	{name: "connect MQTT 5", raw: pk(0x10, 16, 0, 4, "MQTT", 5, 0x02, 0, 20, 0, 0, 3, "g90"), err: ErrUnsupported, field: "protocol"},
	{name: "connect MQTT 3.1", raw: pk(0x10, 15, 0, 6, "MQIsdp", 3, 0x02, 0, 20, 0, 1, "c"), err: ErrUnsupported, field: "protocol"},
	{name: "connect reserved flag", raw: pk(0x10, 13, 0, 4, "MQTT", 4, 0x03, 0, 0, 0, 1, "c"), err: ErrMalformed, field: "connect flags"},
	{name: "connect password without user name", raw: pk(0x10, 16, 0, 4, "MQTT", 4, 0x42, 0, 0, 0, 1, "c", 0, 1, "p"), err: ErrMalformed, field: "connect flags"},
	{name: "connect will QoS 3", raw: pk(0x10, 18, 0, 4, "MQTT", 4, 0x1E, 0, 0, 0, 1, "c", 0, 1, "w", 0, 0), err: ErrMalformed, field: "connect flags"},
	{name: "connect will retain without will", raw: pk(0x10, 13, 0, 4, "MQTT", 4, 0x22, 0, 0, 0, 1, "c"), err: ErrMalformed, field: "connect flags"},
	{name: "connect will topic wildcard", raw: pk(0x10, 18, 0, 4, "MQTT", 4, 0x06, 0, 0, 0, 1, "c", 0, 1, "#", 0, 0), err: ErrMalformed, field: "will topic"},
	{name: "connect cut in client id", raw: pk(0x10, 13, 0, 4, "MQTT", 4, 0x02, 0, 0, 0, 5, "c"), err: ErrMalformed, field: "client id"},
	{name: "connect bytes after", raw: pk(0x10, 14, 0, 4, "MQTT", 4, 0x02, 0, 0, 0, 1, "c", 0), err: ErrMalformed, field: "end"},
	{name: "connect wrong flags", raw: pk(0x11, 13, 0, 4, "MQTT", 4, 0x02, 0, 0, 0, 1, "c"), err: ErrMalformed, field: "flags"},
	{name: "connack reserved flags", raw: pk(0x20, 2, 2, 0), err: ErrMalformed, field: "acknowledge flags"},
	{name: "connack short", raw: pk(0x20, 1, 0), err: ErrMalformed, field: "return code"},
	{name: "connack long", raw: pk(0x20, 3, 0, 0, 0), err: ErrMalformed, field: "end"},
	{name: "publish QoS 3", raw: pk(0x36, 5, 0, 1, "t", 0, 1), err: ErrMalformed, field: "flags"},
	{name: "publish DUP with QoS 0", raw: pk(0x38, 3, 0, 1, "t"), err: ErrMalformed, field: "flags"},
	{name: "publish topic wildcard", raw: pk(0x30, 5, 0, 3, "a/#"), err: ErrMalformed, field: "topic"},
	{name: "publish topic plus", raw: pk(0x30, 5, 0, 3, "a/+"), err: ErrMalformed, field: "topic"},
	{name: "publish empty topic", raw: pk(0x30, 2, 0, 0), err: ErrMalformed, field: "topic"},
	{name: "publish topic not UTF-8", raw: pk(0x30, 4, 0, 2, 0xFF, 0xFE), err: ErrMalformed, field: "topic"},
	{name: "publish topic with NUL", raw: pk(0x30, 4, 0, 2, "a", 0), err: ErrMalformed, field: "topic"},
	{name: "publish topic beyond the packet", raw: pk(0x30, 3, 0, 5, "a"), err: ErrMalformed, field: "topic"},
	{name: "publish topic length cut", raw: pk(0x30, 1, 0), err: ErrMalformed, field: "topic length"},
	{name: "publish QoS 1 without packet id", raw: pk(0x32, 5, 0, 3, "a/b"), err: ErrMalformed, field: "packet id"},
	{name: "publish QoS 1 packet id 0", raw: pk(0x32, 7, 0, 3, "a/b", 0, 0), err: ErrMalformed, field: "packet id"},
	{name: "puback packet id 0", raw: pk(0x40, 2, 0, 0), err: ErrMalformed, field: "packet id"},
	{name: "puback wrong flags", raw: pk(0x42, 2, 0, 1), err: ErrMalformed, field: "flags"},
	{name: "puback long", raw: pk(0x40, 3, 0, 1, 0), err: ErrMalformed, field: "end"},
	{name: "pubrel without its flags", raw: pk(0x60, 2, 0, 1), err: ErrMalformed, field: "flags"},
	{name: "subscribe without its flags", raw: pk(0x80, 6, 0, 1, 0, 1, "a", 1), err: ErrMalformed, field: "flags"},
	{name: "subscribe no filters", raw: pk(0x82, 2, 0, 1), err: ErrMalformed, field: "subscriptions"},
	{name: "subscribe QoS 3", raw: pk(0x82, 6, 0, 1, 0, 1, "a", 3), err: ErrMalformed, field: "subscription 0 QoS"},
	{name: "subscribe QoS reserved bits", raw: pk(0x82, 6, 0, 1, 0, 1, "a", 0x41), err: ErrMalformed, field: "subscription 0 QoS"},
	{name: "subscribe # not last", raw: pk(0x82, 10, 0, 1, 0, 5, "a/#/b", 1), err: ErrMalformed, field: "subscription 0 topic filter"},
	{name: "subscribe + in a level", raw: pk(0x82, 9, 0, 1, 0, 4, "a/b+", 1), err: ErrMalformed, field: "subscription 0 topic filter"},
	{name: "subscribe QoS missing", raw: pk(0x82, 5, 0, 1, 0, 1, "a"), err: ErrMalformed, field: "subscription 0 QoS"},
	{name: "suback no codes", raw: pk(0x90, 2, 0, 1), err: ErrMalformed, field: "return codes"},
	{name: "suback bad code", raw: pk(0x90, 4, 0, 1, 1, 3), err: ErrMalformed, field: "return code 1"},
	{name: "pingresp with a body", raw: pk(0xD0, 1, 0), err: ErrMalformed, field: "end"},
	{name: "disconnect with flags", raw: pk(0xE1, 0), err: ErrMalformed, field: "flags"},

	// Packets that do not encode
	{name: "encode publish wildcard", p: &Publish{Topic: "a/#"}, err: ErrEncode},
	{name: "encode publish empty topic", p: &Publish{}, err: ErrEncode},
	{name: "encode publish QoS 3", p: &Publish{Topic: "a", QoS: 3, PacketID: 1}, err: ErrEncode},
	{name: "encode publish QoS 1 packet id 0", p: &Publish{Topic: "a", QoS: 1}, err: ErrEncode},
	{name: "encode publish QoS 0 with packet id", p: &Publish{Topic: "a", PacketID: 1}, err: ErrEncode},
	{name: "encode publish QoS 0 DUP", p: &Publish{Topic: "a", Dup: true}, err: ErrEncode},
	{name: "encode publish topic too long", p: &Publish{Topic: strings.Repeat("a", 65536)}, err: ErrEncode},
	{name: "encode publish topic not UTF-8", p: &Publish{Topic: "\xff"}, err: ErrEncode},
	{name: "encode puback packet id 0", p: &Puback{}, err: ErrEncode},
	{name: "encode subscribe none", p: &Subscribe{PacketID: 1}, err: ErrEncode},
	{name: "encode subscribe bad filter", p: &Subscribe{PacketID: 1, Subscriptions: []Subscription{{"#/a", 1}}}, err: ErrEncode},
	{name: "encode subscribe QoS 3", p: &Subscribe{PacketID: 1, Subscriptions: []Subscription{{"a", 3}}}, err: ErrEncode},
	{name: "encode subscribe packet id 0", p: &Subscribe{Subscriptions: []Subscription{{"a", 1}}}, err: ErrEncode},
	{name: "encode suback bad code", p: &Suback{PacketID: 1, ReturnCodes: []byte{4}}, err: ErrEncode},
	{name: "encode connect will QoS 3", p: &Connect{Will: &Will{Topic: "w", QoS: 3}}, err: ErrEncode},
	{name: "encode connect will wildcard", p: &Connect{Will: &Will{Topic: "w/+"}}, err: ErrEncode},
	{name: "encode connect password too long", p: &Connect{Username: "u", Password: make([]byte, 65536)}, err: ErrEncode},
}

var equate = cmpopts.EquateEmpty()

func TestDecode(t *testing.T) {
	for _, g := range packets {
		if g.err != nil {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			got, err := Decode(g.raw)
			if err != nil {
				t.Fatalf("Decode(% x): %v", g.raw, err)
			}
			if diff := cmp.Diff(g.p, got, equate); diff != "" {
				t.Fatalf("Decode(% x) (-want +got):\n%s", g.raw, diff)
			}
			if got.Type() != Type(g.raw[0]>>4) {
				t.Fatalf("Type() %v, first byte %#x", got.Type(), g.raw[0])
			}
		})
	}
}

func TestEncode(t *testing.T) {
	for _, g := range packets {
		if g.err != nil || g.decodeOnly {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			got, err := g.p.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, g.raw) {
				t.Fatalf("Append:\n got % x\nwant % x", got, g.raw)
			}
			// Appending keeps what the buffer held.
			got, err = g.p.Append([]byte("prefix"))
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), g.raw...)) {
				t.Fatalf("Append after a prefix: % x, %v", got, err)
			}
		})
	}
}

// Every malformed packet fails with a *DecodeError naming the field,
// and every packet that cannot be encoded with ErrEncode and nothing
// appended.
func TestMalformed(t *testing.T) {
	for _, g := range packets {
		if g.err == nil {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			if g.err == ErrEncode {
				b, err := g.p.Append([]byte("prefix"))
				if !errors.Is(err, ErrEncode) || string(b) != "prefix" {
					t.Fatalf("Append: % x, %v; want nothing appended and ErrEncode", b, err)
				}
				return
			}
			p, err := Decode(g.raw)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, g.err) {
				t.Fatalf("Decode(% x) = %#v, %v; want a *DecodeError wrapping %v", g.raw, p, err, g.err)
			}
			if de.Field != g.field {
				t.Fatalf("error %v: field %q, want %q", err, de.Field, g.field)
			}
			if de.Offset < 0 || de.Offset > len(g.raw) {
				t.Fatalf("error %v: offset outside the packet", err)
			}
		})
	}
}

// ParseHeader asks for more bytes until the header is whole, at every
// length of the remaining-length field.
func TestParseHeader(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MaxRemainingLength} {
		hdr := appendHeader(nil, 0x32, n)
		want := map[int]int{127: 2, 128: 3, 16_383: 3, 16_384: 4, 2_097_151: 4, 2_097_152: 5, MaxRemainingLength: 5}[n]
		if want == 0 {
			want = 2
		}
		if len(hdr) != want {
			t.Errorf("remaining length %d: a header of %d bytes (% x), want %d", n, len(hdr), hdr, want)
		}
		for i := range len(hdr) {
			if _, got, err := ParseHeader(hdr[:i]); got != 0 || err != nil {
				t.Fatalf("remaining length %d: ParseHeader(% x) = %d, %v before the header is whole", n, hdr[:i], got, err)
			}
		}
		h, got, err := ParseHeader(append(hdr, 0xAA))
		if err != nil || got != len(hdr) || h != (Header{Type: TypePublish, Flags: 2, Remaining: n}) {
			t.Fatalf("ParseHeader(% x) = %+v, %d, %v", hdr, h, got, err)
		}
	}
}

// A PUBLISH longer than a header can say does not encode. (The longest
// that does is TestParseHeader's MaxRemainingLength; the payload here is
// never written, so its pages are never touched.)
func TestPublishTooLarge(t *testing.T) {
	p := &Publish{Topic: "t", Payload: make([]byte, MaxRemainingLength-2)}
	if b, err := p.Append(nil); !errors.Is(err, ErrEncode) || len(b) != 0 {
		t.Fatalf("a payload one byte past the limit: %d bytes, %v", len(b), err)
	}
}

// The fuzz test holds the property of every decoder (STYLE: tests): no
// panic, errors are *DecodeErrors with a sentinel, and decode → encode →
// decode gives the same packet. Seeded with the golden table:
//
//	go test ./internal/mqtt311 -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, g := range packets {
		if g.raw != nil {
			f.Add(g.raw)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, herr := ParseHeader(b)
		p, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported)) {
				t.Fatalf("Decode(% x): %v is not a *DecodeError with a sentinel", b, err)
			}
			if de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("Decode(% x): %v: offset outside the packet", b, err)
			}
			return
		}
		if herr != nil || n == 0 || n+h.Remaining != len(b) || p.Type() != h.Type {
			t.Fatalf("Decode(% x) = %#v, but ParseHeader says %+v, %d, %v", b, p, h, n, herr)
		}
		enc, err := p.Append(nil)
		if err != nil {
			t.Fatalf("Decode(% x) = %#v, which does not encode: %v", b, p, err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(% x) = %#v, whose encoding % x does not decode: %v", b, p, enc, err)
		}
		if diff := cmp.Diff(p, again, equate); diff != "" {
			t.Fatalf("Decode(% x), encoded as % x and decoded again (-first +second):\n%s", b, enc, diff)
		}
		if enc2, _ := again.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: % x then % x", enc, enc2)
		}
	})
}

// An event as the bridge publishes it.
var benchPublish = &Publish{
	Topic: "g90/SIMPANEL0001/event", QoS: 1, PacketID: 4242,
	Payload: []byte(`{"time":"2026-11-21T09:05:56.735526022Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"seq":1}`),
}

// go test -run '^$' -bench . -benchtime 2s ./internal/mqtt311
func BenchmarkPublishAppend(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = benchPublish.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkPublishDecode(b *testing.B) {
	raw, err := benchPublish.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
