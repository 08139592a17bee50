package cloud

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/sim"
)

// slowSink takes a millisecond a message: a saturated consumer, as a
// Monitor whose queue is full (its Message waits).
type slowSink struct{}

func (slowSink) Packet(event.Source, time.Time) {}
func (slowSink) Message(notify.Message, event.Source, time.Time) {
	time.Sleep(time.Millisecond)
}

// floodBound is what TestFloodIsolation allows panel B's events, from
// the write of each to its Monitor's subscriber, at the 99th percentile.
// Measured: p99 4 ms under -race on the loaded 2-core machine. With
// one dispatcher for all panels (before issue 16.4) every one of B's
// events waited behind the 256 queued messages of A: 257 ms at
// least, 281 ms median, 340 ms at most (measured under -race).
const floodBound = 100 * time.Millisecond

// TestFloodIsolation: panel A floods its connection (50,000 status
// changes as fast as TCP takes them) at a consumer that takes 1 ms a
// message; panel B sends a door status change every 5 ms to a Monitor.
// B's events reach B's subscriber within floodBound (99th percentile):
// A's backpressure holds up A's connection alone.
func TestFloodIsolation(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hub.Serve(ctx) }()
	routedA := make(chan error, 1)
	go func() { routedA <- hub.PanelSource(nil, "FLOODA", false).Run(ctx, slowSink{}) }()
	defer func() {
		cancel()
		<-routedA
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	st := sim.DefaultState()
	st.Host.GUID = "FLOODB"
	s := simtest.Start(t, sim.Config{State: &st, Seed: 1})
	mon := hubPanel(t, s).NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.PanelSource(hubPanel(t, s), "FLOODB", false)}})
	sub := mon.Subscribe("test", 1024)
	runMonitor(t, mon)
	eventually.True(t, "B routed and read", func() bool { return mon.State().Cloud != nil && mon.State().GUID == "FLOODB" })

	helloA := cloudMessage(t, "C-HELLO")
	helloA.Hello.GUID = "FLOODA"
	helloB := cloudMessage(t, "C-HELLO")
	helloB.Hello.GUID = "FLOODB"
	open := cloudMessage(t, "C-STATUS-SENSOR-OPEN")
	a := hubDial(t, hub, "127.0.0.1")
	b := hubDial(t, hub, "127.0.0.1")
	if _, err := a.Write(helloA.Append(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(helloB.Append(nil)); err != nil {
		t.Fatal(err)
	}
	var batch []byte
	for range 100 {
		batch = open.Append(batch)
	}
	go func() {
		for range 500 {
			if _, err := a.Write(batch); err != nil {
				return // the test ended
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // A's connection is backed up

	const n = 100
	sent := make(chan time.Time, n)
	go func() {
		msg := open.Append(nil)
		for range n {
			sent <- time.Now()
			if _, err := b.Write(msg); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var delays []time.Duration
	for len(delays) < n {
		ev := next(t, sub)
		if ev.Type == event.DoorOpen {
			delays = append(delays, time.Since(<-sent))
		}
	}
	slices.Sort(delays)
	p99 := delays[n*99/100-1]
	t.Logf("B's delays: min %v, median %v, p99 %v, max %v", delays[0], delays[n/2], p99, delays[n-1])
	if p99 > floodBound {
		t.Errorf("B's events took up to %v (99th percentile), want at most %v while A floods", p99, floodBound)
	}
}
