package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// DefaultListen is where the simulator takes commands unless told
// otherwise: the panel's fixed port (spec: local-protocol.md 1.1), on
// loopback so a simulator is never reachable from the network by default.
const DefaultListen = "127.0.0.1:12368"

// Config configures a Panel. The zero value is a panel with the default
// home listening on DefaultListen, without discovery, control API or
// state file.
type Config struct {
	// Listen is the UDP address commands arrive on; default DefaultListen.
	Listen string
	// PacketConn, if set, is used instead of listening on Listen.
	PacketConn net.PacketConn
	// DiscoveryListen is the UDP address targeted discovery probes arrive
	// on (the real panel uses :12900, spec: local-protocol.md 6.2). Empty
	// disables targeted discovery. Broadcast discovery needs nothing: it
	// is GETHOSTINFO on the command port.
	DiscoveryListen string
	// DiscoveryConn, if set, is used instead of listening on DiscoveryListen.
	DiscoveryConn net.PacketConn
	// Control is the TCP address of the HTTP control API; empty disables it.
	Control string
	// ControlListener, if set, is used instead of listening on Control.
	ControlListener net.Listener
	// Notify is the UDP address notifications and alerts are sent to (a
	// panel broadcasts them to port 12901, spec: notifications-and-cloud.md
	// A.1); empty sends none.
	Notify string
	// NotifyConn, if set, is the socket notifications leave from.
	NotifyConn net.PacketConn
	// Cloud, when Cloud.Addr is set, makes the panel also connect to that
	// cloud server, as a panel does to the vendor's (spec:
	// notifications-and-cloud.md D, E): discovery, hello, pings and
	// hellos, and every notification and alert it sends on UDP as a
	// wrapped notification or a status change (see CloudLink). The
	// panel's GUID is State.Host.GUID; Cloud.GUID is ignored. Cloud.Addr
	// replaces the state's cloud server address, and the 1,78 system
	// command (g90 set-cloud-server) later moves the panel elsewhere, as
	// it moves a real one. Empty Cloud.Addr: no cloud connection, so the
	// simulator never reaches for the vendor's address in its state.
	Cloud CloudConfig
	// StateFile, if set, is loaded at start when it exists, and written
	// after every state change and when Serve returns.
	StateFile string
	// State is the initial state when no state file is loaded; nil means
	// DefaultState. New copies it.
	State *State
	// Seed seeds the random choices of Faults; 0 seeds from the clock.
	Seed int64
	// Logger receives the simulator's log; nil means silent.
	Logger *slog.Logger
	// Now is the panel's clock, used for history timestamps; nil means
	// time.Now.
	Now func() time.Time
}

// Lifecycle errors.
var (
	ErrServing = errors.New("sim: Serve already called")
	ErrClosed  = errors.New("sim: panel closed")
)

// Panel is a simulated G90 panel. Its methods are safe for concurrent use.
type Panel struct {
	logger    *slog.Logger
	now       func() time.Time
	stateFile string

	conn net.PacketConn // commands
	disc net.PacketConn // targeted discovery, or nil
	ctl  net.Listener   // control API, or nil

	notifyMu sync.Mutex     // orders notification datagrams; taken before mu is released
	notify   net.PacketConn // notifications leave from here, or nil
	notifyTo net.Addr       // and go there, or nil

	mu       sync.Mutex // guards state and crcCalls
	state    State
	crcCalls int

	faultMu sync.Mutex // guards faults and rng
	faults  Faults
	rng     *rand.Rand

	strayMu     sync.Mutex
	stray       net.PacketConn
	strayFailed bool

	saveMu sync.Mutex // orders state file writes

	cloud     *CloudLink         // nil without Config.Cloud.Addr
	cloudText [stateResidue]byte // the panel's notification text buffer; guarded by mu

	wg sync.WaitGroup // every goroutine Serve starts

	lifeMu    sync.Mutex
	serving   bool
	closed    bool
	closing   chan struct{} // closed by Close or when Serve ends
	done      chan struct{} // closed when Serve has returned
	closeOnce sync.Once
	closeErr  error
}

// New returns a panel with its sockets bound, so Addr, DiscoveryAddr and
// ControlAddr are valid at once. Call Serve to answer, or Close to
// release the sockets.
func New(cfg Config) (*Panel, error) {
	p := &Panel{
		logger:    cfg.Logger,
		now:       cfg.Now,
		stateFile: cfg.StateFile,
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	p.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>1|1))

	st, loaded, err := loadStateFile(cfg.StateFile)
	switch {
	case err != nil:
		return nil, err
	case loaded:
		p.logger.Info("sim: state loaded", "file", cfg.StateFile)
	case cfg.State != nil:
		st = cfg.State.Clone()
	default:
		st = defaultState(p.now())
	}
	if err := st.normalize(); err != nil {
		return nil, err
	}
	if cfg.Cloud.Addr != "" {
		host, port, err := net.SplitHostPort(cfg.Cloud.Addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			return nil, fmt.Errorf("sim: cloud server %q: want HOST:PORT", cfg.Cloud.Addr)
		}
		st.CloudServer = CloudServer{Primary: host, Secondary: host, Port: n}
		cc := cfg.Cloud
		cc.GUID = st.Host.GUID
		// Commands over the cloud link are answered as over UDP, from
		// the same state (issue 18.4).
		cc.Commands = func(local []byte) []byte {
			reply, _ := p.handle(local)
			return reply
		}
		if cc.Logger == nil {
			cc.Logger = p.logger
		}
		if p.cloud, err = NewCloudLink(cc); err != nil {
			return nil, err
		}
	}
	p.state = st

	if err := p.bind(cfg); err != nil {
		p.closeSockets()
		return nil, err
	}
	return p, nil
}

func (p *Panel) bind(cfg Config) error {
	var err error
	p.conn = cfg.PacketConn
	if p.conn == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = DefaultListen
		}
		if p.conn, err = net.ListenPacket("udp", addr); err != nil {
			return fmt.Errorf("sim: listen for commands: %w", err)
		}
	}
	p.disc = cfg.DiscoveryConn
	if p.disc == nil && cfg.DiscoveryListen != "" {
		if p.disc, err = net.ListenPacket("udp", cfg.DiscoveryListen); err != nil {
			return fmt.Errorf("sim: listen for discovery: %w", err)
		}
	}
	if err := p.bindNotify(cfg); err != nil {
		return fmt.Errorf("sim: notifications to %q: %w", cfg.Notify, err)
	}
	p.ctl = cfg.ControlListener
	if p.ctl == nil && cfg.Control != "" {
		if p.ctl, err = net.Listen("tcp", cfg.Control); err != nil {
			return fmt.Errorf("sim: listen for the control API: %w", err)
		}
	}
	return nil
}

// Addr is the address commands arrive on.
func (p *Panel) Addr() net.Addr { return p.conn.LocalAddr() }

// DiscoveryAddr is the targeted-discovery address, or nil.
func (p *Panel) DiscoveryAddr() net.Addr {
	if p.disc == nil {
		return nil
	}
	return p.disc.LocalAddr()
}

// ControlAddr is the control API's address, or nil.
func (p *Panel) ControlAddr() net.Addr {
	if p.ctl == nil {
		return nil
	}
	return p.ctl.Addr()
}

// Cloud returns the panel's connection to its cloud server, for its
// counters; nil without Config.Cloud.Addr.
func (p *Panel) Cloud() *CloudLink { return p.cloud }

// Snapshot returns a deep copy of the panel's state.
func (p *Panel) Snapshot() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Clone()
}

// SetState replaces the panel's state, as POST /state does.
func (p *Panel) SetState(s State) error {
	_, err := p.apply(replaceEvent{state: s})
	return err
}

// CompleteLearn ends the learning mode ADDSENSOR started, as if the
// sensor had transmitted: the pending sensor is stored at an index the
// panel chooses, which is returned. Without a pending sensor the error is
// ErrNotLearning.
func (p *Panel) CompleteLearn() (index int, err error) {
	out, err := p.apply(learnedEvent{})
	if err != nil {
		return 0, err
	}
	p.logger.Info("sim: sensor learned", "index", out.index)
	return out.index, nil
}

// Serve answers commands, discovery probes and control requests until ctx
// is cancelled or Close is called, then closes every socket (injected ones
// too), waits for every goroutine it started, saves the state file and
// returns. It returns nil after a normal stop, or the error that stopped
// it. Serve can be called once.
func (p *Panel) Serve(ctx context.Context) error {
	p.lifeMu.Lock()
	switch {
	case p.closed:
		p.lifeMu.Unlock()
		return ErrClosed
	case p.serving:
		p.lifeMu.Unlock()
		return ErrServing
	}
	p.serving = true
	p.lifeMu.Unlock()
	defer close(p.done)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fatal := make(chan error, 3) // one per goroutine below
	if p.cloud != nil {
		p.wg.Go(func() { p.cloud.Run(ctx) })
	}
	p.wg.Go(func() {
		if err := p.readLoop(ctx, p.conn, p.handleCommand); err != nil {
			fatal <- fmt.Errorf("sim: commands: %w", err)
		}
	})
	if p.disc != nil {
		p.wg.Go(func() {
			if err := p.readLoop(ctx, p.disc, p.handleProbe); err != nil {
				fatal <- fmt.Errorf("sim: discovery: %w", err)
			}
		})
	}
	var srv *http.Server
	if p.ctl != nil {
		srv = &http.Server{
			Handler:           p.controlHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug),
		}
		p.wg.Go(func() {
			if err := srv.Serve(p.ctl); !errors.Is(err, http.ErrServerClosed) {
				fatal <- fmt.Errorf("sim: control API: %w", err)
			}
		})
	}
	p.logger.Info("sim: serving", "commands", p.Addr(), "discovery", p.DiscoveryAddr(), "control", p.ControlAddr())

	var err error
	select {
	case <-ctx.Done():
	case <-p.closing:
	case err = <-fatal:
	}
	p.markClosed()
	cancel() // stops delayed replies
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
		scancel()
	}
	p.closeSockets()
	p.wg.Wait()
	p.strayMu.Lock()
	if p.stray != nil {
		p.stray.Close()
	}
	p.strayMu.Unlock()
	if serr := p.save(); serr != nil && err == nil {
		err = serr
	}
	p.logger.Info("sim: stopped", "err", err)
	return err
}

// Close stops a running Serve and waits for it to return, or releases the
// sockets of a panel that was never served. It is idempotent.
func (p *Panel) Close() error {
	p.lifeMu.Lock()
	serving := p.serving // read together with closing, so Serve cannot start in between
	if !p.closed {
		p.closed = true
		close(p.closing)
	}
	p.lifeMu.Unlock()
	if serving {
		<-p.done
		return nil
	}
	return p.closeSockets()
}

func (p *Panel) markClosed() {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.closing)
	}
}

func (p *Panel) closeSockets() error {
	p.closeOnce.Do(func() {
		var errs []error
		if p.conn != nil {
			errs = append(errs, p.conn.Close())
		}
		if p.disc != nil {
			errs = append(errs, p.disc.Close())
		}
		if p.notify != nil {
			p.notifyMu.Lock() // no datagram is half sent
			errs = append(errs, p.notify.Close())
			p.notifyMu.Unlock()
		}
		if p.ctl != nil {
			if err := p.ctl.Close(); !errors.Is(err, net.ErrClosed) { // http.Server may have closed it
				errs = append(errs, err)
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// readLoop reads datagrams until conn is closed and hands each to handle,
// which must not keep b.
func (p *Panel) readLoop(ctx context.Context, conn net.PacketConn, handle func(ctx context.Context, conn net.PacketConn, from net.Addr, b []byte)) error {
	buf := make([]byte, 64*1024)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // someone set a deadline on an injected conn
			}
			return err
		}
		handle(ctx, conn, from, buf[:n])
	}
}

func (p *Panel) handleCommand(ctx context.Context, conn net.PacketConn, from net.Addr, b []byte) {
	if p.unreachable() {
		p.logger.Debug("sim: request lost on its way in (fault unreachable)", "from", from)
		return
	}
	reply, code := p.handle(b)
	if reply == nil {
		return
	}
	p.send(ctx, conn, from, reply, code, true)
}

// handleProbe answers targeted discovery for our GUID and ignores any
// other (spec: local-protocol.md 6.2).
func (p *Panel) handleProbe(ctx context.Context, conn net.PacketConn, from net.Addr, b []byte) {
	guid, err := protocol.ParseProbe(b)
	if err != nil {
		p.logger.Warn("sim: malformed discovery probe, not answered", "from", from, "err", err, "data", quote(b))
		return
	}
	p.mu.Lock()
	h := p.state.Host
	p.mu.Unlock()
	if h.GUID == "" || guid != h.GUID {
		p.logger.Debug("sim: discovery probe for another panel", "guid", guid)
		return
	}
	p.send(ctx, conn, from, probeAck(h).Append(nil), 0, false)
}

// probeAck is the targeted-discovery answer. Reserved1 and Reserved2 are
// filled from the GPRS and Wi-Fi setup fields, a guess that reproduces the
// capture's "0,2" (spec: local-protocol.md 6.2, 9.10).
func probeAck(h Host) protocol.ProbeAck {
	itoa := func(n int) string { return fmt.Sprint(n) }
	return protocol.ProbeAck{
		ProductName: h.ProductName, WiFiProtocolVersion: h.WiFiProtocolVersion,
		CloudProtocolVersion: h.CloudProtocolVersion, MCUHWVersion: h.MCUHWVersion,
		FWVersion: h.FWVersion, GSMStatus: itoa(h.GSMStatus), WiFiStatus: itoa(h.WiFiStatus),
		ServerStatus: itoa(h.ServerStatus), Reserved1: itoa(h.GPRS3GActive), Reserved2: itoa(h.WiFiSetupProgress),
		GSMSignalLevel: itoa(h.GSMSignalLevel), WiFiSignalLevel: itoa(h.WiFiSignalLevel),
	}
}
