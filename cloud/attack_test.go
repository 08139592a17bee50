package cloud

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/sim"
)

// TestLockOutAttack reproduces issue 13.1 over real sockets: 70 idle
// unauthenticated connections from 127.0.0.2 and hellos claiming the
// honest panel's GUID from 127.0.0.3, while the honest panel (the
// simulator's cloud link, from 127.0.0.1) sends 20 door events. All 20
// must arrive (before: 0 of 20).
func TestLockOutAttack(t *testing.T) {
	const guid = "GA00000A0000000"
	srv, rec := start(t, Config{AllowGUIDs: []string{guid}})
	addr := srv.Addr().String()

	link, err := sim.NewCloudLink(sim.CloudConfig{
		Addr: addr, GUID: guid,
		Dial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}).DialContext,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { link.Run(ctx) })
	if err := link.Wait(ctx, func(s sim.CloudStats) bool { return s.HellosAnswered >= 1 }); err != nil {
		t.Fatal(err)
	}

	// The attack: idle connections…
	idle := &net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 70 {
		if c, err := idle.Dial("tcp", addr); err == nil {
			defer c.Close()
		}
	}
	// …and hellos claiming the panel, again and again.
	hello := vector(t, "C-HELLO")
	claim := &net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
	wg.Go(func() {
		for ctx.Err() == nil {
			c, err := claim.Dial("tcp", addr)
			if err != nil {
				continue
			}
			c.Write(hello)
			c.SetReadDeadline(time.Now().Add(time.Second))
			c.Read(make([]byte, 64))
			c.Close()
		}
	})

	door := vector(t, "C-STATUS-SENSOR-OPEN")
	if _, err := cloudproto.Decode(door); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		link.Send(door)
		time.Sleep(20 * time.Millisecond)
	}
	msgs := rec.wait(t, 20)
	for _, m := range msgs {
		if m.Remote.Addr().String() != "127.0.0.1" || m.GUID != guid {
			t.Errorf("message from %v as %q, want the honest panel", m.Remote, m.GUID)
		}
	}
	st := srv.Stats()
	if st.OverLimit < 62 || st.Conflicts < 1 || st.Replaced != 0 {
		t.Errorf("stats %+v: want the idle connections over the per-address limit, conflicts refused, nothing replaced", st)
	}
	t.Logf("%d of 20 door events received; stats %+v", len(msgs), st)
}
