package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// FleetGUID is the GUID of panel i of a fleet: SIMPANEL0001 for 1, which
// is also the default panel's (DefaultState), SIMPANEL0002 for 2, and so
// on.
func FleetGUID(i int) string { return fmt.Sprintf("SIMPANEL%04d", i) }

// DefaultDialConcurrency bounds the connects a Fleet has in progress.
const DefaultDialConcurrency = 64

// FleetConfig configures a Fleet.
type FleetConfig struct {
	// Panels is the number of panels, First the number of the first one
	// for FleetGUID (0 means 1).
	Panels, First int
	// Cloud configures every panel's link; its GUID is ignored.
	Cloud CloudConfig
	// DialConcurrency bounds the connects in progress at once, so that
	// thousands of panels starting together do not overflow the server's
	// accept queue; default DefaultDialConcurrency.
	DialConcurrency int
	// Sources are the local addresses the panels connect from: panel i
	// from Sources[i%len(Sources)]; none means the system's choice. One
	// source address has about 28,000 ephemeral ports, and connects to
	// one server start failing well before (above ~14,000 on this
	// kernel), so a load test of 19,700 panels spreads them over
	// 127.0.0.1–127.0.0.4. Used only when Cloud.Dial is nil.
	Sources []netip.Addr
}

// Fleet is many cloud-only panels, for load tests: each is a CloudLink
// with its own GUID, keeping a session with the server (discovery,
// hello, pings, hellos) and sending whatever is given to its Send.
type Fleet struct {
	links []*CloudLink
}

// NewFleet makes the panels' links; Run connects them.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Panels <= 0 {
		return nil, errors.New("sim: fleet: no panels")
	}
	first := cfg.First
	if first == 0 {
		first = 1
	}
	conc := cfg.DialConcurrency
	if conc <= 0 {
		conc = DefaultDialConcurrency
	}
	dials := []func(ctx context.Context, network, addr string) (net.Conn, error){cfg.Cloud.Dial}
	switch {
	case cfg.Cloud.Dial != nil:
	case len(cfg.Sources) == 0:
		dials[0] = (&net.Dialer{}).DialContext
	default:
		dials = dials[:0]
		for _, a := range cfg.Sources {
			d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))}
			dials = append(dials, d.DialContext)
		}
	}
	sem := make(chan struct{}, conc)
	limited := func(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			defer func() { <-sem }()
			return dial(ctx, network, addr)
		}
	}
	for i, d := range dials {
		dials[i] = limited(d)
	}
	cc := cfg.Cloud
	f := &Fleet{links: make([]*CloudLink, cfg.Panels)}
	for i := range f.links {
		cc.Dial = dials[i%len(dials)]
		cc.GUID = FleetGUID(first + i)
		if cc.Logger != nil {
			cc.Logger = cfg.Cloud.Logger.With("guid", cc.GUID)
		}
		l, err := NewCloudLink(cc)
		if err != nil {
			return nil, err
		}
		f.links[i] = l
	}
	return f, nil
}

// Links returns the panels' links, in GUID order.
func (f *Fleet) Links() []*CloudLink { return f.links }

// Run runs every link until ctx ends or Shutdown finishes, and returns
// after all have stopped.
func (f *Fleet) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.links))
	for i, l := range f.links {
		wg.Go(func() { errs[i] = l.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Shutdown shuts every link down gracefully (CloudLink.Shutdown), all at
// once.
func (f *Fleet) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.links))
	for i, l := range f.links {
		wg.Go(func() { errs[i] = l.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stats returns the links' counters added up.
func (f *Fleet) Stats() CloudStats {
	var t CloudStats
	for _, l := range f.links {
		s := l.Stats()
		t.Connected += s.Connected
		t.Connects += s.Connects
		t.ConnectErrors += s.ConnectErrors
		t.Disconnects += s.Disconnects
		t.Silent += s.Silent
		t.Discoveries += s.Discoveries
		t.HellosSent += s.HellosSent
		t.HellosAnswered += s.HellosAnswered
		t.PingsSent += s.PingsSent
		t.PingsAnswered += s.PingsAnswered
		t.Commands += s.Commands
		t.Answered += s.Answered
		t.Malformed += s.Malformed
		t.Ignored += s.Ignored
		t.Sent += s.Sent
		t.Queued += s.Queued
		t.Dropped += s.Dropped
	}
	return t
}
