package mqttlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
)

// startBroker starts the embedded broker for a test.
func startBroker(t testing.TB, auth func(user, pass []byte) bool) *broker.Broker {
	t.Helper()
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Authenticate: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// runLink runs l until the test ends (or stop is called) and checks Run's
// result.
func runLink(t *testing.T, l *Link) (stop func()) {
	t.Helper()
	stopRun := testrig.Serve(t, l.Run)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = stopRun() // its error fails the test at cleanup
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newLink(t *testing.T, cfg Config) *Link {
	t.Helper()
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = 20 * time.Millisecond
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func logTo(buf *lockedbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

var (
	will  = &Message{Topic: "app/status", Payload: []byte("offline"), QoS: 1, Retain: true}
	birth = &Message{Topic: "app/status", Payload: []byte("online"), QoS: 1, Retain: true}
)

// numbered publishes messages from..to-1 on topic, payload the number.
func numbered(t *testing.T, l *Link, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := l.Publish(Message{Topic: topic, Payload: []byte(strconv.Itoa(i)), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
}

// inOrder returns the distinct numbers of msgs, failing on a gap or
// reordering; a number seen already is a QoS 1 redelivery and skipped.
func inOrder(t *testing.T, msgs []mqtttest.Msg) []int {
	t.Helper()
	var out []int
	next := 0
	for _, m := range msgs {
		n, err := strconv.Atoi(m.Payload)
		if err != nil {
			t.Fatalf("payload %q", m.Payload)
		}
		if n < next {
			continue
		}
		if n != next {
			t.Fatalf("message %d after %d: a gap or reordering", n, next-1)
		}
		out = append(out, n)
		next++
	}
	return out
}

// The link delivers what was queued before it ran and what comes after,
// in order; the birth message at each connection; messages of its
// subscriptions to OnMessage in order; and its will when it stops.
func TestLink(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, nil)
	w := mqtttest.Watch(t, br.Addr().String(), "#")
	var mu sync.Mutex
	var got []string
	var logs lockedbuf.Buffer
	l := newLink(t, Config{
		URL: br.URL(), ClientID: "link-test", Will: will, Birth: birth, Logger: logTo(&logs),
		Subscribe: []string{"app/+/set", "other/#"},
		OnMessage: func(topic string, payload []byte, retained bool) {
			if retained {
				t.Errorf("%s: marked retained", topic)
			}
			mu.Lock()
			got = append(got, topic+"="+string(payload))
			mu.Unlock()
		},
	})
	numbered(t, l, "app/n", 0, 500)
	if st := l.Stats(); st.Queued != 500 || st.Published != 500 || st.Connects != 0 || l.Connected() {
		t.Fatalf("before Run: %+v", st)
	}
	stop := runLink(t, l)
	w.WaitFor(t, "app/status", mqtttest.Is("online"))
	numbered(t, l, "app/n", 500, 1000)
	eventually.True(t, "1,000 messages", func() bool { return w.Count("app/n") >= 1000 })
	if n := inOrder(t, w.All("app/n")); len(n) != 1000 {
		t.Fatalf("%d messages", len(n))
	}
	eventually.True(t, "the queue empty", func() bool { return l.Stats().Queued == 0 })
	if !strings.Contains(logs.String(), "connected to the MQTT broker") || !strings.Contains(logs.String(), "protocol=3.1.1") {
		t.Fatalf("log:\n%s", logs.String())
	}

	for i := range 20 {
		w.Publish(t, "app/"+strconv.Itoa(i%3)+"/set", strconv.Itoa(i))
	}
	w.Publish(t, "other/x", "y")
	eventually.True(t, "21 messages to OnMessage", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 21 })
	// In order within a subscription; the broker (NATS) may deliver
	// the two subscriptions' messages interleaved otherwise (a CI run
	// had other/x before the last app/…/set).
	mu.Lock()
	var app []string
	other := 0
	for _, m := range got {
		if strings.HasPrefix(m, "other/") {
			other++
			continue
		}
		app = append(app, m)
	}
	if other != 1 || len(app) != 20 {
		t.Errorf("got %q: want 20 app/…/set and one other/x", got)
	}
	for i := range min(20, len(app)) {
		if want := "app/" + strconv.Itoa(i%3) + "/set=" + strconv.Itoa(i); app[i] != want {
			t.Errorf("message %d: %q, want %q", i, app[i], want)
		}
	}
	mu.Unlock()
	if st := l.Stats(); st.Connects != 1 || !l.Connected() {
		t.Fatalf("stats %+v, connected %v", st, l.Connected())
	}

	stop()
	if l.Connected() {
		t.Fatal("connected after Run returned")
	}
	w.WaitFor(t, "app/status", mqtttest.Is("offline"))
}

// The session is clean: what was published for the subscriptions while
// the link was away does not come when it is back; a retained message
// does, marked retained, at each connection, and one published while
// the link is there comes unmarked (MQTT 3.1.1 §3.3.1.3).
func TestLinkCleanSession(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, nil)
	w := mqtttest.Watch(t, br.Addr().String(), "app/#")
	cut := mqtttest.StartCutter(t, br.Addr().String())
	type msg struct {
		topic, payload string
		retained       bool
	}
	var mu sync.Mutex
	var got []msg
	received := func() []msg { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
	w.PublishRetained(t, "app/kept/set", "old")
	w.WaitRetained(t, "app/kept/set", "old")
	l := newLink(t, Config{
		URL: cut.URL(), ClientID: "link-clean", Birth: birth, Subscribe: []string{"app/+/set"},
		OnMessage: func(topic string, payload []byte, retained bool) {
			mu.Lock()
			got = append(got, msg{topic, string(payload), retained})
			mu.Unlock()
		},
	})
	runLink(t, l)
	eventually.True(t, "the retained message", func() bool { return len(received()) == 1 })
	w.Publish(t, "app/live/set", "1")
	eventually.True(t, "the live message", func() bool { return len(received()) == 2 })

	cut.SetDown(true)
	eventually.True(t, "the link to see it", func() bool { return !l.Connected() })
	w.Publish(t, "app/late/set", "while away") // QoS 1: a persistent session would keep it
	cut.SetDown(false)
	eventually.True(t, "the retained message again", func() bool { return len(received()) == 3 })
	w.Publish(t, "app/live/set", "2") // after the subscription: it follows anything kept
	eventually.True(t, "the second live message", func() bool { return len(received()) >= 4 })
	want := []msg{{"app/kept/set", "old", true}, {"app/live/set", "1", false}, {"app/kept/set", "old", true}, {"app/live/set", "2", false}}
	if g := received(); !slices.Equal(g, want) {
		t.Fatalf("received %+v\nwant %+v", g, want)
	}
}

// Outages in the middle of a stream, with publishes in flight: every
// message arrives, in order (a message sent again after a reconnect may
// arrive twice), and the queue keeps what comes while the broker is away.
func TestLinkOutages(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, nil)
	w := mqtttest.Watch(t, br.Addr().String(), "app/n")
	cut := mqtttest.StartCutter(t, br.Addr().String())
	l := newLink(t, Config{URL: cut.URL(), ClientID: "link-outages", Window: 64, QueueDir: t.TempDir()})
	runLink(t, l)
	const n = 3000
	for round := range 3 {
		from, to := round*n/3, (round+1)*n/3
		numbered(t, l, "app/n", from, (from+to)/2)
		eventually.True(t, "some of the round", func() bool { return w.Count("app/n") > from })
		cut.SetDown(true) // mid-stream: some in flight, most queued
		eventually.True(t, "the link to see it", func() bool { return !l.Connected() })
		numbered(t, l, "app/n", (from+to)/2, to)
		if l.Stats().Queued == 0 {
			t.Fatal("nothing queued during the outage")
		}
		cut.SetDown(false)
	}
	eventually.True(t, "every message", func() bool { return len(inOrder(t, w.All("app/n"))) == n })
	eventually.True(t, "the queue empty", func() bool { return l.Stats().Queued == 0 })
	if st := l.Stats(); st.Connects < 4 {
		t.Fatalf("stats %+v: want 4 connections", st)
	}
}

// The disk queue outlives the process: what one link queued and could
// not send, or was sending when it stopped, the next sends, in order.
func TestLinkRestart(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, nil)
	w := mqtttest.Watch(t, br.Addr().String(), "app/n")
	dir := t.TempDir()

	// No broker: everything stays queued.
	first := newLink(t, Config{URL: "mqtt://" + closedPort(t), QueueDir: dir})
	numbered(t, first, "app/n", 0, 2000)
	stop := runLink(t, first)
	time.Sleep(50 * time.Millisecond)
	stop()

	// The second is stopped in the middle of sending.
	second := newLink(t, Config{URL: br.URL(), ClientID: "link-restart", QueueDir: dir, Window: 16})
	if q := second.Stats().Queued; q != 2000 {
		t.Fatalf("%d queued after a restart, want 2000", q)
	}
	stop = runLink(t, second)
	numbered(t, second, "app/n", 2000, 4000)
	eventually.True(t, "some sent", func() bool { return w.Count("app/n") > 100 })
	stop()
	left := w.Count("app/n")

	third := newLink(t, Config{URL: br.URL(), ClientID: "link-restart", QueueDir: dir})
	if q := third.Stats().Queued; q == 0 && left < 4000 {
		t.Fatalf("the queue lost what was not sent: %d arrived", left)
	}
	runLink(t, third)
	eventually.True(t, "every message", func() bool { return len(inOrder(t, w.All("app/n"))) == 4000 })
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A broker that refuses the credentials: each attempt reports a
// *RefusedError that says so; nothing nothing listening is a dial error.
func TestLinkConnectErrors(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, func(user, pass []byte) bool { return string(pass) == "right" })
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	runLink(t, newLink(t, Config{URL: br.URL(), Username: "u", Password: "wrong", OnConnectError: report}))
	for range 3 {
		err := <-errs
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || !(errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNotAuthorized)) {
			t.Fatalf("%T %v: want a refusal of the credentials", err, err)
		}
		if !strings.Contains(err.Error(), "the broker refused the connection") {
			t.Fatalf("%v", err)
		}
	}

	right := newLink(t, Config{URL: br.URL(), Username: "u", Password: "right", OnConnectError: report})
	runLink(t, right)
	eventually.True(t, "connected with the right password", right.Connected)

	dial := make(chan error, 100)
	runLink(t, newLink(t, Config{URL: "mqtt://" + closedPort(t), OnConnectError: func(err error) {
		select {
		case dial <- err:
		default:
		}
	}}))
	if err := <-dial; errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("%v: want a dial error", err)
	}
}

// The return codes in words, and their sentinels.
func TestRefusedError(t *testing.T) {
	for _, tc := range []struct {
		code     byte
		text     string
		sentinel error
	}{
		{1, "unacceptable protocol version", nil},
		{2, "identifier rejected", nil},
		{4, "bad user name or password (return code 4)", ErrBadCredentials},
		{5, "not authorized (return code 5)", ErrNotAuthorized},
		{9, "return code 9", nil},
	} {
		err := fmt.Errorf("x: %w", &RefusedError{Code: tc.code})
		if !strings.Contains(err.Error(), tc.text) || !errors.Is(err, ErrRefused) {
			t.Errorf("code %d: %v", tc.code, err)
		}
		for _, s := range []error{ErrBadCredentials, ErrNotAuthorized} {
			if errors.Is(err, s) != (s == tc.sentinel) {
				t.Errorf("code %d: Is(%v) = %v", tc.code, s, errors.Is(err, s))
			}
		}
	}
}

// New checks the URL, the will and birth, and the filters; Publish the
// message.
func TestNewAndPublishCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{}, "no broker URL"},
		{Config{URL: "http://b"}, `scheme "http"`},
		{Config{URL: "mqtt://"}, "names no host"},
		{Config{URL: "mqtt://b", Will: &Message{Topic: "a/#"}}, "wildcards"},
		{Config{URL: "mqtt://b", Birth: &Message{Topic: "a", QoS: 2}}, "QoS 2"},
		{Config{URL: "mqtt://b", Subscribe: []string{""}}, "topic filter"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.err)
		}
	}
	for in, want := range map[string]string{"mqtt://b": "mqtt://b:1883", "tcp://b": "mqtt://b:1883", "mqtts://b": "tls://b:8883", "ssl://b:1": "tls://b:1", "ws://b/mqtt": "ws://b:80/mqtt", "wss://b/mqtt": "wss://b:443/mqtt"} {
		l, err := New(Config{URL: in})
		if err != nil || l.url.String() != want {
			t.Errorf("%s: %v %v, want %s", in, l.url, err, want)
		}
	}
	l, err := New(Config{URL: "mqtt://b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{{Topic: ""}, {Topic: "a/+"}, {Topic: "a\x00"}, {Topic: "a", QoS: 2}, {Topic: strings.Repeat("a", 65536)}} {
		if err := l.Publish(m); err == nil {
			t.Errorf("Publish(%.20q, QoS %d): no error", m.Topic, m.QoS)
		}
	}
	if l.Stats().Queued != 0 {
		t.Fatal("a refused message was queued")
	}
}

// fakeBroker accepts one connection at a time, answers CONNECT and holds
// the PUBACKs back until told, so that a test sees how many publishes
// the link has in flight.
type fakeBroker struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	ids     []uint16 // packet ids of the PUBLISHes not acknowledged
	total   int
	release chan struct{}
}

func startFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{ln: ln, release: make(chan struct{}, 1)}
	f.wg.Go(f.serve)
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

// seen returns how many PUBLISHes came, and how many of them wait for
// their PUBACK.
func (f *fakeBroker) seen() [2]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return [2]int{f.total, len(f.ids)}
}

func (f *fakeBroker) serve() {
	nc, err := f.ln.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	go func() { // ends when serve closes nc
		for ok := true; ok; {
			_, ok = <-f.release
			f.mu.Lock()
			for _, id := range f.ids {
				_, _ = nc.Write([]byte{0x40, 2, byte(id >> 8), byte(id)}) // PUBACK
			}
			f.ids = nil
			f.mu.Unlock()
		}
	}()
	defer close(f.release)
	for {
		typ, body, err := readPacket(nc)
		if err != nil {
			return
		}
		switch typ >> 4 {
		case 1: // CONNECT → CONNACK accepted
			_, _ = nc.Write([]byte{0x20, 2, 0, 0})
		case 3: // PUBLISH, QoS 1: topic, then the packet id
			tl := int(binary.BigEndian.Uint16(body))
			f.mu.Lock()
			f.ids = append(f.ids, binary.BigEndian.Uint16(body[2+tl:]))
			f.total++
			f.mu.Unlock()
		case 12: // PINGREQ
			_, _ = nc.Write([]byte{0xd0, 0})
		}
	}
}

// readPacket reads one MQTT packet: its first byte and its body.
func readPacket(r io.Reader) (byte, []byte, error) {
	var h [1]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for {
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n += int(b[0]&0x7f) * mul
		if b[0]&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return h[0], body, err
}

// Publishing is pipelined: the link sends a window of publishes before
// the first PUBACK, and no more than the window.
func TestLinkWindow(t *testing.T) {
	leaktest.Check(t)
	f := startFakeBroker(t)
	l := newLink(t, Config{URL: "mqtt://" + f.ln.Addr().String(), Window: 8})
	numbered(t, l, "app/n", 0, 20)
	runLink(t, l)
	eventually.True(t, "a full window in flight", func() bool { return f.seen() == [2]int{8, 8} })
	time.Sleep(100 * time.Millisecond) // room for a ninth, which must not come
	if n := f.seen(); n != [2]int{8, 8} {
		t.Fatalf("%d publishes sent, %d in flight: window 8", n[0], n[1])
	}
	f.release <- struct{}{}
	eventually.True(t, "the next window", func() bool { return f.seen() == [2]int{16, 8} })
	f.release <- struct{}{}
	eventually.True(t, "the rest", func() bool { return f.seen() == [2]int{20, 4} })
	f.release <- struct{}{}
	eventually.True(t, "the queue empty", func() bool { return l.Stats().Queued == 0 })
}

// BenchmarkDrain is the queue sent to the embedded broker after an
// outage: b.N messages wait in the on-disk queue, the link connects, and
// a subscriber counts them in.
//
//	go test -run '^$' -bench Drain -benchtime 10000x ./mqttlink/
func BenchmarkDrain(b *testing.B) {
	br := startBroker(b, nil)
	w := mqtttest.Watch(b, br.Addr().String(), "g90/+/event")
	l, err := New(Config{URL: br.URL(), QueueDir: b.TempDir(), ClientID: "bench-drain"})
	if err != nil {
		b.Fatal(err)
	}
	msg := Message{Topic: "g90/SIMPANEL0001/event", Payload: benchEvent, QoS: 1}
	mqtttest.BenchDrain(b, w, msg.Topic, func() error { return l.Publish(msg) }, l.Run)
	l.Close()
}
