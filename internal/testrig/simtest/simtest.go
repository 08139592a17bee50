// Package simtest starts a simulated panel for other packages' tests.
//
//	s := simtest.Start(t, sim.Config{Seed: 1})
//	p, _ := g90.New(g90.Config{Host: s.Addr().String()})
package simtest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// Start serves a simulated panel on an ephemeral loopback port (cfg.Listen
// is ignored) until the test ends, and fails the test if it does not stop
// cleanly.
func Start(t testing.TB, cfg sim.Config) *sim.Panel {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, s.Serve)
	return s
}

// Requests counts the requests a g90 client sends, by command code. Give
// its ListenPacket to g90.Config (or client.Config): a test can then tell
// the commands a consumer sent through the Monitor's Panel from the
// Monitor's own reads.
type Requests struct {
	mu sync.Mutex
	n  map[protocol.Code]int
}

// reads are the codes that only read the panel: what a Monitor sends.
var reads = map[protocol.Code]bool{
	protocol.GetHostStatus: true, protocol.GetSensorList: true, protocol.GetHostConfig: true,
	protocol.GetAlarmPhones: true, protocol.GetNoticeFlags: true, protocol.GetDeviceList: true,
	protocol.GetUserDataCRC: true, protocol.GetHistory: true, protocol.GetHostInfo: true,
	protocol.GetAPInfo: true, protocol.GetSIA: true, protocol.GetCID: true,
}

// ListenPacket opens a loopback socket that counts each request written
// to it (every attempt, retries too).
func (r *Requests) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	c, err := lc.ListenPacket(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return countingConn{c, r}, nil
}

// Writes returns how many requests were sent that are not reads: arm,
// disarm, relays, configuration and peripheral writes, system commands
// (code 0), and anything that did not parse.
func (r *Requests) Writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for code, k := range r.n {
		if !reads[code] {
			n += k
		}
	}
	return n
}

// Count returns how many requests with code were sent.
func (r *Requests) Count(code protocol.Code) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[code]
}

type countingConn struct {
	net.PacketConn
	r *Requests
}

func (c countingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	code := protocol.Code(-1) // unparsable: counted as a write
	if req, err := protocol.ParseRequest(b); err == nil {
		code = req.Code
	}
	c.r.mu.Lock()
	if c.r.n == nil {
		c.r.n = map[protocol.Code]int{}
	}
	c.r.n[code]++
	c.r.mu.Unlock()
	return c.PacketConn.WriteTo(b, addr)
}
