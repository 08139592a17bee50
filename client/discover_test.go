package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/sim"
)

func TestDiscoverCollectsValidReplies(t *testing.T) {
	leaktest.Check(t)
	// spec: local-protocol.md 9.10 discovery.broadcast; invalid replies
	// are ignored and do not end discovery.
	f := startFake(t, always(
		"garbage",
		"ISTART[106,[\"\"]]IEND\x00",
		"ISTART[206,[\"DUMMYGUID1\",\"\",\"\",\"\",\"\",\"\",0,0,0,0,\"\",0,0]]IEND\x00",
	))
	found, err := Discover(context.Background(), DiscoverConfig{
		Addr:   fmt.Sprintf("127.0.0.1:%d", f.port()),
		Window: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Info.GUID != "DUMMYGUID1" || found[0].Addr.Port != f.port() {
		t.Fatalf("found %+v", found)
	}
}

func TestProbe(t *testing.T) {
	// spec: local-protocol.md 9.10 discovery.targeted*
	f := startFake(t, func(_ int, req []byte) []reply {
		if string(req) != "IWTAC_PROBE_DEVICE,DUMMYGUID\x00" {
			return nil
		}
		return []reply{
			{b: []byte("IWTAC_PROBE_DEVICE_ACK_BAD,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100\x00")},
			{b: []byte("IWTAC_PROBE_DEVICE_ACK,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100")},
			{b: []byte{0xDE, 0x61, 0x64}},
			{b: []byte("IWTAC_PROBE_DEVICE_ACK,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100\x00")},
		}
	})
	found, err := Probe(context.Background(), "DUMMYGUID", DiscoverConfig{
		Addr:   fmt.Sprintf("127.0.0.1:%d", f.port()),
		Local:  "127.0.0.1:0",
		Window: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].GUID != "DUMMYGUID" || found[0].Ack.ProductName != "TSV018-3SIA" || found[0].Ack.FWVersion != "1.8" {
		t.Fatalf("found %+v", found)
	}
}

func TestDiscoverCancel(t *testing.T) {
	leaktest.Check(t)
	f := startFake(t, always())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Discover(ctx, DiscoverConfig{Addr: fmt.Sprintf("127.0.0.1:%d", f.port()), Window: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// fanOut is a discovery socket on loopback whose request goes to the
// first panel only; the test sends it to the others itself, through
// resend. It stands in for a broadcast reaching panels that answer at
// different times, over real sockets.
type fanOut struct {
	net.PacketConn
	first   net.Addr
	payload chan []byte // the request, once sent
}

func (f *fanOut) WriteTo(b []byte, _ net.Addr) (int, error) {
	f.payload <- append([]byte(nil), b...)
	return f.PacketConn.WriteTo(b, f.first)
}

func simPanel(t *testing.T, guid string) *sim.Panel {
	st := sim.DefaultState()
	st.Host.GUID = guid
	return simtest.Start(t, sim.Config{State: &st, DiscoveryListen: "127.0.0.1:0", Seed: 1})
}

// DiscoverEach yields a panel as soon as it answers: the second panel is
// asked only after the first was yielded, so a Discover that waited for
// the window to close would find one panel, not two.
func TestDiscoverEachStreams(t *testing.T) {
	leaktest.Check(t)
	a, b := simPanel(t, sim.FleetGUID(1)), simPanel(t, sim.FleetGUID(2))
	var sock *fanOut
	cfg := DiscoverConfig{
		Addr:   a.Addr().String(),
		Window: time.Minute,
		ListenPacket: func(ctx context.Context, network, address string) (net.PacketConn, error) {
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			sock = &fanOut{PacketConn: c, first: a.Addr(), payload: make(chan []byte, 1)}
			return sock, nil
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var guids []string
	for f, err := range DiscoverEach(ctx, cfg) {
		if err != nil {
			t.Fatalf("after %v: %v", guids, err)
		}
		guids = append(guids, f.Info.GUID)
		if len(guids) == 1 {
			if _, err := sock.PacketConn.WriteTo(<-sock.payload, b.Addr()); err != nil {
				t.Fatal(err)
			}
		}
		if len(guids) == 2 {
			break // stopping early closes the socket
		}
	}
	if want := []string{sim.FleetGUID(1), sim.FleetGUID(2)}; !slices.Equal(guids, want) {
		t.Fatalf("found %v, want %v in that order", guids, want)
	}
}

// ProbeEach yields the panel's answer at once, and a caller that stops
// there does not wait for the window.
func TestProbeEachStopsAtTheAnswer(t *testing.T) {
	leaktest.Check(t)
	s := simPanel(t, sim.FleetGUID(3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	for p, err := range ProbeEach(ctx, sim.FleetGUID(3), DiscoverConfig{Addr: s.DiscoveryAddr().String(), Local: "127.0.0.1:0", Window: time.Hour}) {
		if err != nil {
			t.Fatal(err)
		}
		if p.GUID != sim.FleetGUID(3) || p.Addr.Port != s.DiscoveryAddr().(*net.UDPAddr).Port {
			t.Errorf("probed %+v", p)
		}
		n++
		break
	}
	if n != 1 || ctx.Err() != nil {
		t.Fatalf("%d answers, ctx %v: the probe did not stop at the answer", n, ctx.Err())
	}
}
