package cloud

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
)

// TestSplitMessages: a hello written one byte at a time, and a hello split
// between two messages, are answered (spec: D.6.2; the reference loses
// them, F.5 C-ERR-SPLIT).
func TestSplitMessages(t *testing.T) {
	srv, _ := start(t, Config{})
	p := dial(t, srv)
	hello := vector(t, "C-HELLO")
	for i := range hello {
		p.send(hello[i : i+1])
	}
	p.expect(helloReplies(srv))
	two := append(bytes.Clone(hello), ping...)
	p.send(two[:70])
	p.send(two[70:])
	p.expect(append(helloReplies(srv), ping...))
}

// TestGarbageBetweenMessages: bad lengths and garbage cost only
// themselves (spec: D.6.2, D.12).
func TestGarbageBetweenMessages(t *testing.T) {
	srv, rec := start(t, Config{})
	p := dial(t, srv)
	zero := []byte{0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
	huge := []byte{0x22, 0x10, 0x00, 0x20, 0xff, 0xff, 0xff, 0x7f}
	status := vector(t, "C-STATUS-SENSOR-OPEN")
	p.send(bytes.Join([][]byte{zero, ping, []byte("garbage!"), huge, status, ping, huge}, nil))
	p.send(ping)
	p.expect(bytes.Repeat(ping, 3))
	if st := srv.Stats(); st.FramingErrors != 3 || st.FramingBytes != int64(len(zero)+len("garbage!")+2*len(huge)) || st.Messages != 4 {
		t.Errorf("stats %+v: want 3 framing errors of %d bytes, 4 messages", st, len(zero)+len("garbage!")+2*len(huge))
	}
	if msgs := rec.wait(t, 1); len(msgs) != 1 || msgs[0].Kind != cloudproto.KindStatusChange {
		t.Errorf("messages %+v, want the status change", msgs)
	}
}

// TestWrongLength: a header whose message_length is in range but too
// long does not hold up the messages after it: they are answered and
// handled at once, and the bytes of the bad message counted (issue
// 13.17).
func TestWrongLength(t *testing.T) {
	srv, rec := start(t, Config{})
	p := dial(t, srv)
	status := vector(t, "C-STATUS-SENSOR-OPEN")
	bad := bytes.Clone(vector(t, "C-NOTIFICATION"))
	bad[4] = 200 // 37 bytes long
	p.send(bad, status, ping)
	p.expect(ping)
	if msgs := rec.wait(t, 1); len(msgs) != 1 || msgs[0].Kind != cloudproto.KindStatusChange {
		t.Errorf("messages %+v, want the status change", msgs)
	}
	if st := srv.Stats(); st.FramingErrors != 1 || st.FramingBytes != int64(len(bad)) || st.Messages != 2 {
		t.Errorf("stats %+v: want 1 framing error of %d bytes, 2 messages", st, len(bad))
	}
}

// TestSplitEveryBoundary: every message of the spec's vectors, split
// in two at every byte and the halves read separately, is answered and
// its events delivered as if whole (spec: D.6.2; the reference loses
// them all, F.5 C-ERR-SPLIT).
func TestSplitEveryBoundary(t *testing.T) {
	var tick atomic.Int64 // each read of the server gets a new time, in the same second
	adv := netip.MustParseAddrPort("127.0.0.1:5678")
	srv, rec := start(t, Config{Advertise: adv, Now: func() time.Time { return fixedNow.Add(time.Duration(tick.Add(1))) }})
	p := dial(t, srv)
	p.sync()
	params := cloudproto.ReplyParams{LocalPort: srv.Addr().(*net.TCPAddr).Port, Advertise: adv, Now: fixedNow}
	lastRead := func() time.Time { return srv.Panels()[0].LastPacket }
	events := 0
	for _, id := range []string{"C-PING", "C-HELLO", "C-DISCOVERY", "C-NOTIFICATION", "C-STATUS-ALARM-TAMPER",
		"C-STATUS-ALARM-GAS", "C-STATUS-ALARM-REGULAR", "C-STATUS-SENSOR-OPEN", "C-STATUS-SENSOR-RFID", "C-COMMAND-RESPONSE"} {
		msg := vector(t, id)
		m, err := cloudproto.Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		want := append(cloudproto.AppendReplies(nil, &m, params), ping...)
		for cut := 1; cut < len(msg); cut++ {
			before := lastRead()
			p.send(msg[:cut])
			for deadline := time.Now().Add(patience); lastRead().Equal(before); time.Sleep(50 * time.Microsecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s cut at %d: the server did not read the first part", id, cut)
				}
			}
			p.send(append(bytes.Clone(msg[cut:]), ping...))
			if got := p.read(len(want)); !bytes.Equal(got, want) {
				t.Fatalf("%s cut at %d: server sent\n% x\nwant\n% x", id, cut, got, want)
			}
		}
		if m.Kind == cloudproto.KindStatusChange || m.Kind == cloudproto.KindNotification {
			events += len(msg) - 1
		}
	}
	if got := rec.wait(t, events); len(got) != events {
		t.Errorf("%d messages delivered, want %d", len(got), events)
	}
	if st := srv.Stats(); st.FramingErrors != 0 || st.DecodeErrors != 0 || st.Invalid != 0 {
		t.Errorf("stats %+v: want no errors", st)
	}
}

// TestIdleTimeout: a panel that says nothing valid for IdleTimeout is
// closed: bytes that make no message do not keep it open (issue 13: one
// byte a minute held a place for ever), valid messages do.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv, _ := start(t, Config{IdleTimeout: idle})
	p := dial(t, srv)
	p.send(vector(t, "C-HELLO"))
	p.expect(helloReplies(srv))
	// Pings keep it open for many timeouts…
	for range 10 {
		time.Sleep(idle / 3)
		p.sync()
	}
	// …a byte of garbage now and then does not.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(idle / 5):
				p.nc.Write([]byte{0xee})
			}
		}
	}()
	p.closed()
	close(stop)
	<-done
	waitStats(t, srv, func(s Stats) bool { return s.IdleClosed == 1 && s.Open == 0 && s.HelloTimeouts == 0 })
}

// TestHelloTimeout: a connection that has not named a panel within
// HelloTimeout is closed, though it sends valid pings; one that sends
// nothing too.
func TestHelloTimeout(t *testing.T) {
	const wait = 300 * time.Millisecond
	srv, _ := start(t, Config{HelloTimeout: wait})
	quiet := dial(t, srv)
	pinger := dial(t, srv)
	for range 3 {
		pinger.sync()
	}
	start := time.Now()
	quiet.closed()
	pinger.closed()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v, want about %v", d, wait)
	}
	// A panel that says hello at once stays.
	p := dial(t, srv)
	p.send(vector(t, "C-DISCOVERY"))
	p.read(44) // M11 (spec: D.4)
	time.Sleep(2 * wait)
	p.sync()
	waitStats(t, srv, func(s Stats) bool { return s.HelloTimeouts == 2 && s.Open == 1 })
}

// TestMaxPerAddr: one address cannot take more than MaxPerAddr places;
// others are still served.
func TestMaxPerAddr(t *testing.T) {
	srv, _ := start(t, Config{MaxPerAddr: 2})
	a, b := dialFrom(t, srv, "127.0.0.2"), dialFrom(t, srv, "127.0.0.2")
	a.sync()
	b.sync()
	dialFrom(t, srv, "127.0.0.2").closed()
	dialFrom(t, srv, "127.0.0.3").sync()
	if st := srv.Stats(); st.OverLimit != 1 || st.Accepted != 4 {
		t.Errorf("stats %+v: want 1 over the limit of 4 accepted", st)
	}
	// A place given back is free again.
	a.nc.Close()
	waitStats(t, srv, func(s Stats) bool { return s.Open == 2 })
	dialFrom(t, srv, "127.0.0.2").sync()
}

// TestConflict: a hello naming a panel connected from another address
// does not replace the live connection while it is not silent; it is
// closed, counted and reported. Once the live one has been silent for
// Takeover, a newcomer from elsewhere takes over (a NAT rebinding).
func TestConflict(t *testing.T) {
	const takeover = 400 * time.Millisecond
	var mu sync.Mutex
	var got []Conflict
	srv, rec := start(t, Config{Takeover: takeover, OnConflict: func(c Conflict) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}})
	live := dialFrom(t, srv, "127.0.0.1")
	live.send(helloWithGUID(t, "PANEL-A"))
	live.expect(helloReplies(srv))

	intruder := dialFrom(t, srv, "127.0.0.3")
	intruder.send(helloWithGUID(t, "PANEL-A"), vector(t, "C-NOTIFICATION"))
	intruder.closed()
	live.send(vector(t, "C-NOTIFICATION"))
	live.sync()
	if msgs := rec.wait(t, 1); len(msgs) != 1 || msgs[0].Remote.Addr().String() != "127.0.0.1" {
		t.Fatalf("messages %+v, want only the live panel's", msgs)
	}
	st := srv.Stats()
	if st.Conflicts != 1 || st.Takeovers != 0 || st.Replaced != 0 {
		t.Errorf("stats %+v: want 1 conflict, no takeover", st)
	}

	// Silent past Takeover: the newcomer wins.
	time.Sleep(takeover + 100*time.Millisecond)
	moved := dialFrom(t, srv, "127.0.0.4")
	moved.send(helloWithGUID(t, "PANEL-A"))
	moved.expect(helloReplies(srv))
	live.closed()
	st = waitStats(t, srv, func(s Stats) bool { return s.Open == 1 })
	if st.Conflicts != 2 || st.Takeovers != 1 || st.Replaced != 1 {
		t.Errorf("stats %+v: want 2 conflicts, 1 takeover", st)
	}
	if p, ok := srv.Panel("PANEL-A"); !ok || p.Remote.Addr().String() != "127.0.0.4" {
		t.Errorf("Panel(PANEL-A) = %+v, %v; want the connection from 127.0.0.4", p, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Takeover || got[0].New.Addr().String() != "127.0.0.3" || got[0].Live.Addr().String() != "127.0.0.1" ||
		!got[1].Takeover || got[1].New.Addr().String() != "127.0.0.4" {
		t.Errorf("conflicts reported: %+v", got)
	}
}

// TestDisconnectMidMessage: a panel gone half way through a message
// leaves nothing behind, and the next connection is served.
func TestDisconnectMidMessage(t *testing.T) {
	srv, rec := start(t, Config{})
	p := dial(t, srv)
	p.send(vector(t, "C-STATUS-SENSOR-OPEN")[:50])
	p.nc.Close()
	waitStats(t, srv, func(s Stats) bool { return s.Open == 0 && s.Accepted == 1 })
	q := dial(t, srv)
	q.send(vector(t, "C-NOTIFICATION"))
	q.sync()
	if msgs := rec.wait(t, 1); len(msgs) != 1 || msgs[0].Kind != cloudproto.KindNotification {
		t.Errorf("messages %+v, want only the notification", msgs)
	}
}

// TestReconnectReplaces: a panel that connects again replaces its own old
// connection and no other ([REC], spec: E.5).
func TestReconnectReplaces(t *testing.T) {
	srv, rec := start(t, Config{})
	a1, b := dial(t, srv), dial(t, srv)
	a1.send(helloWithGUID(t, "PANEL-A"))
	a1.expect(helloReplies(srv))
	b.send(helloWithGUID(t, "PANEL-B"))
	b.expect(helloReplies(srv))

	a2 := dial(t, srv)
	a2.send(helloWithGUID(t, "PANEL-A"))
	a2.expect(helloReplies(srv))
	a1.closed()
	b.sync()
	a2.sync()
	b.send(vector(t, "C-NOTIFICATION"))
	b.sync()
	a2.send(vector(t, "C-NOTIFICATION"))
	a2.sync()
	msgs := rec.wait(t, 2)
	if msgs[0].GUID != "PANEL-B" || msgs[1].GUID != "PANEL-A" {
		t.Errorf("messages from %q and %q, want PANEL-B and PANEL-A", msgs[0].GUID, msgs[1].GUID)
	}
	st := waitStats(t, srv, func(s Stats) bool { return s.Open == 2 })
	if st.Replaced != 1 {
		t.Errorf("Replaced = %d, want 1", st.Replaced)
	}
	var guids []string
	for _, p := range srv.Panels() {
		guids = append(guids, p.GUID)
	}
	if len(guids) != 2 || guids[0] != "PANEL-B" || guids[1] != "PANEL-A" {
		t.Errorf("Panels = %v, want PANEL-B then PANEL-A", guids)
	}
}

// TestAllowGUIDs: unknown panels get nothing and are counted; a known
// panel is served once it has named itself.
func TestAllowGUIDs(t *testing.T) {
	srv, rec := start(t, Config{AllowGUIDs: []string{"PANEL-A"}})
	stranger := dial(t, srv)
	stranger.send(ping, vector(t, "C-NOTIFICATION"), helloWithGUID(t, "PANEL-X"))
	stranger.closed()

	p := dial(t, srv)
	p.send(ping, vector(t, "C-NOTIFICATION"), helloWithGUID(t, "PANEL-A"))
	p.expect(helloReplies(srv)) // no reply to the ping before the hello
	p.send(vector(t, "C-NOTIFICATION"))
	p.sync()
	if msgs := rec.wait(t, 1); len(msgs) != 1 || msgs[0].GUID != "PANEL-A" {
		t.Errorf("messages %+v, want one from PANEL-A", msgs)
	}
	if st := srv.Stats(); st.Rejected != 1 || st.Unidentified != 4 {
		t.Errorf("stats %+v: want 1 rejected, 4 unidentified", st)
	}
}

// TestAllowNets: a connection from elsewhere is closed at once.
func TestAllowNets(t *testing.T) {
	srv, _ := start(t, Config{AllowNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	p := dial(t, srv)
	p.send(ping)
	p.closed()
	waitStats(t, srv, func(s Stats) bool { return s.Rejected == 1 && s.Open == 0 })

	srv2, _ := start(t, Config{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	dial(t, srv2).sync()
}

// TestMaxConns: connections beyond the limit are closed at once.
func TestMaxConns(t *testing.T) {
	srv, _ := start(t, Config{MaxConns: 1})
	p := dial(t, srv)
	p.sync()
	q := dial(t, srv)
	q.closed()
	if st := srv.Stats(); st.OverLimit != 1 {
		t.Errorf("OverLimit = %d, want 1", st.OverLimit)
	}
	p.sync()
}

// TestSlowHandler: a handler that falls behind slows its panel down
// instead of losing its messages: the reader answers what it has read,
// then hands the messages over, and the panel's later bytes wait in TCP
// (conn.deliver).
func TestSlowHandler(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := HandlerFunc(func(ctx context.Context, m *Message) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	})
	srv, _ := start(t, Config{Handler: h})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the server stops
	p := dial(t, srv)
	n := vector(t, "C-NOTIFICATION")
	p.send(append(bytes.Clone(ping), n...))
	p.expect(ping) // answered, though the handler holds the notification
	<-entered
	p.send(n, ping) // not read until the handler returns
	unblock()
	p.expect(ping)
	if st := waitStats(t, srv, func(s Stats) bool { return s.Delivered == 2 }); st.Messages != 4 {
		t.Errorf("stats %+v: want 4 messages, 2 delivered", st)
	}
}

// TestDiscoveryAdvertisesLocalAddr: without Config.Advertise, the
// discovery reply names the address the panel connected to.
func TestDiscoveryAdvertisesLocalAddr(t *testing.T) {
	srv, _ := start(t, Config{})
	p := dial(t, srv)
	p.send(vector(t, "C-DISCOVERY"))
	p.expect(discoveryReply(addrPort(p.nc.RemoteAddr())))
}

func TestConfigErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, cfg := range []Config{
		{Listener: ln, Advertise: netip.MustParseAddrPort("[2001:db8::1]:5678")},
		{Listener: ln, Advertise: netip.MustParseAddrPort("10.0.0.1:0")},
		{Listener: ln, MaxConns: -1},
		{Listener: ln, AllowNets: []netip.Prefix{{}}},
		{Listener: ln, ReplayBuffer: -2},
		{Listener: ln, BackoffReset: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestServeTwice(t *testing.T) {
	srv, _ := start(t, Config{})
	dial(t, srv).sync() // Serve is running
	if err := srv.Serve(context.Background()); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve = %v, want ErrServing", err)
	}
}
