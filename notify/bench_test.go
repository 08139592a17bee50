package notify

import "testing"

// doorOpen is the datagram of vector L-A-DOOR-OPEN (spec: F.2).
var doorOpen = []byte("[208,[4,100,1,1,\"Hall\",\"DUMMYGUID\",1631545189,0,[\"\"]]]\x00")

// BenchmarkDecodeAlert is the listener's hot path: one door-open alert,
// decoded and mapped to its events.
func BenchmarkDecodeAlert(b *testing.B) {
	evs := make([]Event, 0, 8)
	b.SetBytes(int64(len(doorOpen)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(doorOpen)
		if err != nil {
			b.Fatal(err)
		}
		if evs, err = m.Events(evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(evs) != 2 || evs[1].Type != EventDoorOpen {
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
