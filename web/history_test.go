package web_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/sim"
)

// historyPage is /api/history's answer as a test reads it.
type historyPage struct {
	Events []struct {
		Panel  string `json:"panel"`
		Seq    uint64 `json:"seq"`
		Type   string `json:"type"`
		Sensor *struct {
			Index int    `json:"index"`
			Name  string `json:"name"`
		} `json:"sensor"`
	} `json:"events"`
	Next  string `json:"next"`
	Error string `json:"error"`
	Param string `json:"param"`
}

func (r *rig) history(t *testing.T, query string) (int, historyPage) {
	t.Helper()
	resp := r.raw(t, "GET", "/api/history?"+query, "")
	defer resp.Body.Close()
	var p historyPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("GET /api/history?%s: %v", query, err)
	}
	return resp.StatusCode, p
}

// allPages follows next from query to the end; keys are panel:seq.
func (r *rig) allPages(t *testing.T, query string, between func()) []string {
	t.Helper()
	var got []string
	before := ""
	for range 1000 {
		q := query
		if before != "" {
			q += "&before=" + url.QueryEscape(before)
		}
		status, p := r.history(t, q)
		if status != 200 {
			t.Fatalf("GET /api/history?%s: %d %s", q, status, p.Error)
		}
		for _, e := range p.Events {
			got = append(got, fmt.Sprintf("%s:%d", e.Panel, e.Seq))
		}
		if p.Next == "" {
			return got
		}
		before = p.Next
		if between != nil {
			between()
		}
	}
	t.Fatal("no end to the pages")
	return nil
}

// historyJournal is a journal of events one minute apart from t0, of
// this rig's panel (guid) and of one that is not configured.
type historyJournal struct {
	*journal.Journal
	mu    sync.Mutex
	clock time.Time
	// stored are panel:seq newest first, with each event.
	stored []string
	events map[string]event.Event
}

func newHistoryJournal(t *testing.T, t0 time.Time) *historyJournal {
	h := &historyJournal{clock: t0, events: map[string]event.Event{}}
	j, err := journal.Open(journal.Config{Path: filepath.Join(t.TempDir(), "journal.db"), FloodBurst: -1, Now: func() time.Time {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.clock = h.clock.Add(time.Minute)
		return h.clock
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	h.Journal = j
	return h
}

func (h *historyJournal) add(t *testing.T, ev event.Event) {
	t.Helper()
	e, err := h.Append(&ev)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%s:%d", e.Panel, e.Seq)
	h.stored = append([]string{key}, h.stored...)
	h.events[key] = ev
}

// want is stored filtered by keep, newest first.
func (h *historyJournal) want(keep func(ev event.Event, i int) bool) []string {
	out := []string{}
	for i, k := range h.stored {
		if keep(h.events[k], len(h.stored)-1-i) {
			out = append(out, k)
		}
	}
	return out
}

// History from the journal over a real socket: newest first, every
// filter, pages without gaps or repeats while events arrive, date
// ranges, the CSV export and bad parameters.
func TestHistoryJournal(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	j := newHistoryJournal(t, t0)
	types := []event.Type{event.DoorOpen, event.Alarm, event.SensorActivity}
	for i := range 60 {
		g := guid
		if i%4 == 3 {
			g = "OTHERPANEL"
		}
		ev := event.Event{Type: types[i%3], Time: t0, GUID: g, Source: event.SourceLocal, Sensor: true, Index: i % 5, Name: fmt.Sprintf("s%d", i%5)}
		if i == 10 {
			ev.Name = "=HYPERLINK(\"http://example.com\")"
		}
		j.add(t, ev)
	}
	r := startRig(t, rigConfig{journal: j.Journal})
	eventually.True(t, "the panel's GUID", func() bool { return r.panelState(t).State.GUID == guid })
	sensorName := r.mon.State().Sensors[0].Name
	sensorIndex := r.mon.State().Sensors[0].Index

	// The first page is the newest.
	status, p := r.history(t, "")
	if status != 200 || len(p.Events) != 60 || p.Next != "" || fmt.Sprintf("%s:%d", p.Events[0].Panel, p.Events[0].Seq) != j.stored[0] {
		t.Fatalf("GET /api/history: %d, %d events, next %q", status, len(p.Events), p.Next)
	}
	for _, c := range []struct {
		query string
		keep  func(ev event.Event, i int) bool
	}{
		{"limit=7", func(event.Event, int) bool { return true }},
		{"panel=Home&limit=9", func(ev event.Event, _ int) bool { return ev.GUID == guid }},
		{"panel=" + guid + "&limit=50", func(ev event.Event, _ int) bool { return ev.GUID == guid }},
		{"panel=OTHERPANEL&limit=4", func(ev event.Event, _ int) bool { return ev.GUID == "OTHERPANEL" }},
		{"sensor=2&limit=3", func(ev event.Event, _ int) bool { return ev.GUID == guid && ev.Index == 2 }},
		{"panel=Home&sensor=" + url.QueryEscape(sensorName), func(ev event.Event, _ int) bool { return ev.GUID == guid && ev.Index == sensorIndex }},
		{"panel=OTHERPANEL&sensor=3", func(ev event.Event, _ int) bool { return ev.GUID == "OTHERPANEL" && ev.Index == 3 }},
		{"type=alarm&limit=5", func(ev event.Event, _ int) bool { return ev.Type == event.Alarm }},
		{"type=tamper", func(event.Event, int) bool { return false }},
		{"panel=Home&type=door_open&limit=2", func(ev event.Event, _ int) bool { return ev.GUID == guid && ev.Type == event.DoorOpen }},
		{"panel=Home&sensor=1&type=alarm&limit=1", func(ev event.Event, _ int) bool {
			return ev.GUID == guid && ev.Index == 1 && ev.Type == event.Alarm
		}},
		// Event i was stored at t0 + i+1 minutes.
		{"from=" + t0.Add(11*time.Minute).Format(time.RFC3339) + "&to=" + t0.Add(20*time.Minute).Format(time.RFC3339) + "&limit=4",
			func(_ event.Event, i int) bool { return i >= 10 && i <= 19 }},
		{"type=door_open&from=" + t0.Add(30*time.Minute).Format(time.RFC3339), func(ev event.Event, i int) bool { return i >= 29 && ev.Type == event.DoorOpen }},
		{"to=" + t0.Add(5*time.Minute).Format(time.RFC3339Nano), func(_ event.Event, i int) bool { return i <= 4 }},
		{"from=2025-03-01&to=2025-03-01", func(_ event.Event, i int) bool {
			y, m, d := t0.Add(time.Duration(i+1) * time.Minute).In(time.Local).Date()
			return y == 2025 && m == time.March && d == 1
		}},
		{"from=2025-03-02", func(event.Event, int) bool { return false }},
	} {
		want := j.want(c.keep)
		if got := r.allPages(t, c.query, nil); !slices.Equal(got, want) {
			t.Errorf("GET /api/history?%s: %v\nwant %v", c.query, got, want)
		}
	}

	// Events arriving between pages come before the first page, not in
	// the pages after it: no gap, no repeat.
	before := j.want(func(ev event.Event, _ int) bool { return ev.GUID == guid })
	n := 0
	got := r.allPages(t, "panel=Home&limit=4", func() {
		n++
		j.add(t, event.Event{Type: event.DoorOpen, Time: t0, GUID: guid, Source: event.SourceLocal, Sensor: true, Index: 1, Name: "s1"})
	})
	if n == 0 || !slices.Equal(got, before) {
		t.Errorf("pages while %d events arrived: %v\nwant %v", n, got, before)
	}
	status, p = r.history(t, "panel=Home&limit=1")
	if status != 200 || fmt.Sprintf("%s:%d", p.Events[0].Panel, p.Events[0].Seq) != j.stored[0] {
		t.Errorf("newest after the arrivals: %v, want %s", p.Events, j.stored[0])
	}

	// The limit's bound.
	if status, p := r.history(t, "limit=500"); status != 200 || len(p.Events) != len(j.stored) {
		t.Errorf("limit=500: %d, %d events", status, len(p.Events))
	}
	for _, c := range []struct{ query, param string }{
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=ten", "limit"},
		{"panel=Elsewhere", "panel"},
		{"sensor=no+such+sensor", "sensor"},
		{"sensor=-1", "sensor"},
		{"type=open", "type"},
		{"from=yesterday", "from"},
		{"to=2025-13-01", "to"},
		{"from=2025-03-02&to=2025-03-01", "from"},
		{"before=xyz", "before"},
		{"before=1-", "before"},
	} {
		status, p := r.history(t, c.query)
		if status != 400 || p.Param != c.param || !strings.HasPrefix(p.Error, c.param+":") {
			t.Errorf("GET /api/history?%s: %d %+v, want 400 naming %s", c.query, status, p, c.param)
		}
		resp := r.raw(t, "GET", "/api/history.csv?"+c.query, "")
		resp.Body.Close()
		if wantStatus := map[bool]int{true: 200, false: 400}[c.param == "limit" || c.param == "before"]; resp.StatusCode != wantStatus {
			t.Errorf("GET /api/history.csv?%s: %d, want %d", c.query, resp.StatusCode, wantStatus)
		}
	}

	// The export: a header, then every match newest first.
	resp := r.raw(t, "GET", "/api/history.csv?panel=Home&sensor=0", "")
	defer resp.Body.Close()
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); resp.StatusCode != 200 || ct != "text/csv; charset=utf-8" || !strings.HasPrefix(cd, "attachment") {
		t.Fatalf("GET /api/history.csv: %d %q %q", resp.StatusCode, ct, cd)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := j.want(func(ev event.Event, _ int) bool { return ev.GUID == guid && ev.Index == 0 })
	if len(rows) != len(want)+1 || strings.Join(rows[0], ",") != "stored,time,panel,panel_name,seq,type,source,sources,sensor_index,sensor_name,sensor_type,device,state,event" {
		t.Fatalf("CSV: %d rows, want %d and a header: %q", len(rows), len(want)+1, rows[0])
	}
	for i, row := range rows[1:] {
		if fmt.Sprintf("%s:%s", row[2], row[4]) != want[i] {
			t.Errorf("CSV row %d: %s:%s, want %s", i, row[2], row[4], want[i])
		}
		stored, err1 := time.Parse(time.RFC3339Nano, row[0])
		_, err2 := time.Parse(time.RFC3339, row[1])
		if err1 != nil || err2 != nil || stored.Before(t0) || row[3] != "Home" || row[8] != "0" || row[5] == "" {
			t.Errorf("CSV row %d: %q", i, row)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(row[13]), &ev); err != nil || ev["panel"] != guid {
			t.Errorf("CSV row %d: event %q: %v", i, row[13], err)
		}
	}
	// A sensor named like a formula is text in a spreadsheet.
	resp2 := r.raw(t, "GET", "/api/history.csv?type=alarm&to="+t0.Add(11*time.Minute).Format(time.RFC3339), "")
	defer resp2.Body.Close()
	rows, err = csv.NewReader(resp2.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		if strings.Contains(row[9], "HYPERLINK") {
			found = true
			if !strings.HasPrefix(row[9], "'=") {
				t.Errorf("formula cell %q not defused", row[9])
			}
		}
	}
	if !found {
		t.Errorf("the sensor named like a formula is not in the export: %q", rows)
	}
}

// Without a journal, the same API over the in-memory log of what the
// server has seen.
func TestHistoryMemory(t *testing.T) {
	r := startRig(t, rigConfig{})
	for _, i := range []int{1, 2, 1} {
		if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(i)}); err != nil {
			t.Fatal(err)
		}
		// One at a time, so that their order is the injections'.
		want := 0
		eventually.True(t, "the door event in the history", func() bool {
			_, p := r.history(t, "type=door_open")
			want = len(p.Events)
			return want > 0 && p.Events[0].Sensor != nil && p.Events[0].Sensor.Index == i &&
				len(r.allPages(t, "type=door_open", nil)) >= want
		})
	}
	got := r.allPages(t, "type=door_open&limit=1", nil)
	if len(got) != 3 {
		t.Fatalf("door_open pages: %v", got)
	}
	status, p := r.history(t, "sensor=1&type=door_open")
	if status != 200 || len(p.Events) != 2 || p.Events[0].Sensor.Index != 1 {
		t.Fatalf("sensor=1: %d %+v", status, p)
	}
	if status, p := r.history(t, "from=2999-01-01"); status != 200 || len(p.Events) != 0 {
		t.Fatalf("from the future: %d %+v", status, p)
	}
	if status, p := r.history(t, "limit=0"); status != 400 || p.Param != "limit" {
		t.Fatalf("limit=0: %d %+v", status, p)
	}
	resp := r.raw(t, "GET", "/api/history.csv?type=door_open", "")
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][8] != "1" || rows[2][8] != "2" || rows[1][3] != "Home" {
		t.Fatalf("CSV: %q, %v", rows, err)
	}
}
