package g90

import (
	"context"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
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
		m.handle(&item{m: msg, src: event.SourceLocal, at: now})
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

// alertFeed is a Source that does what the Listener does after its socket
// read: decode each datagram (with the Listener's Decoder) and queue it
// for the Monitor. Told n, it sends n alerts, door open and close in
// turn, then the sentinel. It queues as Monitor.Message does, except
// that it waits for room when the queue is full, where the Listener
// would drop the message: a socket's receive buffer holds the datagrams
// meanwhile. The Monitor's handling of a batch makes room and wakes it
// at once. (An earlier version slept 50 µs whenever the queue was half
// full; the Monitor then ran out of work in some rounds, and the wall
// time measured the sleeps.)
type alertFeed struct {
	m        *Monitor
	start    chan int
	alerts   [2][]byte
	sentinel []byte
}

func (f *alertFeed) Run(ctx context.Context, sink notify.Sink) error {
	var dec notify.Decoder
	send := func(d []byte) error {
		now := time.Now()
		sink.Packet(event.SourceLocal, now)
		msg, err := dec.Decode(d)
		if err != nil {
			return err
		}
		if !f.m.enqueue(&item{m: msg, src: event.SourceLocal, at: now}, true, ctx.Done()) {
			return ctx.Err()
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-f.start:
			for i := range n {
				if err := send(f.alerts[i%2]); err != nil {
					return err
				}
			}
			if err := send(f.sentinel); err != nil {
				return err
			}
		}
	}
}

// BenchmarkLocalAlertRun is the local alert path as the daemon runs it,
// after the socket read: the source decodes and queues each alert for the
// Monitor's goroutine (a running Monitor of a simulated panel, whose door
// sensor the alerts name), which merges and tracks it and delivers its
// events to a subscriber on a third goroutine. Door open and close
// alternate, so that every alert is a happening of its own. The clock
// stops when the subscriber has the event of a sentinel sent after the
// last alert; the benchmark fails if an event or a message was dropped.
func BenchmarkLocalAlertRun(b *testing.B) {
	s := simtest.Start(b, sim.Config{Seed: 1})
	p := newPanel(b, s, 2*time.Second, 0)
	f := &alertFeed{start: make(chan int), sentinel: []byte("[170,[1,[1]]]\x00")} // armed away (spec: B.4)
	for i, e := range []string{"door_open", "door_close"} {
		sent, err := s.Inject(sim.Injection{Event: e, Sensor: ptr(1)})
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range sent {
			if m, err := notify.Decode(d); err == nil && m.Code == protocol.CodeAlert {
				f.alerts[i] = d
			}
		}
	}
	if f.alerts[0] == nil || f.alerts[1] == nil {
		b.Fatalf("the simulator sent no door alerts: %q", f.alerts)
	}
	m := p.NewMonitor(MonitorConfig{Sources: []Source{f}})
	f.m = m
	sub := m.Subscribe("bench", 1<<12)
	testrig.Serve(b, m.Run)
	<-m.Ready()
	got, ended := make(chan uint64), make(chan struct{})
	go func() {
		// As the daemon's consumers read: a batch at a time (Take).
		defer close(ended)
		n := uint64(0)
		var batch []Delivery
		for ok := true; ok; {
			<-sub.Ready()
			batch, ok = sub.Take(batch)
			for i := range batch {
				n++
				if batch[i].Event.Type == event.ArmDisarm {
					got <- n
					n = 0
				}
			}
		}
	}()
	before := m.Stats()
	b.SetBytes(int64(len(f.alerts[0])))
	b.ReportAllocs()
	b.ResetTimer()
	f.start <- b.N
	n := <-got
	b.StopTimer()
	sub.Close()
	<-ended
	st := m.Stats()
	if st.Dropped != 0 || st.WrongDevice != 0 || st.Unknown != 0 || sub.Dropped() != 0 {
		b.Fatalf("stats %+v, %d dropped by the subscriber", st, sub.Dropped())
	}
	if events := st.Events - before.Events; n != events || events < uint64(b.N) {
		b.Fatalf("%d events delivered of %d, for %d alerts", n, events, b.N)
	}
}
