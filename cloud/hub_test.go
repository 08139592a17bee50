package cloud

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/sim"
)

func cloudMessage(t *testing.T, id string) cloudproto.Message {
	t.Helper()
	m, err := cloudproto.Decode(vectors.EntryHex(t, "../cloudproto/testdata/cloud-vectors.yaml", id, "input_hex"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Two panels connect to one hub; each one's status change reaches its
// own Monitor only, and a panel no Monitor serves is counted, not
// delivered.
func TestHubRoutesByGUID(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hub.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	guids := []string{"HUBPANEL0001", "HUBPANEL0002"}
	subs := make([]*g90.Subscription, len(guids))
	for i, g := range guids {
		st := sim.DefaultState()
		st.Host.GUID = g
		s := simtest.Start(t, sim.Config{State: &st, Seed: 1})
		mon := hubPanel(t, s).NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.Source(hubPanel(t, s))}})
		subs[i] = mon.Subscribe("test", 64)
		runMonitor(t, mon)
		eventually.True(t, "the first read of "+g, func() bool { return mon.State().GUID == g })
	}
	// The sources register once they have read the GUID, right after the
	// Monitor's own first read; wait until both route.
	eventually.True(t, "routing", func() bool {
		hub.mu.RLock()
		defer hub.mu.RUnlock()
		return len(hub.sinks) == 2
	})

	send := func(guid string, index int, name string) {
		t.Helper()
		hello := cloudMessage(t, "C-HELLO")
		hello.Hello.GUID = guid
		open := cloudMessage(t, "C-STATUS-SENSOR-OPEN")
		open.Status.Index, open.Status.Name = uint8(index), name
		c, err := net.Dial("tcp", hub.Server().Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(append(hello.Append(nil), open.Append(nil)...)); err != nil {
			t.Fatal(err)
		}
	}
	// A panel not served is closed at its hello (issue 13), not routed.
	send("NOBODY000001", 1, "Front door")
	eventually.True(t, "the stranger refused", func() bool { return hub.Server().Stats().Rejected == 1 })
	send(guids[1], 1, "Front door")
	send(guids[0], 1, "Front door")
	for i, sub := range subs {
		for _, want := range []string{"sensor_activity", "door_open"} {
			ev := next(t, sub)
			if ev.GUID != guids[i] || string(ev.Type) != want || ev.Source != "cloud" {
				t.Fatalf("panel %s got %+v, want %s", guids[i], ev, want)
			}
		}
	}
	for i, sub := range subs {
		if batch, _ := sub.Take(nil); len(batch) > 0 || len(taken[sub]) > 0 {
			t.Fatalf("panel %s got more events %+v %+v", guids[i], batch, taken[sub])
		}
	}
}

// With AllowGUID accepting any panel, a stranger's messages are taken
// and counted as unrouted.
func TestHubAcceptAny(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0", AllowGUID: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hub.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	c := hubDial(t, hub, "127.0.0.1")
	hello := cloudMessage(t, "C-HELLO")
	hello.Hello.GUID = "NOBODY000001"
	open := cloudMessage(t, "C-STATUS-SENSOR-OPEN")
	if _, err := c.Write(append(hello.Append(nil), open.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the stranger's message counted", func() bool { return hub.Unrouted() == 1 })
	if st := hub.Server().Stats(); st.Rejected != 0 {
		t.Errorf("stats %+v: want none rejected", st)
	}
}

func hubDial(t *testing.T, hub *Hub, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", hub.Server().Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A panel whose GUID is configured (panels[].guid) is served and routed
// though it never answers over UDP; its Monitor's state shows its cloud
// connection, and a second address claiming it is a conflict there.
func TestHubKnownGUID(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hub.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	// Nothing answers on this UDP port.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	p, err := g90.New(g90.Config{Host: "127.0.0.1", Port: udp.LocalAddr().(*net.UDPAddr).Port, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const guid = "GA00000A0000000"
	mon := p.NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.PanelSource(p, guid, false)}})
	sub := mon.Subscribe("test", 64)
	runMonitor(t, mon)
	eventually.True(t, "routing", func() bool { return mon.State().Cloud != nil })

	c := hubDial(t, hub, "127.0.0.1")
	hello := cloudMessage(t, "C-HELLO")
	open := cloudMessage(t, "C-STATUS-SENSOR-OPEN")
	if _, err := c.Write(append(hello.Append(nil), open.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub); ev.Source != "cloud" || ev.GUID != guid {
		t.Fatalf("event %+v", ev)
	}
	cs := mon.State().Cloud
	if cs.Remote.Addr().String() != "127.0.0.1" || cs.Connected.IsZero() || cs.Conflict || cs.Conflicts != 0 {
		t.Errorf("cloud state %+v: want the connection from 127.0.0.1, no conflict", cs)
	}

	x := hubDial(t, hub, "127.0.0.3")
	if _, err := x.Write(hello.Append(nil)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the conflict", func() bool { return mon.State().Cloud.Conflicts == 1 })
	cs = mon.State().Cloud
	if !cs.Conflict || cs.ConflictFrom.Addr().String() != "127.0.0.3" || cs.ConflictLive.Addr().String() != "127.0.0.1" ||
		cs.ConflictTakeover || cs.Remote.Addr().String() != "127.0.0.1" || cs.ConflictAt.IsZero() {
		t.Errorf("cloud state %+v: want a refused conflict from 127.0.0.3", cs)
	}
	if hub.Unrouted() != 0 {
		t.Errorf("unrouted %d", hub.Unrouted())
	}
}

// A second source for a GUID already routed is an error of its Monitor,
// not a silent steal of the first one's messages.
func TestHubOneMonitorPerPanel(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Seed: 1})
	first := hubPanel(t, s).NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.Source(hubPanel(t, s))}})
	runMonitor(t, first)
	eventually.True(t, "routing", func() bool {
		hub.mu.RLock()
		defer hub.mu.RUnlock()
		return len(hub.sinks) == 1
	})
	second := hubPanel(t, s).NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.Source(hubPanel(t, s))}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := second.Run(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("second monitor: err %v, ctx %v", err, ctx.Err())
	}
}

// The standalone source serves the hub itself; without a GUID it takes
// the messages of every panel that connects (the Monitor then checks the
// GUID, spec: A.7.2).
func TestHubStandaloneAnyPanel(t *testing.T) {
	leaktest.Check(t)
	hub, err := NewHub(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Seed: 1})
	mon := hubPanel(t, s).NewMonitor(g90.MonitorConfig{Sources: []g90.Source{hub.Standalone("")}})
	sub := mon.Subscribe("test", 64)
	runMonitor(t, mon)
	eventually.True(t, "routing", func() bool {
		hub.mu.RLock()
		defer hub.mu.RUnlock()
		return hub.sinks[anyPanel].sink != nil
	})
	hello := cloudMessage(t, "C-HELLO")
	hello.Hello.GUID = s.Snapshot().Host.GUID
	open := cloudMessage(t, "C-STATUS-SENSOR-OPEN")
	c, err := net.Dial("tcp", hub.Server().Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append(hello.Append(nil), open.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub); ev.Source != "cloud" || hub.Unrouted() != 0 {
		t.Fatalf("event %+v, unrouted %d", ev, hub.Unrouted())
	}
}

// hubPanel returns a Panel for the simulated panel s.
func hubPanel(t *testing.T, s *sim.Panel) *g90.Panel {
	t.Helper()
	a := s.Addr().(*net.UDPAddr)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runMonitor runs m until the test ends, and checks that Run returns nil.
func runMonitor(t *testing.T, m *g90.Monitor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Monitor.Run: %v", err)
			}
		case <-time.After(patience):
			t.Error("Monitor.Run did not return after cancel")
		}
	})
}

// taken holds the deliveries next took from each subscription and has
// not returned yet; the tests' goroutine alone uses it.
var taken = map[*g90.Subscription][]g90.Delivery{}

// next returns the subscription's next event.
func next(t *testing.T, sub *g90.Subscription) event.Event {
	t.Helper()
	timeout := time.After(patience)
	for len(taken[sub]) == 0 {
		batch, ok := sub.Take(nil)
		taken[sub] = batch
		if len(batch) > 0 {
			break
		}
		if !ok {
			t.Fatal("subscription closed")
		}
		select {
		case <-sub.Ready():
		case <-timeout:
			t.Fatal("no event")
		}
	}
	d := taken[sub][0]
	taken[sub] = taken[sub][1:]
	return d.Event
}
