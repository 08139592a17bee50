package cloud

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// notification returns an M5 wrapped sensor-activity notification for
// sensor i, so that each of a run is told apart (spec: D.5.7, A.3).
func notification(i int) []byte {
	m := cloudproto.Message{Kind: cloudproto.KindNotification, Header: cloudproto.KindNotification.Header(),
		Body: fmt.Appendf(nil, "[170,[5,[%d,\"Sensor %d\"]]]\x00", i, i)}
	return m.Append(nil)
}

// goDown stops the fake cloud and waits until the server answers the
// panel itself: from then on the relay has no upstream connection. A
// ping relayed to the dying connection is answered locally after
// UpstreamTimeout.
func goDown(t *testing.T, p *panel, fake *fakeCloud) {
	t.Helper()
	fake.Stop()
	for {
		p.send(ping)
		if m := p.next(); bytes.Equal(m, ping) {
			return
		}
	}
}

// upstreamGot collects what the fake cloud receives of kind k after
// connection after, until it has n, then checks that nothing more of it
// comes before the answer to a ping.
func upstreamGot(t *testing.T, fake *fakeCloud, p *panel, after int, k cloudproto.Kind, n int) [][]byte {
	t.Helper()
	var got [][]byte
	collect := func(r received) {
		if m, err := cloudproto.Decode(r.msg); err == nil && m.Kind == k && r.conn > after {
			got = append(got, r.msg)
		}
	}
	for len(got) < n {
		collect(fake.next(t))
	}
	// The upstream answers a ping only after what came before it.
	p.send(ping)
	for m := p.next(); bytes.Equal(m, ping); m = p.next() {
		p.send(ping) // answered locally while the relay reconnects
	}
	for {
		select {
		case r := <-fake.got:
			collect(r)
			continue
		default:
		}
		break
	}
	return got
}

// TestChainedReplay: what the panel sends while the upstream is down
// reaches the upstream once it is back, all of it, in order, exactly
// once, and before what the panel sends next; pings and hellos sent
// meanwhile are answered locally and not replayed (issue 13.16).
func TestChainedReplay(t *testing.T) {
	const n = 50
	fake := newFakeCloud(t, chainedVector(t, "CH-RELAY-1"))
	defer fake.Stop()
	srv, rec := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 50 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	p := dial(t, srv)
	p.send(vector(t, "C-HELLO"))
	fake.next(t)
	p.expect(chainedVector(t, "CH-RELAY-1"))
	goDown(t, p, fake)
	var want [][]byte
	for i := range n {
		want = append(want, notification(i))
		p.send(want[i])
		if i%10 == 0 {
			p.send(vector(t, "C-HELLO"))
			p.expect(helloReplies(srv))
		}
	}
	p.sync()
	rec.wait(t, n)
	waitStats(t, srv, func(s Stats) bool { return s.ReplayPending == n })
	conns := int(fake.Stats().Accepted)
	fake.restart(t)
	// No panel read needed: the relay reconnects on its own to replay.
	got := upstreamGot(t, fake, p, conns, cloudproto.KindNotification, n)
	p.send(notification(n))
	want = append(want, notification(n))
	for r := fake.next(t); ; r = fake.next(t) {
		if bytes.Equal(r.msg, want[n]) {
			got = append(got, r.msg)
			break
		}
	}
	if !slicesEqual(got, want) {
		t.Fatalf("upstream got %d notifications after it came back, want %d in order:\n%q", len(got), len(want), got)
	}
	upSync(p)
	st := srv.Stats()
	if st.ReplayBuffered != n || st.Replayed != n || st.ReplayPending != 0 || st.ReplayDropped != 0 || st.ReplayLost != 0 {
		t.Errorf("stats %+v: want %d buffered and replayed, none pending, dropped or lost", st, n)
	}
}

// upSync is sync once the upstream is back: the ping is answered by the
// upstream's marker.
func upSync(p *panel) {
	p.t.Helper()
	p.send(ping)
	if m := p.next(); !bytes.Equal(m[:4], marker(0)[:4]) {
		p.t.Fatalf("panel got % x, want the upstream's marker", m)
	}
}

func slicesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestChainedReplayBound: beyond ReplayBuffer the oldest are dropped and
// counted; the newest arrive, in order.
func TestChainedReplayBound(t *testing.T) {
	const n, bound = 25, 10
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 50 * time.Millisecond, ReplayBuffer: bound,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	p := dial(t, srv)
	p.send(ping)
	p.expect(marker(1))
	goDown(t, p, fake)
	var want [][]byte
	for i := range n {
		p.send(notification(i))
		if i >= n-bound {
			want = append(want, notification(i))
		}
	}
	p.sync()
	waitStats(t, srv, func(s Stats) bool { return s.ReplayBuffered == n })
	fake.restart(t)
	got := upstreamGot(t, fake, p, 1, cloudproto.KindNotification, bound)
	if !slicesEqual(got, want) {
		t.Fatalf("upstream got\n%q\nwant the last %d\n%q", got, bound, want)
	}
	upSync(p)
	if st := srv.Stats(); st.ReplayDropped != n-bound || st.Replayed != bound || st.ReplayPending != 0 {
		t.Errorf("stats %+v: want %d dropped, %d replayed, none pending", st, n-bound, bound)
	}
}

// closer is an upstream that accepts every connection and closes it at
// once, as the vendor was seen to do (issue 13: 15 connects in 3 s).
type closer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newCloser(t *testing.T, addr string) *closer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &closer{ln: ln}
	c.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			nc.Close()
		}
	})
	return c
}

func (c *closer) stop() { c.ln.Close(); c.wg.Wait() }

// TestChainedBackoff: an upstream that accepts and closes every
// connection is connected to ever more slowly, however fast the panel
// sends, and what the panel sent meanwhile is replayed once a working
// upstream is back: the connections that were closed at once did not
// swallow it.
func TestChainedBackoff(t *testing.T) {
	const (
		bmin = 4 * time.Millisecond
		bmax = 32 * time.Millisecond
		run  = 400 * time.Millisecond
	)
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	fake.Stop()
	cl := newCloser(t, fake.addr)
	srv, _ := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 20 * time.Millisecond,
		BackoffMin: bmin, BackoffMax: bmax, BackoffReset: time.Hour})
	p := dial(t, srv)
	// The panel sends a ping every millisecond, and a few notifications;
	// nothing reads the answers, which the socket buffers hold.
	begin := time.Now()
	sent := 0
	for i := 0; time.Since(begin) < run; i++ {
		if i%50 == 0 {
			p.send(notification(sent))
			sent++
		} else {
			p.send(ping)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(begin)
	cl.stop()
	attempts := cl.accepted.Load()
	// Waits are at least half the backoff, which doubles from bmin to
	// bmax: the first log2(bmax/bmin) waits take about bmax in all, and
	// each after at least bmax/2.
	limit := int64(2 + math.Log2(float64(bmax/bmin)) + float64(elapsed)/float64(bmax/2))
	st := srv.Stats()
	if attempts < 3 || attempts > limit {
		t.Errorf("%d connects in %v, want 3 to %d", attempts, elapsed, limit)
	}
	if st.UpstreamReconnects < attempts-1 {
		t.Errorf("UpstreamReconnects = %d after %d connects", st.UpstreamReconnects, attempts)
	}
	notes := int(st.ReplayBuffered)
	if notes != sent {
		t.Errorf("stats %+v: want all %d notifications kept, none lost to the connections closed at once", st, sent)
	}
	t.Logf("%d connects in %v; %d notifications kept", attempts, elapsed, notes)

	// A working upstream gets what the closed connections did not.
	fake.restart(t)
	p.nc.SetReadDeadline(time.Now().Add(patience))
	go func() { // drain the answers so that the server can write more
		b := make([]byte, 4096)
		for {
			if _, err := p.nc.Read(b); err != nil {
				return
			}
		}
	}()
	var got [][]byte
	for len(got) < notes {
		r := fake.next(t)
		if m, err := cloudproto.Decode(r.msg); err == nil && m.Kind == cloudproto.KindNotification {
			got = append(got, r.msg)
		}
	}
	var want [][]byte
	for i := range notes {
		want = append(want, notification(i))
	}
	if !slicesEqual(got, want) {
		t.Errorf("upstream got\n%q\nwant\n%q", got, want)
	}
	checkReplayStats(t, srv)
}

// checkReplayStats checks that every message kept for replay is
// accounted for.
func checkReplayStats(t *testing.T, srv *Server) {
	t.Helper()
	st := srv.Stats()
	if st.ReplayBuffered != st.Replayed+st.ReplayDropped+st.ReplayLost+st.ReplayPending {
		t.Errorf("stats %+v: buffered is not replayed + dropped + lost + pending", st)
	}
}

// TestChainedReplayPanelReconnects: what a panel's connection kept for
// the upstream is not lost when the panel reconnects before the upstream
// is back: its next connection replays it (issue 13.16).
func TestChainedReplayPanelReconnects(t *testing.T) {
	const n = 5
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	srv, _ := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 50 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	hello := helloWithGUID(t, "PANEL-A")
	p := dial(t, srv)
	p.send(hello)
	fake.next(t)
	p.expect(helloReplies(srv)) // the fake answers a hello as the server does
	goDown(t, p, fake)
	var want [][]byte
	for i := range n {
		want = append(want, notification(i))
		p.send(want[i])
	}
	p.sync()
	waitStats(t, srv, func(s Stats) bool { return s.ReplayPending == n })
	p.nc.Close()
	waitStats(t, srv, func(s Stats) bool { return s.Open == 0 })
	q := dial(t, srv)
	q.send(hello)
	q.expect(helloReplies(srv))
	fake.restart(t)
	if got := upstreamGot(t, fake, q, 1, cloudproto.KindNotification, n); !slicesEqual(got, want) {
		t.Fatalf("upstream got\n%q\nwant\n%q", got, want)
	}
	upSync(q)
	if st := srv.Stats(); st.Replayed != n || st.ReplayLost != 0 || st.ReplayPending != 0 {
		t.Errorf("stats %+v: want %d replayed, none lost or pending", st, n)
	}
	checkReplayStats(t, srv)
}

// TestChainedReconnectMidMessage: a message split across reads, the
// first of which the upstream did not get, reaches the new upstream
// connection whole, not as its second half.
func TestChainedReconnectMidMessage(t *testing.T) {
	fake := newFakeCloud(t, nil)
	defer fake.Stop()
	var tick atomic.Int64 // each read gets a new time: LastPacket shows it
	srv, _ := start(t, Config{Upstream: fake.addr, UpstreamTimeout: 50 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		Now: func() time.Time { return fixedNow.Add(time.Duration(tick.Add(1))) }})
	p := dial(t, srv)
	p.send(ping)
	p.expect(marker(1))
	goDown(t, p, fake)
	status := vector(t, "C-STATUS-SENSOR-OPEN")
	before := srv.Panels()[0].LastPacket
	p.send(status[:50])
	eventually.NoErrorWithin(t, patience, "the server to read the first part", func() error {
		if last := srv.Panels()[0].LastPacket; last.Equal(before) {
			return fmt.Errorf("its last packet is still the one at %v", last)
		}
		return nil
	})
	fake.restart(t)
	p.send(status[50:])
	for {
		r := fake.next(t)
		if r.conn < 2 {
			continue
		}
		if !bytes.Equal(r.msg, status) {
			t.Fatalf("the new upstream connection got % x first, want the status change whole", r.msg)
		}
		break
	}
	upSync(p)
	if st := srv.Stats(); st.FramingErrors != 0 {
		t.Errorf("stats %+v: want no framing errors", st)
	}
}
