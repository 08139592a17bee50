package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/qrcode"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/protocol"
)

// Limits of the API.
const (
	maxBody      = 4 << 10 // a command's body
	defaultLimit = 100     // events by default
	maxLimit     = 1000    // and at most
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", serveIndex)
	m.Handle("GET /assets/", assetHandler())
	m.HandleFunc("GET /sw.js", serveRoot("sw.js", "text/javascript; charset=utf-8"))
	m.HandleFunc("GET /manifest.webmanifest", serveRoot("manifest.webmanifest", "application/manifest+json"))
	m.HandleFunc("GET /api/panels", s.listPanels)
	m.HandleFunc("GET /api/panels/{panel}/state", s.withPanel(s.panelState))
	m.HandleFunc("POST /api/panels/{panel}/arm", s.withPanel(s.arm))
	m.HandleFunc("POST /api/panels/{panel}/disarm", s.withPanel(s.disarm))
	m.HandleFunc("POST /api/panels/{panel}/relays/{index}/{node}", s.withPanel(s.relay))
	m.HandleFunc("POST /api/panels/{panel}/refresh", s.withPanel(s.refresh))
	m.HandleFunc("GET /api/events", s.events)
	m.HandleFunc("GET /api/events/stream", s.stream)
	m.HandleFunc("GET /api/homekit", s.homekit)
	m.HandleFunc("GET /api/homekit/qr.svg", s.homekitQR)
	s.manageRoutes(m)
	s.authRoutes(m)
	s.historyRoutes(m)
	s.mux = m
}

// homekitView is the HomeKit bridge in the API: the setup code and URI
// only while no controller is paired (then nobody can pair with them,
// and they need not be shown).
type homekitView struct {
	Enabled bool   `json:"enabled"`
	Paired  bool   `json:"paired"`
	Code    string `json:"code,omitempty"`
	URI     string `json:"uri,omitempty"`
}

func (s *Server) homekitSetup() (homekitView, bool) {
	if s.cfg.HomeKit == nil {
		return homekitView{}, false
	}
	st := s.cfg.HomeKit.Setup()
	v := homekitView{Enabled: true, Paired: st.Paired}
	if !st.Paired {
		v.Code, v.URI = st.Code, st.URI
	}
	return v, true
}

func (s *Server) homekit(w http.ResponseWriter, _ *http.Request) {
	v, _ := s.homekitSetup()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}

// homekitQR is the QR code of the setup URI, which the Home app scans;
// 404 without a bridge or once paired.
func (s *Server) homekitQR(w http.ResponseWriter, _ *http.Request) {
	v, ok := s.homekitSetup()
	if !ok || v.URI == "" {
		writeError(w, http.StatusNotFound, "no HomeKit setup code to show: no bridge, or already paired")
		return
	}
	code, err := qrcode.Encode([]byte(v.URI))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(code.SVG(6, "HomeKit setup code "+v.Code))
}

// panelView is a panel in the API.
type panelView struct {
	Name        string    `json:"name"`
	Addr        string    `json:"addr"`
	PINRequired bool      `json:"pin_required"`
	Ready       bool      `json:"ready"`
	State       g90.State `json:"state"`
}

func (p *panel) view() panelView {
	return panelView{
		Name: p.mon.Name(), Addr: p.mon.Panel().Addr(), PINRequired: p.mon.PIN().Required(),
		Ready: p.ready(), State: p.state(),
	}
}

func (s *Server) listPanels(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Panels []panelView `json:"panels"`
	}{Panels: make([]panelView, 0, len(s.panels))}
	for _, p := range s.panels {
		out.Panels = append(out.Panels, p.view())
	}
	writeJSON(w, http.StatusOK, out)
}

// withPanel resolves {panel}; an unknown one is 404, and a refused
// command is counted.
func (s *Server) withPanel(h func(w http.ResponseWriter, r *http.Request, p *panel)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("panel")
		p := s.lookup(key)
		if p == nil {
			if r.Method == http.MethodPost {
				s.rejected.Add(1)
			}
			writeError(w, http.StatusNotFound, fmt.Sprintf("no panel named %q or with that GUID", key))
			return
		}
		h(w, r, p)
	}
}

func (s *Server) panelState(w http.ResponseWriter, _ *http.Request, p *panel) {
	writeJSON(w, http.StatusOK, p.view())
}

func (s *Server) arm(w http.ResponseWriter, r *http.Request, p *panel) {
	var req struct {
		Mode string `json:"mode"`
		PIN  string `json:"pin"`
	}
	if !s.decode(w, r, &req, false) {
		return
	}
	var state protocol.ArmState
	switch req.Mode {
	case "away":
		state = protocol.ArmAway
	case "home":
		state = protocol.ArmHome
	default:
		s.refuse(w, r, p, http.StatusBadRequest, fmt.Sprintf("mode %q: want away or home", req.Mode))
		return
	}
	if !s.allowed(w, r, p, req.PIN) {
		return
	}
	s.command(w, r, p, "arm "+req.Mode, g90.ReadStatus, func(ctx context.Context) error { return p.mon.Panel().Arm(ctx, state) })
}

func (s *Server) disarm(w http.ResponseWriter, r *http.Request, p *panel) {
	var req struct {
		PIN string `json:"pin"`
	}
	if !s.decode(w, r, &req, true) || !s.allowed(w, r, p, req.PIN) {
		return
	}
	s.command(w, r, p, "disarm", g90.ReadStatus, p.mon.Panel().Disarm)
}

func (s *Server) relay(w http.ResponseWriter, r *http.Request, p *panel) {
	var at [2]int
	for i, name := range []string{"index", "node"} {
		n, err := strconv.Atoi(r.PathValue(name))
		if err != nil || n < 0 {
			s.refuse(w, r, p, http.StatusBadRequest, fmt.Sprintf("relay %s %q: want a number from 0", name, r.PathValue(name)))
			return
		}
		at[i] = n
	}
	var req struct {
		On *bool `json:"on"`
	}
	if !s.decode(w, r, &req, false) {
		return
	}
	if req.On == nil {
		s.refuse(w, r, p, http.StatusBadRequest, `want {"on":true} or {"on":false}`)
		return
	}
	index, node, on := at[0], at[1], *req.On
	// Only relays the panel listed: a wrong number sends nothing.
	if !slices.ContainsFunc(p.state().Devices, func(d g90.DeviceRef) bool { return d.Index == index && d.Node == node }) {
		s.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("panel %q has no relay %d:%d (refresh if it was just added)", p.mon.Name(), index, node))
		return
	}
	what := fmt.Sprintf("relay %d:%d %s", index, node, map[bool]string{true: "on", false: "off"}[on])
	// SetRelay records the switch itself: the panel reports no relay
	// state, so there is nothing to read again.
	s.command(w, r, p, what, 0, func(ctx context.Context) error { return p.mon.SetRelay(ctx, index, node, on) })
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request, p *panel) {
	var req struct{}
	if !s.decode(w, r, &req, true) {
		return
	}
	p.mon.Refresh()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// allowed checks the PIN and answers 403 when it is missing or wrong, 429
// while too many wrong ones lock it out (pinguard).
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, p *panel, pin string) bool {
	// Counted per client address: a stranger's guesses lock out the
	// stranger, not the owner's phone.
	source, _, _ := net.SplitHostPort(r.RemoteAddr)
	err := p.mon.PIN().CheckFrom("web "+source, pin)
	if err == nil {
		return true
	}
	status := http.StatusForbidden
	var locked *pinguard.LockedError
	if errors.As(err, &locked) {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(locked.Left.Round(time.Second)/time.Second)))
	}
	s.refuse(w, r, p, status, err.Error())
	return false
}

// refuse counts, logs and answers a refused command.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, p *panel, status int, msg string) {
	s.rejected.Add(1)
	s.log.Warn("command refused", "panel", p.mon.Name(), "path", r.URL.Path, "reason", msg, "remote", r.RemoteAddr)
	writeError(w, status, msg)
}

// command runs do against the panel and asks the monitor to read again
// what the command changed (reread; 0: nothing), so that the state
// follows even without events.
func (s *Server) command(w http.ResponseWriter, r *http.Request, p *panel, what string, reread g90.ReadSet, do func(ctx context.Context) error) {
	s.log.Info("command", "panel", p.mon.Name(), "command", what, "remote", r.RemoteAddr)
	if err := do(r.Context()); err != nil {
		s.commandErrors.Add(1)
		s.log.Warn("command failed", "panel", p.mon.Name(), "command", what, "err", err)
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	s.commands.Add(1)
	if reread != 0 {
		p.mon.Reread(reread)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// decode reads a command's body: one JSON object with no unknown
// fields, sent as application/json; optional bodies may be empty. It
// answers the request and returns false when the body is bad.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	fail := func(status int, msg string) bool {
		s.rejected.Add(1)
		s.log.Warn("command refused", "path", r.URL.Path, "reason", msg, "remote", r.RemoteAddr)
		writeError(w, status, msg)
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return fail(http.StatusBadRequest, fmt.Sprintf("body: %v", err))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return true
		}
		return fail(http.StatusBadRequest, "body: want a JSON object")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, "body: want Content-Type application/json")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, fmt.Sprintf("body: invalid JSON: %v", err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(http.StatusBadRequest, "body: data after the JSON object")
	}
	return true
}

// events answers the event log: the last limit events since a time,
// oldest first.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p *panel
	if key := q.Get("panel"); key != "" {
		if p = s.lookup(key); p == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no panel named %q or with that GUID", key))
			return
		}
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since %q: want an RFC 3339 time, e.g. 2025-01-02T15:04:05Z", v))
			return
		}
		since = t
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to %d", v, maxLimit))
			return
		}
		limit = n
	}
	// Keep the last limit of the selected events, in a ring.
	kept, n := make([]json.RawMessage, limit), 0
	keep := func(b []byte) {
		kept[n%limit] = b
		n++
	}
	ordered := func() map[string][]json.RawMessage {
		if n <= limit {
			return map[string][]json.RawMessage{"events": kept[:n]}
		}
		i := n % limit
		return map[string][]json.RawMessage{"events": append(kept[i:], kept[:i]...)}
	}
	if s.cfg.Journal == nil {
		s.recent.all(func(e recentEvent) bool {
			if (p == nil || e.panel == p.i) && !e.at.Before(since) {
				keep(e.json)
			}
			return true
		})
	} else {
		jq := journal.Query{Since: since}
		if p != nil {
			if jq.Panel = p.state().GUID; jq.Panel == "" {
				// Its GUID is not known yet, so neither are its events.
				writeJSON(w, http.StatusOK, ordered())
				return
			}
		}
		for e, err := range s.cfg.Journal.Query(jq) {
			if errors.Is(err, journal.ErrDamaged) {
				s.log.Warn("event log: a damaged journal entry skipped", "err", err)
				continue
			}
			if err != nil {
				s.log.Warn("event log: journal read failed", "err", err)
				writeError(w, http.StatusServiceUnavailable, "event log: "+err.Error())
				return
			}
			keep(e.JSON)
		}
	}
	writeJSON(w, http.StatusOK, ordered())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// jsonErrors turns the mux's plain-text error answers into JSON ones.
type jsonErrors struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (j *jsonErrors) WriteHeader(status int) {
	if status < 400 {
		j.ResponseWriter.WriteHeader(status)
		return
	}
	j.swallow = true
	msg := fmt.Sprintf("no such endpoint: %s", j.r.URL.Path)
	if status == http.StatusMethodNotAllowed {
		msg = fmt.Sprintf("method %s not allowed on %s", j.r.Method, j.r.URL.Path)
	}
	writeError(j.ResponseWriter, status, msg)
}

func (j *jsonErrors) Write(b []byte) (int, error) {
	if j.swallow {
		return len(b), nil
	}
	return j.ResponseWriter.Write(b)
}
