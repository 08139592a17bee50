package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/internal/buildinfo"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/mqttlink"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/web"
)

// Options are what a caller adds to a Config: a logger, a report of the
// addresses once everything listens, and sockets opened beforehand.
type Options struct {
	// Logger receives the daemon's log; nil is silent.
	Logger *slog.Logger
	// Started, if set, is called once everything listens.
	Started func(Endpoints)
	// NotifyConns, by panel name, are UDP sockets the local notifications
	// of that panel arrive on, instead of opening panels[].notify_listen
	// (g90 demo and tests, which must know the address before the panel
	// sends). The daemon closes them.
	NotifyConns map[string]net.PacketConn
	// guards are the panels' PIN guards by name, kept by Serve across
	// reloads so that a SIGHUP does not forgive wrong PINs; nil: Run's
	// own.
	guards map[string]*pinguard.Guard
	// logins are the web UI's sessions, kept by Serve across reloads
	// like guards: a SIGHUP logs nobody out and forgives no wrong
	// password. Nil: Run's own.
	logins *webLogins
	// Timeout is the budget of one request to a panel, all its attempts
	// together (client.Config.Timeout); 0 means 5 s.
	Timeout time.Duration
	// onJournalCommit, if set, is called after every journal commit with
	// its events and how long it took (benchmarks). It must not keep
	// events.
	onJournalCommit func(events []event.Event, took time.Duration)
}

// Endpoints say where a running daemon can be reached.
type Endpoints struct {
	// MQTT is the broker the bridge publishes to; Embedded says it is
	// the daemon's own.
	MQTT     string
	Embedded bool
	// Web is the web UI's URL, also serving /metrics.
	Web string
	// Cloud is the cloud server's TCP address; "" without one.
	Cloud string
	// Panels are the panels' names, in config order.
	Panels []string
	// HomeKit is the HomeKit bridge, nil without one: its setup code,
	// address (once published) and device id.
	HomeKit *homekit.Bridge
}

// Run runs the daemon of cfg until ctx ends or a part fails: for every
// panel its Monitor and event sources, one cloud server shared by the
// cloud and chained panels, the event journal, the MQTT bridge (with an
// embedded broker when mqtt.url is empty) and the web server with
// /metrics. It returns after every goroutine it started has ended.
func Run(ctx context.Context, cfg *Config, opt Options) error {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range cfg.Warnings {
		log.Warn("config: " + w.Error())
	}
	d := &instance{cfg: cfg, opt: opt, log: log}
	defer d.close()
	if err := d.build(ctx); err != nil {
		return err
	}
	return d.serve(ctx)
}

// instance is one Run: what it opened, to close in reverse.
type instance struct {
	cfg     *Config
	opt     Options
	log     *slog.Logger
	closers []func()

	journal *journal.Journal
	seq     *seqFile
	// journalAside is where a damaged journal was moved at start; "".
	journalAside string
	broker       *broker.Broker
	hub          *cloud.Hub
	metrics      *Metrics
	panels       []*runPanel
	bridge       *bridge.Bridge
	homekit      *homekit.Bridge // nil without a homekit section
	ui           *web.Server
	web          net.Listener
	webTLS       *tls.Config // nil: plain HTTP
	mqttURL      string
	// Journal rounds (writeJournal): started, committed, the last that
	// failed to store its events; for journalStored.
	jStarted, jDone, jFailed atomic.Uint64
	// jMu guards jNext, closed when the journal writer's next round is
	// done (journalRound).
	jMu   sync.Mutex
	jNext chan struct{}
}

type runPanel struct {
	cfg     PanelConfig
	monitor *g90.Monitor // knows the Panel, its PIN guard and history source
	metrics *PanelMetrics
	journal *g90.Subscription
}

// awaitBridge waits, up to 5 s, until the MQTT bridge has connected to
// the embedded broker, so that "running" means MQTT is up, and so that
// a daemon stopped right after it started does not shut the broker down
// while it is still reading the bridge's CONNECT: nats-server reads that
// client's ID unlocked as it closes (a data race of its own, v2.15.3,
// seen under -race). An external broker is not waited for: it may be
// down, and the bridge queues meanwhile.
func (d *instance) awaitBridge(ctx context.Context) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	limit := time.After(5 * time.Second)
	for !d.bridge.Connected() {
		select {
		case <-ctx.Done():
			return
		case <-limit:
			d.log.Warn("the MQTT bridge has not connected to the embedded broker within 5 s", "mqtt", d.mqttURL)
			return
		case <-t.C:
		}
	}
}

func (d *instance) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	for _, c := range d.opt.NotifyConns {
		c.Close() // those not handed to a listener
	}
}

// build opens everything that can fail before anything runs, so a bad
// address or a locked journal is an error at start, not a log line.
func (d *instance) build(ctx context.Context) error {
	cfg := d.cfg
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	// Before anything in state_dir is opened: a second daemon there
	// would truncate this one's queue and number events twice.
	unlock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return err
	}
	d.closers = append(d.closers, unlock)
	j, aside, err := cfg.OpenJournal(d.log.With("part", "journal"))
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	d.journalAside = aside
	d.journal = j
	d.closers = append(d.closers, func() { j.Close() })

	d.mqttURL = cfg.MQTT.URL
	if d.mqttURL == "" {
		// NATS warns of every client hiccup; keep its errors (a client
		// refused, a topic it cannot carry) unless debugging.
		blog := d.log.With("part", "broker")
		if !blog.Enabled(ctx, slog.LevelDebug) {
			blog = slog.New(minLevel{blog.Handler(), slog.LevelError})
		}
		// Its JetStream store (retained messages, sessions) lives in
		// state_dir, so Home Assistant's discovery survives a restart.
		b, err := broker.Start(broker.Config{Listen: cfg.MQTT.Listen, StoreDir: filepath.Join(cfg.StateDir, "broker"), Logger: blog})
		if errors.Is(err, broker.ErrNotBuiltIn) {
			return fmt.Errorf("mqtt.url is empty: %w", err)
		}
		if err != nil {
			return fmt.Errorf("mqtt.listen: embedded broker: %w", err)
		}
		d.broker = b
		d.closers = append(d.closers, func() { b.Close() })
		d.mqttURL = b.URL()
	}

	if err := d.buildCloud(); err != nil {
		return err
	}
	d.metrics = NewMetrics()
	if err := d.metrics.WatchJournal(j, d.journalAside); err != nil {
		return err
	}
	if d.hub != nil {
		if err := d.metrics.WatchCloud(d.hub); err != nil {
			return err
		}
	}
	seqs, err := j.Panels()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	d.seq, err = openSeqFile(filepath.Join(cfg.StateDir, "seq.json"), seqs, d.log)
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() {
		if err := d.seq.close(); err != nil {
			d.log.Error("event numbers not recorded; the next run leaves a gap", "err", err)
		}
	})
	for i, pc := range cfg.Panels {
		if err := d.buildPanel(ctx, pc); err != nil {
			return fmt.Errorf("panels[%d] (%s): %w", i, pc.Name, err)
		}
	}

	mons := make([]*g90.Monitor, len(d.panels))
	for i, p := range d.panels {
		mons[i] = p.monitor
	}
	tlsCfg, err := cfg.MQTT.TLSConfig()
	if err != nil {
		return err
	}
	// ParseConfig refuses this too; checked again here, where the UI is
	// opened, for a Config made another way.
	if !cfg.Web.Loopback() && cfg.Web.PasswordHash == "" {
		return fmt.Errorf("web.password_hash: not set, but web.listen %q is not a loopback address", cfg.Web.Listen)
	}
	if d.webTLS, err = cfg.Web.TLSConfig(); err != nil {
		return err
	}
	// Listening first: the panel's device in Home Assistant links to it.
	ln, err := net.Listen("tcp", cfg.Web.Listen)
	if err != nil {
		return fmt.Errorf("web.listen: %w", err)
	}
	d.web = ln
	d.closers = append(d.closers, func() { ln.Close() })
	host, _ := os.Hostname()
	mlog := d.log.With("part", "mqtt")
	d.bridge, err = bridge.New(bridge.Config{
		MQTT: mqttlink.Config{
			URL: d.mqttURL, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password, TLS: tlsCfg,
			ClientID: "g90-" + clientIDPart(host) + "-" + strconv.Itoa(os.Getpid()),
			QueueDir: filepath.Join(cfg.StateDir, "mqtt-queue"),
			Logger:   mlog,
			OnConnectError: func(err error) {
				mlog.Warn("cannot connect to the MQTT broker", "url", d.mqttURL, "err", mqttConnectError(err))
			},
		},
		DiscoveryPrefix: cfg.MQTT.DiscoveryPrefix, TopicPrefix: cfg.MQTT.TopicPrefix,
		StateFile:      filepath.Join(cfg.StateDir, "switches.json"),
		PublishSecrets: cfg.MQTT.PublishSecrets, AllowConfigChanges: cfg.MQTT.AllowConfigChanges,
		ConfigurationURL: webURL(ln.Addr(), host, d.webTLS != nil),
		Panels:           mons,
		Logger:           mlog,
	})
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	if err := d.metrics.WatchBridge(d.bridge); err != nil {
		return err
	}

	if hk := cfg.HomeKit; hk.Enabled {
		d.homekit, err = homekit.New(homekit.Config{
			Listen: hk.Listen, Pin: hk.Pin, Name: hk.Name, MDNS: hk.MDNS, AllowDisarm: hk.AllowDisarm,
			Dir: filepath.Join(cfg.StateDir, "homekit"), Panels: mons, Logger: d.log.With("part", "homekit"),
		})
		if err != nil {
			return fmt.Errorf("homekit: %w", err)
		}
	}

	d.ui, err = web.New(web.Config{Panels: mons, Journal: j, HomeKit: d.homekit, Hosts: cfg.Web.Hosts, Login: d.login(), Logger: d.log.With("part", "web")})
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	if cfg.Web.PasswordHash != "" {
		watchLogins(d.metrics.Registry(), d.ui)
	}
	return nil
}

// webURL is the address of the web UI that Home Assistant links the
// panel's device to (configuration_url): the listening address, or the
// machine's name when it listens on every address; https with TLS.
func webURL(a net.Addr, hostname string, overTLS bool) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	h := ta.IP.String()
	if ta.IP.IsUnspecified() {
		if hostname == "" {
			return ""
		}
		h = hostname
	}
	return webScheme(overTLS) + net.JoinHostPort(h, strconv.Itoa(ta.Port)) + "/"
}

func webScheme(overTLS bool) string {
	if overTLS {
		return "https://"
	}
	return "http://"
}

// clientIDPart keeps the characters every broker accepts in a client id.
func clientIDPart(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, s)
	return s[:min(len(s), 8)]
}

// buildCloud opens the cloud server when one is configured.
func (d *instance) buildCloud() error {
	c := d.cfg.Cloud
	if c.Listen == "" {
		return nil
	}
	cc := cloud.Config{Addr: c.Listen, Logger: d.log.With("part", "cloud")}
	ap, err := c.AdvertiseAddr()
	if err != nil {
		return fmt.Errorf("cloud.advertise: %w", err)
	}
	cc.Advertise = ap
	if cc.AllowNets, err = c.AllowNets(); err != nil {
		return fmt.Errorf("cloud.allow: %w", err)
	}
	cc.MaxConns, cc.MaxPerAddr = c.MaxConnections, c.MaxPerAddress
	if c.AcceptAnyGUID {
		// Else the hub serves only the configured panels.
		cc.AllowGUID = func(string) bool { return true }
	}
	for _, p := range d.cfg.Panels {
		if p.Notifications == NotifyChained {
			// Only the chained panels are relayed (their sources say so,
			// cloud.Hub.ChainedSource). Keep them pointed at us when the
			// vendor answers their discovery (spec:
			// notifications-and-cloud.md G.5).
			cc.Upstream, cc.RewriteDiscovery, cc.ReplayBuffer = c.Upstream, true, c.ReplayBuffer
		}
	}
	hub, err := cloud.NewHub(cc)
	if err != nil {
		return fmt.Errorf("cloud.listen: %w", err)
	}
	d.hub = hub
	return nil
}

// webLogins are the web UI's sessions and the password hash they
// belong to.
type webLogins struct {
	hash     string
	sessions *web.Sessions
}

// login is the web UI's login, nil without a password hash, with the
// previous run's sessions when the password is the same (a new password
// logs everyone out).
func (d *instance) login() *web.Login {
	hash := d.cfg.Web.PasswordHash
	if hash == "" {
		return nil
	}
	l := &web.Login{PasswordHash: hash}
	if ws := d.opt.logins; ws != nil {
		if ws.sessions == nil || ws.hash != hash {
			ws.hash, ws.sessions = hash, web.NewSessions()
		}
		l.Sessions = ws.sessions
	}
	return l
}

// guard is pc's PIN guard: the one the previous run had for the same
// panel and PIN, so that its count of wrong PINs goes on.
func (d *instance) guard(pc PanelConfig) *pinguard.Guard {
	if g := d.opt.guards[pc.Name]; g.Same(pc.PIN) {
		return g
	}
	g := pinguard.New(pc.PIN, nil)
	if d.opt.guards != nil {
		d.opt.guards[pc.Name] = g
	}
	return g
}

// buildPanel makes the panel's client, sources and Monitor, and the
// subscriptions that must exist before the Monitor runs.
func (d *instance) buildPanel(ctx context.Context, pc PanelConfig) error {
	log := d.log.With("panel", pc.Name)
	timeout := d.opt.Timeout
	if timeout <= 0 {
		// Panels are sometimes very slow to answer (spec:
		// local-protocol.md 1.7); Home Assistant's user waits too.
		timeout = 5 * time.Second
	}
	gc := g90.Config{Host: pc.Host, Port: pc.Port, Timeout: timeout}
	if pc.Transport == TransportCloud || pc.Transport == TransportAuto {
		// The Monitor's reads, MQTT's, the web UI's and HomeKit's
		// commands all go through this Panel: all over the cloud link,
		// or with auto while UDP does not answer.
		gc.Carrier = d.hub.Server().Carrier(pc.GUID)
		gc.Fallback = pc.Transport == TransportAuto
	}
	p, err := g90.New(gc)
	if err != nil {
		return err
	}
	var sources []g90.Source
	var listener *notify.Listener
	switch pc.Notifications {
	case NotifyLocal:
		ip, err := notify.ResolveHost(ctx, pc.Host)
		if err != nil {
			return fmt.Errorf("host: %w", err)
		}
		lc := notify.ListenerConfig{Addr: pc.NotifyListen, Host: ip, Logger: log}
		if c := d.opt.NotifyConns[pc.Name]; c != nil {
			lc.PacketConn = c
			delete(d.opt.NotifyConns, pc.Name)
		}
		if listener, err = notify.Listen(ctx, lc); err != nil {
			return fmt.Errorf("notify_listen: %w", err)
		}
		l := listener
		d.closers = append(d.closers, func() { l.Close() })
		sources = append(sources, listener)
	case NotifyCloud, NotifyChained:
		sources = append(sources, d.hub.PanelSource(p, pc.GUID, pc.Notifications == NotifyChained))
	case NotifyHistory, NotifyNone:
	}
	// Every panel has a history poller: the source of notifications:
	// history, and for the others, paused until Home Assistant's
	// "simulate alerts from history" switch turns it on.
	// Made below; Durable runs only once the Monitor runs its sources.
	var mon *g90.Monitor
	var rp *runPanel
	history := p.NewHistoryPoller(g90.HistoryConfig{
		Interval:  pc.HistoryInterval,
		StateFile: filepath.Join(d.cfg.StateDir, "history-"+fileName(pc.Name)+".json"),
		Paused:    pc.Notifications != NotifyHistory,
		Logger:    log,
		// The cursor moves past entries once they are in the journal:
		// a crash in between replays them instead of losing them.
		Durable: func(ctx context.Context) error {
			r0 := d.jStarted.Load()
			if err := mon.Flush(ctx); err != nil {
				return err
			}
			return d.journalStored(ctx, rp.journal, r0)
		},
	})
	sources = append(sources, history)
	mon = p.NewMonitor(g90.MonitorConfig{
		Name: pc.Name, PIN: d.guard(pc),
		Sources: sources, Poll: pc.Poll, NextSeq: d.seq.next, Logger: log,
		Config:    true, // the configuration entities of MQTT
		StateFile: filepath.Join(d.cfg.StateDir, "state-"+fileName(pc.Name)+".json"),
	})
	pm, err := d.metrics.AddPanel(PanelSources{Name: pc.Name, Monitor: mon, Client: p.Client(), Listener: listener})
	if err != nil {
		return err
	}
	rp = &runPanel{cfg: pc, monitor: mon, metrics: pm, journal: mon.SubscribeUpdates("journal", 1<<14)}
	d.panels = append(d.panels, rp)
	return nil
}

// fileName makes a panel name safe as part of a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// serve runs every part until ctx ends or one fails.
func (d *instance) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(part string, err error) {
		if err == nil || ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return
		}
		mu.Lock()
		if first == nil {
			first = fmt.Errorf("%s: %w", part, err)
		}
		mu.Unlock()
		cancel()
	}
	// The consumers of the Monitors' events (journal, metrics, MQTT
	// bridge) stop only after every Monitor has: a Monitor drains its
	// queue into the subscriptions when it stops, and the consumers read
	// them to the end, so the last events still reach the journal and the
	// bridge's durable queue.
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	var consumers sync.WaitGroup
	consumers.Go(d.writeJournal)
	for _, p := range d.panels {
		consumers.Go(func() { fail("metrics", p.metrics.Run(cctx)) })
		wg.Go(func() { fail("panel "+p.cfg.Name, p.monitor.Run(ctx)) })
	}
	if d.hub != nil {
		wg.Go(func() { fail("cloud", d.hub.Serve(ctx)) })
	}
	consumers.Go(func() { fail("mqtt", d.bridge.Run(cctx)) })
	if d.homekit != nil {
		wg.Go(func() { fail("homekit", d.homekit.Run(ctx)) })
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.Handle("/", d.ui)
	wg.Go(func() { fail("web", d.ui.Run(ctx)) }) // closes the SSE streams Shutdown waits for
	srv, ln := newWebServer(d.web, mux, defaultWebLimits, d.log.With("part", "web"), d.metrics.Registry())
	srv.TLSConfig = d.webTLS
	wg.Go(func() {
		serve := srv.Serve
		if d.webTLS != nil {
			// The certificate is in TLSConfig: no files to name.
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fail("web", err)
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	})

	ep := Endpoints{MQTT: d.mqttURL, Embedded: d.broker != nil, Web: webScheme(d.webTLS != nil) + d.web.Addr().String() + "/"}
	if d.hub != nil {
		ep.Cloud = d.hub.Server().Addr().String()
	}
	for _, p := range d.panels {
		ep.Panels = append(ep.Panels, p.cfg.Name)
	}
	if d.homekit != nil {
		ep.HomeKit = d.homekit
	}
	if d.broker != nil {
		d.awaitBridge(ctx)
	}
	d.log.Info("g90 serve running", "mqtt", ep.MQTT, "embedded_broker", ep.Embedded, "web", ep.Web, "cloud", ep.Cloud, "panels", len(ep.Panels))
	if d.opt.Started != nil {
		d.opt.Started(ep)
	}
	wg.Wait()
	ccancel()
	consumers.Wait()
	return first
}

// journalRound bounds the events one round of the journal writer takes
// before it commits them: a round takes whole panel queues until it has
// this many, so one round holds at most this plus one queue.
const journalRound = 4096

// writeJournal stores every event of every panel until all their
// Monitors have ended: one goroutine and, per round, one transaction and
// one fsync for whatever every panel queued meanwhile (group commit,
// issue 20.1). A lone event costs one fsync; a stream is batched by the
// time the previous commit took, so 100 panels cost one fsync per round,
// not 100. Each panel's events keep their order; the updates of merged
// events (their sources grew) are stored after the round's events, so
// after the events they update.
func (d *instance) writeJournal() {
	type source struct {
		sub     *g90.Subscription
		taken   []g90.Delivery
		pending bool // Ready said so; not taken yet
		ended   bool
	}
	srcs := make([]source, len(d.panels))
	for i, p := range d.panels {
		srcs[i].sub = p.journal
	}
	var (
		batch, updates []event.Event
		failures       uint64
		cases          []reflect.SelectCase
		index          []int // of cases in srcs
		start          int   // the panel a round starts with, in turn
	)
	for open := len(srcs); open > 0; {
		// What is ready now, without waiting.
		ready := false
		for i := range srcs {
			s := &srcs[i]
			if s.ended || s.pending {
				ready = ready || s.pending
				continue
			}
			select {
			case <-s.sub.Ready():
				s.pending, ready = true, true
			default:
			}
		}
		if !ready {
			// Nothing queued anywhere: wait for the first panel that
			// has something.
			cases, index = cases[:0], index[:0]
			for i := range srcs {
				if !srcs[i].ended {
					cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(srcs[i].sub.Ready())})
					index = append(index, i)
				}
			}
			chosen, _, _ := reflect.Select(cases)
			srcs[index[chosen]].pending = true
		}
		// Take whole queues, panels in turn, until the round is full;
		// the others wait for the next round. The round is counted as
		// started before it takes anything (journalStored).
		round := d.jStarted.Add(1)
		batch, updates = batch[:0], updates[:0]
		for k := range srcs {
			i := (start + k) % len(srcs)
			s := &srcs[i]
			if !s.pending || len(batch)+len(updates) >= journalRound {
				continue
			}
			s.pending = false
			var ok bool
			s.taken, ok = s.sub.Take(s.taken)
			for j := range s.taken {
				if s.taken[j].Update {
					updates = append(updates, s.taken[j].Event)
				} else {
					batch = append(batch, s.taken[j].Event)
				}
			}
			if !ok {
				s.ended = true
				open--
			}
		}
		start++
		before := failures
		d.commitJournal(batch, updates, &failures)
		if failures != before {
			d.jFailed.Store(round)
		}
		d.jDone.Store(round)
		d.jMu.Lock()
		if d.jNext != nil {
			close(d.jNext)
			d.jNext = nil
		}
		d.jMu.Unlock()
	}
}

// journalRound returns a channel closed when the journal writer's next
// round is done.
func (d *instance) journalRound() <-chan struct{} {
	d.jMu.Lock()
	defer d.jMu.Unlock()
	if d.jNext == nil {
		d.jNext = make(chan struct{})
	}
	return d.jNext
}

// journalStored returns once everything queued in sub (a panel's
// journal subscription) is committed to the journal, or ctx ends: an
// error when a round since round r0 failed to store its events.
func (d *instance) journalStored(ctx context.Context, sub *g90.Subscription, r0 uint64) error {
	// Both conditions move when a round of the writer ends: the round
	// takes the queue, then commits it.
	wait := func(done func() bool) error {
		for {
			next := d.journalRound() // before the check: no round ends unseen
			if done() {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-next:
			}
		}
	}
	if err := wait(func() bool { return sub.Queued() == 0 }); err != nil {
		return err
	}
	target := d.jStarted.Load() // the round that took the last of them, or an earlier one
	if err := wait(func() bool { return d.jDone.Load() >= target }); err != nil {
		return err
	}
	if f := d.jFailed.Load(); f >= r0 && f != 0 && f <= target {
		return fmt.Errorf("journal: round %d failed to store its events", f)
	}
	return nil
}

// commitJournal stores one round of the journal writer: the events in one
// transaction, then the updates.
func (d *instance) commitJournal(batch, updates []event.Event, failures *uint64) {
	if len(batch) > 0 {
		t := time.Now()
		_, err := d.journal.AppendAll(batch)
		took := time.Since(t)
		d.metrics.ObserveJournalCommit(took)
		if d.opt.onJournalCommit != nil {
			d.opt.onJournalCommit(batch, took)
		}
		if err != nil {
			// Counted in the journal's Stats (a metric); a full disk
			// fails every write, so the log gets the 1st, 2nd, 4th, …
			if *failures++; isPowerOfTwo(*failures) {
				d.log.Error("journal: events not stored", "events", len(batch), "first_panel", batch[0].GUID, "first_seq", batch[0].Seq, "failures", *failures, "err", err)
			}
		}
	}
	if len(updates) > 0 {
		if _, err := d.journal.UpdateSources(updates); err != nil {
			d.log.Warn("journal: merged sources not stored", "events", len(updates), "err", err)
		}
	}
}

// Serve runs the daemon of the config load returns until ctx ends. On
// every value from reload it loads the config again: a valid one
// replaces the running daemon (which stops, so its queues and journal
// are flushed, and starts again with the new config); an invalid one is
// logged with the errors, and the daemon keeps running as it was. A new
// config that is valid but does not start (a port in use) is logged,
// and the daemon starts again with the config it ran before.
func Serve(ctx context.Context, load func() (*Config, error), reload <-chan struct{}, opt Options) error {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info := buildinfo.Read()
	log.Info("g90 serve starting", "version", info.Version, "revision", info.ShortRevision(), "go", info.GoVersion, "platform", info.OS+"/"+info.Arch)
	cfg, err := load()
	if err != nil {
		return err
	}
	var previous *Config // while a reloaded config starts: the one that ran
	opt.guards = map[string]*pinguard.Guard{}
	opt.logins = &webLogins{}
	for {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		started := make(chan struct{})
		ropt := opt
		ropt.Started = func(ep Endpoints) {
			close(started)
			if opt.Started != nil {
				opt.Started(ep)
			}
		}
		go func() { done <- Run(rctx, cfg, ropt) }()
		opt.NotifyConns = nil // the first Run owns and closes them
		select {
		case <-started:
			previous = nil
		case err := <-done:
			cancel()
			if previous == nil {
				return err
			}
			log.Error("reload: the new config did not start; starting again with the one that ran", "err", err)
			cfg, previous = previous, nil
			continue
		case <-ctx.Done():
			cancel()
			return <-done
		}
		var next *Config
		for next == nil {
			select {
			case err := <-done:
				cancel()
				return err
			case <-ctx.Done():
				cancel()
				return <-done
			case <-reload:
				c, err := load()
				if err != nil {
					log.Error("reload: config not loaded; running on with the old one", "err", err)
					continue
				}
				next = c
			}
		}
		log.Info("reload: restarting with the new config")
		cancel()
		if err := <-done; err != nil {
			return err
		}
		cfg, previous = next, cfg
	}
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}
func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
