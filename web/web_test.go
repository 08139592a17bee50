package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// The page and its assets are served, with a policy that allows no
// outside script, style or framing.
func TestIndex(t *testing.T) {
	r := startRig(t, rigConfig{})
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="assets/app.js"`},
		{"/assets/app.js", "text/javascript", "EventSource"},
		{"/assets/app.css", "text/css", ":root"},
		{"/sw.js", "text/javascript", "caches.open"},
		{"/manifest.webmanifest", "application/manifest+json", `"start_url"`},
		{"/assets/icon.svg", "image/svg+xml", "<svg"},
		{"/assets/icon-192.png", "image/png", "PNG"},
	} {
		resp := r.raw(t, "GET", c.path, "")
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s: %s, Content-Type %q", c.path, resp.Status, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(b), c.contains) {
			t.Errorf("GET %s: no %q in the body", c.path, c.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	for _, path := range []string{"/nothing-here", "/assets/", "/assets/nothing.js"} {
		resp := r.raw(t, "GET", path, "")
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
}

// The panel list and a panel's state, by name and by GUID; unknown
// panels and endpoints are JSON 404s, a wrong method a JSON 405.
func TestPanels(t *testing.T) {
	r := startRig(t, rigConfig{})
	status, out := r.do(t, "GET", "/api/panels", "")
	if status != 200 {
		t.Fatalf("GET /api/panels: %d %v", status, out)
	}
	list, _ := out["panels"].([]any)
	if len(list) != 1 {
		t.Fatalf("panels %v", out)
	}
	p := list[0].(map[string]any)
	st := p["state"].(map[string]any)
	if p["name"] != "Home" || p["ready"] != true || p["pin_required"] != false || st["guid"] != guid || st["arm"] != "disarmed" {
		t.Errorf("panel %v", p)
	}
	if n := len(st["sensors"].([]any)); n != 12 {
		t.Errorf("%d sensors, want the simulator's 12", n)
	}
	if n := len(st["devices"].([]any)); n != 6 {
		t.Errorf("%d relays, want the simulator's 6 nodes", n)
	}

	for _, key := range []string{"Home", guid} {
		if v := r.panelStateOf(t, key); v.Name != "Home" || v.State.GUID != guid {
			t.Errorf("state of %q: %+v", key, v)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/panels/Elsewhere/state", 404},
		{"GET", "/api/nothing", 404},
		{"GET", "/api/panels/Home/arm", 405},
		{"DELETE", "/api/panels", 405},
	} {
		status, out := r.do(t, c.method, c.path, "")
		if status != c.status || out["error"] == nil {
			t.Errorf("%s %s: %d %v, want %d and an error", c.method, c.path, status, out, c.status)
		}
	}
}

func (r *rig) panelStateOf(t *testing.T, key string) panelView {
	t.Helper()
	resp := r.raw(t, "GET", "/api/panels/"+key+"/state", "")
	defer resp.Body.Close()
	var v panelView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Arming and disarming reach the simulator, and the state follows.
func TestArmDisarm(t *testing.T) {
	r := startRig(t, rigConfig{})
	for _, c := range []struct {
		path, body string
		sim        protocol.ArmState
		state      event.ArmState
	}{
		{"/api/panels/Home/arm", `{"mode":"away"}`, protocol.ArmAway, event.ArmAway},
		{"/api/panels/Home/disarm", ``, protocol.Disarmed, event.Disarmed},
		{"/api/panels/" + guid + "/arm", `{"mode":"home"}`, protocol.ArmHome, event.ArmHome},
		{"/api/panels/Home/disarm", `{}`, protocol.Disarmed, event.Disarmed},
	} {
		status, out := r.do(t, "POST", c.path, c.body)
		if status != 200 || out["ok"] != true {
			t.Fatalf("POST %s %s: %d %v", c.path, c.body, status, out)
		}
		if got := r.sim.Snapshot().Arm; got != c.sim {
			t.Fatalf("POST %s %s: the simulator is %v", c.path, c.body, got)
		}
		eventually.True(t, "the state "+string(c.state), func() bool { return r.panelState(t).State.Arm == c.state })
	}
	if st := r.srv.Stats(); st.Commands != 4 || st.Rejected != 0 || st.CommandErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A relay switched from the API switches in the simulator.
func TestRelay(t *testing.T) {
	r := startRig(t, rigConfig{})
	for _, on := range []bool{true, false} {
		body := map[bool]string{true: `{"on":true}`, false: `{"on":false}`}[on]
		status, out := r.do(t, "POST", "/api/panels/Home/relays/6/2", body)
		if status != 200 {
			t.Fatalf("relay 6:2 %s: %d %v", body, status, out)
		}
		if got := r.sim.Snapshot().Relays[6]; len(got) != 4 || got[2] != on || got[0] || got[1] || got[3] {
			t.Fatalf("relay 6:2 %s: the simulator's relay 6 is %v", body, got)
		}
		// The switch is the relay's state in the panel's state (issue
		// 15.4), which the page shows.
		eventually.True(t, "relay 6:2 in the state", func() bool {
			for _, d := range r.panelState(t).State.Devices {
				if d.Index == 6 && d.Node == 2 {
					return d.On != nil && *d.On == on
				}
			}
			return false
		})
	}
}

// With a PIN, arm and disarm need it: a missing or wrong one is 403 and
// nothing reaches the panel. Past five wrong ones in a row, every try is
// 429 for a while, the right PIN too.
func TestPIN(t *testing.T) {
	r := startRig(t, rigConfig{pin: "1234"})
	if v := r.panelState(t); !v.PINRequired {
		t.Error("pin_required is false")
	}
	for _, c := range []struct{ path, body string }{
		{"/api/panels/Home/arm", `{"mode":"away"}`},
		{"/api/panels/Home/arm", `{"mode":"away","pin":"0000"}`},
		{"/api/panels/Home/arm", `{"mode":"away","pin":"12345"}`},
		{"/api/panels/Home/disarm", `{"pin":"4321"}`}, // four: the fifth would lock
	} {
		status, out := r.do(t, "POST", c.path, c.body)
		if status != 403 || out["error"] == nil {
			t.Errorf("POST %s %s: %d %v, want 403", c.path, c.body, status, out)
		}
	}
	if n := r.sent.Writes(); n != 0 {
		t.Fatalf("%d requests reached the panel", n)
	}
	if st := r.srv.Stats(); st.Rejected != 4 {
		t.Errorf("stats %+v, want 4 rejected", st)
	}
	status, out := r.do(t, "POST", "/api/panels/Home/arm", `{"mode":"away","pin":"1234"}`)
	if status != 200 || r.sim.Snapshot().Arm != protocol.ArmAway {
		t.Fatalf("with the PIN: %d %v, simulator %v", status, out, r.sim.Snapshot().Arm)
	}
	status, out = r.do(t, "POST", "/api/panels/Home/disarm", `{"pin":"1234"}`)
	if status != 200 || r.sim.Snapshot().Arm != protocol.Disarmed {
		t.Fatalf("disarm with the PIN: %d %v, simulator %v", status, out, r.sim.Snapshot().Arm)
	}
	// The counter sees the commands that got through, so its zeros mean
	// something.
	if n, arms := r.sent.Writes(), r.sent.Count(protocol.SetHostStatus); n != 2 || arms != 2 {
		t.Fatalf("%d writes, %d of them arm or disarm; want 2", n, arms)
	}

	for i := range pinguard.Tries { // the fifth locks
		if status, _ := r.do(t, "POST", "/api/panels/Home/arm", `{"mode":"away","pin":"`+strconv.Itoa(1000+i)+`"}`); status != 403 {
			t.Fatalf("wrong PIN %d: %d", i+1, status)
		}
	}
	sent := r.sent.Writes()
	status, out = r.do(t, "POST", "/api/panels/Home/arm", `{"mode":"away","pin":"1234"}`)
	if status != 429 || !strings.Contains(fmt.Sprint(out["error"]), "too many wrong PINs") || r.sent.Writes() != sent {
		t.Fatalf("the right PIN during the lockout: %d %v", status, out)
	}
}

// Bad input is a 400 (415 for the wrong content type, 404 for a relay
// or panel that does not exist) with a JSON error, and nothing is sent.
func TestBadInput(t *testing.T) {
	r := startRig(t, rigConfig{})
	for _, c := range []struct {
		path, body string
		status     int
		hdr        []string
	}{
		{"/api/panels/Home/arm", `{"mode":`, 400, nil},
		{"/api/panels/Home/arm", `not json`, 400, nil},
		{"/api/panels/Home/arm", ``, 400, nil},
		{"/api/panels/Home/arm", `{"mode":"party"}`, 400, nil},
		{"/api/panels/Home/arm", `{"mode":"disarmed"}`, 400, nil},
		{"/api/panels/Home/arm", `{"mode":"away","extra":1}`, 400, nil},
		{"/api/panels/Home/arm", `{"mode":"away"} {"mode":"home"}`, 400, nil},
		{"/api/panels/Home/arm", `["away"]`, 400, nil},
		{"/api/panels/Home/arm", `{"mode":"away"}`, 415, []string{"Content-Type", "text/plain"}},
		{"/api/panels/Home/arm", `{"mode":"` + strings.Repeat("a", 5000) + `"}`, 400, nil},
		{"/api/panels/Home/disarm", `{"pin":1234}`, 400, nil},
		{"/api/panels/Elsewhere/arm", `{"mode":"away"}`, 404, nil},
		{"/api/panels/Home/relays/x/0", `{"on":true}`, 400, nil},
		{"/api/panels/Home/relays/6/-1", `{"on":true}`, 400, nil},
		{"/api/panels/Home/relays/6/0", `{}`, 400, nil},
		{"/api/panels/Home/relays/6/0", `{"on":"yes"}`, 400, nil},
		{"/api/panels/Home/relays/6/4", `{"on":true}`, 404, nil},
		{"/api/panels/Home/relays/99/0", `{"on":true}`, 404, nil},
	} {
		status, out := r.do(t, "POST", c.path, c.body, c.hdr...)
		if status != c.status || out["error"] == nil {
			t.Errorf("POST %s %.40s: %d %v, want %d and an error", c.path, c.body, status, out, c.status)
		}
	}
	if n := r.sent.Writes(); n != 0 {
		t.Fatalf("%d requests reached the panel", n)
	}
	snap := r.sim.Snapshot()
	if snap.Arm != protocol.Disarmed || snap.Relays[6][0] {
		t.Fatalf("the simulator changed: arm %v relays %v", snap.Arm, snap.Relays)
	}
}

// A browser's POST from another site is refused, whichever header
// tells; a same-origin one goes through. A Host that is not an IP
// address, localhost or configured is refused (DNS rebinding).
func TestCrossOrigin(t *testing.T) {
	r := startRig(t, rigConfig{hosts: []string{"alarm.lan"}})
	for _, hdr := range [][]string{
		{"Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
	} {
		status, out := r.do(t, "POST", "/api/panels/Home/arm", `{"mode":"away"}`, hdr...)
		if status != 403 || out["error"] == nil {
			t.Errorf("POST with %v: %d %v, want 403", hdr, status, out)
		}
	}
	if n := r.sent.Writes(); n != 0 {
		t.Fatalf("%d requests reached the panel", n)
	}
	if got := r.sim.Snapshot().Arm; got != protocol.Disarmed {
		t.Fatalf("the simulator is %v", got)
	}
	status, out := r.do(t, "POST", "/api/panels/Home/disarm", `{}`, "Sec-Fetch-Site", "same-origin", "Origin", r.ts.URL)
	if status != 200 {
		t.Fatalf("same-origin POST: %d %v", status, out)
	}

	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"evil.example", false},
		{"evil.example:80", false},
		{"localhost:8080", true},
		{"ALARM.lan:8080", true},
		{"127.0.0.1", true},
		{"[::1]:8080", true},
	} {
		status, out := r.do(t, "GET", "/api/panels", "", "Host", c.host)
		if (status == 200) != c.ok {
			t.Errorf("Host %s: %d %v, want ok=%v", c.host, status, out, c.ok)
		}
	}
}

// The stream starts with the panel's state, then delivers an event the
// simulator injects and the state that follows from it.
func TestStream(t *testing.T) {
	r := startRig(t, rigConfig{})
	s := r.stream(t, "")
	m, _ := s.next(t)
	if v := state(t, m); m.event != "state" || v.Name != "Home" || v.State.GUID != guid || len(v.State.Sensors) != 12 {
		t.Fatalf("first message %s %.200s", m.event, m.data)
	}
	filtered := r.stream(t, "?panel="+guid)
	if m, _ := filtered.next(t); m.event != "state" {
		t.Fatalf("first message of the filtered stream: %s", m.event)
	}

	inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(1)})
	for _, st := range []*stream{s, filtered} {
		// The door_open event, and a state with the door open: the
		// notification before the alert may bring that state first.
		var opened, open bool
		st.until(t, "door_open and the front door open", func(m sseMsg) bool {
			switch m.event {
			case "event":
				if ev := decodeEvent(t, m); ev.Type == event.DoorOpen {
					opened = true
					if ev.GUID != guid || ev.Name != "Front door" || ev.Source != event.SourceLocal || ev.Seq == 0 {
						t.Errorf("event %+v", ev)
					}
				}
			case "state":
				for _, sn := range state(t, m).State.Sensors {
					if sn.Index == 1 && sn.Occupied {
						open = true
					}
				}
			}
			return opened && open
		})
	}

	resp := r.raw(t, "GET", "/api/events/stream?panel=Elsewhere", "")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("stream of an unknown panel: %s", resp.Status)
	}
}

// Ending Run ends every stream; later ones are refused.
func TestStreamShutdown(t *testing.T) {
	r := startRig(t, rigConfig{})
	s := r.stream(t, "")
	eventually.True(t, "the stream client", func() bool { return r.srv.Stats().Clients == 1 })
	r.stop()
	for {
		if _, ok := s.next(t); !ok {
			break
		}
	}
	if n := r.srv.Stats().Clients; n != 0 {
		t.Errorf("%d clients after Run", n)
	}
	status, out := r.do(t, "GET", "/api/events/stream", "")
	if status != 503 {
		t.Errorf("stream after Run: %d %v", status, out)
	}
	if err := r.srv.Run(context.Background()); !errors.Is(err, web.ErrRunning) {
		t.Errorf("second Run: %v", err)
	}
}

// A client that reads nothing is disconnected when its buffer is full,
// and neither the other client nor the monitor waits for it.
func TestSlowClient(t *testing.T) {
	release := make(chan struct{})
	r := startRig(t, rigConfig{clientBuffer: 8, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get("X-Test-Stuck") != "" {
				w = &stuckWriter{ResponseWriter: w, release: release}
			}
			h.ServeHTTP(w, req)
		})
	}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	fast := r.stream(t, "")
	fast.until(t, "the state", func(m sseMsg) bool { return m.event == "state" })
	slow := r.stream(t, "", "X-Test-Stuck", "1")
	eventually.True(t, "two clients", func() bool { return r.srv.Stats().Clients == 2 })

	for i := 0; r.srv.Stats().SlowClients == 0; i++ {
		if i == 100 {
			t.Fatal("the stuck client was never dropped")
		}
		inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(1)})
		fast.until(t, "door_open", func(m sseMsg) bool { return m.event == "event" && decodeEvent(t, m).Type == event.DoorOpen })
	}
	if st := r.srv.Stats(); st.SlowClients != 1 || st.Clients != 1 || st.EventsDropped != 0 {
		t.Errorf("stats %+v", st)
	}
	// The fast client goes on.
	inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(2)})
	fast.until(t, "door_open of the back door", func(m sseMsg) bool {
		return m.event == "event" && decodeEvent(t, m).Type == event.DoorOpen && decodeEvent(t, m).Index == 2
	})
	// Unstuck, the dropped client's stream ends.
	close(release)
	for {
		if _, ok := slow.next(t); !ok {
			break
		}
	}
}

// stuckWriter lets the headers and the first write through, then blocks
// every write until release: a client that stopped reading.
type stuckWriter struct {
	http.ResponseWriter
	release chan struct{}
	writes  int
}

func (w *stuckWriter) Write(b []byte) (int, error) {
	if w.writes++; w.writes > 1 {
		<-w.release
	}
	return w.ResponseWriter.Write(b)
}

func (w *stuckWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// The event log comes from the journal: the last events, oldest first,
// of one panel or all, since a time.
func TestEventLogJournal(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := t0
	j, err := journal.Open(journal.Config{Path: filepath.Join(t.TempDir(), "journal.db"), Now: func() time.Time {
		clock = clock.Add(time.Minute)
		return clock
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i, g := range []string{guid, "OTHERPANEL", guid, guid} {
		ev := event.Event{Type: event.SensorActivity, Time: t0, GUID: g, Source: event.SourceLocal, Sensor: true, Index: i, Name: "s", Occupied: true}
		if _, err := j.Append(&ev); err != nil {
			t.Fatal(err)
		}
	}
	r := startRig(t, rigConfig{journal: j})
	for _, c := range []struct {
		query string
		want  []string // panel:seq
	}{
		{"", []string{guid + ":1", "OTHERPANEL:1", guid + ":2", guid + ":3"}},
		{"?limit=2", []string{guid + ":2", guid + ":3"}},
		{"?panel=Home", []string{guid + ":1", guid + ":2", guid + ":3"}},
		{"?panel=Home&limit=1", []string{guid + ":3"}},
		{"?since=" + t0.Add(3*time.Minute).Format(time.RFC3339), []string{guid + ":2", guid + ":3"}},
		{"?since=" + t0.Add(time.Hour).Format(time.RFC3339), []string{}},
	} {
		status, out := r.do(t, "GET", "/api/events"+c.query, "")
		if status != 200 {
			t.Fatalf("GET /api/events%s: %d %v", c.query, status, out)
		}
		got := []string{}
		for _, e := range out["events"].([]any) {
			e := e.(map[string]any)
			seq, _ := e["seq"].(float64)
			got = append(got, fmt.Sprintf("%s:%d", e["panel"], int(seq)))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("GET /api/events%s: %v, want %v", c.query, got, c.want)
		}
	}
	for _, c := range []struct {
		query  string
		status int
	}{
		{"?since=yesterday", 400},
		{"?limit=0", 400},
		{"?limit=x", 400},
		{"?limit=100000", 400},
		{"?panel=Elsewhere", 404},
	} {
		status, out := r.do(t, "GET", "/api/events"+c.query, "")
		if status != c.status || out["error"] == nil {
			t.Errorf("GET /api/events%s: %d %v, want %d", c.query, status, out, c.status)
		}
	}

	// An entry altered on disk while the daemon runs is left out of the
	// log, and the rest is served.
	lock, err := bolt.Open(j.Path(), 0o600, &bolt.Options{Timeout: 5 * time.Second}) // once the journal lets go
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(j.Path())
	lock.Close()
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("OTHERPANEL"))
	if i < 0 {
		t.Fatal("the entry is not in the file")
	}
	f, err := os.OpenFile(j.Path(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("X"), int64(i))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	status, out := r.do(t, "GET", "/api/events", "")
	if status != 200 || len(out["events"].([]any)) != 3 {
		t.Errorf("GET /api/events with a damaged entry: %d %v, want the 3 others", status, out)
	}
}

// Without a journal the log is the events seen since Run started.
func TestEventLogMemory(t *testing.T) {
	r := startRig(t, rigConfig{})
	inject(t, r.sim, sim.Injection{Event: "door_open", Sensor: idx(1)})
	eventually.True(t, "door_open in the log", func() bool {
		_, out := r.do(t, "GET", "/api/events?panel=Home", "")
		for _, e := range out["events"].([]any) {
			if e.(map[string]any)["type"] == "door_open" {
				return true
			}
		}
		return false
	})
}

// New refuses what it cannot serve.
func TestNewErrors(t *testing.T) {
	p, err := g90.New(g90.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	mon := p.NewMonitor(g90.MonitorConfig{})
	for _, c := range []struct {
		name string
		cfg  web.Config
		want string
	}{
		{"no panels", web.Config{}, "no panels"},
		{"no monitor", web.Config{Panels: []*g90.Monitor{nil}}, "no Monitor"},
		{"same name", web.Config{Panels: []*g90.Monitor{mon, p.NewMonitor(g90.MonitorConfig{Name: p.Addr()})}}, "used twice"},
		{"host with port", web.Config{Panels: []*g90.Monitor{mon}, Hosts: []string{"alarm.lan:80"}}, "without port"},
	} {
		if _, err := web.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
