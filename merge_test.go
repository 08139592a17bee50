package g90

import (
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
)

// The captured datagrams of spec: F (local-vectors.yaml L-N-SENSOR,
// L-A-DOOR-OPEN, L-A-DOOR-CLOSE, L-N-ARM, L-A-ARM-AWAY), for the
// simulator's front door (index 1) and GUID. A cloud connection carries
// the same messages (spec: D.10.1, D.5.7): notify.FromCloud makes the
// same notify.Message of them, which is what a cloud source hands over.
const (
	capDoorNotification = `[170,[5,[1,"Front door"]]]`
	capDoorOpenAlert    = `[208,[4,1,1,1,"Front door","SIMPANEL0001",1631545189,0,[""]]]`
	capDoorCloseAlert   = `[208,[4,1,1,0,"Front door","SIMPANEL0001",1631545189,0,[""]]]`
	capArmNotification  = `[170,[1,[1]]]`
	capArmAlert         = `[208,[2,4,0,0,"","SIMPANEL0001",1630876128,0,[""]]]`
)

func captured(t *testing.T, text string) notify.Message {
	t.Helper()
	m, err := notify.Decode([]byte(text + "\x00"))
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return m
}

// historyOf is the history entry the panel logs for an alert: the alert
// without its GUID (spec: C.2).
func historyOf(t *testing.T, text string) notify.Message {
	m := captured(t, text)
	m.Alert.GUID = ""
	return m
}

// feedReports hands the messages to the monitor as their sources would, in order.
func feedReports(r *rig, msgs ...report) {
	for _, m := range msgs {
		r.mon.Message(m.m, m.src, time.Now())
	}
}

type report struct {
	m   notify.Message
	src event.Source
}

// deliveries reads n deliveries with an event, skipping state-only ones.
func deliveries(t *testing.T, sub *Subscription, n int) []Delivery {
	t.Helper()
	var out []Delivery
	for len(out) < n {
		d, ok, timedOut := recv(sub, 10*time.Second)
		switch {
		case timedOut:
			t.Fatalf("got %d deliveries, want %d", len(out), n)
		case !ok:
			t.Fatal("subscription closed")
		case d.Event.Type != "":
			out = append(out, d)
		}
	}
	return out
}

// quiet fails if sub gets another event within a while: nothing was
// delivered twice.
func quiet(t *testing.T, r *rig, sub *Subscription) {
	t.Helper()
	// A marker through the same pipeline: once it is out, everything fed
	// before it is too.
	r.mon.Message(captured(t, `[170,[6,[9,"marker"]]]`), event.SourceLocal, time.Now())
	for {
		d := deliveries(t, sub, 1)[0]
		if d.Event.Type == event.DoorOpenWhenArming && d.Event.Index == 9 {
			return
		}
		if !d.Update {
			t.Fatalf("an extra event: %s sources %v", summary(d.Event), d.Event.Sources.List())
		}
	}
}

func summaries(ds []Delivery) string {
	var s []string
	for _, d := range ds {
		x := summary(d.Event)
		if d.Update {
			x = "update " + x
		}
		for _, src := range d.Event.Sources.List() {
			x += " +" + string(src)
		}
		s = append(s, x)
	}
	return strings.Join(s, "; ")
}

// happenings reads sub up to a marker sent after what the test fed and
// returns the events it delivered, each with the sources its updates
// gave it: the same whether the Monitor handled the reports one at a
// time (an event, then updates) or in one batch (the event with every
// source at once).
func happenings(t *testing.T, r *rig, sub *Subscription) []Delivery {
	t.Helper()
	r.mon.Message(captured(t, `[170,[6,[9,"marker"]]]`), event.SourceLocal, time.Now())
	var out []Delivery
	for {
		d := deliveries(t, sub, 1)[0]
		if !d.Update {
			if d.Event.Type == event.DoorOpenWhenArming && d.Event.Index == 9 {
				return out
			}
			out = append(out, d)
			continue
		}
		i := slices.IndexFunc(out, func(o Delivery) bool { return o.Event.Seq == d.Event.Seq })
		if i < 0 {
			t.Fatalf("an update of an event not delivered: %s", summaries([]Delivery{d}))
		}
		out[i].Event.Sources = d.Event.Sources
	}
}

// A door opening reported as a notification and an alert, over the local
// link and the cloud, and then replayed from history is one
// sensor_activity and one door_open, with every source; the tracker sees
// each once.
func TestMergeOneHappening(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	sub := r.mon.SubscribeState("test", 64)
	feedReports(r,
		report{captured(t, capDoorNotification), event.SourceLocal},
		report{captured(t, capDoorOpenAlert), event.SourceLocal},
		report{captured(t, capDoorNotification), event.SourceCloud},
		report{captured(t, capDoorOpenAlert), event.SourceCloud},
		report{historyOf(t, capDoorOpenAlert), event.SourceHistory},
	)
	ds := happenings(t, r, sub)
	got := summaries(ds)
	want := `sensor_activity 1 "Front door" occupied=true +local +cloud +history; ` +
		`door_open 1 "Front door" +local +cloud +history`
	if got != want {
		t.Fatalf("deliveries\n%s\nwant\n%s", got, want)
	}
	st := r.mon.Stats()
	if st.Merged[event.SourceLocal] != 1 || st.Merged[event.SourceCloud] != 3 || st.Merged[event.SourceHistory] != 2 {
		t.Fatalf("merged %v", st.Merged)
	}
	if d := ds[1]; d.State == nil || !d.State.Sensors[0].Occupied {
		t.Fatalf("the door_open's state does not have the door open: %+v", d.State)
	}
}

// A report that comes after its event was delivered goes out as an
// update: the event again, with its grown sources, to the subscribers
// that take updates, with the state.
func TestMergeUpdates(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	sub := r.mon.SubscribeState("test", 64)
	feedReports(r, report{captured(t, capDoorNotification), event.SourceLocal})
	first := deliveries(t, sub, 1)[0]
	feedReports(r, report{captured(t, capDoorNotification), event.SourceCloud})
	d := deliveries(t, sub, 1)[0]
	if got, want := summaries([]Delivery{first, d}), `sensor_activity 1 "Front door" occupied=true +local; `+
		`update sensor_activity 1 "Front door" occupied=true +local +cloud`; got != want {
		t.Fatalf("deliveries\n%s\nwant\n%s", got, want)
	}
	if d.Event.Seq != first.Event.Seq || d.State == nil || !d.State.Sensors[0].Occupied {
		t.Fatalf("update seq %d of %d, state %+v", d.Event.Seq, first.Event.Seq, d.State)
	}
	quiet(t, r, sub)
}

// Two real happenings in a row stay apart however fast they come: door
// open, closed, open (each a notification and an alert) is three door
// events, and a history entry with another panel time is not merged.
func TestMergeKeepsRepeats(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	sub := r.mon.SubscribeState("test", 64)
	feedReports(r,
		report{captured(t, capDoorNotification), event.SourceLocal},
		report{captured(t, capDoorOpenAlert), event.SourceLocal},
		report{captured(t, capDoorCloseAlert), event.SourceLocal},
		report{captured(t, capDoorNotification), event.SourceLocal},
		report{captured(t, capDoorOpenAlert), event.SourceLocal},
	)
	got := summaries(deliveries(t, sub, 6))
	want := `sensor_activity 1 "Front door" occupied=true +local; door_open 1 "Front door" +local; ` +
		`sensor_activity 1 "Front door" occupied=false +local; door_close 1 "Front door" +local; ` +
		`sensor_activity 1 "Front door" occupied=true +local; door_open 1 "Front door" +local`
	if got != want {
		t.Fatalf("deliveries\n%s\nwant\n%s", got, want)
	}
	// An older opening from history (another panel time) is its own.
	older := historyOf(t, capDoorOpenAlert)
	older.Alert.UnixTime -= 60
	feedReports(r, report{older, event.SourceHistory})
	if got := summaries(deliveries(t, sub, 2)); got != `sensor_activity 1 "Front door" occupied=true +history; door_open 1 "Front door" +history` {
		t.Fatalf("history entry: %s", got)
	}
	quiet(t, r, sub)
}

// An arming is one arm_disarm; a plain subscriber (the journal's kind)
// gets no updates; Raw gives every report, as the reference does.
func TestMergeArmAndRaw(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	feedReports(r,
		report{captured(t, capArmNotification), event.SourceLocal},
		report{captured(t, capArmAlert), event.SourceLocal},
		report{captured(t, capArmAlert), event.SourceCloud},
	)
	expect(t, r.sub, `arm_disarm away`)
	r.mon.Message(captured(t, `[170,[6,[9,"marker"]]]`), event.SourceLocal, time.Now())
	expect(t, r.sub, `door_open_when_arming 9 "marker"`)

	raw := startRig(t, MonitorConfig{Raw: true}, notify.ListenerConfig{})
	feedReports(raw,
		report{captured(t, capDoorNotification), event.SourceLocal},
		report{captured(t, capDoorOpenAlert), event.SourceLocal},
	)
	evs := expect(t, raw.sub, `sensor_activity 1 "Front door" occupied=true`, `sensor_activity 1 "Front door" occupied=true`, `door_open 1 "Front door"`)
	if evs[0].Sources != event.SourcesOf(event.SourceLocal) {
		t.Fatalf("sources %v", evs[0].Sources.List())
	}
}

// The window: a live report later than mergeWindow is a new happening.
func TestMergeWindow(t *testing.T) {
	var g merger
	ev := event.Event{Type: event.DoorOpen, Sensor: true, Index: 1}
	t0 := time.Unix(1_700_000_000, 0)
	r := g.add(&ev, chLocalNotification, t0, 0)
	if g.match(&ev, chLocalAlert, t0.Add(mergeWindow), 1631545189) != r {
		t.Fatal("an alert within the window did not merge")
	}
	if g.match(&ev, chLocalAlert, t0.Add(mergeWindow+time.Millisecond), 1631545189) != nil {
		t.Fatal("an alert after the window merged")
	}
	if g.match(&ev, chLocalNotification, t0, 0) != nil {
		t.Fatal("a second notification merged: it is a second happening")
	}
	other := ev
	other.Index = 2
	if g.match(&other, chLocalAlert, t0, 0) != nil {
		t.Fatal("another sensor's event merged")
	}
	// History needs the panel time of an alert already merged.
	if g.match(&ev, chHistory, t0.Add(time.Second), 1631545189) != nil {
		t.Fatal("history merged into an event no alert reported")
	}
	r.channels |= chLocalAlert
	r.panelTime = 1631545189
	if g.match(&ev, chHistory, t0.Add(historyWindow), 1631545190) != r {
		t.Fatal("history of the alert did not merge")
	}
	if g.match(&ev, chHistory, t0.Add(historyWindow+time.Second), 1631545189) != nil {
		t.Fatal("history after its window merged")
	}
}

// The ring wraps: a match finds the newest recent event of its key among
// those its channel has not reported, and nothing once 64 more came.
func TestMergerRingWraps(t *testing.T) {
	var g merger
	now := time.Unix(1700000000, 0)
	door := func(i int) *event.Event { return &event.Event{Type: event.DoorOpen, Sensor: true, Index: i} }
	slots := map[int]*recentEvent{}
	for i := range 200 {
		slots[i] = g.add(door(i%7), chLocalAlert, now, 0)
	}
	for i := 193; i < 200; i++ { // the newest of each key
		if r := g.match(door(i%7), chLocalNotification, now, 0); r != slots[i] {
			t.Fatalf("key %d: matched slot %v, want the newest (%d)", i%7, r, i)
		}
	}
	if r := g.match(door(3), chLocalAlert, now, 0); r != nil {
		t.Fatal("a second report through the same channel merged")
	}
	g.join(slots[199], chLocalNotification) // 199 % 7 == 3
	if r := g.match(door(3), chLocalNotification, now, 0); r != slots[192] {
		t.Fatalf("after the newest took the channel: %v, want the one before (192)", r)
	}
	for i := range 64 {
		g.add(door(100+i), chCloudAlert, now, 0)
	}
	if r := g.match(door(3), chLocalNotification, now, 0); r != nil {
		t.Fatalf("matched %+v, forgotten after 64 more", r)
	}
}

// A burst that queued up while the Monitor waited for a slow subscriber
// is handled as one batch, and still every event comes with the state
// its message produced: each door event's state has the door as that
// event left it, not as the last one did.
func TestBatchKeepsEachEventsState(t *testing.T) {
	r := startRig(t, MonitorConfig{}, notify.ListenerConfig{})
	sub := r.mon.SubscribeState("test", 1)
	feedReports(r, report{captured(t, capDoorOpenAlert), event.SourceLocal})
	// The Monitor now waits for sub's room for the second event; the
	// rest queues behind it.
	eventually.True(t, "the monitor waits for the subscriber", func() bool { return sub.Queued() == 1 })
	const n = 10
	for i := range n {
		alert := capDoorCloseAlert
		if i%2 == 1 {
			alert = capDoorOpenAlert
		}
		feedReports(r, report{captured(t, alert), event.SourceLocal})
	}
	eventually.True(t, "the burst is queued", func() bool { depth, _ := r.mon.QueueDepth(); return depth == n })
	open := false
	for _, d := range deliveries(t, sub, 2*(n+1)) {
		if d.Event.Type == event.SensorActivity {
			open = d.Event.Occupied
		}
		if d.State == nil || d.State.Sensors[0].Occupied != open {
			t.Fatalf("%s: the state has the door open=%v, the event left it open=%v", summary(d.Event), !open, open)
		}
	}
	if !open {
		t.Fatal("the last event closed the door; the burst ends with an opening")
	}
}
