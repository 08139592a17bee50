package cloud

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// chainedVector returns the bytes the upstream sends in a CH-* vector
// (spec: F.6).
func chainedVector(t *testing.T, id string) []byte {
	t.Helper()
	return vectors.EntryHex(t, vectorsFile, id, "upstream_sends_after_receiving")
}

// next reads one message the server sends to the panel.
func (p *panel) next() []byte {
	p.t.Helper()
	h := p.read(cloudproto.BasicHeaderSize)
	n := int(binary.LittleEndian.Uint32(h[4:]))
	if n < len(h) || n > cloudproto.MaxMessageSize {
		p.t.Fatalf("bad message from the server: % x", h)
	}
	return append(h, p.read(n-len(h))...)
}

// TestChainedRelay: what the panel sends reaches the upstream unmodified,
// what the upstream sends reaches the panel unmodified, no local replies
// are made, and events are handled as in standalone mode (spec: E.4.1,
// F.6 CH-RELAY-1, CH-RELAY-2).
func TestChainedRelay(t *testing.T) {
	for _, id := range []string{"CH-RELAY-1", "CH-RELAY-2"} {
		t.Run(id, func(t *testing.T) {
			up := chainedVector(t, id)
			fake := newFakeCloud(t, up)
			defer fake.Stop()
			srv, rec := start(t, Config{Upstream: fake.addr})
			p := dial(t, srv)
			hello := vector(t, "C-HELLO")
			p.send(hello)
			if r := fake.next(t); !bytes.Equal(r.msg, hello) || r.conn != 1 {
				t.Errorf("upstream got % x on connection %d, want C-HELLO on 1", r.msg, r.conn)
			}
			p.expect(up)
			// The first thing after the upstream's answer is the answer
			// to the ping: the upstream's marker, not a local reply.
			p.send(ping)
			p.expect(marker(1))
			// The discovery reply passes unchanged (spec: E.4.1, G.5).
			p.send(vector(t, "C-DISCOVERY"))
			vendor := cloudproto.DiscoveryReply(netip.AddrPortFrom(netip.AddrFrom4(vendorAddr), 5678), fixedNow)
			p.expect(vendor.Append(nil))

			p.send(vector(t, "C-NOTIFICATION"))
			if msgs := rec.wait(t, 1); msgs[0].GUID != "GA00000A0000000" {
				t.Errorf("message %+v, want the hello's GUID", msgs[0])
			}
			ps := srv.Panels()
			if len(ps) != 1 || ps[0].LastUpstream.IsZero() || ps[0].LastPacket.IsZero() || ps[0].GUID != "GA00000A0000000" {
				t.Errorf("Panels = %+v, want both packet times set", ps)
			}
			if st := srv.Stats(); st.UpstreamConnects != 1 || st.LocalReplies != 0 {
				t.Errorf("stats %+v: want 1 upstream connect, no local replies", st)
			}
		})
	}
}

// TestChainedRewriteDiscovery: with RewriteDiscovery the upstream's
// discovery reply names this server, keeping its timestamp (spec: G.5).
func TestChainedRewriteDiscovery(t *testing.T) {
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	adv := netip.MustParseAddrPort("192.168.1.10:5679")
	srv, _ := start(t, Config{Upstream: fake.addr, Advertise: adv, RewriteDiscovery: true})
	p := dial(t, srv)
	p.send(vector(t, "C-DISCOVERY"))
	want := cloudproto.DiscoveryReply(adv, fixedNow)
	p.expect(want.Append(nil))
	p.send(ping)
	p.expect(marker(1))
}

// TestChainedUpstreamDown: with the upstream refusing connections the
// panel gets local answers ([REC], spec: E.4.3; the reference leaves it
// without any, F.6 CH-UPSTREAM-DOWN).
func TestChainedUpstreamDown(t *testing.T) {
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr})
	p := dial(t, srv)
	p.send(ping)
	p.expect(ping)
	p.send(ping)
	p.expect(ping)
	p.send(vector(t, "C-HELLO"))
	p.expect(helloReplies(srv))
	st := srv.Stats()
	if st.UpstreamFailures < 1 || st.LocalReplies != 3 || st.UpstreamConnects != 0 {
		t.Errorf("stats %+v: want a failed connect and 3 local replies", st)
	}
	if ps := srv.Panels(); len(ps) != 1 || !ps[0].LastUpstream.IsZero() {
		t.Errorf("Panels = %+v, want last upstream packet time unset", ps)
	}
}

// TestChainedConnectTimeout: a connect that never completes is cut off
// and the panel answered locally.
func TestChainedConnectTimeout(t *testing.T) {
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	srv, _ := start(t, Config{Upstream: "192.0.2.1:5678", Dial: hang, ConnectTimeout: 10 * time.Millisecond})
	p := dial(t, srv)
	p.send(ping)
	p.expect(ping)
	if st := srv.Stats(); st.UpstreamFailures != 1 {
		t.Errorf("UpstreamFailures = %d, want 1", st.UpstreamFailures)
	}
}

// TestChainedUpstreamStalls: an upstream that takes the panel's bytes
// and never answers is given up after UpstreamTimeout: the panel gets its
// answers from the server, events flow, and once the upstream answers
// again the server relays to it again ([REC], spec: E.4.3).
func TestChainedUpstreamStalls(t *testing.T) {
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	fake.SetStall(true)
	srv, rec := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 20 * time.Millisecond, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	p := dial(t, srv)
	p.send(vector(t, "C-HELLO"), ping, vector(t, "C-STATUS-SENSOR-OPEN"))
	p.expect(helloReplies(srv))
	p.expect(ping)
	msgs := rec.wait(t, 1)
	if evs, _ := msgs[0].Events(); len(evs) != 2 {
		t.Errorf("message %+v, want door events", msgs[0])
	}
	if st := srv.Stats(); st.UpstreamStalls < 1 || st.UpstreamConnects < 1 {
		t.Errorf("stats %+v: want a stalled upstream", st)
	}
	fake.SetStall(false)
	for {
		p.send(ping)
		m := p.next()
		if bytes.Equal(m, ping) {
			continue // answered locally, or stalled again before SetStall
		}
		if !bytes.Equal(m[:4], marker(0)[:4]) {
			t.Fatalf("panel got % x, want a ping reply or the upstream's marker", m)
		}
		break
	}
}

// TestChainedUpstreamSlow: answers come whenever the upstream sends them
// (spec: E.4.3), in order.
func TestChainedUpstreamSlow(t *testing.T) {
	fake := newFakeCloud(t, chainedVector(t, "CH-RELAY-1"))
	defer fake.Stop()
	fake.SetDelay(20 * time.Millisecond)
	srv, _ := start(t, Config{Upstream: fake.addr})
	p := dial(t, srv)
	p.send(vector(t, "C-HELLO"), ping, ping)
	p.expect(chainedVector(t, "CH-RELAY-1"))
	p.expect(marker(1))
	p.expect(marker(1))
}

// TestChainedUpstreamLost: an upstream that closes, resets or goes away
// and comes back is reconnected to; the panel connection is not affected
// and is answered locally in between (spec: E.4.2, E.4.3).
func TestChainedUpstreamLost(t *testing.T) {
	for _, name := range []string{"close", "reset", "restart"} {
		t.Run(name, func(t *testing.T) {
			fake := newFakeCloud(t, chainedVector(t, "CH-RELAY-1"))
			defer fake.Stop()
			srv, rec := start(t, Config{Upstream: fake.addr, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
			p := dial(t, srv)
			p.send(vector(t, "C-HELLO"))
			fake.next(t) // connection 1 got the hello
			if name != "restart" {
				fake.Drop(name == "reset")
			}
			if name == "restart" {
				p.expect(chainedVector(t, "CH-RELAY-1"))
				fake.Stop()
			}
			// Ping all along. Each is answered by an upstream connection,
			// or locally when the upstream is gone; a ping relayed just
			// before the upstream answered an earlier one and died may
			// get no answer (relay.awaiting).
			stop := make(chan struct{})
			pinger := make(chan struct{})
			defer func() { close(stop); <-pinger }()
			go func() {
				defer close(pinger)
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
						p.nc.Write(ping)
					}
				}
			}()
			if name == "restart" {
				for m := p.next(); !bytes.Equal(m, ping); m = p.next() {
					if !bytes.Equal(m, marker(1)) {
						t.Fatalf("panel got % x, want a local ping reply while the upstream is gone", m)
					}
				}
				fake.restart(t)
			}
			for {
				m := p.next()
				// The hello's answer from connection 1, or, when it was
				// lost before answering, the local one.
				if bytes.Equal(m, ping) || bytes.Equal(m, marker(1)) || bytes.Equal(m, chainedVector(t, "CH-RELAY-1")) || bytes.Contains(helloReplies(srv), m) {
					continue
				}
				if want := marker(2); !bytes.Equal(m, want) {
					t.Fatalf("panel got % x, want pings, then the marker of connection 2", m)
				}
				break
			}
			// Events still flow on the same panel connection.
			p.send(vector(t, "C-NOTIFICATION"))
			rec.wait(t, 1)
			if st := srv.Stats(); st.UpstreamConnects < 2 || st.Replaced != 0 {
				t.Errorf("stats %+v: want a reconnect", st)
			}
		})
	}
}

// TestChainedPanelLeaves: the upstream connection ends with its panel
// connection.
func TestChainedPanelLeaves(t *testing.T) {
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr})
	p := dial(t, srv)
	p.send(ping)
	p.expect(marker(1))
	p.nc.Close()
	waitStats(t, srv, func(s Stats) bool { return s.Open == 0 })
	q := dial(t, srv)
	q.send(ping)
	q.expect(marker(2))
}

// TestChainedQueueFull: reads that do not fit in the upstream queue wait
// for room, holding up the panel's reader rather than being dropped; all
// are answered, in order.
func TestChainedQueueFull(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	blocked := func(ctx context.Context, _, _ string) (net.Conn, error) {
		once.Do(func() { close(entered) })
		<-release
		return nil, context.DeadlineExceeded
	}
	srv, _ := start(t, Config{Upstream: "192.0.2.1:5678", Dial: blocked, UpstreamQueue: 1})
	p := dial(t, srv)
	p.send(ping)
	<-entered // the relay holds the first read while it connects
	// One read each: the server has framed a ping before the next is sent.
	for i := 2; i <= 3; i++ {
		p.send(ping)
		waitStats(t, srv, func(s Stats) bool { return s.Messages == int64(i) })
	}
	close(release)
	p.expect(ping) // the first read, answered locally after the failed connect
	p.expect(ping) // the queued one
	p.expect(ping) // the one that waited for room
	p.sync()
	if st := srv.Stats(); st.LocalReplies != 4 || st.UpstreamFailures != 1 || st.UpstreamDropped != 0 {
		t.Errorf("stats %+v: want 4 local replies after 1 failed connect, none dropped", st)
	}
}

// TestChainedAllowGUIDs: with AllowGUIDs, nothing is relayed before the
// panel has named itself.
func TestChainedAllowGUIDs(t *testing.T) {
	fake := newFakeCloud(t, chainedVector(t, "CH-RELAY-1"))
	defer fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr, AllowGUIDs: []string{"GA00000A0000000"}})
	p := dial(t, srv)
	p.send(ping)
	waitStats(t, srv, func(s Stats) bool { return s.Unidentified == 1 })
	hello := vector(t, "C-HELLO")
	p.send(hello)
	if r := fake.next(t); !bytes.Equal(r.msg, hello) {
		t.Errorf("upstream got % x first, want the hello", r.msg)
	}
	p.expect(chainedVector(t, "CH-RELAY-1"))
}

// TestChainOnlySome: with Config.Chain only the panels it names are
// relayed; another panel on the same server is answered locally and
// nothing of it reaches the upstream.
func TestChainOnlySome(t *testing.T) {
	up := chainedVector(t, "CH-RELAY-1")
	fake := newFakeCloud(t, up)
	defer fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr, Chain: func(guid string) bool { return guid == "PANEL-A" }})
	b := dial(t, srv)
	b.send(helloWithGUID(t, "PANEL-B"))
	b.expect(helloReplies(srv))
	b.send(ping)
	b.expect(ping)
	a := dial(t, srv)
	helloA := helloWithGUID(t, "PANEL-A")
	a.send(helloA)
	// The first message the upstream gets is panel A's hello: nothing of B.
	if r := fake.next(t); !bytes.Equal(r.msg, helloA) {
		t.Fatalf("upstream got % x first, want panel A's hello", r.msg)
	}
	a.expect(up)
	if st := srv.Stats(); st.UpstreamConnects != 1 {
		t.Fatalf("UpstreamConnects = %d, want 1 (panel A's)", st.UpstreamConnects)
	}
}
