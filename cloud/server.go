package cloud

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/connlimit"
	"github.com/g90alarm/g90/notify"
)

// Defaults of Config.
const (
	// DefaultAddr is where the vendor cloud listens, and where panels
	// connect (spec: 0.3, E.1).
	DefaultAddr = ":5678"
	// DefaultIdleTimeout closes a connection that sent nothing for this
	// long. Panels ping about once a minute (spec: D.5.1, G.10).
	DefaultIdleTimeout = 3 * time.Minute
	// DefaultHelloTimeout closes a connection that has not named an
	// allowed panel (a hello or discovery) this long after it was
	// accepted. A panel sends its discovery or hello first, at once
	// (spec: D.8); 10 s covers a first segment lost twice (TCP
	// retransmits after 1 s and 3 s more, RFC 6298) on a slow link.
	DefaultHelloTimeout = 10 * time.Second
	// DefaultTakeover is how long a panel's connection must have been
	// silent (no valid message) before a connection from another
	// address may take its GUID over. Panels ping about once a minute
	// (spec: D.5.1, G.10); half a period more is the margin.
	DefaultTakeover = 90 * time.Second
	// DefaultMaxConns bounds the open panel connections.
	DefaultMaxConns = 64
	// DefaultMaxPerAddr bounds the connections from one IP address. A
	// home has one or a few panels behind its address, and a panel that
	// reconnects may briefly hold two (the old one half-open); a fleet
	// behind one NAT needs Config.MaxPerAddr raised.
	DefaultMaxPerAddr = 8
	// writeTimeout bounds a reply write to a panel that stopped reading.
	writeTimeout = 10 * time.Second
	// readSize is the read buffer of a connection, held while it
	// waits for the panel: panels send messages of a few hundred bytes
	// at most (spec: D.5), and with 10,000 connections 4 KiB each came
	// to half the memory (docs/benchmarks.md). Longer messages are
	// reassembled by the framer.
	readSize = 1024
)

// Config configures a Server. The zero value serves on DefaultAddr in
// standalone mode, advertising the address each panel connected to.
type Config struct {
	// Listener, if set, is used instead of listening on Addr. The server
	// closes it when Serve returns.
	Listener net.Listener
	// Addr is the TCP address to listen on (local_ip:local_port, spec:
	// E.1); default DefaultAddr.
	Addr string
	// Advertise is the address sent in discovery replies (cloud_ip,
	// cloud_port, spec: E.1, D.8): where the panel should connect. It must
	// be IPv4 and reachable from the panel; it differs from the listening
	// address behind NAT or port forwarding. Zero means the address and
	// port the panel's connection arrived on.
	Advertise netip.AddrPort
	// Handler receives the messages that carry events, from each
	// panel's connection (see Handler); nil drops them after counting.
	Handler Handler
	// IdleTimeout closes a connection that sent no valid message for
	// this long (bytes that do not frame or decode do not count);
	// default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// HelloTimeout closes a connection that has not named an allowed
	// panel with a hello or discovery this long after it was accepted
	// (Stats.HelloTimeouts); default DefaultHelloTimeout.
	HelloTimeout time.Duration
	// Takeover is how long a panel's connection must have sent no valid
	// message before a connection from another IP address that names
	// the same panel replaces it; until then the newcomer is closed and
	// the conflict counted and reported (Stats.Conflicts, OnConflict).
	// A connection from the same address always replaces the old one:
	// that is the panel reconnecting. Default DefaultTakeover.
	Takeover time.Duration
	// OnConflict, if set, is called (from a connection's goroutine;
	// keep it short) each time two addresses claim one panel's GUID.
	OnConflict func(Conflict)
	// MaxConns bounds the open connections; more are closed at once and
	// counted in Stats.OverLimit. Default DefaultMaxConns.
	MaxConns int
	// MaxPerAddr bounds the open connections from one IP address; more
	// are closed at once and counted in Stats.OverLimit. Default
	// DefaultMaxPerAddr; -1 means no per-address bound.
	MaxPerAddr int
	// AllowGUIDs, if not empty, lists the panels served. A connection
	// gets no reply and no event until its hello or discovery names one of
	// them; naming another closes it (Stats.Rejected).
	AllowGUIDs []string
	// AllowGUID, if set, is asked at each hello or discovery whether the
	// panel it names is served, as AllowGUIDs (a GUID either accepts is
	// served). For lists that change while the server runs.
	AllowGUID func(guid string) bool
	// AllowNets, if not empty, lists the networks panels may connect
	// from; other connections are closed at once (Stats.Rejected).
	AllowNets []netip.Prefix
	// Logger receives the server's log; nil means silent.
	Logger *slog.Logger
	// Now is the server's clock, for receive times and the time sent in
	// discovery replies; nil means time.Now.
	Now func() time.Time

	// Upstream, if set, is the host:port of the vendor cloud (e.g.
	// "47.88.7.61:5678", spec: 0.3): chained mode (spec: E.4). Every
	// panel connection gets its own upstream connection; what the panel
	// sends is relayed to it in order and what it sends back is relayed
	// to the panel, while events are handled as in standalone mode.
	// While the upstream is unreachable the server answers locally
	// ([REC], spec: E.4.3).
	Upstream string
	// Dial connects to Upstream; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds an upstream connect; default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait after a failed upstream
	// connect, or after an upstream connection that ended younger than
	// BackoffReset, which doubles from one to the other; each wait is
	// drawn between half and all of it (jitter), so that many panels do
	// not reconnect in step. Defaults DefaultBackoffMin and
	// DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// BackoffReset is how long an upstream connection must have lived for
	// the backoff to start again from BackoffMin once it ends: a vendor
	// that accepts and closes every connection is retried ever more
	// slowly, not once per panel read. Default DefaultBackoffReset.
	BackoffReset time.Duration
	// ReplayBuffer bounds, per panel, the status changes and
	// notifications kept while the upstream is unreachable, to be relayed
	// to it in order when it is back, before any newer message; beyond
	// it the oldest are dropped (Stats.ReplayDropped). Default
	// DefaultReplayBuffer; -1 keeps none.
	ReplayBuffer int
	// UpstreamQueue bounds the panel reads waiting to be relayed; when it
	// is full the panel's reader waits for room, as for the Handler's
	// queue. Default DefaultUpstreamQueue.
	UpstreamQueue int
	// UpstreamTimeout is how long the upstream may leave a relayed ping,
	// hello or discovery without sending anything back: then the server
	// answers the panel itself, drops the upstream connection and
	// reconnects with backoff, so that a stalled vendor cloud does not
	// take the panel offline ([REC], spec: E.4.3). Default
	// DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
	// RewriteDiscovery replaces the address in the upstream's discovery
	// replies with the advertised one, so the panel is not sent past this
	// server to the vendor (spec: G.5).
	RewriteDiscovery bool
	// Chain, with Upstream set, says which panels are relayed, by GUID;
	// the others are answered by the server alone, as in standalone mode.
	// A read is relayed only once its panel has named itself (its first
	// discovery or hello). Nil relays every panel.
	Chain func(guid string) bool
}

// Errors of New and Serve.
var (
	ErrConfig  = errors.New("cloud: invalid config")
	ErrServing = errors.New("cloud: Serve already called")
)

// Message is one panel message that carries events, as the Handler gets
// it: decoded once, by the connection that read it.
type Message struct {
	// GUID is the panel GUID from the connection's latest hello or
	// discovery (spec: D.11); empty until one arrived.
	GUID string
	// Remote is the panel's address.
	Remote netip.AddrPort
	// Received is when the bytes that completed the message arrived.
	Received time.Time
	// Kind is cloudproto.KindStatusChange or cloudproto.KindNotification.
	Kind cloudproto.Kind
	// Notify is the status change converted to an alert (spec: D.10.1), or
	// the wrapped notification decoded (spec: D.5.7): what a notify.Sink
	// such as a g90.Monitor takes, and maps to events itself. A message
	// the spec skips (spec: D.4) or that does not decode (spec: D.12)
	// never reaches the Handler.
	Notify notify.Message
}

// Events maps m.Notify to its events (spec: B.2), with Source set to
// event.SourceCloud and, for notifications, which carry no time, Time set
// to Received: for a Handler that takes events rather than messages. The
// error is notify.ErrUnknown for a message no rule maps (spec: F.5), which
// has no events.
func (m *Message) Events() ([]event.Event, error) {
	evs, err := m.Notify.Events(nil)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		evs[i].Source = event.SourceCloud
		if evs[i].Time.IsZero() {
			evs[i].Time = m.Received
		}
	}
	return evs, nil
}

// Handler receives panel messages. HandleCloud is called from the
// goroutine of the connection that read m: one message at a time and in
// wire order for each panel connection, and concurrently for different
// connections, so it must be safe for concurrent use. It must not keep m
// after it returns. A connection answers what it has read before it
// hands the read's messages over, and reads nothing more while
// HandleCloud runs: a Handler that waits (a full queue downstream)
// slows that panel down through TCP flow control, and only that panel.
// ctx is cancelled when Serve is stopping; Serve returns after the
// messages already read have been handled.
type Handler interface {
	HandleCloud(ctx context.Context, m *Message)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, m *Message)

// HandleCloud calls f(ctx, m).
func (f HandlerFunc) HandleCloud(ctx context.Context, m *Message) { f(ctx, m) }

// Stats are the server's counters since New.
type Stats struct {
	Open          int64 // connections open now
	Accepted      int64 // connections accepted, including those closed at once
	Rejected      int64 // connections closed by AllowNets or AllowGUIDs
	OverLimit     int64 // connections closed because MaxConns were open
	Replaced      int64 // connections closed because the same panel connected again
	Conflicts     int64 // hellos naming a panel connected from another address (see Config.Takeover)
	Takeovers     int64 // of which replaced the silent connection
	IdleClosed    int64 // connections closed by IdleTimeout
	HelloTimeouts int64 // connections closed by HelloTimeout
	Messages      int64 // messages framed and decoded
	Unknown       int64 // of which of a kind outside the catalogue, skipped
	Unidentified  int64 // of which ignored: with AllowGUIDs, before the panel named itself
	Delivered     int64 // messages handed to the Handler
	FramingErrors int64 // runs of bytes dropped by the framer (bad message_length)
	FramingBytes  int64 // bytes in those runs
	DecodeErrors  int64 // messages that did not decode (cloudproto.DecodeError)
	Invalid       int64 // messages whose content the spec drops: bad wrapped JSON, wrong GUID (an alert no rule maps reaches the Handler, see Message.Events)

	// Chained mode.
	UpstreamConnects int64 // upstream connections made
	UpstreamFailures int64 // upstream connects that failed or timed out
	UpstreamStalls   int64 // upstream connections dropped for leaving a request unanswered (UpstreamTimeout)
	UpstreamDropped  int64 // panel reads not relayed because Serve stopped while they waited for room
	LocalReplies     int64 // panel reads answered locally because the upstream was down
	// UpstreamReconnects counts the upstream connects attempted after a
	// panel connection's first: after a failure or a lost connection,
	// each after its backoff.
	UpstreamReconnects int64

	// Replay buffers (Config.ReplayBuffer).
	ReplayBuffered int64 // status changes and notifications kept for the upstream: it was unreachable, or its new connection died before it proved alive
	Replayed       int64 // of which relayed to the upstream once it was back
	ReplayDropped  int64 // of which dropped, oldest first, because a buffer was full
	ReplayLost     int64 // of which discarded: the server stopped, or the panel left without naming itself
	ReplayPending  int64 // kept now, waiting for the upstream

	// Commands sent to panels (Server.Command).
	Commands         int64 // M12 written
	CommandAnswers   int64 // M6 that answered one
	CommandTimeouts  int64 // commands whose caller gave up waiting
	CommandUnmatched int64 // M6 no command waited for: late, or not ours
}

type counters struct {
	open, accepted, rejected, overLimit, replaced, idleClosed          atomic.Int64
	conflicts, takeovers, helloTimeouts                                atomic.Int64
	messages, unknown, unidentified, delivered                         atomic.Int64
	framingErrors, framingBytes, decodeErrors, invalid                 atomic.Int64
	upstreamConnects, upstreamFailures, upstreamDropped, localReplies  atomic.Int64
	upstreamStalls, upstreamReconnects                                 atomic.Int64
	replayBuffered, replayed, replayDropped, replayLost, replayPending atomic.Int64
	commands, commandAnswers, commandTimeouts, commandUnmatched        atomic.Int64
}

// Server is a cloud server for many panels at once. Its methods are safe
// for concurrent use.
type Server struct {
	ln         net.Listener
	advertise  netip.AddrPort
	handler    Handler
	idle       time.Duration
	helloWait  time.Duration
	takeover   time.Duration
	onConflict func(Conflict)
	maxConns   int
	perAddr    int
	limited    *connlimit.Listener
	allowGUID  map[string]bool
	allowFn    func(string) bool
	allowNets  []netip.Prefix
	log        *slog.Logger
	now        func() time.Time
	localPort  int

	upstream         string
	chain            func(guid string) bool
	dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	connectTimeout   time.Duration
	backoffMin       time.Duration
	backoffMax       time.Duration
	backoffReset     time.Duration
	replayMax        int
	upQueue          int
	upTimeout        time.Duration
	rewriteDiscovery bool

	stats counters
	// cmdSeq numbers the commands sent to panels (Server.Command).
	cmdSeq atomic.Uint32
	// poll waits for the bytes of idle connections (polled.go); nil
	// when every connection has a goroutine of its own. ctx is Serve's,
	// running counts the connections not yet ended and their goroutines.
	poll    *poller
	ctx     context.Context
	running sync.WaitGroup

	mu      sync.Mutex
	serving bool
	conns   map[*conn]struct{}
	byGUID  map[string]*conn
	claimed chan struct{} // closed and replaced when a panel names itself (claim)
	// parked are the replay buffers of chained panels whose connection
	// ended with messages still kept, by GUID, for the panel's next
	// connection; at most maxConns.
	parked  map[string]*replayBuf
	seq     uint64 // of the last connection accepted
	closing bool
}

// New checks cfg, fills in its defaults and binds the listener, so Addr is
// valid at once. Call Serve to accept panels.
func New(cfg Config) (*Server, error) {
	s := &Server{
		advertise:  cfg.Advertise,
		handler:    cfg.Handler,
		idle:       cfg.IdleTimeout,
		helloWait:  cmp.Or(cfg.HelloTimeout, DefaultHelloTimeout),
		takeover:   cmp.Or(cfg.Takeover, DefaultTakeover),
		onConflict: cfg.OnConflict,
		maxConns:   cfg.MaxConns,
		perAddr:    cmp.Or(cfg.MaxPerAddr, DefaultMaxPerAddr),
		allowFn:    cfg.AllowGUID,
		allowNets:  slices.Clone(cfg.AllowNets),
		log:        cfg.Logger,
		now:        cfg.Now,
		conns:      map[*conn]struct{}{},
		byGUID:     map[string]*conn{},
		claimed:    make(chan struct{}),
		parked:     map[string]*replayBuf{},

		upstream: cfg.Upstream, chain: cfg.Chain,
		dial:             cfg.Dial,
		connectTimeout:   cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout),
		backoffMin:       cmp.Or(cfg.BackoffMin, DefaultBackoffMin),
		backoffMax:       cmp.Or(cfg.BackoffMax, DefaultBackoffMax),
		backoffReset:     cmp.Or(cfg.BackoffReset, DefaultBackoffReset),
		replayMax:        cmp.Or(cfg.ReplayBuffer, DefaultReplayBuffer),
		upQueue:          cmp.Or(cfg.UpstreamQueue, DefaultUpstreamQueue),
		upTimeout:        cmp.Or(cfg.UpstreamTimeout, DefaultUpstreamTimeout),
		rewriteDiscovery: cfg.RewriteDiscovery,
	}
	if s.dial == nil {
		s.dial = (&net.Dialer{}).DialContext
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idle == 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.maxConns == 0 {
		s.maxConns = DefaultMaxConns
	}
	switch {
	case s.idle < 0 || s.helloWait < 0 || s.takeover < 0 || s.maxConns < 0 || s.perAddr < -1 || s.connectTimeout < 0 || s.backoffMin < 0 || s.backoffReset < 0 || s.replayMax < -1 || s.upQueue < 0 || s.upTimeout < 0:
		return nil, fmt.Errorf("%w: negative duration or size", ErrConfig)
	case s.backoffMax < s.backoffMin:
		return nil, fmt.Errorf("%w: BackoffMax %v below BackoffMin %v", ErrConfig, s.backoffMax, s.backoffMin)
	case s.advertise.IsValid() && (!s.advertise.Addr().Unmap().Is4() || s.advertise.Port() == 0):
		// spec: D.5.10: 16 bytes of dotted text and a port.
		return nil, fmt.Errorf("%w: Advertise %v must be an IPv4 address and a port", ErrConfig, s.advertise)
	}
	for _, p := range s.allowNets {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid prefix in AllowNets", ErrConfig)
		}
	}
	if len(cfg.AllowGUIDs) > 0 {
		s.allowGUID = map[string]bool{}
		for _, g := range cfg.AllowGUIDs {
			s.allowGUID[g] = true
		}
	}
	s.ln = cfg.Listener
	if s.ln == nil {
		addr := cfg.Addr
		if addr == "" {
			addr = DefaultAddr
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("cloud: listen: %w", err)
		}
		s.ln = ln
	}
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		s.localPort = a.Port
	}
	// Over a limit, a connection is closed as it is accepted, so that
	// one host cannot hold every place (issue 13: 64 idle connections
	// locked the panels out).
	s.limited = connlimit.New(s.ln, connlimit.Config{
		Max: s.maxConns, PerAddr: max(s.perAddr, 0),
		Rejected: func(addr net.Addr, perAddr bool) {
			s.stats.accepted.Add(1)
			s.stats.overLimit.Add(1)
			ip := addrPort(addr).Addr()
			if perAddr {
				s.log.Warn("cloud: too many connections from one address; closed", "from", ip, "max_per_address", s.perAddr)
			} else {
				s.log.Warn("cloud: too many connections; closed", "from", ip, "max", s.maxConns)
			}
		},
	})
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Open: c.open.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		OverLimit: c.overLimit.Load(), Replaced: c.replaced.Load(), IdleClosed: c.idleClosed.Load(),
		Conflicts: c.conflicts.Load(), Takeovers: c.takeovers.Load(), HelloTimeouts: c.helloTimeouts.Load(),
		Messages: c.messages.Load(), Unknown: c.unknown.Load(), Unidentified: c.unidentified.Load(),
		Delivered: c.delivered.Load(), FramingErrors: c.framingErrors.Load(), FramingBytes: c.framingBytes.Load(),
		DecodeErrors: c.decodeErrors.Load(), Invalid: c.invalid.Load(),
		UpstreamConnects: c.upstreamConnects.Load(), UpstreamFailures: c.upstreamFailures.Load(),
		UpstreamStalls: c.upstreamStalls.Load(), UpstreamDropped: c.upstreamDropped.Load(), LocalReplies: c.localReplies.Load(),
		UpstreamReconnects: c.upstreamReconnects.Load(),
		ReplayBuffered:     c.replayBuffered.Load(), Replayed: c.replayed.Load(), ReplayDropped: c.replayDropped.Load(),
		ReplayLost: c.replayLost.Load(), ReplayPending: c.replayPending.Load(),
		Commands: c.commands.Load(), CommandAnswers: c.commandAnswers.Load(),
		CommandTimeouts: c.commandTimeouts.Load(), CommandUnmatched: c.commandUnmatched.Load(),
	}
}

// Panel describes one open panel connection.
type Panel struct {
	GUID       string // empty until a hello or discovery arrived
	Remote     netip.AddrPort
	Connected  time.Time
	LastPacket time.Time // last_device_packet_time (spec: E.4.5)
	// LastUpstream is last_upstream_packet_time: when the upstream last
	// sent something for this panel (chained mode, spec: E.4.5).
	LastUpstream time.Time
}

// Panels returns the open connections, oldest first.
func (s *Server) Panels() []Panel {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	// By accept order: Config.Now may give every connection one time.
	slices.SortFunc(cs, func(a, b *conn) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Panel, len(cs))
	for i, c := range cs {
		out[i] = c.info()
	}
	return out
}

// Serve accepts panel connections until ctx is cancelled or the listener
// fails, then closes the listener and every connection, waits for every
// goroutine it started (each connection hands the messages it has read
// to the Handler first) and returns: nil after ctx was cancelled, else the listener's error. Serve
// can be called once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	s.serving = true
	s.mu.Unlock()

	// Idle panels wait in one poller, with no goroutine each, where the
	// platform has one and nothing else needs a goroutine per panel (a
	// relay does): 10,000 idle panels held 10,000 stacks of 4 KiB, most
	// of their memory (issue 20.4).
	s.ctx = ctx
	if s.upstream == "" {
		if p, err := newPoller(); err == nil {
			s.poll = p
		} else {
			s.log.Debug("cloud: no poller; a goroutine per connection", "err", err)
		}
	}
	var poller sync.WaitGroup
	if s.poll != nil {
		poller.Go(func() {
			if err := s.poll.run(s.ready); err != nil {
				// Not seen; idle panels would then end at their deadline.
				s.log.Error("cloud: poller failed; idle panels are no longer read", "err", err)
			}
		})
		defer func() {
			// After every connection ended: none is in the poller.
			s.poll.stop()
			poller.Wait()
			s.poll.close()
		}()
	}
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	s.log.Info("cloud: serving", "addr", s.ln.Addr(), "advertise", s.advertise)

	var err error
	for backoff := time.Duration(0); ; {
		nc, aerr := s.limited.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("cloud: accept: %w", aerr)
				break
			}
			// E.g. out of file descriptors: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Error("cloud: accept failed; retrying", "err", aerr, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		s.stats.accepted.Add(1)
		c := s.admit(nc)
		if c == nil {
			continue
		}
		if c.polled {
			s.running.Add(1) // done when the connection ends (conn.end)
			s.startPolled(c)
		} else {
			s.running.Go(func() { s.serveConn(ctx, c) })
		}
	}
	s.ln.Close()
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.kill()
	}
	s.mu.Unlock()
	s.running.Wait()
	return err
}

// admit applies AllowNets and MaxConns to a new connection and registers
// it, or closes it and returns nil.
func (s *Server) admit(nc net.Conn) *conn {
	remote := addrPort(nc.RemoteAddr())
	if len(s.allowNets) > 0 && !slices.ContainsFunc(s.allowNets, func(p netip.Prefix) bool { return p.Contains(remote.Addr().Unmap()) }) {
		s.stats.rejected.Add(1)
		s.log.Warn("cloud: connection from a network not allowed", "remote", remote)
		nc.Close()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		nc.Close()
		return nil
	}
	s.seq++
	c := &conn{srv: s, nc: nc, remote: remote, connected: s.now(), seq: s.seq, cmd: newCmdState()}
	if s.upstream != "" {
		c.relay = newRelay(c)
	}
	if c.raw = rawConn(nc); c.raw != nil {
		c.rawRead = c.readRaw
	}
	c.polled = s.poll != nil && c.raw != nil && c.relay == nil
	s.conns[c] = struct{}{}
	s.stats.open.Add(1)
	s.log.Info("cloud: panel connected", "remote", remote)
	return c
}

// Conflict is two addresses claiming one panel: a hello or discovery
// naming a panel whose connection from another IP address is open.
// Nothing in the protocol tells the panel from an impostor (spec: D.1),
// so the rule is one of time: the live connection is kept, and the
// newcomer closed, unless the live one has been silent for
// Config.Takeover, which a panel that pings does not do (spec: D.5.1).
type Conflict struct {
	GUID string
	// Live is the address of the connection that was open; New is the
	// newcomer's.
	Live, New netip.AddrPort
	// Takeover is true when the newcomer replaced the live connection,
	// silent since LastLive; false when the newcomer was closed.
	Takeover bool
	LastLive time.Time
	Time     time.Time
}

// allowed reports whether the panel guid is served (Config.AllowGUIDs,
// Config.AllowGUID).
func (s *Server) allowed(guid string) bool {
	if s.allowGUID == nil && s.allowFn == nil {
		return true
	}
	return s.allowGUID[guid] || s.allowFn != nil && s.allowFn(guid)
}

// restricted reports whether only some GUIDs are served.
func (s *Server) restricted() bool { return s.allowGUID != nil || s.allowFn != nil }

// claim records that c speaks for panel guid. The panel's older
// connection from the same address is closed: the panel reconnected and
// replaces only its own ([REC], spec: E.5). One from another address is
// a conflict (see Conflict): claim returns false when c must close.
func (s *Server) claim(c *conn, guid string) bool {
	s.mu.Lock()
	if c.guid == guid {
		s.mu.Unlock()
		return true
	}
	now := time.Now() // deadlines and silences use the real clock
	old := s.byGUID[guid]
	var conflict *Conflict
	if old != nil && old != c && old.remote.Addr() != c.remote.Addr() {
		last := old.lastValid()
		conflict = &Conflict{GUID: guid, Live: old.remote, New: c.remote, LastLive: last, Time: s.now()}
		s.stats.conflicts.Add(1)
		if now.Sub(last) < s.takeover {
			s.mu.Unlock()
			s.log.Warn("cloud: a second address claims a connected panel; kept the live connection, closed the newcomer",
				"guid", guid, "live", old.remote.Addr(), "from", c.remote.Addr(), "live_silent", now.Sub(last).Round(time.Second))
			s.conflict(*conflict)
			return false
		}
		conflict.Takeover = true
		s.stats.takeovers.Add(1)
		s.log.Warn("cloud: another address claims a panel whose connection is silent; it takes over",
			"guid", guid, "live", old.remote.Addr(), "from", c.remote.Addr(), "live_silent", now.Sub(last).Round(time.Second))
	}
	if c.guid != "" && s.byGUID[c.guid] == c {
		delete(s.byGUID, c.guid)
	}
	c.setGUID(guid)
	if old != nil && old != c {
		s.stats.replaced.Add(1)
		if conflict == nil {
			s.log.Info("cloud: panel reconnected; closing its old connection", "guid", guid, "old", old.remote, "new", c.remote)
		}
		old.kill()
	}
	s.byGUID[guid] = c
	close(s.claimed) // Commands waiting for a panel look again
	s.claimed = make(chan struct{})
	s.mu.Unlock()
	if conflict != nil {
		s.conflict(*conflict)
	}
	return true
}

func (s *Server) conflict(c Conflict) {
	if s.onConflict != nil {
		s.onConflict(c)
	}
}

// Panel returns the open connection that speaks for the panel guid.
func (s *Server) Panel(guid string) (Panel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byGUID[guid]
	if c == nil {
		return Panel{}, false
	}
	return c.info(), true
}

// release forgets a closed connection.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if g := c.getGUID(); g != "" && s.byGUID[g] == c {
		delete(s.byGUID, g)
	}
	c.cmd.ended()
	s.stats.open.Add(-1)
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
