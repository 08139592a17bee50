//go:build !nohomekit

package homekit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brutella/hap"
	"github.com/brutella/hap/accessory"
	haplog "github.com/brutella/hap/log"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/buildinfo"
	"github.com/g90alarm/g90/protocol"
)

// BuiltIn says whether this build has the HomeKit bridge: it has (a
// build with -tags nohomekit leaves it and brutella/hap out).
const BuiltIn = true

// commandTimeout bounds a command a controller's write sends the panel.
const commandTimeout = 15 * time.Second

// startWait bounds the wait for the panels' first reads before the
// first publication.
const startWait = 10 * time.Second

// settle is how long the accessory set must stay the same before the
// bridge publishes a changed one: a panel's lists are read one after the
// other, and each publication closes every controller's connection.
const settle = 2 * time.Second

// Bridge is the HomeKit bridge. Its methods are safe for concurrent use.
type Bridge struct {
	cfg    Config
	log    *slog.Logger
	store  hap.Store
	panels []string // the panels' names
	ver    string

	mu        sync.Mutex // guards what follows
	ids       *ids
	pin       string
	addr      string // host:port, the port fixed once known
	bound     net.Addr
	published []published // its accessories, the bridge first
}

// New checks cfg and loads or makes the setup code and accessory ids.
// Run publishes the bridge.
func New(cfg Config) (*Bridge, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Name == "" {
		cfg.Name = "g90"
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %q: %w", cfg.Listen, err)
	}
	b := &Bridge{cfg: cfg, log: cfg.Logger, addr: cfg.Listen, ver: buildinfo.Read().Version}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.ver == "" {
		b.ver = "0"
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	v, err := loadIDs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	b.ids = v
	switch {
	case cfg.Pin != "":
		if b.pin, err = ParsePin(cfg.Pin); err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
		v.Pin = "" // the config's; do not keep a copy
	case v.Pin != "":
		b.pin = v.Pin
	default:
		if b.pin, err = newPin(); err != nil {
			return nil, err
		}
		v.Pin = b.pin
	}
	if err := v.save(cfg.Dir); err != nil {
		return nil, err
	}
	b.store = hap.NewFsStore(cfg.Dir)
	quietHap(b.log)
	for _, m := range cfg.Panels {
		b.panels = append(b.panels, m.Name())
	}
	return b, nil
}

// Setup returns the setup code and URI.
func (b *Bridge) Setup() Setup {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Setup{Code: formatPin(b.pin), URI: setupURI(b.pin, b.ids.SetupID), Paired: b.paired()}
}

// formatPin returns XXX-XX-XXX.
func formatPin(pin string) string { return pin[:3] + "-" + pin[3:5] + "-" + pin[5:] }

// paired reports whether the store holds a pairing. It reads the store
// itself, not hap's server, which exists only from the first publication
// on: a bridge paired before a restart is paired from New on, and the
// setup code is not shown as if it were not. hap keeps a pairing as a
// key NAME.pairing holding its JSON (hap.Pairing); IsPaired counts the
// ones that decode, and so does this.
func (b *Bridge) paired() bool {
	keys, err := b.store.KeysWithSuffix(".pairing")
	if err != nil {
		return false
	}
	for _, k := range keys {
		v, err := b.store.Get(k)
		var p hap.Pairing
		if err == nil && json.Unmarshal(v, &p) == nil {
			return true
		}
	}
	return false
}

// Addr returns the address the bridge listens on, nil before it does.
func (b *Bridge) Addr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bound
}

// published is an accessory of a publication, as Published and AID
// report it.
type published struct {
	name string
	aid  uint64
}

// Published returns the names of the accessories published now, the
// bridge's first; nil before the first publication.
func (b *Bridge) Published() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, p := range b.published {
		out = append(out, p.name)
	}
	return out
}

// ConfigNumber returns the configuration number controllers see (the
// mDNS "c#"): hap raises it each time the accessory set changes.
func (b *Bridge) ConfigNumber() int {
	v, _ := b.store.Get("version")
	n, _ := strconv.Atoi(string(v))
	return n
}

// AID returns the accessory id of the accessory named name, 0 if none
// is published by that name.
func (b *Bridge) AID(name string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.published {
		if p.name == name {
			return p.aid
		}
	}
	return 0
}

// DeviceID returns the bridge's HAP device id (the mDNS "id"), which a
// controller that does not browse needs; "" before Run published it.
func (b *Bridge) DeviceID() string {
	id, _ := b.store.Get("uuid")
	return string(id)
}

// Run publishes the bridge until ctx ends, following the panels' state,
// and republishes it when the accessory set changes. It closes the
// subscriptions when it returns.
func (b *Bridge) Run(ctx context.Context) error {
	// Subscribed before the states are read below: what changes in
	// between comes again, and nothing is missed.
	subs := make([]*g90.Subscription, len(b.cfg.Panels))
	for i, m := range b.cfg.Panels {
		subs[i] = m.SubscribeState("homekit", 64)
	}
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	// One reader per panel hands its deliveries to this goroutine, which
	// alone sets the characteristics and owns the server.
	type batch struct {
		panel int
		ds    []g90.Delivery
	}
	in := make(chan batch)
	var readers sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		readers.Wait()
	}()
	for i, s := range subs {
		readers.Go(func() {
			var buf []g90.Delivery
			for {
				select {
				case <-s.Ready():
				case <-rctx.Done():
					return
				}
				ds, ok := s.Take(buf[:0])
				if len(ds) > 0 {
					select {
					case in <- batch{i, slices.Clone(ds)}:
					case <-rctx.Done():
						return
					}
				}
				if !ok {
					return
				}
				buf = ds
			}
		})
	}

	states := make([]*g90.State, len(subs))
	for i, m := range b.cfg.Panels {
		st := m.State()
		states[i] = &st
	}
	// The first publication waits for every panel's first read (or
	// startWait), so that controllers do not see the set change at once.
	var (
		srv     *server
		current []spec
		accs    []*acc
		timer   = time.NewTimer(startWait)
		pending = true
		started = false
	)
	defer timer.Stop()
	ready := func() bool {
		for _, m := range b.cfg.Panels {
			select {
			case <-m.Ready():
			default:
				return false
			}
		}
		return true
	}
	if ready() {
		started = true
		timer.Reset(0)
	}
	// seen is the set the states last gave: the wait (settle) starts
	// when it changes, not at every delivery, or a panel polled more
	// often than settle would never be published.
	seen := b.specs(states)
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case bt := <-in:
			for i := range bt.ds {
				d := &bt.ds[i]
				if d.State != nil {
					states[bt.panel] = d.State
				}
			}
			next := b.specs(states)
			changed := !sameSet(next, seen)
			seen = next
			switch {
			case !started && ready():
				started = true
				timer.Reset(0)
			case started && changed && !sameSet(next, current):
				pending = true
				timer.Reset(settle)
			}
			for _, x := range accs {
				if x.panel == bt.panel {
					x.update(states[bt.panel])
				}
			}
			for i := range bt.ds {
				d := &bt.ds[i]
				if d.Update || d.Event.Type == "" {
					continue
				}
				for _, x := range accs {
					if x.panel == bt.panel && x.press(&d.Event) {
						break
					}
				}
			}
		case <-timer.C:
			if !pending {
				continue
			}
			started, pending = true, false
			next := b.specs(states)
			if srv != nil && sameSet(next, current) {
				continue
			}
			if srv != nil {
				srv.stop()
				srv = nil
			}
			var err error
			srv, accs, err = b.publish(ctx, next)
			if err != nil {
				return err
			}
			current = next
			for _, x := range accs {
				x.update(states[x.panel])
			}
		case err, ok := <-srvErr(srv):
			if !ok {
				return nil // ctx ended
			}
			return fmt.Errorf("homekit: %w", err)
		}
	}
}

func srvErr(s *server) <-chan error {
	if s == nil {
		return nil
	}
	return s.done
}

// specs returns the accessories of every panel, in config order.
func (b *Bridge) specs(states []*g90.State) []spec {
	var out []spec
	for i, st := range states {
		out = append(out, specsOf(i, b.panels[i], st)...)
	}
	return out
}

// server is one publication of the accessory set: hap's server and the
// goroutine serving it.
type server struct {
	cancel context.CancelFunc
	done   chan error // the serving goroutine's error, then closed
}

func (s *server) stop() {
	s.cancel()
	for range s.done {
	}
}

// publish starts a hap server with the accessories of specs.
func (b *Bridge) publish(ctx context.Context, specs []spec) (*server, []*acc, error) {
	b.mu.Lock()
	fresh := false
	accs := make([]*acc, 0, len(specs))
	// A controller's write sends the panel a command, bounded by ctx
	// (Run's): a stopping bridge does not wait for the panel.
	h := handlers{
		target: func(x *acc, v int) error { return b.setTarget(ctx, x, v) },
		relay:  func(x *acc, on bool) error { return b.setRelay(ctx, x, on) },
	}
	for _, sp := range specs {
		aid, f := b.ids.aid(sp.key)
		fresh = fresh || f
		accs = append(accs, build(sp, aid, b.ver, h))
	}
	names := namesHash(specs)
	renamed := names != b.ids.Names
	b.ids.Names = names
	var err error
	if fresh || renamed {
		err = b.ids.save(b.cfg.Dir)
	}
	addr := b.addr
	b.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if renamed {
		// hap bumps the configuration number when its hash of the
		// accessories changes; names are values, which it leaves out.
		b.store.Delete("configHash")
	}

	br := accessory.NewBridge(accessory.Info{Name: b.cfg.Name, Manufacturer: "g90", Model: "g90 serve", Firmware: b.ver, SerialNumber: "g90"})
	br.Id = 1
	as := make([]*accessory.A, len(accs))
	for i, x := range accs {
		as[i] = x.a
	}
	hs, err := hap.NewServer(b.store, br.A, as...)
	if err != nil {
		return nil, nil, err
	}
	hs.Pin = b.pin
	hs.SetupId = b.ids.SetupID
	if !b.cfg.MDNS {
		// hap always runs its responder; naming no interface it
		// announces on none.
		hs.Ifaces = []string{"g90-no-mdns"}
	}
	// Listen here, so that the port is known (and kept) before serving.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	bound := ln.Addr()
	ln.Close()
	_, port, _ := net.SplitHostPort(bound.String())
	host, _, _ := net.SplitHostPort(addr)
	hs.Addr = net.JoinHostPort(host, port)
	b.mu.Lock()
	b.addr, b.bound = hs.Addr, bound
	b.published = append(b.published[:0:0], published{b.cfg.Name, 1})
	for _, x := range accs {
		b.published = append(b.published, published{x.name, x.a.Id})
	}
	b.mu.Unlock()

	sctx, cancel := context.WithCancel(ctx)
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer close(s.done)
		if err := hs.ListenAndServe(sctx); err != nil && sctx.Err() == nil {
			s.done <- err
		}
	}()
	b.log.Info("homekit: bridge published", "addr", hs.Addr, "accessories", len(accs)+1, "paired", hs.IsPaired(), "mdns", b.cfg.MDNS)
	if !hs.IsPaired() {
		// Shown until paired: then no one can pair with it.
		b.log.Info("homekit: not paired yet: in the Home app, Add Accessory and scan the QR code in the web UI, or enter the setup code",
			"setup_code", formatPin(b.pin), "setup_uri", setupURI(b.pin, b.ids.SetupID))
	}
	return s, accs, nil
}

// errRefused is a write the bridge does not carry out.
var errRefused = errors.New("refused by homekit.allow_disarm: false")

// setTarget carries out a controller's write of a panel's target state.
func (b *Bridge) setTarget(ctx context.Context, x *acc, v int) error {
	m := b.cfg.Panels[x.panel]
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	var err error
	switch v {
	case hkAway:
		err = m.Panel().Arm(ctx, protocol.ArmAway)
	case hkStay:
		err = m.Panel().Arm(ctx, protocol.ArmHome)
	case hkDisarmed:
		if !b.cfg.AllowDisarm {
			b.log.Warn("homekit: disarm refused (homekit.allow_disarm is false)", "panel", m.Name())
			return errRefused
		}
		err = m.Panel().Disarm(ctx)
	default:
		return fmt.Errorf("target state %d", v)
	}
	if err != nil {
		b.log.Warn("homekit: arm state not set", "panel", m.Name(), "target", v, "err", err)
		return err
	}
	b.log.Info("homekit: arm state set", "panel", m.Name(), "target", map[int]string{hkAway: "away", hkStay: "home", hkDisarmed: "disarmed"}[v])
	m.Reread(g90.ReadStatus) // the panel's report follows; the read makes sure
	return nil
}

// setRelay carries out a controller's write of a relay node's On.
func (b *Bridge) setRelay(ctx context.Context, x *acc, on bool) error {
	m := b.cfg.Panels[x.panel]
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := m.SetRelay(ctx, x.index, x.node, on); err != nil {
		b.log.Warn("homekit: relay not switched", "panel", m.Name(), "relay", x.index, "node", x.node, "err", err)
		return err
	}
	return nil
}

// hapLog is where hap's own log goes (a global of its package, on
// stdout by default): the latest bridge's logger, at debug level, since
// its lines are about single requests and would drown the daemon's own.
var (
	hapLog   atomic.Pointer[slog.Logger]
	hapQuiet sync.Once
)

type hapWriter struct{}

func (hapWriter) Write(p []byte) (int, error) {
	if l := hapLog.Load(); l != nil {
		l.Debug("homekit: hap: " + strings.TrimSpace(strings.TrimPrefix(string(p), "INFO ")))
	}
	return len(p), nil
}

func quietHap(log *slog.Logger) {
	hapLog.Store(log)
	hapQuiet.Do(func() {
		haplog.Info.SetOutput(hapWriter{})
		haplog.Info.SetFlags(0)
	})
}
