// Package cloudload is the cloud server's load test: thousands of
// simulated panels (sim.Fleet) connect at once to one cloud.Server on
// loopback, say hello, ping, and send status changes as fast as the
// server takes them, and the server checks that every message arrives
// once and in order. cmd/g90load runs it with the panels in a child
// process, so that the server's memory is measured alone.
//
//	res, err := cloudload.Run(ctx, cloudload.Config{Panels: 10000, Events: 100}, cloudload.InProcess)
//	fmt.Println(res.Rate, res.PeakRSS)
package cloudload

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/sim"
)

// Config is one load test. Zero values mean the defaults.
type Config struct {
	// Panels connect at once; default 10,000.
	Panels int `json:"panels"`
	// Events is the number of status changes each panel sends; default
	// 100.
	Events int `json:"events"`
	// Ping and Hello are the panels' intervals, shorter than a real
	// panel's minute so that the test sees many; defaults 2 s and 3 s.
	Ping  time.Duration `json:"ping"`
	Hello time.Duration `json:"hello"`
	// Hold keeps the panels connected, pinging and saying hello, this
	// long after the last event arrived; default 5 s.
	Hold time.Duration `json:"hold"`
	// Sources is the number of loopback addresses the panels connect
	// from, 127.0.0.1 up (sim.FleetConfig.Sources); default 4, which
	// takes 19,700 panels past one address's ephemeral-port cliff.
	Sources int `json:"sources"`
	// Server is the address the panels connect to; the parent sets it.
	Server string `json:"server,omitempty"`
	// Logger receives the server's and the fleet's warnings; nil is
	// silent.
	Logger *slog.Logger `json:"-"`
}

func (c *Config) defaults() {
	c.Panels = cmp.Or(c.Panels, 10000)
	c.Events = cmp.Or(c.Events, 100)
	c.Ping = cmp.Or(c.Ping, 2*time.Second)
	c.Hello = cmp.Or(c.Hello, 3*time.Second)
	c.Hold = cmp.Or(c.Hold, 5*time.Second)
	c.Sources = min(cmp.Or(c.Sources, 4), 254)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Result is what a load test measured.
type Result struct {
	Config Config
	// Connect is the time from the fleet's start until every panel's
	// first hello was answered.
	Connect time.Duration
	// Messages and Events are what the server's handler got: status
	// changes, and the events they stand for. Want is Panels × Events.
	Messages, Events, Want int64
	// OutOfOrder counts messages that did not carry their panel's next
	// sequence number: lost, repeated or reordered.
	OutOfOrder int64
	// Elapsed is the time from the signal to send until the last message
	// arrived; Rate is Messages / Elapsed, in messages per second.
	Elapsed time.Duration
	Rate    float64
	// RSS is the server process's resident memory with every panel
	// connected and idle, PeakRSS its peak over the whole test, BaseRSS
	// before the first panel connected, in bytes; 0 where they cannot be
	// read. (RSS-BaseRSS)/Panels is the memory an idle panel costs.
	RSS, PeakRSS, BaseRSS int64
	// ConnectCPU is the process's CPU time (user and system) from the
	// fleet's start until every panel was answered; IdleCPU during Hold,
	// when the panels only ping and say hello; 0 where it cannot be read.
	ConnectCPU, IdleCPU time.Duration
	// Server are the server's counters at the end, Fleet the panels'.
	Server cloud.Stats
	Fleet  sim.CloudStats
	// InProcess reports that the panels ran in the server's process, so
	// that the memory figures are for both.
	InProcess bool
}

// Check returns an error naming every way r falls short of the targets
// of issue 4: none lost, every hello and ping answered, no reconnect.
// Rate and memory targets are the caller's to judge.
func (r *Result) Check() error {
	var errs []error
	f, s := r.Fleet, r.Server
	if r.Messages != r.Want || r.OutOfOrder != 0 || f.Sent != r.Want || f.Dropped != 0 {
		errs = append(errs, fmt.Errorf("messages: %d arrived (%d out of order), %d sent, %d dropped by the panels; want %d", r.Messages, r.OutOfOrder, f.Sent, f.Dropped, r.Want))
	}
	if f.HellosSent == 0 || f.HellosAnswered != f.HellosSent || f.PingsAnswered != f.PingsSent {
		errs = append(errs, fmt.Errorf("%d of %d hellos and %d of %d pings answered", f.HellosAnswered, f.HellosSent, f.PingsAnswered, f.PingsSent))
	}
	if n := int64(r.Config.Panels); f.Connects != n || s.Accepted != n || f.ConnectErrors != 0 || f.Silent != 0 {
		errs = append(errs, fmt.Errorf("%d connects (%d failed, %d silent server), %d accepted; want %d each", f.Connects, f.ConnectErrors, f.Silent, s.Accepted, n))
	}
	if s.FramingErrors != 0 || s.DecodeErrors != 0 || s.Invalid != 0 {
		errs = append(errs, fmt.Errorf("server: %d framing errors, %d decode errors, %d invalid", s.FramingErrors, s.DecodeErrors, s.Invalid))
	}
	return errors.Join(errs...)
}

// Fleet starts the panels of cfg, connected to cfg.Server, and returns
// the pipes of the control protocol: commands to the fleet, its reports.
// stop ends it and waits.
type Fleet func(ctx context.Context, cfg Config) (commands io.WriteCloser, reports io.Reader, wait func() error, err error)

// InProcess runs the fleet in this process.
func InProcess(ctx context.Context, cfg Config) (io.WriteCloser, io.Reader, func() error, error) {
	cr, cw := io.Pipe()
	rr, rw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := ServeFleet(ctx, cfg, cr, rw)
		rw.CloseWithError(cmp.Or(err, io.EOF))
		cr.Close()
		done <- err
	}()
	return cw, rr, func() error { return <-done }, nil
}

// report is one line the fleet writes: its state and counters.
type report struct {
	State string         `json:"state"` // ready, sent, done
	Stats sim.CloudStats `json:"stats"`
	Error string         `json:"error,omitempty"`
}

// Commands to the fleet, one per line.
const (
	cmdGo   = "go"
	cmdStop = "stop"
)

// Run starts a cloud server on loopback, the fleet, and measures: every
// panel connected and answered, then every panel's status changes sent
// at once, then the hold. inProcess tells Result that fleet shares the
// process.
func Run(ctx context.Context, cfg Config, fleet Fleet, inProcess bool) (Result, error) {
	cfg.defaults()
	res := Result{Config: cfg, Want: int64(cfg.Panels) * int64(cfg.Events), InProcess: inProcess}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	chk := newChecker(cfg.Panels)
	srv, err := cloud.New(cloud.Config{Listener: ln, Handler: chk, MaxConns: cfg.Panels + 16, MaxPerAddr: -1, Logger: cfg.Logger})
	if err != nil {
		ln.Close()
		return res, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		<-served
	}()
	cfg.Server = ln.Addr().String()

	res.BaseRSS, _ = rss()
	cpu0 := cpuTime()
	start := time.Now()
	commands, reports, wait, err := fleet(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("start the panels: %w", err)
	}
	defer func() {
		commands.Close()
		wait()
	}()
	lines := bufio.NewScanner(reports)
	lines.Buffer(nil, 1<<20)
	next := func(want string) (sim.CloudStats, error) {
		if !lines.Scan() {
			return sim.CloudStats{}, fmt.Errorf("the panels stopped before %q: %v", want, cmp.Or(lines.Err(), wait()))
		}
		var r report
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			return sim.CloudStats{}, fmt.Errorf("the panels said %q: %w", lines.Text(), err)
		}
		if r.Error != "" || r.State != want {
			return r.Stats, fmt.Errorf("the panels said %q (%s), want %q", r.State, r.Error, want)
		}
		return r.Stats, nil
	}

	if _, err := next("ready"); err != nil {
		return res, err
	}
	res.Connect = time.Since(start)
	res.ConnectCPU = cpuTime() - cpu0
	res.RSS, _ = rss()
	t0 := time.Now()
	chk.arm(res.Want)
	if _, err := fmt.Fprintln(commands, cmdGo); err != nil {
		return res, err
	}
	select {
	case <-chk.done:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Elapsed = time.Since(t0)
	if _, err := next("sent"); err != nil {
		return res, err
	}
	cpu1 := cpuTime()
	select {
	case <-time.After(cfg.Hold):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.IdleCPU = cpuTime() - cpu1
	if _, err := fmt.Fprintln(commands, cmdStop); err != nil {
		return res, err
	}
	res.Fleet, err = next("done")
	if err != nil {
		return res, err
	}
	_, res.PeakRSS = rss()
	res.Messages, res.Events, res.OutOfOrder = chk.messages.Load(), chk.events.Load(), chk.outOfOrder.Load()
	res.Rate = float64(res.Messages) / res.Elapsed.Seconds()
	res.Server = srv.Stats()
	return res, nil
}

// checker is the server's Handler: it counts the status changes and
// checks that each panel's come in sequence.
type checker struct {
	mu                           sync.Mutex       // guards next: each connection calls HandleCloud from its own goroutine
	next                         map[string]int32 // per GUID, the sequence number expected
	messages, events, outOfOrder atomic.Int64
	want                         atomic.Int64
	done                         chan struct{}
	once                         sync.Once
}

func newChecker(panels int) *checker {
	return &checker{next: make(map[string]int32, panels), done: make(chan struct{})}
}

func (c *checker) arm(want int64) { c.want.Store(want) }

func (c *checker) HandleCloud(_ context.Context, m *cloud.Message) {
	seq := m.Notify.Alert.UnixTime - baseTime
	c.mu.Lock()
	if m.Kind != cloudproto.KindStatusChange || seq != int64(c.next[m.GUID]) {
		c.outOfOrder.Add(1)
	}
	c.next[m.GUID] = int32(seq) + 1
	c.mu.Unlock()
	evs, _ := m.Events()
	c.events.Add(int64(len(evs)))
	if n := c.messages.Add(1); n == c.want.Load() {
		c.once.Do(func() { close(c.done) })
	}
}
