package cloudproto_test

import (
	"github.com/g90alarm/g90/cloudproto"
	"testing"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
)

// BenchmarkDecodeStatusEvents is the cloud server's hot path: one M4b
// sensor-activity status change (vector C-STATUS-SENSOR-OPEN), decoded,
// converted to an alert and mapped to its events.
func BenchmarkDecodeStatusEvents(b *testing.B) {
	raw := vectorInput(b, cloudproto.LoadVectors(b), "C-STATUS-SENSOR-OPEN")
	evs := make([]event.Event, 0, 8)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := cloudproto.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		nm, ok, err := notify.FromCloud(&m, "GA00000A0000000")
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		if evs, err = nm.Events(evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(evs) != 2 || evs[1].Type != event.DoorOpen {
		b.Fatalf("events = %+v", evs)
	}
}

// BenchmarkFramerDecodeNotification: a wrapped notification (vector
// C-NOTIFICATION) through the framer, decoded and mapped to events.
func BenchmarkFramerDecodeNotification(b *testing.B) {
	raw := vectorInput(b, cloudproto.LoadVectors(b), "C-NOTIFICATION")
	var f cloudproto.Framer
	evs := make([]event.Event, 0, 8)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		f.Feed(raw)
		msg, err := f.Next()
		if msg == nil || err != nil {
			b.Fatal(err)
		}
		m, err := cloudproto.Decode(msg)
		if err != nil {
			b.Fatal(err)
		}
		nm, ok, err := notify.FromCloud(&m, "")
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		if evs, err = nm.Events(evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendReplies: the three replies to a hello.
func BenchmarkAppendReplies(b *testing.B) {
	hello := cloudproto.Message{Kind: cloudproto.KindHello}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = cloudproto.AppendReplies(buf[:0], &hello, cloudproto.DefaultParams)
	}
	if len(buf) != 42 {
		b.Fatalf("replies = % x", buf)
	}
}
