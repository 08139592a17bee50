package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// rig: a simulated panel whose notifications feed a running Monitor, and
// a running web Server over HTTP, all on loopback. The Server sends its
// commands through the Monitor's Panel; sent counts the requests that
// are not reads, which only a command sends.
type rig struct {
	sim  *sim.Panel
	mon  *g90.Monitor
	srv  *web.Server
	ts   *httptest.Server
	hc   *http.Client
	sent *simtest.Requests
	// stop ends the Server's Run and waits for it.
	stop func()
}

type rigConfig struct {
	pin          string
	journal      *journal.Journal
	hosts        []string
	clientBuffer int
	wrap         func(http.Handler) http.Handler
	// homekit is a HomeKit bridge's directory: the rig makes one there,
	// not published (no controller can pair), for the setup card.
	homekit string
}

const guid = "SIMPANEL0001"

func startRig(t *testing.T, rc rigConfig) *rig {
	t.Helper()
	leaktest.Check(t)
	l, err := notify.Listen(t.Context(), notify.ListenerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Notify: l.Addr().String(), Seed: 1})
	a := s.Addr().(*net.UDPAddr)
	sent := new(simtest.Requests)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 2 * time.Second, ListenPacket: sent.ListenPacket})
	if err != nil {
		t.Fatal(err)
	}
	mon := p.NewMonitor(g90.MonitorConfig{Name: "Home", PIN: pinguard.New(rc.pin, nil), Sources: []g90.Source{l}})
	var hk *homekit.Bridge
	if rc.homekit != "" {
		if hk, err = homekit.New(homekit.Config{Dir: rc.homekit, Pin: "314-15-926", Panels: []*g90.Monitor{mon}}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := web.New(web.Config{
		Panels:  []*g90.Monitor{mon},
		Journal: rc.journal, Hosts: rc.hosts, ClientBuffer: rc.clientBuffer, HomeKit: hk,
	})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if rc.wrap != nil {
		h = rc.wrap(h)
	}
	ts := httptest.NewServer(h)
	hc := &http.Client{Transport: &http.Transport{}}

	testrig.Serve(t, mon.Run)
	stopSrv := testrig.Serve(t, srv.Run)
	stop := func() { _ = stopSrv() } // its error fails the test at cleanup
	t.Cleanup(func() {
		stop() // ends the streams, so that ts.Close does not wait for them
		ts.Close()
		hc.CloseIdleConnections()
	})
	r := &rig{sim: s, mon: mon, srv: srv, ts: ts, hc: hc, sent: sent, stop: stop}
	eventually.True(t, "the first read of the panel", func() bool { return len(mon.State().Sensors) > 0 })
	return r
}

// do sends a request and decodes the JSON answer; hdr are name, value
// pairs. A body is sent as application/json.
func (r *rig) do(t *testing.T, method, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	resp := r.raw(t, method, path, body, hdr...)
	defer resp.Body.Close()
	var out map[string]any
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func (r *rig) raw(t *testing.T, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// panelState reads GET /api/panels/Home/state.
func (r *rig) panelState(t *testing.T) panelView {
	t.Helper()
	return r.panelStateOf(t, "Home")
}

// panelView is the API's panel as a test reads it.
type panelView struct {
	Name        string    `json:"name"`
	Addr        string    `json:"addr"`
	PINRequired bool      `json:"pin_required"`
	Ready       bool      `json:"ready"`
	State       g90.State `json:"state"`
}

// stream is one client of /api/events/stream.
type stream struct {
	resp   *http.Response
	msgs   chan sseMsg
	cancel context.CancelFunc
	done   chan struct{}
}

type sseMsg struct{ event, data string }

func (r *rig) stream(t *testing.T, query string, hdr ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", r.ts.URL+"/api/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		resp.Body.Close()
		t.Fatalf("stream: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &stream{resp: resp, msgs: make(chan sseMsg, 1024), cancel: cancel, done: make(chan struct{})}
	go s.read()
	t.Cleanup(s.close)
	return s
}

// read parses the messages until the body ends; it closes msgs then.
func (s *stream) read() {
	defer close(s.done)
	defer close(s.msgs)
	br := bufio.NewReader(s.resp.Body)
	var m sseMsg
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m.data != "" {
				s.msgs <- m
			}
			m = sseMsg{}
		case strings.HasPrefix(line, "event: "):
			m.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			m.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next returns the next message; ok is false when the stream ended.
func (s *stream) next(t *testing.T) (sseMsg, bool) {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		return m, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no stream message")
	}
	panic("unreachable")
}

// until reads messages until one satisfies ok, and returns it.
func (s *stream) until(t *testing.T, what string, ok func(sseMsg) bool) sseMsg {
	t.Helper()
	for {
		m, open := s.next(t)
		if !open {
			t.Fatalf("stream ended before %s", what)
		}
		if ok(m) {
			return m
		}
	}
}

// event decodes an "event" message.
func decodeEvent(t *testing.T, m sseMsg) event.Event {
	t.Helper()
	var ev event.Event
	if err := ev.UnmarshalJSON([]byte(m.data)); err != nil {
		t.Fatalf("event %q: %v", m.data, err)
	}
	return ev
}

// state decodes a "state" message.
func state(t *testing.T, m sseMsg) panelView {
	t.Helper()
	var v panelView
	if err := json.Unmarshal([]byte(m.data), &v); err != nil {
		t.Fatalf("state %q: %v", m.data, err)
	}
	return v
}

func idx(i int) *int { return &i }

func inject(t *testing.T, s *sim.Panel, in sim.Injection) {
	t.Helper()
	if _, err := s.Inject(in); err != nil {
		t.Fatal(err)
	}
}
