package g90

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
)

// collectSink is a notify.Sink that keeps what it gets.
type collectSink struct {
	msgs    []notify.Message
	packets int
}

func (s *collectSink) Packet(event.Source, time.Time) { s.packets++ }
func (s *collectSink) Message(m notify.Message, src event.Source, _ time.Time) {
	if src != event.SourceHistory {
		panic("wrong source " + src)
	}
	s.msgs = append(s.msgs, m)
}

// records parses a list of history records as the spec writes them and
// sorts it as Panel.History does.
func records(t *testing.T, list string) []HistoryEntry {
	t.Helper()
	v, err := protocol.ParseValue([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	var out []HistoryEntry
	for i, r := range v.Arr {
		var e protocol.HistoryEntry
		if err := protocol.Decode(&e, r.Arr); err != nil {
			t.Fatal(err)
		}
		out = append(out, HistoryEntry{HistoryEntry: e, Position: i + 1})
	}
	slices.SortStableFunc(out, func(a, b HistoryEntry) int { return b.UnixTime - a.UnixTime })
	return out
}

func newPoller(t *testing.T, cfg HistoryConfig) *HistoryPoller {
	t.Helper()
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	h := p.NewHistoryPoller(cfg)
	h.cur = h.loadCursor()
	return h
}

// replayAll runs the polls of a spec F.7 vector and returns the alerts
// replayed, as [type,event_id,source,state,"name",time].
func replayAll(t *testing.T, h *HistoryPoller, polls ...string) []string {
	t.Helper()
	sink := &collectSink{}
	for _, p := range polls {
		h.cur = h.replay(records(t, p), sink)
	}
	var got []string
	for _, m := range sink.msgs {
		a := m.Alert
		got = append(got, protocol.ArrayValue(protocol.IntValue(int(a.Type)), protocol.IntValue(a.EventID),
			protocol.IntValue(int(a.Source)), protocol.IntValue(a.State), protocol.StringValue(a.Name),
			protocol.IntValue(int(a.UnixTime))).String())
	}
	return got
}

// spec F.7 H-SIMULATE: an empty history sets no entries aside, the next
// read is the baseline, the third replays oldest first. Unlike the
// reference, the empty history is a baseline already, so the entry that
// appears next is new and replayed.
func TestHistoryReplaySimulate(t *testing.T) {
	h := newPoller(t, HistoryConfig{})
	got := replayAll(t, h,
		`[]`,
		`[[2,5,0,0,"",1630142871,""]]`,
		`[[3,33,1,1,"Sensor 1",1630147285,""],[2,3,0,0,"",1630142877,""],[2,5,0,0,"",1630142871,""]]`)
	want := []string{
		`[2,5,0,0,"",1630142871]`, // the reference loses it (spec C.4 "empty history at startup")
		`[2,3,0,0,"",1630142877]`,
		`[3,33,1,1,"Sensor 1",1630147285]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replayed (-want +got):\n%s", diff)
	}

	// Started on a non-empty history, the first read is only the baseline,
	// as in the reference.
	h = newPoller(t, HistoryConfig{})
	got = replayAll(t, h,
		`[[2,5,0,0,"",1630142871,""]]`,
		`[[3,33,1,1,"Sensor 1",1630147285,""],[2,3,0,0,"",1630142877,""],[2,5,0,0,"",1630142871,""]]`)
	if diff := cmp.Diff(want[1:], got); diff != "" {
		t.Fatalf("replayed (-want +got):\n%s", diff)
	}
}

// spec F.7 H-SAME-SECOND: the reference replays one of two entries with
// the same new timestamp; we replay both, oldest first.
func TestHistoryReplaySameSecond(t *testing.T) {
	h := newPoller(t, HistoryConfig{})
	got := replayAll(t, h,
		`[[2,5,0,0,"",100,""]]`,
		`[[2,4,0,0,"",101,""],[2,3,0,0,"",101,""],[2,5,0,0,"",100,""]]`,
		// the same read again, and one more identical entry in the same
		// second: only the new one is replayed
		`[[2,4,0,0,"",101,""],[2,4,0,0,"",101,""],[2,3,0,0,"",101,""],[2,5,0,0,"",100,""]]`)
	want := []string{`[2,3,0,0,"",101]`, `[2,4,0,0,"",101]`, `[2,4,0,0,"",101]`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replayed (-want +got):\n%s", diff)
	}
	// A second entry in the cursor's second that was not there before is
	// new too.
	got = replayAll(t, h, `[[2,4,0,0,"",101,""],[2,4,0,0,"",101,""],[2,3,0,0,"",101,""]]`)
	if len(got) != 0 {
		t.Fatalf("replayed again: %v", got)
	}
}

// spec F.7 H-BLOCKED: an entry the routing cannot map (type 4, source 1,
// state 3) does not hold back the newer ones. The poller hands it over;
// the Monitor logs and skips it (see TestMonitorHistory).
func TestHistoryReplayBlocked(t *testing.T) {
	h := newPoller(t, HistoryConfig{Depth: 3})
	got := replayAll(t, h,
		`[[2,5,0,0,"",100,""]]`,
		`[[4,1,1,3,"S",102,""],[2,4,0,0,"",101,""],[2,5,0,0,"",100,""]]`,
		`[[2,4,0,0,"",103,""],[4,1,1,3,"S",102,""],[2,4,0,0,"",101,""]]`)
	want := []string{`[2,4,0,0,"",101]`, `[4,1,1,3,"S",102]`, `[2,4,0,0,"",103]`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replayed (-want +got):\n%s", diff)
	}
}

// The cursor survives a restart through the state file: what happened
// while the poller was stopped is replayed, nothing twice.
func TestHistoryCursorFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "history.json")
	h := newPoller(t, HistoryConfig{StateFile: file})
	replayAll(t, h, `[[2,5,0,0,"",100,""]]`, `[[2,4,0,0,"",101,""],[2,5,0,0,"",100,""]]`)
	if err := h.saveCursor(); err != nil {
		t.Fatal(err)
	}

	h = newPoller(t, HistoryConfig{StateFile: file})
	got := replayAll(t, h, `[[2,3,0,0,"",102,""],[2,4,0,0,"",101,""],[2,5,0,0,"",100,""]]`)
	if diff := cmp.Diff([]string{`[2,3,0,0,"",102]`}, got); diff != "" {
		t.Fatalf("after restart (-want +got):\n%s", diff)
	}

	// A file of another panel is ignored: a fresh baseline.
	other, err := New(Config{Host: "127.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	h2 := other.NewHistoryPoller(HistoryConfig{StateFile: file})
	if c := h2.loadCursor(); c.Set {
		t.Fatalf("another panel's cursor was used: %+v", c)
	}
}
