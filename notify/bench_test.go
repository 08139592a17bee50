package notify

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
)

// doorOpen is the datagram of vector L-A-DOOR-OPEN (spec: F.2).
var doorOpen = []byte("[208,[4,100,1,1,\"Hall\",\"DUMMYGUID\",1631545189,0,[\"\"]]]\x00")

// BenchmarkDecodeAlert is the listener's hot path: one door-open alert,
// decoded and mapped to its events.
func BenchmarkDecodeAlert(b *testing.B) {
	evs := make([]event.Event, 0, 8)
	b.SetBytes(int64(len(doorOpen)))
	b.ReportAllocs()
	var d Decoder // the Listener's
	for b.Loop() {
		m, err := d.Decode(doorOpen)
		if err != nil {
			b.Fatal(err)
		}
		if evs, err = m.Events(evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(evs) != 2 || evs[1].Type != event.DoorOpen {
		b.Fatalf("events = %+v", evs)
	}
}

// BenchmarkAppendAlert is the simulator's side: encoding the same alert.
func BenchmarkAppendAlert(b *testing.B) {
	m, err := Decode(doorOpen)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.Append(buf[:0])
	}
	if string(buf) != string(doorOpen) {
		b.Fatalf("Append = %q", buf)
	}
}

// countSink counts what a listener hands over; it keeps nothing.
type countSink struct{ msgs atomic.Uint64 }

func (*countSink) Packet(event.Source, time.Time)             {}
func (s *countSink) Message(Message, event.Source, time.Time) { s.msgs.Add(1) }

// BenchmarkListenerLoopback is the listener's whole path over a real
// loopback socket: the read, the sender check, decode and hand-over, in
// batches of 128 so that the kernel buffer never overflows. The sender's
// write is included.
func BenchmarkListenerLoopback(b *testing.B) {
	l, err := Listen(context.Background(), ListenerConfig{Addr: "127.0.0.1:0", Host: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		b.Fatal(err)
	}
	sink := &countSink{}
	testrig.Serve(b, func(ctx context.Context) error { return l.Run(ctx, sink) })
	c, err := net.Dial("udp4", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(len(doorOpen)))
	b.ReportAllocs()
	sent := uint64(0)
	for b.Loop() {
		if _, err := c.Write(doorOpen); err != nil {
			b.Fatal(err)
		}
		if sent++; sent%128 == 0 {
			waitCount(b, &sink.msgs, sent)
		}
	}
	waitCount(b, &sink.msgs, sent)
}

func waitCount(b *testing.B, n *atomic.Uint64, want uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d datagrams arrived", n.Load(), want)
		}
		runtime.Gosched()
	}
}
