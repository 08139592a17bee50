package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/internal/eventually"
	"github.com/g90alarm/g90/internal/leaktest"
	"github.com/g90alarm/g90/internal/lockedbuf"
	"github.com/g90alarm/g90/internal/mqtt311"
	"github.com/g90alarm/g90/internal/mqtttest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// Answers of only311 to a CONNECT it refuses.
var (
	// connack311 is how an MQTT 3.1.1 broker refuses MQTT 5: return
	// code 1, unacceptable protocol version (MQTT 3.1.1 §3.1.2.2).
	connack311 = []byte{0x20, 2, 0, 1}
	// connack84 is an MQTT 5 CONNACK, reason 0x84, unsupported
	// protocol version (MQTT 5.0 §3.2.2.2).
	connack84 = []byte{0x20, 3, 0, 0x84, 0}
)

// only311 plays a broker that speaks only MQTT 3.1.1 in front of a real
// one: it reads each CONNECT, refuses protocol level 5 with its refusal
// (nil: closes the connection without a word), and for level 4 dials
// the real broker, forwards the CONNECT and pipes both ways.
type only311 struct {
	t        *testing.T
	ln       net.Listener
	upstream string
	refusal  []byte

	mu      sync.Mutex
	levels  []byte // the protocol level of every CONNECT, in order
	refuse  map[byte]bool
	conns   map[net.Conn]bool
	stopped bool
	wg      sync.WaitGroup
}

// startOnly311 starts the fixture for the broker at upstream (host:port).
func startOnly311(t *testing.T, upstream string, refusal []byte) *only311 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &only311{t: t, ln: ln, upstream: upstream, refusal: refusal, refuse: map[byte]bool{5: true}, conns: map[net.Conn]bool{}}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *only311) url() string { return "mqtt://" + f.ln.Addr().String() }

// setRefuse sets the protocol levels refused.
func (f *only311) setRefuse(levels ...byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.refuse)
	for _, l := range levels {
		f.refuse[l] = true
	}
}

// seen returns the protocol levels of the CONNECTs so far.
func (f *only311) seen() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.levels)
}

// drop closes every connection it pipes.
func (f *only311) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// track adds c to the connections closed by drop and close; false if
// the fixture is closed.
func (f *only311) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		c.Close()
		return false
	}
	f.conns[c] = true
	return true
}

func (f *only311) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *only311) close() {
	f.ln.Close()
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.drop()
	f.wg.Wait()
}

func (f *only311) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if f.track(c) {
			f.wg.Go(func() { f.serve(c) })
		}
	}
}

func (f *only311) serve(c net.Conn) {
	defer f.untrack(c)
	connect, err := readRawPacket(c)
	if err != nil {
		return
	}
	// The protocol level follows the protocol name, "MQTT" in both
	// versions (MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2).
	_, n, _ := mqtt311.ParseHeader(connect)
	if len(connect) < n+7 || connect[0] != 0x10 || string(connect[n:n+6]) != "\x00\x04MQTT" {
		f.t.Errorf("only311: not a CONNECT: % x", connect)
		return
	}
	level := connect[n+6]
	f.mu.Lock()
	f.levels = append(f.levels, level)
	refuse := f.refuse[level]
	f.mu.Unlock()
	if refuse {
		if level == 5 {
			_, _ = c.Write(f.refusal)
		} else {
			_, _ = c.Write(connack311)
		}
		return
	}
	up, err := net.Dial("tcp", f.upstream)
	if err != nil || !f.track(up) {
		return
	}
	defer f.untrack(up)
	if _, err := up.Write(connect); err != nil {
		return
	}
	var pipes sync.WaitGroup
	pipes.Go(func() {
		_, _ = io.Copy(c, up)
		c.Close()
	})
	_, _ = io.Copy(up, c)
	up.Close()
	pipes.Wait()
}

// readRawPacket reads one MQTT packet's bytes.
func readRawPacket(r io.Reader) ([]byte, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			return nil, err
		}
		b = append(b, one[0])
		h, n, err := mqtt311.ParseHeader(b)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			b = append(b, make([]byte, h.Remaining)...)
			_, err := io.ReadFull(r, b[n:])
			return b, err
		}
	}
}

// logTo captures a bridge's log in buf.
func logTo(buf *lockedbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// The MQTT 3.1.1 path does what the MQTT 5 path does: discovery and
// states, events in order, commands, and the will on stop.
func TestMQTT311(t *testing.T) {
	var logs lockedbuf.Buffer
	r := startRigWith(t, "", func(c *Config) { c.Protocol = Protocol311; c.Logger = logTo(&logs) }, nil)
	if l := logs.String(); !strings.Contains(l, "connected to the MQTT broker") || !strings.Contains(l, "protocol=3.1.1") {
		t.Fatalf("the log does not say MQTT 3.1.1:\n%s", l)
	}
	r.w.WaitFor(t, "homeassistant/device/g90_simpanel0001/config", func(p string) bool { return p != "" })
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))

	for _, ev := range []string{"door_open", "door_close", "door_open"} {
		one := 1
		if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, "the events", func() bool { return len(r.w.All("g90/SIMPANEL0001/event")) >= 3 })
	checkSeqs(t, r.w.All("g90/SIMPANEL0001/event"))
	r.w.WaitFor(t, "g90/SIMPANEL0001/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })

	r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", "ARM_AWAY")
	r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("armed_away"))
	r.w.Publish(t, "g90/SIMPANEL0001/relay/6/2/set", "ON")
	r.w.WaitFor(t, "g90/SIMPANEL0001/relay/6/2", mqtttest.Is("ON"))
	if st := r.sim.Snapshot(); st.Arm != protocol.ArmAway || !st.Relays[6][2] {
		t.Fatalf("the simulator: arm %v, relay 6:2 %v", st.Arm, st.Relays[6][2])
	}
	r.w.Publish(t, "homeassistant/status", "online") // the birth message is routed too
	if st := r.b.Stats(); st.Connects != 1 || !r.b.Connected() {
		t.Fatalf("stats %+v, connected %v", st, r.b.Connected())
	}

	r.stop()
	r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
	if r.b.Connected() {
		t.Fatal("connected after Run returned")
	}
}

// checkSeqs fails unless the events' sequence numbers are 1, 2, 3, …
func checkSeqs(t *testing.T, evs []mqtttest.Msg) {
	t.Helper()
	for i, m := range evs {
		var ev struct{ Seq int }
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Seq != i+1 || m.Retained {
			t.Fatalf("event %d: %s (retained %v)", i, m.Payload, m.Retained)
		}
	}
}

// A broker that refuses MQTT 5, in each way one may: the bridge in auto
// mode falls back to MQTT 3.1.1 at once and works through it; it keeps
// MQTT 3.1.1 across a lost connection, the broker keeps its session
// (a command sent while it is away arrives), and the queue sends what
// happened meanwhile, in order.
func TestFallbackTo311(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refusal []byte
	}{
		{"3.1.1 CONNACK", connack311},
		{"MQTT 5 reason 0x84", connack84},
		{"closed without CONNACK", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fx *only311
			var logs lockedbuf.Buffer
			r := startRigWith(t, "", func(c *Config) {
				fx = startOnly311(t, strings.TrimPrefix(c.URL, "mqtt://"), tc.refusal)
				c.URL, c.Logger = fx.url(), logTo(&logs)
			}, nil)
			if got := fx.seen(); !slices.Equal(got, []byte{5, 4}) {
				t.Fatalf("CONNECT protocol levels %v, want 5 then 4", got)
			}
			if l := logs.String(); !strings.Contains(l, "protocol=3.1.1") || strings.Contains(l, "level=WARN") {
				t.Fatalf("the log:\n%s", l)
			}
			if tc.name != "3.1.1 CONNACK" {
				return // the rest is the same whatever the refusal
			}

			// Lost: the bridge reconnects with MQTT 3.1.1, not 5.
			fx.setRefuse(4, 5)
			fx.drop()
			eventually.True(t, "the bridge to see the loss", func() bool { return !r.b.Connected() })
			one := 1
			if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
				t.Fatal(err)
			}
			r.w.Publish(t, "g90/SIMPANEL0001/alarm/set", "ARM_HOME")
			eventually.True(t, "the event to wait in the queue", func() bool { return r.b.QueueDepth() > 0 })
			fx.setRefuse(5)
			r.w.WaitFor(t, "g90/SIMPANEL0001/alarm", mqtttest.Is("armed_home"))
			eventually.True(t, "the event", func() bool { return len(r.w.All("g90/SIMPANEL0001/event")) >= 1 })
			checkSeqs(t, r.w.All("g90/SIMPANEL0001/event"))
			if st := r.b.Stats(); st.Connects != 2 {
				t.Fatalf("stats %+v: want 2 connections\n%s", st, logs.String())
			}
			for _, l := range fx.seen()[2:] {
				if l != 4 {
					t.Fatalf("CONNECT protocol levels %v: MQTT 5 tried again after MQTT 3.1.1 connected", fx.seen())
				}
			}
			r.stop()
			r.w.WaitFor(t, "g90/bridge/status", mqtttest.Is("offline"))
		})
	}
}

// A broker that refuses both protocols: the bridge in auto mode keeps
// trying one and then the other.
func TestFallbackAlternates(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, nil)
	fx := startOnly311(t, br.Addr().String(), connack311)
	fx.setRefuse(4, 5)
	var logs lockedbuf.Buffer
	runIdleBridge(t, Config{URL: fx.url(), Logger: logTo(&logs)})
	eventually.True(t, "four attempts", func() bool { return len(fx.seen()) >= 4 })
	if got := fx.seen()[:4]; !slices.Equal(got, []byte{5, 4, 5, 4}) {
		t.Fatalf("CONNECT protocol levels %v, want 5, 4, 5, 4", got)
	}
}

// Neither a refusal of the credentials nor a broker that is not there
// makes the bridge change protocol.
func TestNoFallback(t *testing.T) {
	leaktest.Check(t)
	br := startBroker(t, func(user, pass []byte) bool { return string(pass) == "right" })
	fx := startOnly311(t, br.Addr().String(), nil)
	fx.setRefuse() // a recording proxy
	var logs lockedbuf.Buffer
	b := runIdleBridge(t, Config{URL: fx.url(), Username: "g90", Password: "wrong", Logger: logTo(&logs)})
	eventually.True(t, "three attempts", func() bool { return len(fx.seen()) >= 3 })
	if got := fx.seen(); slices.Contains(got, 4) {
		t.Fatalf("CONNECT protocol levels %v: MQTT 3.1.1 tried after a refusal of the credentials", got)
	}
	if l := logs.String(); !strings.Contains(l, "bad user name or password (check mqtt.username and mqtt.password)") {
		t.Fatalf("the log does not say why:\n%s", l)
	}
	if b.Connected() {
		t.Fatal("connected")
	}

	// The same with MQTT 3.1.1 chosen: its refusal in words.
	logs = lockedbuf.Buffer{}
	runIdleBridge(t, Config{URL: br.URL(), Protocol: Protocol311, Username: "g90", Password: "wrong", Logger: logTo(&logs)})
	eventually.True(t, "the refusal logged", func() bool {
		return strings.Contains(logs.String(), "not authorized (check mqtt.username, mqtt.password and the broker's ACL)")
	})

	// Nothing listens: a dial error, again and again, and never MQTT
	// 3.1.1 (which would log its protocol).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var dialLogs lockedbuf.Buffer
	runIdleBridge(t, Config{URL: "mqtt://" + addr, Logger: logTo(&dialLogs)})
	eventually.True(t, "three failed dials", func() bool { return strings.Count(dialLogs.String(), "connection refused") >= 3 })
	if l := dialLogs.String(); strings.Contains(l, "trying MQTT 3.1.1") {
		t.Fatalf("a failed dial made the bridge change protocol:\n%s", l)
	}
}

// startBroker starts the embedded broker for a test.
func startBroker(t *testing.T, auth func(user, pass []byte) bool) *broker.Broker {
	t.Helper()
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Authenticate: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// runIdleBridge runs a bridge whose panel is never read (nothing is
// published but the bridge's status) until the test ends.
func runIdleBridge(t *testing.T, cfg Config) *Bridge {
	t.Helper()
	p, err := g90.New(g90.Config{Host: "127.0.0.1", Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Panels = []Panel{{Panel: p, Monitor: p.NewMonitor(g90.MonitorConfig{})}}
	cfg.ReconnectDelay = 20 * time.Millisecond
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return b
}

// Config.Protocol is checked by New.
func TestNewProtocol(t *testing.T) {
	p, err := g90.New(g90.Config{Host: "127.0.0.1", Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	panels := []Panel{{Panel: p, Monitor: p.NewMonitor(g90.MonitorConfig{})}}
	for _, tc := range []struct{ url, proto, err string }{
		{"mqtt://b", "", ""},
		{"mqtt://b", "auto", ""},
		{"mqtts://b", "3.1.1", ""},
		{"ws://b", "5", ""},
		{"wss://b", "auto", ""},
		{"ws://b", "3.1.1", "MQTT 3.1.1 over WebSocket is not supported"},
		{"mqtt://b", "3", `protocol "3": want auto, 5 or 3.1.1`},
	} {
		b, err := New(Config{URL: tc.url, Protocol: tc.proto, Panels: panels})
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s with %q: %v, want %q", tc.url, tc.proto, err, tc.err)
		}
		if err == nil && (tc.proto == "" && b.cfg.Protocol != ProtocolAuto || b.auto() != (b.cfg.Protocol == ProtocolAuto && !strings.HasPrefix(tc.url, "ws"))) {
			t.Errorf("%s with %q: protocol %q, auto %v", tc.url, tc.proto, b.cfg.Protocol, b.auto())
		}
	}
}

// Which failed MQTT 5 attempts are the broker refusing MQTT 5.
func TestRefusedMQTT5(t *testing.T) {
	probe := func(wrote bool, head []byte, closed bool) *probeConn {
		return &probeConn{wrote: wrote, head: head, closed: closed}
	}
	eof := fmt.Errorf("failed to connect: %w", io.EOF)
	for _, tc := range []struct {
		name  string
		err   error
		probe *probeConn
		want  bool
	}{
		{"dial refused", errors.New("dial tcp 127.0.0.1:1: connection refused"), nil, false},
		{"reason 0x84", &autopaho.ConnackError{ReasonCode: 0x84}, probe(true, []byte{0x20, 3, 0, 0x84}, false), true},
		{"bad credentials", &autopaho.ConnackError{ReasonCode: 0x86}, probe(true, []byte{0x20, 3, 0, 0x86}, false), false},
		{"not authorized", &autopaho.ConnackError{ReasonCode: 0x87}, probe(true, []byte{0x20, 3, 0, 0x87}, false), false},
		{"3.1.1 CONNACK 1", eof, probe(true, []byte{0x20, 2, 0, 1}, false), true},
		{"3.1.1 CONNACK 5", eof, probe(true, []byte{0x20, 2, 0, 5}, false), false},
		{"closed at once", eof, probe(true, nil, true), true},
		{"timeout", context.DeadlineExceeded, probe(true, nil, false), false},
	} {
		why := tc.probe.refusal()
		if got := refusedMQTT5(tc.err, why); got != tc.want {
			t.Errorf("%s: refused %v, want %v", tc.name, got, tc.want)
		}
	}
	if refusedMQTT311(errors.New("dial tcp: connection refused")) || refusedMQTT311(&mqtt311.ConnackError{Code: 4}) ||
		!refusedMQTT311(&mqtt311.ConnackError{Code: 1}) || !refusedMQTT311(fmt.Errorf("x: %w", mqtt311.ErrNoConnack)) {
		t.Error("refusedMQTT311")
	}
}

// A refusal is said in words, for either protocol.
func TestConnectError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&autopaho.ConnackError{ReasonCode: 0x86}, "the broker refused the connection: bad user name or password (check mqtt.username and mqtt.password)"},
		{&autopaho.ConnackError{ReasonCode: 0x84}, "unsupported protocol version (the broker does not speak MQTT 5: set mqtt.protocol to auto or 3.1.1)"},
		{&autopaho.ConnackError{ReasonCode: 0x87, Reason: "acl"}, "not authorized (check mqtt.username, mqtt.password and the broker's ACL): acl"},
		{&autopaho.ConnackError{ReasonCode: 0xEE}, "the broker refused the connection: reason code 238"},
		{fmt.Errorf("connect: %w", &mqtt311.ConnackError{Code: 4}), "the broker refused the connection: bad user name or password (check mqtt.username and mqtt.password)"},
		{&mqtt311.ConnackError{Code: 5}, "not authorized (check mqtt.username, mqtt.password and the broker's ACL)"},
		{&mqtt311.ConnackError{Code: 1}, "unacceptable protocol version (the broker does not speak MQTT 3.1.1: set mqtt.protocol to auto or 5)"},
		{&mqtt311.ConnackError{Code: 2}, "identifier rejected"},
		{&mqtt311.ConnackError{Code: 9}, "the broker refused the connection: return code 9"},
		{errors.New("dial tcp: connection refused"), "dial tcp: connection refused"},
	} {
		if got := connectError(tc.err).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("connectError(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

// BenchmarkDrain is the queue sent to the broker after an outage: b.N
// events wait in the on-disk queue, the bridge connects, and a
// subscriber counts them in. MQTT 5 (autopaho) sends while earlier
// messages wait for their PUBACK; MQTT 3.1.1 sends one at a time.
//
//	go test -run '^$' -bench Drain -benchtime 20000x ./bridge/
func BenchmarkDrain(b *testing.B) {
	for _, proto := range []string{Protocol5, Protocol311} {
		b.Run(proto, func(b *testing.B) {
			br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			const topic = "g90/SIMPANEL0001/event"
			var mu sync.Mutex
			n := 0
			all := make(chan struct{})
			sub, err := mqtt311.Dial(context.Background(), mqtt311.Config{
				Addr: br.Addr().String(), ClientID: "bench-sub", CleanSession: true,
				OnMessage: func(t string, _ []byte) {
					if t != topic {
						return
					}
					mu.Lock()
					if n++; n == b.N {
						close(all)
					}
					mu.Unlock()
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			if _, err := sub.Subscribe(context.Background(), []mqtt311.Subscription{{Topic: topic, QoS: 1}}); err != nil {
				b.Fatal(err)
			}
			p, err := g90.New(g90.Config{Host: "127.0.0.1", Port: 9})
			if err != nil {
				b.Fatal(err)
			}
			bb, err := New(Config{
				URL: br.URL(), Protocol: proto, QueueDir: b.TempDir(), ClientID: "bench-" + proto,
				Panels: []Panel{{Panel: p, Monitor: p.NewMonitor(g90.MonitorConfig{})}},
			})
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				bb.publish(topic, benchEvent, false)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			go func() { done <- bb.Run(ctx) }()
			<-all
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

var benchEvent = []byte(`{"time":"2026-11-21T09:05:56.735526022Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"seq":1}`)
