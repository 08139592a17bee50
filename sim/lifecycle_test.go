package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
)

func TestTargetedDiscovery(t *testing.T) {
	p := start(t, Config{DiscoveryListen: "127.0.0.1:0"})
	c := newClient(t, p.DiscoveryAddr())
	want := "IWTAC_PROBE_DEVICE_ACK,TSV018-C3SIA,1.2,1.1,206,1.8,3,3,1,0,2,75,100\x00"
	if got := c.do(protocol.AppendProbe(nil, "SIMPANEL0001")); string(got) != want {
		t.Errorf("probe answer %q, want %q", got, want)
	}
	// Probes for other panels, and malformed ones, are ignored: the next
	// datagram back answers the next probe for us.
	for _, probe := range [][]byte{
		protocol.AppendProbe(nil, "OTHERPANEL"),
		protocol.AppendProbe(nil, "SIMPANEL000"),
		[]byte("IWTAC_PROBE_DEVICE,SIMPANEL0001"), // no NUL
		raw(`ISTART[206,206,""]IEND`),             // commands go to the command port
	} {
		c.send(probe)
		if got := c.do(protocol.AppendProbe(nil, "SIMPANEL0001")); string(got) != want {
			t.Errorf("after probe %q: got %q", probe, got)
		}
	}
	if _, err := protocol.ParseProbeAck([]byte(want)); err != nil {
		t.Errorf("the answer does not parse: %v", err)
	}
}

// Broadcast discovery is GETHOSTINFO on the command port (spec:
// local-protocol.md 6.1): answered like any command, GUID first.
func TestBroadcastDiscoveryReply(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	resp, err := protocol.ParseResponse(c.do(raw(`ISTART[206,206,""]IEND`)))
	var info protocol.HostInfo
	if err == nil {
		err = protocol.Decode(&info, resp.Data)
	}
	if err != nil || info.GUID != "SIMPANEL0001" {
		t.Errorf("206: %v, guid %q", err, info.GUID)
	}
}

func TestServeStopsEverything(t *testing.T) {
	leaktest.Check(t)
	p, err := New(Config{Listen: "127.0.0.1:0", DiscoveryListen: "127.0.0.1:0", Control: "127.0.0.1:0", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []net.Addr{p.Addr(), p.DiscoveryAddr(), p.ControlAddr()}
	for _, a := range addrs {
		if a == nil {
			t.Fatalf("address missing before Serve: %v", addrs)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()

	// Use every part once, so each has goroutines to stop.
	newClient(t, p.Addr()).expect(statusReq, `ISTART[100,[3,"+15550100","TSV018-C3SIA","206","206"]]IEND`)
	newClient(t, p.DiscoveryAddr()).do(protocol.AppendProbe(nil, "SIMPANEL0001"))
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + p.ControlAddr().String() + "/faults")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()

	if err := p.Serve(ctx); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve: %v, want ErrServing", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Serve did not return")
	}
	// The ports are free again.
	for _, a := range addrs[:2] {
		c, err := net.ListenPacket("udp", a.String())
		if err != nil {
			t.Errorf("%v still bound: %v", a, err)
			continue
		}
		c.Close()
	}
	l, err := net.Listen("tcp", addrs[2].String())
	if err != nil {
		t.Errorf("%v still bound: %v", addrs[2], err)
	} else {
		l.Close()
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close after Serve: %v", err)
	}
	if err := p.Serve(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after stop: %v, want ErrClosed", err)
	}
}

func TestCloseStopsServe(t *testing.T) {
	leaktest.Check(t)
	p, err := New(Config{Listen: "127.0.0.1:0", Control: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(context.Background()) }()
	newClient(t, p.Addr()).do(raw(statusReq))
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Serve did not return after Close")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseWithoutServe(t *testing.T) {
	leaktest.Check(t)
	p, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr().String()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("Close did not release %s: %v", addr, err)
	}
	c.Close()
	if err := p.Serve(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}

// Injected sockets are used as given.
func TestInjectedSockets(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	disc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, Config{PacketConn: conn, DiscoveryConn: disc, ControlListener: l, Listen: "127.0.0.1:1"})
	if p.Addr().String() != conn.LocalAddr().String() || p.DiscoveryAddr().String() != disc.LocalAddr().String() ||
		p.ControlAddr().String() != l.Addr().String() {
		t.Errorf("addresses %v %v %v are not the injected ones", p.Addr(), p.DiscoveryAddr(), p.ControlAddr())
	}
	newClient(t, conn.LocalAddr()).expect(statusReq, `ISTART[100,[3,"+15550100","TSV018-C3SIA","206","206"]]IEND`)
}

func TestNewErrors(t *testing.T) {
	leaktest.Check(t)
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := New(Config{Listen: busy.LocalAddr().String()}); err == nil {
		t.Error("New on a busy port succeeded")
	}
	// A failure after the first socket is bound releases it.
	p, err := New(Config{Listen: "127.0.0.1:0", DiscoveryListen: busy.LocalAddr().String()})
	if err == nil {
		p.Close()
		t.Fatal("New with a busy discovery port succeeded")
	}
	st := defaultState(testNow)
	st.Arm = 0
	if _, err := New(Config{Listen: "127.0.0.1:0", State: &st}); err == nil {
		t.Error("New with arm state 0 succeeded")
	}
}

// Config.State is copied: changing the caller's value later changes
// nothing, and neither does changing a snapshot.
func TestStateIsCopied(t *testing.T) {
	st := defaultState(testNow)
	p := start(t, Config{State: &st})
	st.Sensors[0].Name = "changed"
	*st.HostConfig.RingVolumeLevel = 0
	snap := p.Snapshot()
	snap.Sensors[1].Name = "changed"
	snap.Relays[6][0] = true
	*snap.SIA.HeartbeatInterval = 1
	got := p.Snapshot()
	if got.Sensors[0].Name != "Front door" || got.Sensors[1].Name != "Back door" || got.Relays[6][0] ||
		*got.HostConfig.RingVolumeLevel != 1 || *got.SIA.HeartbeatInterval != 60 {
		t.Error("the panel's state shares memory with Config.State or a snapshot")
	}
}
