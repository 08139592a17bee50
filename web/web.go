// Package web is the daemon's local web UI: one page that shows every
// panel (arm state, alarm, reachability, sensors live, relays) with arm,
// disarm and relay buttons and the event log, and the JSON API under
// /api/ that the page (or anyone) uses. The page is an installable web
// app (assets/: no build step): / and /assets/*, its manifest
// /manifest.webmanifest and its service worker /sw.js, which keeps the
// shell for offline starts and shows its notifications.
//
//	srv, err := web.New(web.Config{
//		Panels:  []*g90.Monitor{mon}, // g90.MonitorConfig{Name: "Home", PIN: pinguard.New("1234", nil)}
//		Journal: j, // the event log; nil keeps recent events in memory
//	})
//	go srv.Run(ctx)                      // feeds the live streams until ctx ends
//	mux.Handle("/", srv)                 // next to /metrics
//	http.Serve(listener, mux)            // on loopback by default
//
// The API, with {panel} a panel's name or GUID:
//
//	GET  /api/panels                              {"panels":[panel…]}
//	GET  /api/panels/{panel}/state                panel
//	POST /api/panels/{panel}/arm                  {"mode":"away"|"home","pin":"…"}
//	POST /api/panels/{panel}/disarm               {"pin":"…"} or no body
//	POST /api/panels/{panel}/relays/{index}/{node} {"on":true|false}
//	POST /api/panels/{panel}/refresh              no body: read the panel again
//	GET  /api/events?panel=&since=&limit=         {"events":[event…]}, oldest first
//	GET  /api/events/stream?panel=                Server-Sent Events
//
// Managing a panel (manage.go), as the CLI's g90 sensor, g90 device and
// g90 config do it, with the same checks and read-back verification:
//
//	GET    /api/types                               {"sensors":[type…],"relays":[type…]}: the definition tables
//	GET    /api/panels/{panel}/sensors              {"sensors":[sensor…]}, read from the panel
//	PATCH  /api/panels/{panel}/sensors/{index}      {"name"?,"enabled"?,"flags"?:[…],"alert_mode"?,"pin"?} → the sensor as verified
//	DELETE /api/panels/{panel}/sensors/{index}      PIN in header X-G90-PIN → {"ok":true}
//	POST   /api/panels/{panel}/sensors              {"type","name"?,"pin"?} → 202 {"job","deadline","timeout_s"}: learn
//	GET    /api/panels/{panel}/relays               {"relays":[device…]}; PATCH, DELETE and POST as for sensors
//	GET    /api/panels/{panel}/jobs/{id}            {"job","kind","state","remaining_s","result"?,"error"?}
//	DELETE /api/panels/{panel}/jobs/{id}            stop waiting; answers the job once it has ended
//	GET    /api/panels/{panel}/config               {"sections":["host","net","phones","alerts","sia","cid"]}
//	GET    /api/panels/{panel}/config/{section}     {"section","fields":[field…]}
//	PUT    /api/panels/{panel}/config/{section}     {"values":{"field":value…},"pin"?} → the section as verified
//	POST   /api/panels/{panel}/reboot               {"pin"?} or no body: reboot GSM, MCU and Wi-Fi
//	GET    /api/panels/{panel}/history?start=&count= {"entries":[entry…]}: the panel's own log, newest first
//
// A sensor is peripheral.SensorInfo's object; a relay (any entry of the
// panel's device list) has the same fields but alert_mode and flags, and
// "nodes". {index} is the sensor's or relay's index, not its list
// position. PATCH's "flags" is the whole set of option flags (arm_delay,
// detect_door, door_chime, independent_zone): those not listed go off;
// enabled and the alert mode have their own fields, and relays have only
// name and enabled. A learn job's state is waiting, done (result: the new
// sensor or relay), failed (error) or cancelled; one job runs per panel
// (409 for a second), it waits as long as g90 sensor add does, and it is
// forgotten five minutes after it ended. Cancelling stops the wait, but
// the panel may go on listening for the sensor: no documented command
// ends learning. A config field is {"name","value","type":"int"|"string"|
// "bool","help"?,"min"?,"max"?,"format"?,"enum"?,"writable"}: min and
// max bound an int's value or a string's length, format is digits or
// phone, enum lists [{"value","name"}] of a field that takes one of a
// few (the panel may hold another, kept on write); the
// alerts section has the raw "flags" and one bool per alert. A value is
// a JSON number, string or bool. A bad value is 400 with "field" naming
// it (a bad query parameter, as history's start and count: "param"),
// checked before anything is sent; a sensor or section that does
// not exist is 404; a sensor changed on the panel since it was read is
// 409 (read again); a panel that fails is 502, naming the panel and the
// command. A password or key (phones' panel_password, net's ap_password
// and apn_password, SIA's aes_key: protocol.FieldInfo.Secret) is never
// sent: its field has "secret":true, "value":null and "set" when the
// panel holds one; a PUT sets it.
//
// The PIN, when set, is needed for what can weaken the alarm: disarm,
// deleting or learning a sensor or relay, any PATCH but a rename or
// enabling, any config write, and reboot. PATCH, PUT and DELETE are
// refused cross-origin as POST is (http.CrossOriginProtection).
//
// History (issue 19.4), from the journal's indexes (without a journal,
// over the in-memory log):
//
//	GET  /api/history?panel=&sensor=&type=&from=&to=&before=&limit=
//	                                              {"events":[event…],"next":"…"}, newest first
//	GET  /api/history.csv?panel=&sensor=&type=&from=&to=
//	                                              text/csv attachment: every match, streamed
//
// sensor is a sensor's index or name (with panel, unless there is one
// panel); type an event type; from and to an RFC 3339 time or a date
// (YYYY-MM-DD, the server's time zone; to includes the day), compared
// with when the event was stored; limit 1–500 (100); before the next of
// the previous page ("" on the last). A bad parameter is 400 with
// {"error","param"}.
//
// A panel is {"name","addr","pin_required","ready","state"} with state as
// g90.State marshals it; an event is event.Event.AppendJSON's object
// (from the journal with its "seq"). The stream sends "state" messages
// (a panel, at connect and whenever it changed) and "event" messages.
// Commands answer {"ok":true}; errors are {"error":"…"} with 400 (bad
// input), 401 (login required, wrong password), 403 (wrong PIN,
// cross-origin, unknown Host), 404 (unknown
// panel or relay), 415, 429 (too many wrong PINs; Retry-After says how
// long), 502 (the panel failed) or 503.
//
// Login (Config.Login; the daemon sets it from web.password_hash, which
// it requires when web.listen is not loopback):
//
//	GET  /api/session                             {"login_required":bool,"logged_in":bool}
//	POST /api/login                               {"password":"…"} → {"ok":true} and the cookie
//	POST /api/logout                              no body → {"ok":true}, the cookie cleared
//
// With a login, every other /api/ path answers 401 {"error":"login
// required"} without a session; the page and its assets are served. A
// session is a random 32-byte token in the cookie g90_session (HttpOnly,
// SameSite=Strict, Path=/, Secure when the request came over TLS), kept
// in memory only as its SHA-256, ended by logout (which ends its event
// streams too), by IdleTimeout unused or MaxAge after the login (a
// stream checks at each heartbeat and ends with it; the stream is no
// use of its session). A wrong password is 401; five in a row from
// one address, or twenty from all, lock logins out with 429 and
// Retry-After, 30 s doubling to 15 min. Passwords are PBKDF2-SHA-256
// hashes (HashPassword); the password and the token are never logged.
//
// Security: without a login the UI is meant for loopback (the daemon's
// default) or a trusted network. Requests that change something are POST
// only and rejected when a browser says they come from another site
// (http.CrossOriginProtection), and every request must name an IP
// address, localhost or one of Config.Hosts in its Host header, which
// stops DNS rebinding. The PIN, when set, is checked here in constant
// time, and past five wrong ones in a row every try is refused for a
// while (pinguard); the panel has no user codes.
//
// Shutdown: cancel Run's context before (or while) shutting the
// http.Server down. Run closes every stream and returns after their
// handlers have; http.Server.Shutdown alone would wait for them.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/journal"
)

// Config configures a Server. The zero value of every field but Panels
// means its default.
type Config struct {
	// Panels are the Monitors of the panels to show, which the caller
	// runs. Required. Each knows its Panel (for commands), its name in
	// the UI and the API (unique) and its PIN guard.
	Panels []*g90.Monitor
	// Journal, when set, is where the event log comes from. Without it
	// the server keeps the last RecentEvents events it has seen since Run
	// started.
	Journal *journal.Journal
	// HomeKit, when set, is the daemon's HomeKit bridge: while it is not
	// paired, the UI shows its setup code and QR code.
	HomeKit *homekit.Bridge
	// RecentEvents is the in-memory log's size when Journal is nil; 0
	// means 500.
	RecentEvents int
	// Hosts are the host names, besides IP addresses and "localhost",
	// that a request's Host header may name (e.g. "alarm.lan"); others
	// are refused, so that a web site cannot reach the UI through DNS
	// rebinding. "*" accepts any.
	Hosts []string
	// ClientBuffer bounds the messages waiting for one stream client; 0
	// means 256. A client whose buffer is full is disconnected (its
	// browser reconnects and gets a fresh state): a slow client never
	// holds up the panels' events.
	ClientBuffer int
	// StateInterval is how often each panel's state is compared with
	// what the streams last got, for changes no event reports
	// (reachability, the last packet's time); 0 means 5 s.
	StateInterval time.Duration
	// Heartbeat is how often an idle stream gets a comment line, so that
	// dead connections are found; 0 means 30 s.
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a stream client; 0 means 10 s.
	WriteTimeout time.Duration
	// Login, when set, requires a password: without a session, every
	// /api/ path but the login's own answers 401 (the page is served,
	// to show the login form). Nil: no login, for loopback.
	Login *Login
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
}

// Stats counts what a Server has done.
type Stats struct {
	Clients       int    // stream clients connected now
	Streams       uint64 // stream clients accepted since New
	SlowClients   uint64 // stream clients disconnected because their buffer was full
	Commands      uint64 // commands the panels carried out
	Rejected      uint64 // commands refused: bad input, wrong PIN, cross-origin, unknown panel
	CommandErrors uint64 // commands the panels did not carry out
	EventsDropped uint64 // events the Monitor subscriptions dropped while this server's feed took nothing (stalled: Monitor.Subscribe)
	Logins        uint64 // logins with the right password (Config.Login)
	LoginsWrong   uint64 // logins refused for a wrong password
	LoginsLocked  uint64 // logins refused during a lockout, unchecked
}

// ErrRunning is returned by Run on a Server that runs or has run.
var ErrRunning = errors.New("web: server already started")

// Server is the web UI and its API, an http.Handler. It is safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	panels  []*panel
	mux     *http.ServeMux
	csrf    *http.CrossOriginProtection
	hosts   map[string]bool
	anyHost bool
	running atomic.Bool
	recent  *ring // nil with a journal
	auth    *auth // nil without a login

	hub hub
	// jobs are the learn jobs (manage.go).
	jobs jobs

	// counters of Stats
	streams, slow, commands, rejected, commandErrors atomic.Uint64
}

// panel is one panel and its feed of the streams.
type panel struct {
	i   int
	mon *g90.Monitor
	sub *g90.Subscription
	// last is the state message every stream client got last; guarded
	// by hub.mu.
	last []byte
	// st is the state the Monitor delivered last (issue 16.3: the web UI
	// never pulls State); nil before the first.
	st atomic.Pointer[g90.State]
	// read: a state delivered after the Monitor's first read is in st.
	read atomic.Bool
}

// state returns the state the Monitor delivered last, or a zero one.
func (p *panel) state() g90.State {
	if st := p.st.Load(); st != nil {
		return *st
	}
	return g90.State{}
}

// New checks cfg and subscribes to the panels' events, so that none is
// missed before Run; Run closes the subscriptions when it returns.
func New(cfg Config) (*Server, error) {
	if len(cfg.Panels) == 0 {
		return nil, errors.New("web: no panels")
	}
	if cfg.RecentEvents <= 0 {
		cfg.RecentEvents = 500
	}
	if cfg.ClientBuffer <= 0 {
		cfg.ClientBuffer = 256
	}
	if cfg.StateInterval <= 0 {
		cfg.StateInterval = 5 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, csrf: http.NewCrossOriginProtection(), hosts: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, h := range cfg.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "*":
			s.anyHost = true
		case h == "" || strings.ContainsAny(h, ":/[] "):
			return nil, fmt.Errorf("web: host %q: want a host name without port", h)
		default:
			s.hosts[h] = true
		}
	}
	names := map[string]bool{}
	for i, mon := range cfg.Panels {
		if mon == nil {
			return nil, fmt.Errorf("web: panels[%d]: no Monitor", i)
		}
		if names[mon.Name()] {
			return nil, fmt.Errorf("web: panels[%d]: name %q used twice", i, mon.Name())
		}
		names[mon.Name()] = true
		s.panels = append(s.panels, &panel{i: i, mon: mon})
	}
	if cfg.Journal == nil {
		s.recent = newRing(cfg.RecentEvents)
	}
	if cfg.Login != nil {
		a, err := newAuth(*cfg.Login)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		s.auth = a
	}
	s.hub.init()
	s.routes()
	// Subscribe last: nothing above can fail afterwards and leave a
	// subscription nobody closes.
	for _, p := range s.panels {
		p.sub = p.mon.SubscribeState("web", subscriptionSize)
	}
	return s, nil
}

// subscriptionSize is each Monitor subscription's queue.
const subscriptionSize = 4096

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Clients: s.hub.count(), Streams: s.streams.Load(), SlowClients: s.slow.Load(),
		Commands: s.commands.Load(), Rejected: s.rejected.Load(), CommandErrors: s.commandErrors.Load(),
	}
	for _, p := range s.panels {
		st.EventsDropped += p.sub.Dropped()
	}
	if a := s.auth; a != nil {
		st.Logins, st.LoginsWrong, st.LoginsLocked = a.ok.Load(), a.wrong.Load(), a.locked.Load()
	}
	return st
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	api := strings.HasPrefix(r.URL.Path, "/api/")
	if api {
		h.Set("Cache-Control", "no-store")
	}
	if !s.hostAllowed(r.Host) {
		s.log.Warn("request refused: Host not allowed", "host", r.Host, "path", r.URL.Path, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, fmt.Sprintf("host %q not allowed; use an IP address or localhost, or add the name to the web UI's hosts", r.Host))
		return
	}
	if err := s.csrf.Check(r); err != nil {
		s.rejected.Add(1)
		s.log.Warn("request refused: cross-origin", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	r, done, ok := s.authorized(w, r, api)
	if !ok {
		return
	}
	defer done()
	if _, pattern := s.mux.Handler(r); pattern == "" && api {
		// The mux's own 404 and 405, in JSON.
		w = &jsonErrors{ResponseWriter: w, r: r}
	}
	s.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether a request may name host (host[:port]).
func (s *Server) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return host == "localhost" || s.anyHost || s.hosts[host]
}

// lookup finds a panel by name, then by GUID.
func (s *Server) lookup(key string) *panel {
	for _, p := range s.panels {
		if p.mon.Name() == key {
			return p
		}
	}
	for _, p := range s.panels {
		if g := p.state().GUID; g != "" && g == key {
			return p
		}
	}
	return nil
}

// ready reports whether the monitor's first read of the panel is done
// and its state has reached this server.
func (p *panel) ready() bool { return p.read.Load() && monitorReady(p.mon) }

func monitorReady(m *g90.Monitor) bool {
	select {
	case <-m.Ready():
		return true
	default:
		return false
	}
}

// ring is the in-memory event log used without a journal.
type ring struct {
	mu   sync.Mutex
	buf  []recentEvent
	next int // where the next event goes
	full bool
	ids  uint64 // the last id given
}

type recentEvent struct {
	panel  int
	at     time.Time // arrival
	json   []byte
	seq    uint64
	id     uint64 // numbers the ring's events in their order, from 1 (the history's cursor)
	update bool   // replaces the event with its seq (its sources grew)
}

func newRing(n int) *ring { return &ring{buf: make([]recentEvent, n)} }

func (r *ring) add(e recentEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.update {
		for i := range r.buf {
			if o := &r.buf[i]; o.json != nil && o.panel == e.panel && o.seq == e.seq {
				o.json = e.json
			}
		}
		return
	}
	r.ids++
	e.id = r.ids
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// all calls fn for each event, oldest first, until it returns false.
func (r *ring) all(fn func(recentEvent) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full {
		for _, e := range r.buf[r.next:] {
			if !fn(e) {
				return
			}
		}
	}
	for _, e := range r.buf[:r.next] {
		if !fn(e) {
			return
		}
	}
}
