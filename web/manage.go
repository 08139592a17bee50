package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// The management API: sensors and relays (list, change, delete, learn),
// the configuration sections, reboot and the panel's own history. Every
// change goes through the same g90.Panel calls as the CLI (g90 sensor,
// g90 device, g90 config), with their validation and read-back.

// Limits of the management API.
const (
	defaultHistory = 50  // panel history entries by default
	maxHistory     = 500 // and at most
	// maxJobs bounds the finished learn jobs kept for GET .../jobs/{id};
	// a running one is never dropped, and there is at most one per panel.
	maxJobs = 8
	// jobKeep is how long a finished job stays readable.
	jobKeep = 5 * time.Minute
)

func (s *Server) manageRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/types", s.types)
	for _, k := range []*kindAPI{sensorAPI, relayAPI} {
		base := "/api/panels/{panel}/" + k.path
		m.HandleFunc("GET "+base, s.withPanel(k.handler(s.listPeripherals)))
		m.HandleFunc("POST "+base, s.withPanel(k.handler(s.learn)))
		m.HandleFunc("PATCH "+base+"/{index}", s.withPanel(k.handler(s.patchPeripheral)))
		m.HandleFunc("DELETE "+base+"/{index}", s.withPanel(k.handler(s.deletePeripheral)))
	}
	m.HandleFunc("GET /api/panels/{panel}/jobs/{id}", s.withPanel(s.getJob))
	m.HandleFunc("DELETE /api/panels/{panel}/jobs/{id}", s.withPanel(s.cancelJob))
	m.HandleFunc("GET /api/panels/{panel}/config", s.withPanel(s.configSections))
	m.HandleFunc("GET /api/panels/{panel}/config/{section}", s.withPanel(s.getConfig))
	m.HandleFunc("PUT /api/panels/{panel}/config/{section}", s.withPanel(s.putConfig))
	m.HandleFunc("POST /api/panels/{panel}/reboot", s.withPanel(s.reboot))
	m.HandleFunc("GET /api/panels/{panel}/history", s.withPanel(s.panelHistory))
}

// kindAPI is what the sensor and the relay endpoints do differently; a
// relay is an entry of the panel's device list (relays, sockets, sirens).
type kindAPI struct {
	kind   peripheral.Kind
	path   string // in the URL: sensors, relays
	noun   string // in messages and jobs: sensor, relay
	reread g90.ReadSet
	modes  bool // has flags and an alert mode
	// list reads the panel's list, each entry as the API shows it.
	list func(context.Context, *g90.Panel) ([]entry, error)
	add  func(context.Context, *g90.Panel, g90.Registration) (any, error)
}

// entry is one sensor or device of a list: its index, its view, and
// how to change and delete it.
type entry struct {
	index  int
	view   any
	update func(context.Context, g90.PeripheralChange) (any, error)
	del    func(context.Context) error
}

var sensorAPI = &kindAPI{
	kind: peripheral.KindSensor, path: "sensors", noun: "sensor", reread: g90.ReadSensors, modes: true,
	list: func(ctx context.Context, p *g90.Panel) ([]entry, error) {
		ss, err := p.Sensors(ctx)
		out := make([]entry, 0, len(ss))
		for _, x := range ss {
			out = append(out, entry{
				index: x.Index(), view: x.Info(),
				update: func(ctx context.Context, c g90.PeripheralChange) (any, error) {
					u, err := p.UpdateSensor(ctx, x, c)
					if err != nil {
						return nil, err
					}
					return u.Info(), nil
				},
				del: func(ctx context.Context) error { return p.DeleteSensor(ctx, x) },
			})
		}
		return out, err
	},
	add: func(ctx context.Context, p *g90.Panel, r g90.Registration) (any, error) {
		x, err := p.AddSensor(ctx, r)
		if err != nil {
			return nil, err
		}
		return x.Info(), nil
	},
}

var relayAPI = &kindAPI{
	kind: peripheral.KindDevice, path: "relays", noun: "relay", reread: g90.ReadDevices,
	list: func(ctx context.Context, p *g90.Panel) ([]entry, error) {
		ds, err := p.Devices(ctx)
		out := make([]entry, 0, len(ds))
		for _, x := range ds {
			out = append(out, entry{
				index: x.Index(), view: deviceInfo(x),
				update: func(ctx context.Context, c g90.PeripheralChange) (any, error) {
					u, err := p.UpdateDevice(ctx, x, c)
					if err != nil {
						return nil, err
					}
					return deviceInfo(u), nil
				},
				del: func(ctx context.Context) error { return p.DeleteDevice(ctx, x) },
			})
		}
		return out, err
	},
	add: func(ctx context.Context, p *g90.Panel, r g90.Registration) (any, error) {
		x, err := p.AddDevice(ctx, r)
		if err != nil {
			return nil, err
		}
		return deviceInfo(x), nil
	},
}

// deviceView is a device in the API: the record's user-facing fields, as
// peripheral.SensorInfo has them for a sensor, and its nodes.
type deviceView struct {
	Index     int                         `json:"index"`
	Name      string                      `json:"name"`
	Type      string                      `json:"type"`
	TypeID    int                         `json:"type_id"`
	Subtype   int                         `json:"subtype"`
	Protocol  string                      `json:"protocol"`
	Enabled   bool                        `json:"enabled"`
	Wireless  bool                        `json:"wireless"`
	UserFlags int                         `json:"user_flags"`
	NodeCount int                         `json:"node_count"`
	Nodes     []peripheral.DeviceNodeInfo `json:"nodes"`
}

func deviceInfo(d *peripheral.Device) deviceView {
	v := deviceView{
		Index: d.Index(), Name: d.ParentName(), Type: d.TypeName(), TypeID: d.Record.TypeID,
		Subtype: d.Record.Subtype, Protocol: d.Protocol().String(), Enabled: d.Enabled(),
		Wireless: d.Wireless(), UserFlags: d.Record.UserFlags, NodeCount: d.Record.NodeCount,
	}
	for _, n := range d.Nodes() {
		v.Nodes = append(v.Nodes, n.Info())
	}
	return v
}

// handler binds a kind to a handler of the pair.
func (k *kindAPI) handler(h func(http.ResponseWriter, *http.Request, *panel, *kindAPI)) func(http.ResponseWriter, *http.Request, *panel) {
	return func(w http.ResponseWriter, r *http.Request, p *panel) { h(w, r, p, k) }
}

// typeView is one definition of the sensor or device table.
type typeView struct {
	Name      string `json:"name"` // what POST .../sensors and .../relays take as "type"
	Kind      string `json:"kind"` // the peripheral type's name, e.g. door
	Label     string `json:"label"`
	TypeID    int    `json:"type_id"`
	Subtype   int    `json:"subtype"`
	Protocol  string `json:"protocol"`
	NodeCount int    `json:"node_count"`
}

// types lists the definition tables (peripheral.Definitions), what a
// learn form offers.
func (s *Server) types(w http.ResponseWriter, _ *http.Request) {
	list := func(k peripheral.Kind) []typeView {
		var out []typeView
		for _, d := range peripheral.Definitions(k) {
			out = append(out, typeView{
				Name: d.Name, Kind: d.TypeID.String(), Label: d.TypeID.Label(), TypeID: int(d.TypeID),
				Subtype: d.Subtype, Protocol: d.ProtocolID.String(), NodeCount: d.NodeCount,
			})
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string][]typeView{"sensors": list(peripheral.KindSensor), "relays": list(peripheral.KindDevice)})
}

func (s *Server) listPeripherals(w http.ResponseWriter, r *http.Request, p *panel, k *kindAPI) {
	es, err := k.list(r.Context(), p.mon.Panel())
	if err != nil {
		s.panelFailed(w, p, k.path, err)
		return
	}
	views := make([]any, len(es))
	for i, e := range es {
		views[i] = e.view
	}
	writeJSON(w, http.StatusOK, map[string][]any{k.path: views})
}

// find reads the list and returns the entry with the {index} of the
// request; it answers the request and returns false when there is none.
func (s *Server) find(w http.ResponseWriter, r *http.Request, p *panel, k *kindAPI) (entry, bool) {
	n, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || n < 0 {
		s.refuse(w, r, p, http.StatusBadRequest, fmt.Sprintf("%s index %q: want a number from 0", k.noun, r.PathValue("index")))
		return entry{}, false
	}
	es, err := k.list(r.Context(), p.mon.Panel())
	if err != nil {
		s.panelFailed(w, p, k.path, err)
		return entry{}, false
	}
	i := slices.IndexFunc(es, func(e entry) bool { return e.index == n })
	if i < 0 {
		s.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("panel %q has no %s with index %d", p.mon.Name(), k.noun, n))
		return entry{}, false
	}
	return es[i], true
}

// optionFlags are the user flags PATCH's "flags" lists: the settable
// ones but enabled and the alert mode bits, which have fields of their
// own (spec: peripherals.md 7.4).
const optionFlags = peripheral.UserSettableFlags &^ (peripheral.FlagEnabled | peripheral.FlagAlertWhenAway | peripheral.FlagAlertWhenAwayAndHome)

func optionNames() []string {
	var names []string
	for b := peripheral.UserFlags(1); b <= peripheral.UserSettableFlags; b <<= 1 {
		if b&optionFlags != 0 {
			names = append(names, b.String())
		}
	}
	return names
}

// patchRequest is PATCH's body.
type patchRequest struct {
	Name      *string   `json:"name"`
	Enabled   *bool     `json:"enabled"`
	AlertMode *string   `json:"alert_mode"`
	Flags     *[]string `json:"flags"`
	PIN       string    `json:"pin"`
}

// change turns the request into a PeripheralChange, checked as the
// CLI's g90 sensor set checks its options; a bad value is a fieldError.
// weakens is whether the change needs the PIN: all but renaming and
// enabling can make the alarm miss something.
func (q patchRequest) change(k *kindAPI) (c g90.PeripheralChange, weakens bool, err error) {
	if q.Name != nil {
		if err := peripheral.ValidateName(*q.Name); err != nil {
			return c, false, &fieldError{"name", err.Error()}
		}
		c.Name = q.Name
	}
	if q.Enabled != nil {
		if *q.Enabled {
			c.Set |= peripheral.FlagEnabled
		} else {
			c.Clear |= peripheral.FlagEnabled
			weakens = true
		}
	}
	if !k.modes && (q.Flags != nil || q.AlertMode != nil) {
		field := map[bool]string{true: "flags", false: "alert_mode"}[q.Flags != nil]
		return c, false, &fieldError{field, fmt.Sprintf("a %s has no flags or alert mode; only name and enabled change", k.noun)}
	}
	if q.Flags != nil {
		weakens = true
		var on peripheral.UserFlags
		for _, name := range *q.Flags {
			f, known := peripheral.ParseFlagName(name)
			switch {
			case known && f&optionFlags == 0 && f&peripheral.UserSettableFlags != 0:
				return c, false, &fieldError{"flags", fmt.Sprintf("%q is set with \"enabled\" or \"alert_mode\", not in flags", name)}
			case !known || f&optionFlags == 0:
				return c, false, &fieldError{"flags", fmt.Sprintf("%q is not a user flag; want any of %s", name, strings.Join(optionNames(), ", "))}
			}
			on |= f
		}
		// The list is the whole set: the options not in it go off.
		c.Set |= on
		c.Clear |= optionFlags &^ on
	}
	if q.AlertMode != nil {
		weakens = true
		var m peripheral.AlertMode
		var ok bool
		for _, prefix := range []string{"", "alert_", "alert_when_"} { // also always, away, away_and_home, as the CLI
			if m, ok = peripheral.ParseAlertMode(prefix + *q.AlertMode); ok {
				break
			}
		}
		if !ok {
			return c, false, &fieldError{"alert_mode", fmt.Sprintf("%q: want alert_always, alert_when_away or alert_when_away_and_home", *q.AlertMode)}
		}
		c.AlertMode = &m
	}
	if c == (g90.PeripheralChange{}) {
		fields := map[bool]string{true: "name, enabled, flags or alert_mode", false: "name or enabled"}[k.modes]
		return c, false, fmt.Errorf("nothing to change: give %s", fields)
	}
	return c, weakens, nil
}

func (s *Server) patchPeripheral(w http.ResponseWriter, r *http.Request, p *panel, k *kindAPI) {
	var req patchRequest
	if !s.decode(w, r, &req, false) {
		return
	}
	c, weakens, err := req.change(k)
	if err != nil {
		s.badValue(w, r, p, err)
		return
	}
	if weakens && !s.allowed(w, r, p, req.PIN) {
		return
	}
	e, ok := s.find(w, r, p, k)
	if !ok {
		return
	}
	s.log.Info("command", "panel", p.mon.Name(), "command", "update "+k.noun, "index", e.index, "remote", r.RemoteAddr)
	v, err := e.update(r.Context(), c)
	if err != nil {
		s.changeFailed(w, p, err)
		return
	}
	s.commands.Add(1)
	p.mon.Reread(k.reread)
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deletePeripheral(w http.ResponseWriter, r *http.Request, p *panel, k *kindAPI) {
	var req struct{}
	if !s.decode(w, r, &req, true) || !s.allowed(w, r, p, r.Header.Get("X-G90-PIN")) {
		return
	}
	e, ok := s.find(w, r, p, k)
	if !ok {
		return
	}
	s.log.Info("command", "panel", p.mon.Name(), "command", "delete "+k.noun, "index", e.index, "remote", r.RemoteAddr)
	if err := e.del(r.Context()); err != nil {
		s.changeFailed(w, p, err)
		return
	}
	s.commands.Add(1)
	p.mon.Reread(k.reread)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// learn starts a job that registers a new sensor or device: the panel
// waits for it to transmit, which takes as long as the user needs to
// trigger it, so the request answers at once and the job is polled.
func (s *Server) learn(w http.ResponseWriter, r *http.Request, p *panel, k *kindAPI) {
	var req struct {
		Type string `json:"type"`
		Name string `json:"name"`
		PIN  string `json:"pin"`
	}
	if !s.decode(w, r, &req, false) {
		return
	}
	if peripheral.LookupName(k.kind, req.Type) == nil {
		s.badValue(w, r, p, &fieldError{"type", fmt.Sprintf("no %s type named %q; GET /api/types lists them", k.noun, req.Type)})
		return
	}
	if req.Name != "" {
		if err := peripheral.ValidateName(req.Name); err != nil {
			s.badValue(w, r, p, &fieldError{"name", err.Error()})
			return
		}
	}
	if !s.allowed(w, r, p, req.PIN) {
		return
	}
	reg := g90.Registration{Definition: req.Type, Name: req.Name, Timeout: s.jobs.learnTimeout()}
	j, err := s.jobs.start(p, k.noun, reg.Timeout, func(ctx context.Context) (any, error) {
		v, err := k.add(ctx, p.mon.Panel(), reg)
		if err == nil {
			s.commands.Add(1)
			p.mon.Reread(k.reread)
		} else if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			s.commandErrors.Add(1)
			s.log.Warn("command failed", "panel", p.mon.Name(), "command", "learn "+k.noun, "err", err)
		}
		return v, err
	})
	switch {
	case errors.Is(err, errJobRunning):
		s.refuse(w, r, p, http.StatusConflict, err.Error())
		return
	case err != nil:
		s.refuse(w, r, p, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.log.Info("command", "panel", p.mon.Name(), "command", "learn "+k.noun, "type", req.Type, "job", j.id, "remote", r.RemoteAddr)
	w.Header().Set("Location", "/api/panels/"+url.PathEscape(p.mon.Name())+"/jobs/"+j.id)
	writeJSON(w, http.StatusAccepted, map[string]any{
		"job": j.id, "deadline": j.deadline.UTC().Format(time.RFC3339), "timeout_s": int(reg.Timeout / time.Second),
	})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, p *panel) {
	j := s.jobs.get(p, r.PathValue("id"))
	if j == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("panel %q has no job %q (jobs are forgotten %v after they end)", p.mon.Name(), r.PathValue("id"), jobKeep))
		return
	}
	writeJSON(w, http.StatusOK, s.jobs.view(j))
}

// cancelJob stops a job's wait and answers the job once it has ended.
// The panel may still be learning: no documented command ends that
// (spec: local-protocol.md 3.9 step 5).
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, p *panel) {
	j := s.jobs.get(p, r.PathValue("id"))
	if j == nil {
		s.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("panel %q has no job %q", p.mon.Name(), r.PathValue("id")))
		return
	}
	j.cancel(errJobCancelled)
	select {
	case <-j.done:
	case <-r.Context().Done():
		return
	}
	writeJSON(w, http.StatusOK, s.jobs.view(j))
}

// Why a job's context ended, besides its deadline.
var (
	errJobCancelled  = errors.New("web: learn job cancelled")
	errServerStopped = errors.New("web: server stopped")
	errJobRunning    = errors.New("web: a learn job is already running for this panel; wait for it or cancel it")
)

// jobs are the learn jobs. Run opens them and, when it ends, cancels the
// running ones and waits for them, so that none outlives Run.
type jobs struct {
	mu     sync.Mutex
	ctx    context.Context // Run's; nil before Run
	closed bool
	wg     sync.WaitGroup
	all    []*job // oldest first

	// timeout and keep override the learn timeout and jobKeep; tests
	// set them.
	timeout, keep atomic.Int64
}

// job is one registration.
type job struct {
	id       string
	panel    *panel
	kind     string // sensor, relay
	deadline time.Time
	cancel   context.CancelCauseFunc
	done     chan struct{} // closed when the job has ended

	// guarded by jobs.mu
	state  string // waiting, done, failed, cancelled
	result any
	err    string
	ended  time.Time
}

// jobView is a job in the API.
type jobView struct {
	Job        string `json:"job"`
	Kind       string `json:"kind"`
	State      string `json:"state"`
	RemainingS int    `json:"remaining_s"`
	Result     any    `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`
}

// open lets jobs run under ctx, Run's.
func (js *jobs) open(ctx context.Context) {
	js.mu.Lock()
	js.ctx = ctx
	js.mu.Unlock()
}

// close cancels the running jobs and waits for them; no job starts
// afterwards.
func (js *jobs) close() {
	js.mu.Lock()
	js.closed = true
	for _, j := range js.all {
		j.cancel(errServerStopped)
	}
	js.mu.Unlock()
	js.wg.Wait()
}

func (js *jobs) learnTimeout() time.Duration {
	if d := time.Duration(js.timeout.Load()); d > 0 {
		return d
	}
	return g90.DefaultRegistrationTimeout // what g90 sensor add waits
}

func (js *jobs) keepFor() time.Duration {
	if d := time.Duration(js.keep.Load()); d > 0 {
		return d
	}
	return jobKeep
}

// start runs do as a job of panel p, unless one of p's runs already.
func (js *jobs) start(p *panel, kind string, timeout time.Duration, do func(context.Context) (any, error)) (*job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.ctx == nil || js.closed {
		return nil, errors.New("web: the server is not running; no learn jobs")
	}
	js.pruneLocked()
	if slices.ContainsFunc(js.all, func(j *job) bool { return j.panel == p && j.state == "waiting" }) {
		return nil, errJobRunning
	}
	ctx, cancel := context.WithCancelCause(js.ctx)
	j := &job{
		id: rand.Text(), panel: p, kind: kind, deadline: time.Now().Add(timeout),
		cancel: cancel, done: make(chan struct{}), state: "waiting",
	}
	js.all = append(js.all, j)
	js.wg.Go(func() {
		defer close(j.done)
		defer cancel(nil)
		v, err := do(ctx)
		js.mu.Lock()
		defer js.mu.Unlock()
		j.ended = time.Now()
		switch cause := context.Cause(ctx); {
		case err == nil:
			j.state, j.result = "done", v
		case cause == errJobCancelled:
			j.state, j.err = "cancelled", cause.Error()
		case cause == errServerStopped || js.ctx.Err() != nil:
			j.state, j.err = "cancelled", errServerStopped.Error()
		default:
			j.state, j.err = "failed", fmt.Sprintf("panel %q: %v", p.mon.Name(), err)
		}
	})
	return j, nil
}

// get returns panel p's job with that id, or nil.
func (js *jobs) get(p *panel, id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.pruneLocked()
	for _, j := range js.all {
		if j.id == id && j.panel == p {
			return j
		}
	}
	return nil
}

func (js *jobs) view(j *job) jobView {
	js.mu.Lock()
	defer js.mu.Unlock()
	v := jobView{Job: j.id, Kind: j.kind, State: j.state, Result: j.result, Error: j.err}
	if j.state == "waiting" {
		v.RemainingS = max(0, int(math.Ceil(time.Until(j.deadline).Seconds())))
	}
	return v
}

// pruneLocked forgets the jobs that ended more than keepFor ago, and
// the oldest ended ones past maxJobs.
func (js *jobs) pruneLocked() {
	keep := js.keepFor()
	js.all = slices.DeleteFunc(js.all, func(j *job) bool { return j.state != "waiting" && time.Since(j.ended) > keep })
	for ended := len(js.all); ended > maxJobs; {
		ended = 0
		oldest := -1
		for i, j := range js.all {
			if j.state != "waiting" {
				ended++
				if oldest < 0 {
					oldest = i
				}
			}
		}
		if ended > maxJobs {
			js.all = slices.Delete(js.all, oldest, oldest+1)
		}
	}
}

// reboot reboots the whole panel (GSM, MCU and Wi-Fi, spec:
// local-protocol.md 5.2); the panel does not answer.
func (s *Server) reboot(w http.ResponseWriter, r *http.Request, p *panel) {
	var req struct {
		PIN string `json:"pin"`
	}
	if !s.decode(w, r, &req, true) || !s.allowed(w, r, p, req.PIN) {
		return
	}
	s.log.Info("command", "panel", p.mon.Name(), "command", "reboot", "remote", r.RemoteAddr)
	if err := p.mon.Panel().Reboot(r.Context(), g90.ModuleAll); err != nil {
		s.changeFailed(w, p, err)
		return
	}
	s.commands.Add(1)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// historyView is one entry of the panel's own history.
type historyView struct {
	Position int             `json:"position"` // 1 = the newest
	Time     string          `json:"time"`     // RFC 3339, UTC
	Type     string          `json:"type"`
	TypeID   int             `json:"type_id"`
	Source   string          `json:"source"`
	SourceID int             `json:"source_id"`
	EventID  int             `json:"event_id"`
	State    int             `json:"state"`
	Name     string          `json:"name"`
	Other    json.RawMessage `json:"other"`
}

func (s *Server) panelHistory(w http.ResponseWriter, r *http.Request, p *panel) {
	q := r.URL.Query()
	num := func(name string, def, lo, hi int) (int, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			writeParamError(w, badParam(name, "%q: want %d to %d", v, lo, hi))
			return 0, false
		}
		return n, true
	}
	start, ok := num("start", 1, 1, math.MaxInt32)
	if !ok {
		return
	}
	count, ok := num("count", defaultHistory, 1, maxHistory)
	if !ok {
		return
	}
	hs, err := p.mon.Panel().History(r.Context(), start, count)
	if err != nil {
		s.panelFailed(w, p, "history", err)
		return
	}
	out := make([]historyView, 0, len(hs))
	for _, h := range hs {
		out = append(out, historyView{
			Position: h.Position, Time: h.Time().UTC().Format(time.RFC3339),
			Type: h.Type.String(), TypeID: int(h.Type), Source: h.Source.String(), SourceID: int(h.Source),
			EventID: h.EventID, State: h.State, Name: h.Name, Other: h.Other.AppendJSON(nil),
		})
	}
	writeJSON(w, http.StatusOK, map[string][]historyView{"entries": out})
}

// fieldError is a bad value of one field of a request.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// badValue answers 400 for err, with "field" naming the field when err
// is a fieldError or a protocol.FieldError.
func (s *Server) badValue(w http.ResponseWriter, r *http.Request, p *panel, err error) {
	s.rejected.Add(1)
	s.log.Warn("command refused", "panel", p.mon.Name(), "path", r.URL.Path, "reason", err.Error(), "remote", r.RemoteAddr)
	out := map[string]string{"error": err.Error()}
	var fe *fieldError
	var pe *protocol.FieldError
	switch {
	case errors.As(err, &fe):
		out["field"] = fe.field
	case errors.As(err, &pe):
		out["field"] = pe.Field
	}
	writeJSON(w, http.StatusBadRequest, out)
}

// changeFailed answers a change the panel did not make: 404 when the
// sensor or device is gone, 409 when it changed since it was read (read
// again and retry) or cannot be written, else 502.
func (s *Server) changeFailed(w http.ResponseWriter, p *panel, err error) {
	s.commandErrors.Add(1)
	s.log.Warn("command failed", "panel", p.mon.Name(), "err", err)
	msg := fmt.Sprintf("panel %q: %v", p.mon.Name(), err)
	switch {
	case errors.Is(err, g90.ErrNotFound):
		writeError(w, http.StatusNotFound, msg)
	case errors.Is(err, g90.ErrChanged), errors.Is(err, peripheral.ErrNoDefinition), errors.Is(err, peripheral.ErrInvalidAlertMode):
		writeError(w, http.StatusConflict, msg)
	default:
		writeError(w, http.StatusBadGateway, msg)
	}
}

// panelFailed answers 502 for a read the panel did not answer; what
// names the command when err does not.
func (s *Server) panelFailed(w http.ResponseWriter, p *panel, what string, err error) {
	s.log.Warn("panel read failed", "panel", p.mon.Name(), "what", what, "err", err)
	msg := err.Error()
	if !strings.HasPrefix(msg, what) {
		msg = what + ": " + msg
	}
	writeError(w, http.StatusBadGateway, fmt.Sprintf("panel %q: %s", p.mon.Name(), msg))
}
