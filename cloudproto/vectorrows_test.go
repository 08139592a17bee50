package cloudproto

import (
	"bytes"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/vectors"
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
	kind Kind
	// decodeErr and notifyErr are the sentinels of the one Decode, or the
	// one Notify or Events, error the vector gives.
	decodeErr, notifyErr error
	// buffered is what the framer holds at the end, waiting for more.
	buffered int
	// want are the events, in order.
	want []notify.Event
	// why says what we do where the vector notes that the recommended
	// behaviour ([REC]) differs from the reference's; required exactly
	// there.
	why string
}

func sensorEvent(typ notify.EventType, unix int64, guid string, i int, name string, f func(*notify.Event)) notify.Event {
	e := notify.Event{Type: typ, Time: time.Unix(unix, 0).UTC(), GUID: guid, Sensor: true, Index: i, Name: name}
	if f != nil {
		f(&e)
	}
	return e
}

// helloReplies are the replies to C-HELLO with local port 5678.
func helloReplies(tb testing.TB, es []vectors.Entry) []byte {
	r := runSession([][]byte{vectorInput(tb, es, "C-HELLO")}, defaultParams).replies
	if len(r) != 13+13+16 {
		tb.Fatalf("hello replies = % x", r)
	}
	return r
}

var pingBytes = []byte{0x01, 0x10, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00}

var rows = []row{
	// spec: F.4.
	{id: "C-PING", kind: KindPing},
	{id: "C-HELLO", kind: KindHello},
	{id: "C-DISCOVERY", kind: KindDiscovery},
	{id: "C-PORTS-DIFFER", kind: KindDiscovery,
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
			if !bytes.Equal(got[42:50], pingBytes) {
				t.Errorf("ping reply = % x", got[42:50])
			}
			if !bytes.HasPrefix(got[50:], disc) {
				t.Errorf("discovery reply = % x, want prefix % x", got[50:], disc)
			}
		}},
	{id: "C-NOTIFICATION", kind: KindNotification,
		want: []notify.Event{{Type: notify.EventSensorActivity, Sensor: true, Index: 101, Name: "Cord 1", Occupied: true}}},
	{id: "C-STATUS-DISARM", kind: KindStatusChange,
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
		want:  []notify.Event{{Type: notify.EventArmDisarm, Time: time.Unix(1737794080, 0).UTC(), GUID: "GA00000A0000001", State: notify.Disarmed}}},
	// spec: B.3 Alarm: a tamper alarm gives tamper, then alarm.
	{id: "C-STATUS-ALARM-TAMPER", kind: KindStatusChange,
		want: []notify.Event{
			sensorEvent(notify.EventTamper, 1739185423, "", 32, "Cord 1", nil),
			sensorEvent(notify.EventAlarm, 1739185423, "", 32, "Cord 1", func(e *notify.Event) { e.Tamper = true }),
		}},
	{id: "C-STATUS-ALARM-GAS", kind: KindStatusChange,
		want: []notify.Event{sensorEvent(notify.EventAlarm, 1740932566, "", 32, "Cord 1", nil)}},
	{id: "C-STATUS-ALARM-REGULAR", kind: KindStatusChange,
		want: []notify.Event{sensorEvent(notify.EventAlarm, 1738680328, "", 32, "Cord 1", nil)}},
	// spec: B.3 DoorOpenClose: activity, then the door event.
	{id: "C-STATUS-SENSOR-OPEN", kind: KindStatusChange,
		want: []notify.Event{
			sensorEvent(notify.EventSensorActivity, 1738682545, "", 32, "Cord 1", func(e *notify.Event) { e.Occupied = true }),
			sensorEvent(notify.EventDoorOpen, 1738682545, "", 32, "Cord 1", nil),
		}},
	// spec: B.3 RFIDKeypad: the keypad event, then activity.
	{id: "C-STATUS-SENSOR-RFID", kind: KindStatusChange,
		want: []notify.Event{
			sensorEvent(notify.EventRFIDKeypad, 1771428566, "", 32, "RFID Card 0", func(e *notify.Event) { e.Keypad, e.Card = notify.KeypadCard, 0 }),
			sensorEvent(notify.EventSensorActivity, 1771428566, "", 32, "RFID Card 0", func(e *notify.Event) { e.Occupied = true }),
		}},
	{id: "C-COMMAND-RESPONSE", kind: KindCommandResponse},
	{id: "C-MULTI-IN-ONE-CHUNK", kind: KindPing,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			return [][]byte{append(vectorInput(tb, es, "C-HELLO"), vectorInput(tb, es, "C-PING")...)}
		},
		reply: func(tb testing.TB, es []vectors.Entry) []byte { return append(helloReplies(tb, es), pingBytes...) }},
	{id: "C-UNKNOWN-SKIPPED", kind: KindPing},
	{id: "C-NOTIFICATION-BAD-JSON-CONTINUES", kind: KindPing, notifyErr: notify.ErrSyntax},

	// spec: F.5.
	{id: "C-ERR-SHORT-HEADER", buffered: 5, why: "[REC] waits for the rest of the header"},
	// Waits for the 9th byte.
	{id: "C-ERR-SHORT-PACKET", buffered: 8},
	{id: "C-ERR-WRONG-VERSION", decodeErr: ErrVersion},
	{id: "C-ERR-STATUS-SENSOR-WRONG-STATE", kind: KindStatusChange, notifyErr: notify.ErrUnknown},
	// The reference fails on the direction byte; we skip the message as
	// unknown (spec: D.6.2). Either way: no reply, no event.
	{id: "C-ERR-UNKNOWN-DIRECTION", kind: KindUnknown},
	{id: "C-ERR-NONPING-TOO-SHORT", kind: KindUnknown, why: "[REC] skipped silently"},
	{id: "C-ERR-SPLIT", kind: KindHello,
		chunks: func(tb testing.TB, es []vectors.Entry) [][]byte {
			hello := vectorInput(tb, es, "C-HELLO")
			return [][]byte{hello[:48], hello[48:]}
		},
		reply: helloReplies, why: "[REC] with buffering: the 3 hello replies"},
}
