package g90

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// rig is a simulated panel whose notifications go to a Listener feeding a
// running Monitor, all on loopback.
type rig struct {
	sim *sim.Panel
	p   *Panel
	l   *notify.Listener
	mon *Monitor
	sub *Subscription
}

func startRig(t *testing.T, mcfg MonitorConfig, lcfg notify.ListenerConfig) *rig {
	t.Helper()
	leaktest.Check(t)
	ctx := context.Background()
	if lcfg.Addr == "" {
		lcfg.Addr = "127.0.0.1:0"
	}
	l, err := notify.Listen(ctx, lcfg)
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Notify: l.Addr().String(), Seed: 1})
	p := newPanel(t, s, 2*time.Second, 0)
	mcfg.Sources = append(mcfg.Sources, l)
	r := &rig{sim: s, p: p, l: l, mon: p.NewMonitor(mcfg)}
	r.sub = r.mon.Subscribe("test", 4096)
	runMonitor(t, r.mon)
	eventually.True(t, "the first read of the panel", func() bool { return len(r.mon.State().Sensors) > 0 })
	return r
}

// runMonitor runs m until the test ends and checks it stops cleanly.
func runMonitor(t *testing.T, m *Monitor) {
	t.Helper()
	testrig.Serve(t, m.Run)
}

// next returns the next event of sub, failing after a generous wait.
func next(t *testing.T, sub *Subscription) event.Event {
	t.Helper()
	d, ok, timedOut := recv(sub, 10*time.Second)
	switch {
	case timedOut:
		t.Fatal("no event")
	case !ok:
		t.Fatal("subscription closed")
	}
	return d.Event
}

// expect reads len(want) events and compares their summaries.
func expect(t *testing.T, sub *Subscription, want ...string) []event.Event {
	t.Helper()
	var evs []event.Event
	for _, w := range want {
		ev := next(t, sub)
		evs = append(evs, ev)
		if got := summary(ev); got != w {
			t.Fatalf("event %d: got %s, want %s", len(evs), got, w)
		}
	}
	return evs
}

func inject(t *testing.T, s *sim.Panel, in sim.Injection) {
	t.Helper()
	if _, err := s.Inject(in); err != nil {
		t.Fatal(err)
	}
}

func idx(i int) *int { return &i }

// Events caused by the panel (an injected door opening) and by a command
// (arming) reach a subscriber with the panel's GUID, the source and the
// sensor's type, and the state follows.
func TestMonitorLocal(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	if st := r.mon.State(); st.GUID != "SIMPANEL0001" || st.Arm != event.Disarmed {
		t.Fatalf("state after the first read: GUID %q arm %q", st.GUID, st.Arm)
	}

	inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(1)})
	evs := expect(t, r.sub,
		`sensor_activity 1 "Front door" occupied=true`, // notification kind 5 and the alert, merged (issue 16.1)
		`door_open 1 "Front door"`)
	for _, ev := range evs {
		if ev.GUID != "SIMPANEL0001" || ev.Source != event.SourceLocal || ev.SensorType == "" || ev.Time.IsZero() {
			t.Fatalf("event lacks panel, source, sensor type or time: %+v", ev)
		}
	}
	if s := r.mon.State().Sensors[0]; s.Index != 1 || !s.Occupied {
		t.Fatalf("front door state %+v", s)
	}

	if err := r.p.Arm(context.Background(), protocol.ArmAway); err != nil {
		t.Fatal(err)
	}
	expect(t, r.sub, `arm_disarm away`) // notification and alert, merged
	if st := r.mon.State(); st.Arm != event.ArmAway {
		t.Fatalf("arm state %q", st.Arm)
	}
	if _, ok := r.mon.State().LastPacket[event.SourceLocal]; !ok {
		t.Fatal("no last packet time for the local source")
	}

	// A motion while armed away is an alarm; disarming ends it.
	inject(t, r.sim, sim.Injection{Event: "alarm", Sensor: idx(7)})
	for {
		if ev := next(t, r.sub); ev.Type == event.Alarm {
			break
		}
	}
	if st := r.mon.State(); !st.Alarm || st.AlarmSensor == nil || st.AlarmSensor.Index != 7 {
		t.Fatalf("alarm state %v by %+v", st.Alarm, st.AlarmSensor)
	}
}

// spec A.7: datagrams from another host and alerts with another GUID are
// rejected and counted; every L-ERR vector is counted as malformed; the
// stream goes on after each.
func TestMonitorRejects(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{Host: netip.MustParseAddr("127.0.0.1")})
	send := func(from string, payload []byte) {
		t.Helper()
		c, err := net.ListenPacket("udp4", from+":0")
		if err != nil {
			t.Skipf("cannot bind %s: %v", from, err)
		}
		defer c.Close()
		if _, err := c.WriteTo(payload, r.l.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	good := append([]byte(`[170,[5,[2,"Back door"]]]`), 0)

	send("127.0.0.1", append([]byte(`[208,[4,1,1,1,"Front door","OTHERPANEL",1,0,[""]]]`), 0))
	errVectors := []string{
		"[170,[5,[2,\"Back door\"]]]",         // no NUL
		"[170,[5,[2,\"Back door\"]]]\x00\x00", // two NULs
		"{\"a\":1}\x00",
		"[170]\x00",
		"[170,[5,[2]]]\x00",
		"[208,[4,1,1,1]]\x00",
		"not json\x00",
	}
	for _, v := range errVectors {
		send("127.0.0.1", []byte(v))
	}
	send("127.0.0.1", good)
	expect(t, r.sub, `sensor_activity 2 "Back door" occupied=true`)

	send("127.0.0.2", good)
	send("127.0.0.1", good)
	expect(t, r.sub, `sensor_activity 2 "Back door" occupied=true`)

	ls, ms := r.l.Stats(), r.mon.Stats()
	if ls.WrongHost != 1 || ls.Malformed != uint64(len(errVectors)) {
		t.Fatalf("listener stats %+v: want 1 wrong host, %d malformed", ls, len(errVectors))
	}
	if ms.WrongDevice != 1 {
		t.Fatalf("monitor stats %+v: want 1 wrong device", ms)
	}
}

// injectDoors sends n door events to sensor 1, alternating open and
// close so that order is visible.
func injectDoors(t *testing.T, r *rig, n int) {
	t.Helper()
	for i := range n {
		ev := "door_open"
		if i%2 == 1 {
			ev = "door_close"
		}
		inject(t, r.sim, sim.Injection{Event: ev, Sensor: idx(1)})
	}
}

// doorsInOrder reads n door events from sub and fails unless they
// alternate open, close from the first, with increasing seq.
func doorsInOrder(t *testing.T, sub *Subscription, n int) {
	t.Helper()
	var doors int
	var last uint64
	for doors < n {
		ev := next(t, sub)
		if ev.Seq <= last {
			t.Fatalf("seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		if ev.Type != event.DoorOpen && ev.Type != event.DoorClose {
			continue
		}
		want := event.DoorOpen
		if doors%2 == 1 {
			want = event.DoorClose
		}
		if ev.Type != want {
			t.Fatalf("door event %d is %s, want %s: order lost", doors, ev.Type, want)
		}
		doors++
	}
}

// A subscriber that is slow, but reads, loses nothing: the monitor waits
// for it (issue 13.12), and the other subscriber gets every event in
// order too.
func TestMonitorSlowConsumer(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	slow := r.mon.Subscribe("slow", 4)
	const n = 200
	injectDoors(t, r, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range slow.All() {
			time.Sleep(200 * time.Microsecond)
		}
	}()
	doorsInOrder(t, r.sub, n)
	eventually.True(t, "the slow subscriber's queue empties", func() bool { return slow.Queued() == 0 })
	if d := slow.Dropped(); d != 0 {
		t.Fatalf("the slow subscriber lost %d events", d)
	}
	if ms := r.mon.Stats(); ms.Dropped != 0 {
		t.Fatalf("the tracker's queue dropped %d messages", ms.Dropped)
	}
	slow.Close()
	slow.Close() // idempotent
	<-done
}

// A subscriber that takes nothing for the stall timeout loses the events
// that find its queue full (counted, and shown in Consumers) and holds
// up nobody after that; once it reads again, it gets events again.
func TestMonitorStalledConsumer(t *testing.T) {
	r := startRig(t, MonitorConfig{StallTimeout: 50 * time.Millisecond}, notify.ListenerConfig{})
	stuck := r.mon.Subscribe("stuck", 4)
	const n = 40
	injectDoors(t, r, n)
	doorsInOrder(t, r.sub, n)
	var cs ConsumerStats
	eventually.True(t, "the stuck subscriber stalled", func() bool {
		for _, c := range r.mon.Consumers() {
			if c.Consumer == "stuck" {
				cs = c
			}
		}
		return cs.Stalled && cs.Dropped > 0
	})
	if cs.Queued != 4 || cs.Capacity != 4 {
		t.Fatalf("stuck consumer %+v: want its queue of 4 full", cs)
	}
	// It reads again: it is delivered to again, from the event after
	// those it lost.
	if batch, _ := stuck.Take(nil); len(batch) != 4 {
		t.Fatalf("took %d, want the 4 queued", len(batch))
	}
	dropped := stuck.Dropped()
	injectDoors(t, r, 2)
	doorsInOrder(t, r.sub, 2)
	ev := next(t, stuck)
	if ev.Type != event.DoorOpen && ev.Type != event.SensorActivity {
		t.Fatalf("after catching up: %s", summary(ev))
	}
	if stuck.Dropped() != dropped {
		t.Fatalf("dropped %d after catching up, was %d", stuck.Dropped(), dropped)
	}
	for _, c := range r.mon.Consumers() {
		if c.Consumer == "stuck" && c.Stalled {
			t.Fatal("still stalled after catching up")
		}
	}
}

// Closing a subscription while the monitor waits to send to it neither
// panics nor holds the monitor up.
func TestMonitorCloseWhileWaiting(t *testing.T) {
	r := startRig(t, MonitorConfig{StallTimeout: time.Hour}, notify.ListenerConfig{})
	full := r.mon.Subscribe("full", 1)
	injectDoors(t, r, 4)
	eventually.True(t, "the full queue", func() bool { return full.Queued() == 1 })
	closed := make(chan struct{})
	go func() { defer close(closed); full.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for the monitor")
	}
	for range full.All() { // the queued event, then the end
	}
	doorsInOrder(t, r.sub, 4)
	injectDoors(t, r, 2)
	doorsInOrder(t, r.sub, 2)
}

// Every event gets the next number of its panel, from NextSeq when set.
func TestMonitorSeq(t *testing.T) {
	var asked []string
	var mu sync.Mutex
	n := uint64(100)
	r := startRig(t, MonitorConfig{NextSeq: func(guid string) uint64 {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, guid)
		n++
		return n
	}}, notify.ListenerConfig{})
	injectDoors(t, r, 2)
	doorsInOrder(t, r.sub, 2)
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[len(asked)-1] != r.mon.State().GUID {
		t.Fatalf("NextSeq asked for %q, want the panel's GUID %q", asked, r.mon.State().GUID)
	}
}

// A sensor added on the panel without a notification is found by the
// list read an event for it triggers (spec B.4), reported as
// sensor_added, and events for it carry its type from then on.
func TestMonitorLookupMissRefresh(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	st := r.sim.Snapshot()
	rec := st.Sensors[0]
	rec.Index, rec.Name = 60, "Garage door"
	st.Sensors = append(st.Sensors, rec)
	if err := r.sim.SetState(st); err != nil {
		t.Fatal(err)
	}
	inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(60)})
	ev := next(t, r.sub)
	if summary(ev) != `sensor_activity 60 "Garage door" occupied=true` || ev.SensorType != "" {
		t.Fatalf("first event %s type %q: want the wire's index and name, no type", summary(ev), ev.SensorType)
	}
	var added event.Event
	for added.Type != event.SensorAdded {
		added = next(t, r.sub)
	}
	if added.Index != 60 || added.Source != event.SourcePoll || added.SensorType == "" {
		t.Fatalf("sensor_added %+v", added)
	}
	inject(t, r.sim, sim.Injection{Event: "door_close", Sensor: idx(60)})
	for {
		ev := next(t, r.sub)
		if ev.Type == event.DoorClose {
			if ev.SensorType == "" {
				t.Fatal("no sensor type after the refresh")
			}
			break
		}
	}
}

// Occupancy of a sensor that never reports "inactive" resets by itself
// (spec B.6.1), and the reset is an event.
func TestMonitorOccupancyReset(t *testing.T) {
	r := startRig(t, MonitorConfig{ResetInterval: 50 * time.Millisecond}, notify.ListenerConfig{})
	inject(t, r.sim, sim.Injection{Event: "motion", Sensor: idx(7)})
	expect(t, r.sub, `sensor_activity 7 "Hall PIR" occupied=true`)
	expect(t, r.sub, `sensor_activity 7 "Hall PIR" occupied=false reset`)
	for _, s := range r.mon.State().Sensors {
		if s.Index == 7 && s.Occupied {
			t.Fatal("still occupied")
		}
	}
}

// History polling replays what the panel records, skips an entry it
// cannot route without holding back the rest, and goes on after reads
// that time out.
func TestMonitorHistory(t *testing.T) {
	leaktest.Check(t)
	s := simtest.Start(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 100*time.Millisecond, -1)
	h := p.NewHistoryPoller(HistoryConfig{Interval: 20 * time.Millisecond})
	mon := p.NewMonitor(MonitorConfig{Sources: []Source{h}})
	sub := mon.Subscribe("test", 256)
	runMonitor(t, mon)
	eventually.True(t, "the history baseline", func() bool { _, ok := mon.State().LastPacket[event.SourceHistory]; return ok })

	inject(t, s, sim.Injection{Event: "door_open", Sensor: idx(1)})
	evs := expect(t, sub, `sensor_activity 1 "Front door" occupied=true`, `door_open 1 "Front door"`)
	if evs[0].Source != event.SourceHistory || evs[0].GUID != "SIMPANEL0001" {
		t.Fatalf("event %+v: want source history and the panel's GUID", evs[0])
	}

	// An unroutable entry (spec F.7 H-BLOCKED) between two good ones.
	st := s.Snapshot()
	// In the door opening's second: entries of the same second are all
	// new (the reference replays one).
	now := st.History[0].UnixTime
	bad := protocol.HistoryEntry{Type: protocol.TypeSensorActivity, EventID: 1, Source: protocol.SourceSensor, State: 3, Name: "Front door", UnixTime: now, Other: protocol.StringValue("")}
	good := protocol.HistoryEntry{Type: protocol.TypeStateChange, EventID: 4, UnixTime: now, Other: protocol.StringValue("")}
	st.History = append([]protocol.HistoryEntry{good, bad}, st.History...)
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	expect(t, sub, `arm_disarm away`)
	if mon.Stats().Unknown != 1 {
		t.Fatalf("stats %+v: want the bad entry counted", mon.Stats())
	}

	// The panel stops answering for a while, then comes back.
	if err := s.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	inject(t, s, sim.Injection{Event: "door_close", Sensor: idx(1)})
	time.Sleep(300 * time.Millisecond) // several polls time out
	if err := s.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	expect(t, sub, `sensor_activity 1 "Front door" occupied=false`, `door_close 1 "Front door"`)
}

// A paused history poller reads nothing; resumed, it does not replay what
// happened while it was paused (a new baseline), and the state file
// forgets the cursor, so a restart does not replay it either (spec:
// home-assistant.md §2a "simulate alerts from history").
func TestMonitorHistoryPause(t *testing.T) {
	leaktest.Check(t)
	s := simtest.Start(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 100*time.Millisecond, -1)
	file := filepath.Join(t.TempDir(), "history.json")
	h := p.NewHistoryPoller(HistoryConfig{Interval: 20 * time.Millisecond, StateFile: file, Paused: true})
	if h.Enabled() {
		t.Fatal("a poller configured Paused is enabled")
	}
	mon := p.NewMonitor(MonitorConfig{Sources: []Source{h}})
	sub := mon.Subscribe("test", 256)
	runMonitor(t, mon)
	<-mon.Ready()
	lastPoll := func() time.Time { return mon.State().LastPacket[event.SourceHistory] }

	h.SetEnabled(true)
	eventually.True(t, "the history baseline", func() bool { return !lastPoll().IsZero() })
	inject(t, s, sim.Injection{Event: "door_open", Sensor: idx(1)})
	expect(t, sub, `sensor_activity 1 "Front door" occupied=true`, `door_open 1 "Front door"`)

	h.SetEnabled(false)
	eventually.True(t, "the cursor forgotten on disk", func() bool {
		b, err := os.ReadFile(file)
		return err == nil && strings.Contains(string(b), `"set":false`)
	})
	paused := lastPoll()
	inject(t, s, sim.Injection{Event: "door_close", Sensor: idx(1)}) // while paused
	h.SetEnabled(true)
	eventually.True(t, "a read after resuming", func() bool { return lastPoll().After(paused) })
	inject(t, s, sim.Injection{Event: "door_open", Sensor: idx(1)})
	// The door's closing, while paused, is not replayed.
	expect(t, sub, `sensor_activity 1 "Front door" occupied=true`, `door_open 1 "Front door"`)
}

// Run stops every goroutine and closes subscriptions; a subscription made
// afterwards is closed at once; Run does not start twice.
func TestMonitorLifecycle(t *testing.T) {
	leaktest.Check(t)
	s := simtest.Start(t, sim.Config{Seed: 1})
	mon := newPanel(t, s, 0, 0).NewMonitor(MonitorConfig{})
	sub := mon.Subscribe("test", 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	eventually.True(t, "the first read", func() bool { return mon.State().GUID != "" })
	if err := mon.Run(ctx); err != ErrRunning {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range sub.All() { // what was queued, then the end
	}
	if _, ok := mon.Subscribe("test", 1).Take(nil); ok {
		t.Fatal("late subscription not closed")
	}
	if !strings.Contains(ErrRunning.Error(), "g90:") {
		t.Fatal("error lacks the package prefix")
	}
}

// failingSource fails at once.
type failingSource struct{}

func (failingSource) Run(context.Context, notify.Sink) error { return errors.New("no socket") }

// A Monitor whose source fails at once returns the error, and Ready is
// closed: nobody waits for a first read that never comes.
func TestMonitorSourceFailsAtOnce(t *testing.T) {
	leaktest.Check(t)
	p, err := New(Config{Host: "127.0.0.1", Port: 9, Timeout: 50 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	mon := p.NewMonitor(MonitorConfig{Sources: []Source{failingSource{}}})
	if err := mon.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no socket") {
		t.Fatalf("Run: %v", err)
	}
	select {
	case <-mon.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("Ready not closed after Run ended")
	}
}

// A Monitor is all a consumer needs: it knows its Panel, its name, its
// PIN guard and its history source.
func TestMonitorKnowsItsPanel(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1", Port: 12368})
	if err != nil {
		t.Fatal(err)
	}
	history := p.NewHistoryPoller(HistoryConfig{Paused: true})
	pin := pinguard.New("1234", nil)
	named := p.NewMonitor(MonitorConfig{Name: "Home", PIN: pin, Sources: []Source{history}})
	if named.Panel() != p || named.Name() != "Home" || named.PIN() != pin || named.History() != history {
		t.Errorf("panel %p name %q pin %p history %p; want %p Home %p %p", named.Panel(), named.Name(), named.PIN(), named.History(), p, pin, history)
	}
	bare := p.NewMonitor(MonitorConfig{})
	if bare.Name() != "127.0.0.1:12368" || bare.PIN() != nil || bare.History() != nil || bare.PIN().Required() {
		t.Errorf("name %q pin %p history %p; want the address and no PIN or history", bare.Name(), bare.PIN(), bare.History())
	}
}

// The history cursor moves past entries only once Durable says they are
// stored: until then it stays where it was on disk, so a restart replays
// them; Monitor.Flush returns once the events of what came before it are
// in every subscription (issue 20.1).
func TestHistoryCursorWaitsForDurable(t *testing.T) {
	leaktest.Check(t)
	s := simtest.Start(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 100*time.Millisecond, -1)
	file := filepath.Join(t.TempDir(), "history.json")
	var (
		mon     *Monitor
		sub     *Subscription
		stored  atomic.Bool // what Durable answers
		flushed atomic.Int64
	)
	h := p.NewHistoryPoller(HistoryConfig{Interval: 20 * time.Millisecond, StateFile: file, Durable: func(ctx context.Context) error {
		if err := mon.Flush(ctx); err != nil {
			return err
		}
		// Flush returned: the events of the entries replayed are queued.
		flushed.Store(int64(sub.Queued()))
		if !stored.Load() {
			return errors.New("not stored yet")
		}
		return nil
	}})
	mon = p.NewMonitor(MonitorConfig{Sources: []Source{h}})
	sub = mon.Subscribe("test", 256)
	runMonitor(t, mon)
	eventually.True(t, "the history baseline", func() bool { _, ok := mon.State().LastPacket[event.SourceHistory]; return ok })
	stored.Store(true)
	eventually.True(t, "the baseline saved", func() bool { _, err := os.Stat(file); return err == nil })
	saved, _ := os.ReadFile(file)

	stored.Store(false)
	inject(t, s, sim.Injection{Event: "door_open", Sensor: idx(1)})
	eventually.True(t, "Durable asked after the entries' events were queued", func() bool { return flushed.Load() >= 2 })
	time.Sleep(100 * time.Millisecond) // several polls
	if now, _ := os.ReadFile(file); string(now) != string(saved) {
		t.Fatalf("cursor saved before the entries were stored:\n%s\nwas\n%s", now, saved)
	}
	expect(t, sub, `sensor_activity 1 "Front door" occupied=true`, `door_open 1 "Front door"`)

	stored.Store(true)
	eventually.True(t, "the cursor saved once stored", func() bool {
		now, _ := os.ReadFile(file)
		return string(now) != string(saved)
	})
}
