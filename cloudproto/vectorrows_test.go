package cloudproto_test

import (
	"bytes"
	"github.com/g90alarm/g90/cloudproto"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/notify"
)

// The rows of TestVectors: what this package does with every C-* vector
// of spec: F.4 and F.5, in the spec's order.

// row is the expected outcome of one vector.
type row struct {
	id string
	// chunks gives the input when the vector gives it in words.
	chunks func(testing.TB, []vectors.Entry) [][]byte
	// reply gives the expected replies when the vector gives them in
	// words; checkReply replaces the comparison altogether.
	reply      func(testing.TB, []vectors.Entry) []byte
	checkReply func(*testing.T, vectors.Entry, []byte)
	// kind is the kind of the last message decoded; KindUnknown when
	// none is.
	kind cloudproto.Kind
	// decodeErr and notifyErr are the sentinels of the one Decode, or the
	// one Notify or Events, error the vector gives.
	decodeErr, notifyErr error
	// buffered is what the framer holds at the end, waiting for more.
	buffered int
	// want are the events, in order.
	want []event.Event
	// why says what we do where the vector notes that the recommended
	// behaviour ([REC]) differs from the reference's; required exactly
	// there.
	why string
}

func sensorEvent(typ event.Type, unix int64, guid string, i int, name string, f func(*event.Event)) event.Event {
	e := event.Event{Type: typ, Time: time.Unix(unix, 0).UTC(), GUID: guid, Sensor: true, Index: i, Name: name}
	if f != nil {
		f(&e)
	}
	return e
}

// helloReplies are the replies to C-HELLO with local port 5678.
func helloReplies(tb testing.TB, es []vectors.Entry) []byte {
	r := runSession([][]byte{vectorInput(tb, es, "C-HELLO")}, cloudproto.DefaultParams).replies
	if len(r) != 13+13+16 {
		tb.Fatalf("hello replies = % x", r)
	}
	return r
}

var rows = []row{
	// spec: F.4.
	{id: "C-PING", kind: cloudproto.KindPing},
	{id: "C-HELLO", kind: cloudproto.KindHello},
	{id: "C-DISCOVERY", kind: cloudproto.KindDiscovery},
	{id: "C-PORTS-DIFFER", kind: cloudproto.KindDiscovery,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			return [][]byte{vectorInput(tb, es, "C-HELLO"), vectorInput(tb, es, "C-PING"), vectorInput(tb, es, "C-DISCOVERY")}
		},
		checkReply: func(t *testing.T, e vectors.Entry, got []byte) {
			info, _ := vectors.Hex(e.Fields["expect_reply_hex_hello_info"])
			disc, _ := vectors.Hex(e.Fields["expect_reply_hex_discovery_prefix"])
			// hello ack, hello response, hello info, ping reply, discovery.
			if len(got) != 13+13+16+8+44 {
				t.Fatalf("replies = % x", got)
			}
			if !bytes.Equal(got[26:42], info) {
				t.Errorf("hello info = % x, want % x", got[26:42], info)
			}
			if !bytes.Equal(got[42:50], cloudproto.PingBytes) {
				t.Errorf("ping reply = % x", got[42:50])
			}
			if !bytes.HasPrefix(got[50:], disc) {
				t.Errorf("discovery reply = % x, want prefix % x", got[50:], disc)
			}
		}},
	{id: "C-NOTIFICATION", kind: cloudproto.KindNotification,
		want: []event.Event{{Type: event.SensorActivity, Sensor: true, Index: 101, Name: "Cord 1", Occupied: true}}},
	{id: "C-STATUS-DISARM", kind: cloudproto.KindStatusChange,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			hello := vectorInput(tb, es, "C-HELLO")
			hello[26] = 0x31
			status, ok := vectors.Hex(vectors.Items(vectorEntry(tb, es, "C-STATUS-DISARM").Fields["input_chunks"])[1])
			if !ok {
				tb.Fatal("second chunk of C-STATUS-DISARM is not hex")
			}
			return [][]byte{hello, status}
		},
		reply: helloReplies,
		want:  []event.Event{{Type: event.ArmDisarm, Time: time.Unix(1737794080, 0).UTC(), GUID: "GA00000A0000001", State: event.Disarmed}}},
	// spec: B.3 Alarm: a tamper alarm gives tamper, then alarm.
	{id: "C-STATUS-ALARM-TAMPER", kind: cloudproto.KindStatusChange,
		want: []event.Event{
			sensorEvent(event.Tamper, 1739185423, "", 32, "Cord 1", nil),
			sensorEvent(event.Alarm, 1739185423, "", 32, "Cord 1", func(e *event.Event) { e.Tamper = true }),
		}},
	{id: "C-STATUS-ALARM-GAS", kind: cloudproto.KindStatusChange,
		want: []event.Event{sensorEvent(event.Alarm, 1740932566, "", 32, "Cord 1", nil)}},
	{id: "C-STATUS-ALARM-REGULAR", kind: cloudproto.KindStatusChange,
		want: []event.Event{sensorEvent(event.Alarm, 1738680328, "", 32, "Cord 1", nil)}},
	// spec: B.3 DoorOpenClose: activity, then the door event.
	{id: "C-STATUS-SENSOR-OPEN", kind: cloudproto.KindStatusChange,
		want: []event.Event{
			sensorEvent(event.SensorActivity, 1738682545, "", 32, "Cord 1", func(e *event.Event) { e.Occupied = true }),
			sensorEvent(event.DoorOpen, 1738682545, "", 32, "Cord 1", nil),
		}},
	// spec: B.3 RFIDKeypad: the keypad event, then activity.
	{id: "C-STATUS-SENSOR-RFID", kind: cloudproto.KindStatusChange,
		want: []event.Event{
			sensorEvent(event.RFIDKeypad, 1771428566, "", 32, "RFID Card 0", func(e *event.Event) { e.Keypad, e.Card = event.KeypadCard, 0 }),
			sensorEvent(event.SensorActivity, 1771428566, "", 32, "RFID Card 0", func(e *event.Event) { e.Occupied = true }),
		}},
	{id: "C-COMMAND-RESPONSE", kind: cloudproto.KindCommandResponse},
	{id: "C-MULTI-IN-ONE-CHUNK", kind: cloudproto.KindPing,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			return [][]byte{append(vectorInput(tb, es, "C-HELLO"), vectorInput(tb, es, "C-PING")...)}
		},
		reply: func(tb testing.TB, es []vectors.Entry) []byte {
			return append(helloReplies(tb, es), cloudproto.PingBytes...)
		}},
	{id: "C-UNKNOWN-SKIPPED", kind: cloudproto.KindPing},
	{id: "C-NOTIFICATION-BAD-JSON-CONTINUES", kind: cloudproto.KindPing, notifyErr: notify.ErrSyntax},

	// spec: F.5.
	{id: "C-ERR-SHORT-HEADER", buffered: 5, why: "[REC] waits for the rest of the header"},
	// Waits for the 9th byte.
	{id: "C-ERR-SHORT-PACKET", buffered: 8},
	{id: "C-ERR-WRONG-VERSION", decodeErr: cloudproto.ErrVersion},
	{id: "C-ERR-STATUS-SENSOR-WRONG-STATE", kind: cloudproto.KindStatusChange, notifyErr: notify.ErrUnknown},
	// The reference fails on the direction byte; we skip the message as
	// unknown (spec: D.6.2). Either way: no reply, no event.
	{id: "C-ERR-UNKNOWN-DIRECTION", kind: cloudproto.KindUnknown},
	{id: "C-ERR-NONPING-TOO-SHORT", kind: cloudproto.KindUnknown, why: "[REC] skipped silently"},
	{id: "C-ERR-SPLIT", kind: cloudproto.KindHello,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			hello := vectorInput(tb, es, "C-HELLO")
			return [][]byte{hello[:48], hello[48:]}
		},
		reply: helloReplies, why: "[REC] with buffering: the 3 hello replies"},
}
