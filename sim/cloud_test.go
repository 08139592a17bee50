package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/protocol"
)

// cloudVector returns the input of a C-* vector (spec:
// notifications-and-cloud.md F.4).
func cloudVector(t *testing.T, id string) []byte {
	t.Helper()
	b, err := os.ReadFile("../cloudproto/testdata/cloud-vectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	es, err := vectors.ParseEntries(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ID == id {
			if h, ok := vectors.Hex(e.Fields["input_hex"]); ok {
				return h
			}
			if cs := vectors.Items(e.Fields["input_chunks"]); len(cs) > 0 {
				if h, ok := vectors.Hex(cs[len(cs)-1]); ok { // C-STATUS-DISARM: after a hello
					return h
				}
			}
		}
	}
	t.Fatalf("no vector %s with hex input", id)
	return nil
}

// vendor is a fake vendor cloud that keeps the messages it receives.
type vendor struct {
	*VendorCloud
	mu   sync.Mutex
	msgs [][]byte
}

func startVendor(t *testing.T) *vendor {
	t.Helper()
	leaktest.Check(t)
	v := &vendor{}
	vc, err := NewVendorCloud(VendorCloudConfig{Now: fixedClock, OnMessage: func(_ int, raw []byte) {
		v.mu.Lock()
		v.msgs = append(v.msgs, bytes.Clone(raw))
		v.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	v.VendorCloud = vc
	testrig.Serve(t, vc.Serve)
	// Serve marks the fake serving from its goroutine: a Stop and
	// Restart before that would find it not serving (a CI run did).
	// Restart does nothing once it is.
	eventually.NoError(t, "the vendor cloud serving", vc.Restart)
	return v
}

// received returns a copy of the messages received so far.
func (v *vendor) received() [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.msgs)
}

// wait returns the messages received once there are at least n.
func (v *vendor) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	var msgs [][]byte
	eventually.NoError(t, fmt.Sprintf("%d messages at the cloud", n), func() error {
		if msgs = v.received(); len(msgs) < n {
			return fmt.Errorf("%d received", len(msgs))
		}
		return nil
	})
	return msgs
}

// waitEvents returns the event messages received once there are at
// least n.
func (v *vendor) waitEvents(t *testing.T, n int) [][]byte {
	t.Helper()
	var evs [][]byte
	eventually.NoError(t, fmt.Sprintf("%d event messages at the cloud", n), func() error {
		if evs = events(t, v.received()); len(evs) < n {
			return fmt.Errorf("%d received", len(evs))
		}
		return nil
	})
	return evs
}

// events returns the status changes and notifications of msgs.
func events(t *testing.T, msgs [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, raw := range msgs {
		m, err := cloudproto.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == cloudproto.KindStatusChange || m.Kind == cloudproto.KindNotification {
			out = append(out, raw)
		}
	}
	return out
}

// waitLink waits until ok holds for l's counters.
func waitLink(t *testing.T, l *CloudLink, what string, ok func(CloudStats) bool) CloudStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := l.Wait(ctx, ok); err != nil {
		t.Fatalf("waiting for %s: %v; stats %+v", what, err, l.Stats())
	}
	return l.Stats()
}

// fastCloud are link settings for tests: quick pings, hellos, replies
// and backoff.
func fastCloud(addr string) CloudConfig {
	return CloudConfig{Addr: addr, PingInterval: 5 * time.Millisecond, HelloInterval: 7 * time.Millisecond,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}
}

// TestCloudSession: the panel starts with a discovery that is C-DISCOVERY
// byte for byte, says hello with the captured values, pings and says
// hello again, and every request is answered (spec: D.5.1-D.5.3, D.8).
func TestCloudSession(t *testing.T) {
	v := startVendor(t)
	st0 := defaultState(testNow)
	st0.Host.GUID = "GA00000A0000000"
	p := start(t, Config{State: &st0, Cloud: fastCloud(v.Addr())})
	st := waitLink(t, p.Cloud(), "pings and hellos", func(s CloudStats) bool { return s.PingsAnswered >= 3 && s.HellosAnswered >= 2 })
	if st.Discoveries != 1 || st.Connects != 1 || st.ConnectErrors != 0 {
		t.Errorf("stats %+v: want one connection, one discovery", st)
	}
	msgs := v.wait(t, 4)
	if !bytes.Equal(msgs[0], cloudVector(t, "C-DISCOVERY")) {
		t.Errorf("first message\n% x\nwant C-DISCOVERY\n% x", msgs[0], cloudVector(t, "C-DISCOVERY"))
	}
	hello, err := cloudproto.Decode(msgs[1])
	if err != nil || hello.Kind != cloudproto.KindHello {
		t.Fatalf("second message % x: %v, want a hello", msgs[1], err)
	}
	want := cloudproto.Hello{GUID: "GA00000A0000000", Unknown3: 2, Unknown4: 0x7000, FirmwareVersion: "207",
		Unknown5: 0x2000BA58, Unknown6: 0x30, Unknown8: 7, Unknown9: 30, Unknown10: 30}
	if hello.Hello != want {
		t.Errorf("hello %+v, want %+v (spec: D.5.2)", hello.Hello, want)
	}
	ping := cloudVector(t, "C-PING")
	pings := 0
	for _, m := range msgs[2:] {
		if bytes.Equal(m, ping) {
			pings++
		}
	}
	if pings == 0 {
		t.Error("no ping C-PING after the hello")
	}
}

// TestCloudEventsAsThePanelSendsThem: events go to the cloud as the
// captures show them: byte for byte the spec's vectors, with the panel's
// clock set to the capture's time (spec: D.5.4-D.5.7, F.4).
func TestCloudEventsAsThePanelSendsThem(t *testing.T) {
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	at := func(t *testing.T, id string) { // the time of a status change
		if v := cloudVector(t, id); len(v) == 120 {
			clock.Store(int64(binary.LittleEndian.Uint32(v[48:])))
		}
	}
	cord := func(index int, name string, typ, subtype, flags int) protocol.PeripheralRecord {
		return protocol.PeripheralRecord{Name: name, Index: index, TypeID: typ, Subtype: subtype, UserFlags: flags, NodeCount: 1}
	}
	for _, tt := range []struct {
		name    string
		sensors []protocol.PeripheralRecord
		arm     protocol.ArmState
		do      func(p *Panel) error
		want    []string // vector IDs; "" for a message checked elsewhere
	}{{
		// The arm notification first: the tail of its text is the
		// garbage in the status change (spec: D.10.3).
		name: "disarm",
		arm:  protocol.ArmAway,
		do:   func(p *Panel) error { _, err := p.apply(armEvent{protocol.Disarmed}); return err },
		want: []string{"", "C-STATUS-DISARM"},
	}, {
		name:    "door open",
		sensors: []protocol.PeripheralRecord{cord(32, "Cord 1", 126, 1, flagsDoor)},
		do:      func(p *Panel) error { _, err := p.Inject(Injection{Event: "door_open", Sensor: ptr(32)}); return err },
		want:    []string{"", "C-STATUS-SENSOR-OPEN"},
	}, {
		name:    "tamper",
		sensors: []protocol.PeripheralRecord{cord(32, "Cord 1", 126, 1, flagsDoor)},
		do:      func(p *Panel) error { _, err := p.Inject(Injection{Event: "tamper", Sensor: ptr(32)}); return err },
		want:    []string{"", "C-STATUS-ALARM-TAMPER"}, // the alarm's arm notification first
	}, {
		name:    "motion armed",
		sensors: []protocol.PeripheralRecord{cord(32, "Cord 1", 8, 0, flagsAwayAndHome)},
		arm:     protocol.ArmAway,
		do:      func(p *Panel) error { _, err := p.Inject(Injection{Event: "motion", Sensor: ptr(32)}); return err },
		want:    []string{"", "", "C-STATUS-ALARM-REGULAR"},
	}, {
		name:    "rfid card",
		sensors: []protocol.PeripheralRecord{cord(32, "RFID Card 0", 11, 1, flagsAwayAndHome)},
		do: func(p *Panel) error {
			_, err := p.Inject(Injection{Event: "rfid", Sensor: ptr(32), Card: ptr(0)})
			return err
		},
		want: []string{"C-STATUS-SENSOR-RFID"},
	}, {
		name:    "notification",
		sensors: []protocol.PeripheralRecord{cord(101, "Cord 1", 8, 0, flagsAwayOnly)},
		do:      func(p *Panel) error { _, err := p.Inject(Injection{Event: "motion", Sensor: ptr(101)}); return err },
		want:    []string{"C-NOTIFICATION"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			v := startVendor(t)
			st := defaultState(testNow)
			if tt.arm != 0 {
				st.Arm = tt.arm
			}
			if tt.sensors != nil {
				st.Sensors = tt.sensors
			}
			p := start(t, Config{State: &st, Now: now, Cloud: CloudConfig{Addr: v.Addr()}})
			waitLink(t, p.Cloud(), "the hello answered", func(s CloudStats) bool { return s.HellosAnswered == 1 })
			for _, id := range tt.want {
				if id != "" {
					at(t, id)
				}
			}
			if err := tt.do(p); err != nil {
				t.Fatal(err)
			}
			got := v.waitEvents(t, len(tt.want))
			if len(got) != len(tt.want) {
				t.Fatalf("%d event messages, want %d", len(got), len(tt.want))
			}
			for i, id := range tt.want {
				if id != "" && !bytes.Equal(got[i], cloudVector(t, id)) {
					t.Errorf("message %d\n% x\nwant %s\n% x", i, got[i], id, cloudVector(t, id))
				}
			}
		})
	}
}

func ptr(n int) *int { return &n }

// TestCloudReconnects: a panel whose connection is dropped, or whose
// server goes away and comes back, reconnects and sends what happened
// meanwhile, in order.
func TestCloudReconnects(t *testing.T) {
	v := startVendor(t)
	p := start(t, Config{Cloud: fastCloud(v.Addr())})
	l := p.Cloud()
	waitLink(t, l, "a session", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	v.Drop(true)
	waitLink(t, l, "a second session", func(s CloudStats) bool { return s.Connects == 2 && s.HellosAnswered >= 2 })

	v.Stop()
	waitLink(t, l, "refused connects", func(s CloudStats) bool { return s.ConnectErrors >= 2 })
	for i := range 10 {
		if _, err := p.Inject(Injection{Event: "rfid", Sensor: ptr(25), Card: ptr(i % 5)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Restart(); err != nil {
		t.Fatal(err)
	}
	got := v.waitEvents(t, 10)
	if st := l.Stats(); st.Dropped != 0 || st.Queued != 0 || len(got) != 10 {
		t.Errorf("stats %+v, %d events: want 10 sent, nothing dropped or left", st, len(got))
	}
	for i, raw := range got {
		m, _ := cloudproto.Decode(raw)
		if m.Status.State != uint8(rfidCard0+i%5) {
			t.Errorf("event %d is card %d, want %d: order lost", i, m.Status.State-rfidCard0, i%5)
		}
	}
}

// TestCloudSetCloudServer: the 1,78 system command moves the panel to
// another server at once (spec: E.2).
func TestCloudSetCloudServer(t *testing.T) {
	a, b := startVendor(t), startVendor(t)
	p := start(t, Config{Cloud: fastCloud(a.Addr())})
	waitLink(t, p.Cloud(), "a session with a", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	host, port, _ := net.SplitHostPort(b.Addr())
	c := newClient(t, p.Addr())
	c.expectNoReply(raw(`ISTART[0,100,"AT^IWT=1,78=` + host + `&` + host + `&` + port + `,IWT"]IEND`))
	b.wait(t, 2)
	if got := p.Snapshot().CloudServer; got.Primary != host || strconv.Itoa(got.Port) != port {
		t.Errorf("cloud server %+v, want %s", got, b.Addr())
	}
}

// TestCloudSilentServer: a server that takes the connection and never
// answers is left for a new connection.
func TestCloudSilentServer(t *testing.T) {
	v := startVendor(t)
	v.SetStall(true)
	cfg := fastCloud(v.Addr())
	cfg.ReplyTimeout = 20 * time.Millisecond
	p := start(t, Config{Cloud: cfg})
	st := waitLink(t, p.Cloud(), "two silent sessions", func(s CloudStats) bool { return s.Silent >= 2 })
	if st.Discoveries != 0 || st.HellosSent != 0 {
		t.Errorf("stats %+v: no hello before the discovery is answered", st)
	}
	v.SetStall(false)
	waitLink(t, p.Cloud(), "a session", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
}

// TestCloudQueueFull: while the server is away, what does not fit in the
// queue is dropped and counted; the rest is sent when it is back.
func TestCloudQueueFull(t *testing.T) {
	v := startVendor(t)
	v.Stop()
	cfg := fastCloud(v.Addr())
	cfg.QueueSize = 2
	l, err := NewCloudLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := cloudVector(t, "C-STATUS-SENSOR-OPEN")
	if n := l.Send(m, m, m, m[:50]); n != 2 {
		t.Errorf("Send queued %d, want 2", n)
	}
	if st := l.Stats(); st.Dropped != 2 || st.Queued != 2 {
		t.Errorf("stats %+v: want 2 queued, 2 dropped", st)
	}
	testrig.Serve(t, l.Run)
	waitLink(t, l, "refused connects", func(s CloudStats) bool { return s.ConnectErrors >= 1 })
	if err := v.Restart(); err != nil {
		t.Fatal(err)
	}
	waitLink(t, l, "the queue sent", func(s CloudStats) bool { return s.Sent == 2 })
}

// TestCloudShutdown: Shutdown sends what is queued and waits for the
// answers before closing; then the link is done.
func TestCloudShutdown(t *testing.T) {
	v := startVendor(t)
	cfg := fastCloud(v.Addr())
	l, err := NewCloudLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	waitLink(t, l, "a session", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	m := cloudVector(t, "C-STATUS-SENSOR-OPEN")
	for range 1000 {
		l.Send(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := l.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Sent != 1000 || st.Connected != 0 || st.PingsSent != st.PingsAnswered || st.HellosSent != st.HellosAnswered {
		t.Errorf("stats %+v: want all sent and answered, disconnected", st)
	}
	if got := len(v.waitEvents(t, 1000)); got != 1000 {
		t.Errorf("the cloud got %d events, want 1000", got)
	}
}

// TestFleet: panels with distinct GUIDs, each with its own session.
func TestFleet(t *testing.T) {
	v := startVendor(t)
	f, err := NewFleet(FleetConfig{Panels: 20, Cloud: fastCloud(v.Addr()), DialConcurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, f.Run)
	for _, l := range f.Links() {
		waitLink(t, l, "a session", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	}
	guids := map[string]bool{}
	for _, raw := range v.wait(t, 40) {
		if m, _ := cloudproto.Decode(raw); m.GUID() != "" {
			guids[m.GUID()] = true
		}
	}
	if len(guids) != 20 || !guids[FleetGUID(1)] || !guids[FleetGUID(20)] {
		t.Errorf("GUIDs %v, want SIMPANEL0001 to SIMPANEL0020", guids)
	}
	if st := f.Stats(); st.Connected != 20 {
		t.Errorf("fleet stats %+v, want 20 connected", st)
	}
}

// commandAnswers returns the M6s the vendor received, by sequence.
func commandAnswers(t *testing.T, v *vendor) map[uint16][]byte {
	t.Helper()
	out := map[uint16][]byte{}
	for _, raw := range v.received() {
		m, err := cloudproto.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == cloudproto.KindCommandResponse {
			if _, dup := out[m.Seq()]; dup {
				t.Errorf("sequence %d answered twice", m.Seq())
			}
			out[m.Seq()] = raw
		}
	}
	return out
}

// waitAnswer sends req to the panel over its cloud link in an M12 with
// sequence seq and returns the M6 that answers it.
func waitAnswer(t *testing.T, v *vendor, seq uint16, req protocol.Request) (m12 cloudproto.Message, m6 []byte) {
	t.Helper()
	m12 = cloudproto.CommandOf(seq, req)
	if n := v.Send(m12.Append(nil)); n != 1 {
		t.Fatalf("M12 written to %d connections, want 1", n)
	}
	eventually.NoError(t, fmt.Sprintf("the M6 answering sequence %d", seq), func() error {
		if m6 = commandAnswers(t, v)[seq]; m6 == nil {
			return errors.New("not yet")
		}
		return nil
	})
	return m12, m6
}

// TestCloudCommands: a command in an M12 is carried out as over UDP,
// from the same state, and answered with an M6 repeating its sequence
// whose body is byte for byte the UDP reply (spec: D.5.8, D.5.9; issue
// 18.4). A write over the cloud (arming) shows over UDP; a command that
// does not parse is counted and not answered, and the session goes on;
// events sent meanwhile still arrive.
func TestCloudCommands(t *testing.T) {
	v := startVendor(t)
	p := start(t, Config{Cloud: fastCloud(v.Addr())})
	waitLink(t, p.Cloud(), "the hello answered", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	udp := newClient(t, p.Addr())

	reads := []protocol.Request{
		protocol.NewRequest(protocol.GetHostStatus),
		protocol.NewRequest(protocol.GetHostInfo),
		protocol.NewRequest(protocol.GetHostConfig),
		protocol.NewRequest(protocol.GetSensorList, protocol.IntValue(1), protocol.IntValue(10)),
		protocol.NewRequest(protocol.GetHistory, protocol.IntValue(1), protocol.IntValue(10)), // observed: [200,[1,10]]
	}
	seq := uint16(0x100)
	for _, req := range reads {
		seq++
		local := udp.do(req.Append(nil))
		m12, m6 := waitAnswer(t, v, seq, req)
		want, err := cloudproto.ResponseOf(&m12, local)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m6, want.Append(nil)) {
			t.Errorf("%v over the cloud:\n% x\nwant the UDP reply %q in an M6:\n% x", req.Code, m6, local, want.Append(nil))
		}
		got, err := cloudproto.Decode(m6)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := got.Reply(); err != nil {
			t.Errorf("%v: the M6's reply: %v", req.Code, err)
		}
	}

	// Arm away over the cloud, with an event sent meanwhile: the panel
	// is armed over UDP, and the door's status change arrives too.
	before := len(events(t, v.received()))
	if _, err := p.Inject(Injection{Event: "door_open", Sensor: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	seq++
	_, m6 := waitAnswer(t, v, seq, protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(int(protocol.ArmAway))))
	if m, _ := cloudproto.Decode(m6); len(m.Body) == 0 {
		t.Errorf("arming answered with % x, want the panel's reply", m6)
	}
	resp, err := protocol.ParseResponse(udp.do(protocol.NewRequest(protocol.GetHostStatus).Append(nil)))
	if err != nil {
		t.Fatal(err)
	}
	var hs protocol.HostStatus
	if err := protocol.Decode(&hs, resp.Data); err != nil || hs.State != protocol.ArmAway {
		t.Errorf("status over UDP after arming over the cloud: %+v, %v; want away", hs, err)
	}
	v.waitEvents(t, before+1)

	// A command whose parameters do not parse: counted, not answered;
	// the next is answered.
	bad := cloudproto.CommandOf(0x7777, protocol.NewRequest(protocol.GetHostStatus))
	bad.Body = []byte("[1,\x00")
	v.Send(bad.Append(nil))
	seq++
	waitAnswer(t, v, seq, protocol.NewRequest(protocol.GetHostStatus))
	if _, ok := commandAnswers(t, v)[0x7777]; ok {
		t.Error("a malformed command was answered")
	}
	st := p.Cloud().Stats()
	if st.Malformed != 1 || st.Answered != int64(len(reads))+2 || st.Ignored != 0 || st.Commands != st.Answered+1 {
		t.Errorf("stats %+v: want %d answered, 1 malformed, none ignored", st, len(reads)+2)
	}
	if st.Connects != 1 || st.Disconnects != 0 {
		t.Errorf("stats %+v: the session did not go on", st)
	}
}

// A fleet's panels have no command port: their commands are counted as
// ignored, not answered, and their sessions go on.
func TestCloudFleetIgnoresCommands(t *testing.T) {
	v := startVendor(t)
	f, err := NewFleet(FleetConfig{Panels: 2, Cloud: fastCloud(v.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, f.Run)
	for _, l := range f.Links() {
		waitLink(t, l, "the hello answered", func(s CloudStats) bool { return s.HellosAnswered >= 1 })
	}
	m12 := cloudproto.CommandOf(1, protocol.NewRequest(protocol.GetHostStatus))
	if n := v.Send(m12.Append(nil)); n != 2 {
		t.Fatalf("written to %d connections, want 2", n)
	}
	eventually.NoError(t, "both commands counted", func() error {
		if s := f.Stats(); s.Ignored != 2 || s.Commands != 2 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	if s := f.Stats(); s.Answered != 0 || s.Disconnects != 0 || len(commandAnswers(t, v)) != 0 {
		t.Errorf("stats %+v: want nothing answered and no disconnect", s)
	}
}
