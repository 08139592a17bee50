package cloud

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/sim"
)

// BenchmarkCloudStatus is the whole cloud path of one status change, as
// the reference's figure is: b.N M4b sensor status changes (vector
// C-STATUS-SENSOR-OPEN) written to one loopback TCP connection, read and
// framed by the server, decoded and mapped once, routed by the hub to
// the panel's Monitor, tracked, and delivered to one subscriber. The
// clock stops when the subscriber has every event (two per message);
// the benchmark fails if any event was dropped or is missing.
func BenchmarkCloudStatus(b *testing.B) {
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	testrig.Serve(b, hub.Serve)
	st := sim.DefaultState()
	s, err := sim.New(sim.Config{Listen: "127.0.0.1:0", State: &st, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	testrig.Serve(b, s.Serve)
	a := s.Addr().(*net.UDPAddr)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	mon := p.NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.Source(p)}})
	sub := mon.Subscribe("bench", 4096)
	testrig.Serve(b, mon.Run)
	<-mon.Ready()
	deadline := time.Now().Add(20 * time.Second)
	for routed := false; !routed; {
		hub.mu.RLock()
		routed = len(hub.sinks) == 1
		hub.mu.RUnlock()
		if time.Now().After(deadline) {
			b.Fatal("the hub does not route to the Monitor")
		}
		time.Sleep(time.Millisecond)
	}

	read := func(id string) cloudproto.Message {
		m, err := cloudproto.Decode(vectors.EntryHex(b, "../cloudproto/testdata/cloud-vectors.yaml", id, "input_hex"))
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	hm := read("C-HELLO")
	hm.Hello.GUID = st.Host.GUID
	om := read("C-STATUS-SENSOR-OPEN")
	hello, open := hm.Append(nil), om.Append(nil)
	stream := bytes.Repeat(open, b.N)
	c, err := net.Dial("tcp", hub.Server().Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(hello); err != nil {
		b.Fatal(err)
	}
	want := 2 * b.N // sensor_activity and door_open
	got := make(chan int, 1)
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	go func() {
		n := 0
		var batch []g90.Delivery
		for n < want {
			select {
			case <-ctx.Done():
				got <- n
				return
			case <-sub.Ready():
			}
			batch, _ = sub.Take(batch)
			n += len(batch)
		}
		got <- n
	}()
	b.SetBytes(int64(len(open)))
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := c.Write(stream); err != nil {
		b.Fatal(err)
	}
	n := <-got
	b.StopTimer()
	if n != want || sub.Dropped() != 0 {
		b.Fatalf("%d of %d events delivered, %d dropped", n, want, sub.Dropped())
	}
}
