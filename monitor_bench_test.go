package g90

import (
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
)

// doorAlert is vector L-A-DOOR-OPEN (spec: F.2) for a panel whose GUID is
// DUMMYGUID.
var doorAlert = []byte("[208,[4,100,1,1,\"Hall\",\"DUMMYGUID\",1631545189,0,[\"\"]]]\x00")

// BenchmarkLocalAlert is the whole path of one local alert after the
// socket read: decode (with the Listener's Decoder), the GUID check,
// mapping, merging, the state tracker and delivery to one subscriber
// whose queue a goroutine drains. The clock stops when the subscriber
// has every event; the benchmark fails if one was dropped. The
// reference needs about 11.7 µs for this on the machine.
func BenchmarkLocalAlert(b *testing.B) {
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	m := p.NewMonitor(MonitorConfig{})
	m.timer = time.NewTimer(time.Hour)
	flags := protocol.AlertDoorClose | protocol.AlertDoorOpen
	m.t.st.GUID, m.t.st.AlertFlags = "DUMMYGUID", &flags
	list := []testSensor{{100, "Hall", 1, 1}}
	for i := range 30 { // a realistic house
		list = append(list, testSensor{i + 1, "Sensor", 8, 1})
	}
	m.t.setSensors(nil, testSensorList(list), true, time.Now())
	sub := m.Subscribe("bench", 1<<12)
	done := make(chan int)
	go func() {
		n := 0
		for range sub.All() {
			n++
		}
		done <- n
	}()
	now := time.Now()
	b.SetBytes(int64(len(doorAlert)))
	b.ReportAllocs()
	var dec notify.Decoder // the Listener's
	for b.Loop() {
		msg, err := dec.Decode(doorAlert)
		if err != nil {
			b.Fatal(err)
		}
		m.handle(item{m: msg, src: event.SourceLocal, at: now})
		m.publish()
	}
	// The clock runs until the subscriber has every event.
	m.close()
	n := <-done
	b.StopTimer()
	if st := m.Stats(); st.WrongDevice != 0 || st.Unknown != 0 || st.Events == 0 {
		b.Fatalf("stats %+v", st)
	}
	// The monitor waits for the subscriber: nothing may be dropped.
	if d := sub.Dropped(); d != 0 || uint64(n) != m.Stats().Events {
		b.Fatalf("%d delivered, %d dropped, of %d events", n, d, m.Stats().Events)
	}
}
