package daemon_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/sim"
)

// loopback returns 127.0.0.i.
func loopback(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}) }

// dialFrom connects to the cloud server at addr from the local address src.
func dialFrom(t *testing.T, src netip.Addr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// refused reports whether the server closed nc at once: its read ends
// (EOF or reset) instead of waiting.
func refused(nc net.Conn) error {
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := nc.Read(make([]byte, 1))
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("connection from %v still open after 5s", nc.LocalAddr())
	default:
		return fmt.Errorf("connection from %v: %v", nc.LocalAddr(), err)
	}
}

// cloudGauge returns a cloud server series from the daemon's /metrics.
func cloudGauge(t *testing.T, ep daemon.Endpoints, name string) float64 {
	t.Helper()
	v, ok := testrig.Scrape(t, ep.Web+"/metrics")[name]
	if !ok {
		t.Fatalf("no %s in /metrics", name)
	}
	return v
}

// g90 serve takes more than 64 cloud panels when cloud.max_connections
// says so (issue 20.5): 100 simulated panels from four source addresses,
// 25 each, are all answered, and the per-address bound still closes a
// 26th connection from one of them at accept.
func TestServeCloudMaxConnections(t *testing.T) {
	const panels, per = 100, 25
	cfg := cloudOnlyConfig(t, panels, fmt.Sprintf("  max_connections: 200\n  max_per_address: %d\n", per))
	ep, _ := daemontest.Run(t, cfg, daemon.Options{Timeout: 500 * time.Millisecond})
	var sources []netip.Addr
	for i := range panels / per {
		sources = append(sources, loopback(1+i))
	}
	fleet, err := sim.NewFleet(sim.FleetConfig{Panels: panels, Sources: sources, Cloud: sim.CloudConfig{Addr: ep.Cloud}})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, fleet.Run)
	eventually.NoErrorWithin(t, 30*time.Second, "every panel connected and answered", func() error {
		if s := fleet.Stats(); s.Connected != panels || s.HellosAnswered < panels {
			return fmt.Errorf("%d connected, %d hellos answered; want %d", s.Connected, s.HellosAnswered, panels)
		}
		return nil
	})
	if v := cloudGauge(t, ep, "g90_cloud_connections_open"); v != panels {
		t.Errorf("g90_cloud_connections_open %v, want %d", v, panels)
	}
	if err := refused(dialFrom(t, loopback(1), ep.Cloud)); err != nil {
		t.Errorf("a 26th connection from 127.0.0.1: %v", err)
	}
	if v := cloudGauge(t, ep, "g90_cloud_over_limit_total"); v != 1 {
		t.Errorf("g90_cloud_over_limit_total %v, want 1", v)
	}
	if s := fleet.Stats(); s.Disconnects != 0 || s.Connected != panels {
		t.Errorf("fleet %+v: a panel lost its connection", s)
	}
}

// By default the cloud server holds 64 connections, 8 from one address
// (cloud.max_connections, cloud.max_per_address): a 9th from one
// address and a 65th in all are closed at accept and counted, and the
// ones held are not disturbed.
func TestServeCloudDefaultLimits(t *testing.T) {
	ep, _ := daemontest.Run(t, cloudOnlyConfig(t, 1, ""), daemon.Options{Timeout: 500 * time.Millisecond})
	var held []net.Conn
	for range daemon.DefaultCloudMaxPerAddr {
		held = append(held, dialFrom(t, loopback(1), ep.Cloud))
	}
	if err := refused(dialFrom(t, loopback(1), ep.Cloud)); err != nil {
		t.Errorf("a 9th connection from 127.0.0.1: %v", err)
	}
	for a := 2; len(held) < daemon.DefaultCloudMaxConns; a++ {
		for range daemon.DefaultCloudMaxPerAddr {
			held = append(held, dialFrom(t, loopback(a), ep.Cloud))
		}
	}
	eventually.NoError(t, "64 connections held", func() error {
		if v := cloudGauge(t, ep, "g90_cloud_connections_open"); v != daemon.DefaultCloudMaxConns {
			return fmt.Errorf("g90_cloud_connections_open %v, want %d", v, daemon.DefaultCloudMaxConns)
		}
		return nil
	})
	if err := refused(dialFrom(t, loopback(100), ep.Cloud)); err != nil {
		t.Errorf("a 65th connection: %v", err)
	}
	if v := cloudGauge(t, ep, "g90_cloud_over_limit_total"); v != 2 {
		t.Errorf("g90_cloud_over_limit_total %v, want 2", v)
	}
	for _, nc := range held {
		nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("held connection from %v: %v, want it still open", nc.LocalAddr(), err)
		}
	}
}
