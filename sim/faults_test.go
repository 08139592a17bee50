package sim

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
)

const statusReq = `ISTART[100,100,""]IEND`

func TestFaultDrop(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	if err := p.SetFaults(Faults{Drop: 1}); err != nil {
		t.Fatal(err)
	}
	// The arm command is carried out, its reply dropped.
	c.send(raw(`ISTART[101,101,[101,[1]]]IEND`))
	eventually.True(t, "the arm command to take effect", func() bool { return p.Snapshot().Arm == protocol.ArmAway })
	p.SetFaults(Faults{})
	got := c.do(raw(statusReq))
	if resp, err := protocol.ParseResponse(got); err != nil || resp.Code != protocol.GetHostStatus {
		t.Errorf("first datagram after a dropped reply: %q", got)
	}
}

// DropCode loses the replies to one command, which is still carried out;
// IgnoreCode loses the requests themselves. Other commands are answered.
func TestFaultDropAndIgnoreCode(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	if err := p.SetFaults(Faults{DropCode: int(protocol.SetHostStatus)}); err != nil {
		t.Fatal(err)
	}
	c.expectNoReply(raw(`ISTART[101,101,[101,[1]]]IEND`))
	if p.Snapshot().Arm != protocol.ArmAway {
		t.Error("a command whose reply is dropped was not carried out")
	}
	c.expect(`ISTART[117,117,""]IEND`, `ISTART[117,[511]]IEND`)

	if err := p.SetFaults(Faults{IgnoreCode: int(protocol.SetHostStatus)}); err != nil {
		t.Fatal(err)
	}
	c.expectNoReply(raw(`ISTART[101,101,[101,[3]]]IEND`))
	c.expect(`ISTART[117,117,""]IEND`, `ISTART[117,[511]]IEND`)
	if p.Snapshot().Arm != protocol.ArmAway {
		t.Error("an ignored command was carried out")
	}
	for _, f := range []Faults{{DropCode: -1}, {IgnoreCode: 70000}} {
		if err := p.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
}

func TestFaultSilent(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	p.SetFaults(Faults{Silent: true})
	c.send(raw(`ISTART[0,100,"AT^IWT=1123,IWT"]IEND`))
	c.send(raw(`ISTART[101,101,[101,[2]]]IEND`))
	eventually.True(t, "the arm command to take effect", func() bool { return p.Snapshot().Arm == protocol.ArmHome })
	p.SetFaults(Faults{})
	c.expect(statusReq, `ISTART[100,[2,"+15550100","TSV018-C3SIA","206","206"]]IEND`)
}

// Unreachable: nothing sent to the command port is carried out or
// answered.
func TestFaultUnreachable(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	p.SetFaults(Faults{Unreachable: true})
	c.send(raw(`ISTART[0,100,"AT^IWT=1123,IWT"]IEND`))
	c.send(raw(`ISTART[101,101,[101,[2]]]IEND`))
	c.send(raw(statusReq))
	time.Sleep(200 * time.Millisecond) // what would be carried out, would be now
	p.SetFaults(Faults{})
	c.expect(statusReq, `ISTART[100,[3,"+15550100","TSV018-C3SIA","206","206"]]IEND`)
	if st := p.Snapshot(); st.Reboots.MCU != 0 || st.Arm == protocol.ArmHome {
		t.Errorf("reboots %+v, arm %v: carried out while unreachable", st.Reboots, st.Arm)
	}
}

func TestFaultDuplicate(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	p.SetFaults(Faults{Duplicate: 1})
	first := c.do(raw(statusReq))
	second, from := c.recv()
	if !bytes.Equal(first, second) || from.String() != p.Addr().String() {
		t.Errorf("second datagram %q from %v, want %q again from %v", second, from, first, p.Addr())
	}
	// Exactly two: the next datagram answers the next request.
	p.SetFaults(Faults{})
	c.expect(`ISTART[117,117,""]IEND`, `ISTART[117,[511]]IEND`)
}

func TestFaultStray(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	p.SetFaults(Faults{Stray: true})
	for _, tt := range []struct {
		req       string
		strayCode protocol.Code
	}{
		{statusReq, protocol.GetHostInfo},
		{`ISTART[117,117,""]IEND`, protocol.GetHostStatus},
	} {
		c.send(raw(tt.req))
		bogus, from := c.recv()
		if from.String() == p.Addr().String() {
			t.Fatalf("first datagram came from the panel's own address %v", from)
		}
		ua := from.(*net.UDPAddr)
		if !ua.IP.IsLoopback() {
			t.Errorf("stray datagram from %v, want a loopback address", from)
		}
		t.Logf("stray datagram from %v", from)
		if resp, err := protocol.ParseResponse(bogus); err != nil || resp.Code != tt.strayCode {
			t.Errorf("stray datagram %q is not a valid %v reply: %v", bogus, tt.strayCode, err)
		}
		real, from := c.recv()
		if from.String() != p.Addr().String() {
			t.Fatalf("second datagram from %v, want the panel %v", from, p.Addr())
		}
		req, _ := protocol.ParseRequest(raw(tt.req))
		if resp, err := protocol.ParseResponse(real); err != nil || resp.Code != req.Code {
			t.Errorf("real reply %q: %v", real, err)
		}
	}
	// System commands get no reply, so no stray datagram either: the
	// next datagram is the stray one for the next request (a 206 reply).
	c.send(raw(`ISTART[0,100,"AT^IWT=1006,IWT"]IEND`))
	c.send(raw(statusReq))
	if b, _ := c.recv(); !bytes.HasPrefix(b, []byte("ISTART[206,")) {
		t.Errorf("after a system command, first datagram %q", b)
	}
}

func TestFaultDelay(t *testing.T) {
	p := start(t, Config{})
	const delay = 100 * time.Millisecond
	p.SetFaults(Faults{DelayMS: int(delay / time.Millisecond)})
	// Two clients: the second request is handled while the first reply
	// waits, so both replies come after one delay, not two.
	a, b := newClient(t, p.Addr()), newClient(t, p.Addr())
	begin := time.Now()
	a.send(raw(statusReq))
	b.send(raw(`ISTART[117,117,""]IEND`))
	if got, _ := a.recv(); !bytes.HasPrefix(got, []byte("ISTART[100,")) {
		t.Errorf("a got %q", got)
	}
	if got, _ := b.recv(); !bytes.HasPrefix(got, []byte("ISTART[117,")) {
		t.Errorf("b got %q", got)
	}
	if elapsed := time.Since(begin); elapsed < delay {
		t.Errorf("replies after %v, want at least %v", elapsed, delay)
	}
}

// Stopping the panel abandons delayed replies at once.
func TestFaultDelayStopsWithServe(t *testing.T) {
	leaktest.Check(t)
	p, err := New(Config{Listen: "127.0.0.1:0", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	p.SetFaults(Faults{DelayMS: maxDelayMS})
	c := newClient(t, p.Addr())
	c.send(raw(`ISTART[101,101,[101,[1]]]IEND`))
	eventually.True(t, "the request to be handled", func() bool { return p.Snapshot().Arm == protocol.ArmAway })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Serve waits for a delayed reply")
	}
}

func TestFaultsValidate(t *testing.T) {
	p := start(t, Config{})
	for _, f := range []Faults{
		{Drop: -0.1}, {Drop: 1.01}, {Duplicate: 2}, {DelayMS: -1}, {DelayMS: maxDelayMS + 1},
	} {
		if err := p.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
	ok := Faults{Drop: 0.3, DelayMS: 50, Duplicate: 0.1, Stray: true}
	if err := p.SetFaults(ok); err != nil || p.Faults() != ok {
		t.Errorf("SetFaults(%+v): %v, now %+v", ok, err, p.Faults())
	}
}

// A share of replies is dropped or duplicated, reproducibly for a seed.
func TestFaultShares(t *testing.T) {
	counts := func(seed int64) (replies int) {
		p := start(t, Config{Seed: seed})
		p.SetFaults(Faults{Drop: 0.5, Duplicate: 0.5})
		c := newClient(t, p.Addr())
		for range 40 {
			c.send(raw(`ISTART[101,101,[101,[3]]]IEND`))
		}
		c.send(raw(`ISTART[101,101,[101,[1]]]IEND`))
		eventually.True(t, "all requests", func() bool { return p.Snapshot().Arm == protocol.ArmAway })
		p.SetFaults(Faults{})
		c.send(raw(`ISTART[117,117,""]IEND`))
		for {
			b, _ := c.recv()
			if bytes.HasPrefix(b, []byte("ISTART[117,")) {
				return replies
			}
			replies++
		}
	}
	a, b := counts(7), counts(7)
	if a != b {
		t.Errorf("seed 7 gave %d and %d replies", a, b)
	}
	// 41 requests, half dropped, half of the rest doubled: far from 0 and 82.
	if a < 5 || a > 70 {
		t.Errorf("%d replies to 41 requests with drop 0.5, duplicate 0.5", a)
	}
}
