// Package client sends commands to one G90 panel over the local UDP
// protocol and does one exchange well: a fresh socket per attempt, replies
// matched on sender address and command code, stray and late datagrams
// discarded, retries that share one time budget, and context cancellation
// that interrupts a waiting read. Typed commands live in the
// root package g90; this package moves protocol.Request and
// protocol.Response values.
//
//	c, err := client.New(client.Config{Host: "192.168.1.50"})
//	resp, err := c.Exchange(ctx, protocol.NewRequest(protocol.GetHostInfo))
//	var info protocol.HostInfo
//	err = protocol.Decode(&info, resp.Data)
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/internal/floodlog"
	"github.com/g90alarm/g90/protocol"
)

// Defaults (spec: local-protocol.md 1.1, 1.7).
const (
	DefaultPort    = 12368
	DefaultTimeout = 30 * time.Second
	DefaultRetries = 3
)

// ListenPacketFunc opens the local UDP socket of one attempt.
type ListenPacketFunc func(ctx context.Context, network, address string) (net.PacketConn, error)

// Config configures a Client. The zero value of every field but Host
// means its default.
type Config struct {
	// Host is the panel's IP address or host name. Required.
	Host string
	// Port is the panel's command port; 0 means 12368.
	Port int
	// Timeout is the budget of one exchange: all its attempts together
	// wait at most this long for the panel's reply. The attempts share
	// it 1:2:4…, each waiting twice as long as the one before, so with
	// N attempts attempt k waits Timeout·2^(k-1)/(2^N-1): 30 s and 3
	// attempts wait 30/7 ≈ 4.3 s, 8.6 s and 17.1 s. 0 means 30 s.
	Timeout time.Duration
	// Retries is the number of attempts N; 0 means 3 and a negative value
	// means exactly one attempt.
	Retries int
	// ListenPacket opens each attempt's socket; nil means net.ListenConfig.
	ListenPacket ListenPacketFunc
	// Logger receives debug lines for discarded datagrams and warnings for
	// malformed ones; nil is silent.
	Logger *slog.Logger
	// Progress, if set, is told where each exchange stands: before every
	// attempt is sent, and once more when the exchange is over. It is
	// called on the goroutine that runs the exchange, so it must return
	// quickly; nil is silent.
	Progress func(Progress)
	// Carrier, if set, carries the requests instead of UDP: the panel's
	// cloud connection (cloud.Server.Carrier). The request and reply
	// bodies and the checks are the same; only how they travel differs.
	// A carrier does not lose what it sent, so a write goes once, with
	// the whole budget; reads are retried as over UDP.
	Carrier Carrier
	// Fallback uses the Carrier only while the panel does not answer
	// over UDP: requests go over UDP; after one timed out there, while
	// the Carrier can reach the panel (Reacher), they go over the
	// Carrier, and every ProbeInterval a read tries UDP again (one
	// attempt, a quarter of the budget). A read that timed out over UDP
	// is sent again over the Carrier at once; a write is not (the panel
	// may have got it), and fails with its timeout.
	Fallback bool
	// ProbeInterval is how often a Fallback client tries UDP again; 0
	// means 12 × Timeout.
	ProbeInterval time.Duration
}

// Reacher is a Carrier that knows whether it can reach the panel now.
type Reacher interface {
	Reachable() bool
}

// Carrier carries one request to the panel and its reply, another way
// than UDP.
type Carrier interface {
	// Exchange sends req once and returns the panel's reply. ctx ends
	// the wait; the request may have been carried out then.
	Exchange(ctx context.Context, req protocol.Request) (protocol.Response, error)
	// Name says which way it is, for errors and logs: "cloud".
	Name() string
}

// Progress is where one exchange stands, for someone waiting on it: a
// report before each attempt, and a last one with Done set.
type Progress struct {
	Panel    string        // the panel's address, host:port
	Command  protocol.Code // the request's command
	Attempt  int           // the attempt being made, 1-based
	Attempts int           // the attempts this exchange makes at most
	Started  time.Time     // when the exchange started
	Deadline time.Time     // when this attempt stops waiting
	End      time.Time     // when the exchange gives up: Started + Timeout
	Done     bool          // the exchange is over (answered, failed or cancelled)
}

// Stats counts what the client has done since it was created.
type Stats struct {
	Commands  uint64 // exchanges started
	Attempts  uint64 // datagrams sent
	Retries   uint64 // attempts after the first
	Timeouts  uint64 // exchanges that ended in ErrTimeout
	Strays    uint64 // datagrams from another address or port, discarded
	Malformed uint64 // replies that failed to decode
}

// Client talks to one panel. It is safe for concurrent use; commands are
// serialised so that at most one is in flight (spec: local-protocol.md
// 1.8).
type Client struct {
	cfg    Config
	addr   *net.UDPAddr
	panel  string // addr as text, for errors
	listen ListenPacketFunc
	log    *slog.Logger
	sem    chan struct{} // one request in flight
	buf    []byte        // reply buffer, owned by the holder of sem

	commands, attempts, retries, timeouts, strays, malformed atomic.Uint64

	// Fallback (Config.Fallback): over the Carrier since UDP timed
	// out, and when UDP is tried again (Unix nanoseconds).
	fallback atomic.Bool
	probeAt  atomic.Int64
}

// New checks cfg, fills defaults and resolves the panel's address.
func New(cfg Config) (*Client, error) {
	if cfg.Host == "" && (cfg.Carrier == nil || cfg.Fallback) {
		return nil, errors.New("client: Config.Host is required (but with a Carrier alone)")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("client: Config.Port %d is outside 1..65535", cfg.Port)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("client: Config.Timeout %v is negative", cfg.Timeout)
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	var addr *net.UDPAddr
	panel := ""
	if cfg.Host == "" {
		panel = "the " + cfg.Carrier.Name() + " link" // no UDP address: never used
	} else {
		a, err := net.ResolveUDPAddr("udp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
		if err != nil {
			return nil, fmt.Errorf("client: Config.Host %q: %w", cfg.Host, err)
		}
		addr, panel = a, a.String()
	}
	c := &Client{
		cfg:    cfg,
		addr:   addr,
		panel:  panel,
		listen: cfg.ListenPacket,
		log:    cfg.Logger,
		sem:    make(chan struct{}, 1),
		buf:    make([]byte, 65536),
	}
	if c.listen == nil {
		var lc net.ListenConfig
		c.listen = lc.ListenPacket
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Panel returns the panel's address as host:port.
func (c *Client) Panel() string { return c.panel }

// Transport names how requests travel now: "local" (UDP) or the
// Carrier's name ("cloud").
func (c *Client) Transport() string {
	if c.cfg.Carrier != nil && (!c.cfg.Fallback || c.fallback.Load()) {
		return c.cfg.Carrier.Name()
	}
	return "local"
}

// Config returns the effective configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Commands: c.commands.Load(), Attempts: c.attempts.Load(), Retries: c.retries.Load(),
		Timeouts: c.timeouts.Load(), Strays: c.strays.Load(), Malformed: c.malformed.Load(),
	}
}

// schedule returns the number of attempts and, for attempt k (1-based),
// how long after the exchange started it stops waiting. The attempts
// share the budget T as 1:2:4…, the growth of the reference schedule
// (spec: local-protocol.md 1.7: a panel is sometimes very slow, so later
// attempts wait longer), but scaled so that all of them together wait T,
// where the reference waits up to 1.75 T (52.5 s for 30 s).
func (c *Client) schedule() (n int, until func(k int) time.Duration) {
	t, retries := c.cfg.Timeout, c.cfg.Retries
	if retries <= 0 {
		return 1, func(int) time.Duration { return t }
	}
	return retries, func(k int) time.Duration {
		if k >= retries {
			return t
		}
		// T·(2^k-1)/(2^N-1), in floating point: 2^N overflows int64 for
		// large N, and the rounding is far below a clock tick.
		return time.Duration(float64(t) * (math.Exp2(float64(k)) - 1) / (math.Exp2(float64(retries)) - 1))
	}
}

// Exchange sends req and returns the panel's reply, retrying on timeouts
// and on replies to a different command. A reply whose code differs from
// the request's is never returned. An empty reply is a Response for which
// Empty reports true.
func (c *Client) Exchange(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	return c.do(ctx, req, nil)
}

// ExchangeOnce sends req in exactly one attempt that waits the whole
// budget (Config.Timeout), and never resends it. It is for commands that must not be
// repeated blindly because a repeat can fail, or do harm, after a first
// copy that was carried out but whose reply was lost (deleting, confirming
// a registration, writing a record someone may have changed since): the
// caller reads the panel back to learn what happened instead. A reply with
// another command's code is an error, not a reason to resend.
func (c *Client) ExchangeOnce(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	return c.route(ctx, req, nil, true)
}

// ReadPage reads records start..end (1-based, inclusive) of a paginated
// list and validates the page (spec: local-protocol.md 4.3); truncated or
// extra records are retried.
func (c *Client) ReadPage(ctx context.Context, code protocol.Code, start, end int) (protocol.Page, error) {
	var page protocol.Page
	_, err := c.do(ctx, protocol.PageRequest(code, start, end), func(r protocol.Response) error {
		var err error
		page, err = protocol.ParsePage(r.Data, start, end)
		return err
	})
	return page, err
}

// ReadAll iterates a paginated list from record first to last (0: to the
// end), calling fn with each record's 1-based list position. It follows
// the reference algorithm (spec: local-protocol.md 4.4): the total comes
// from the first page, iteration stops early if the list shrinks, and an
// empty body or a zero count ends it.
func (c *Client) ReadAll(ctx context.Context, code protocol.Code, first, last int, fn func(pos int, rec protocol.Value) error) error {
	if first < 1 {
		return fmt.Errorf("client: %v from record %d: records are numbered from 1", code, first)
	}
	start, end := first, last
	for end == 0 || start <= end {
		reqEnd := start + protocol.PageSize - 1
		if end != 0 && end < reqEnd {
			reqEnd = end
		}
		page, err := c.ReadPage(ctx, code, start, reqEnd)
		if err != nil {
			return err
		}
		if end == 0 || end > page.Total {
			end = page.Total
		}
		for i, rec := range page.Records {
			if err := fn(start+i, rec); err != nil {
				return err
			}
		}
		if page.Count == 0 || page.Start+page.Count-1 >= end {
			return nil
		}
		start += protocol.PageSize
	}
	return nil
}

// Sender is a Carrier that also carries a request without a reply
// (Client.Send), once.
type Sender interface {
	Send(ctx context.Context, req protocol.Request) error
}

// ErrNoReplyOverCarrier: Send over a Carrier that is no Sender.
var ErrNoReplyOverCarrier = errors.New("a request without a reply goes over UDP only")

// Send sends a request that gets no reply, such as a system command
// (spec: local-protocol.md 5.1): over UDP, or once over the Carrier
// when it is a Sender, within Config.Timeout.
func (c *Client) Send(ctx context.Context, req protocol.Request) error {
	if c.cfg.Carrier != nil && (!c.cfg.Fallback || c.fallback.Load()) {
		s, ok := c.cfg.Carrier.(Sender)
		if !ok {
			return c.wrap(req, ErrNoReplyOverCarrier)
		}
		ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		c.attempts.Add(1)
		return c.wrap(req, s.Send(ctx, req))
	}
	if err := c.acquire(ctx); err != nil {
		return c.wrap(req, err)
	}
	defer c.release()
	conn, err := c.listen(ctx, c.network(), ":0")
	if err != nil {
		return c.wrap(req, err)
	}
	defer conn.Close()
	c.attempts.Add(1)
	_, err = conn.WriteTo(req.Append(c.buf[:0]), c.addr)
	return c.wrap(req, err)
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.sem }

func (c *Client) network() string {
	if c.addr.IP.To4() != nil {
		return "udp4"
	}
	return "udp6"
}

// errAttemptTimeout ends one attempt without a reply.
var errAttemptTimeout = errors.New("attempt timed out")

// retryable reports whether an error may go away by sending again (spec:
// local-protocol.md 1.6).
func retryable(err error) bool {
	return errors.Is(err, ErrWrongCode) || errors.Is(err, protocol.ErrPageCount)
}

func (c *Client) do(ctx context.Context, req protocol.Request, check func(protocol.Response) error) (protocol.Response, error) {
	return c.route(ctx, req, check, false)
}

// route sends req over UDP or the Carrier (Config.Carrier, Fallback);
// once is ExchangeOnce's: one attempt with the whole budget.
func (c *Client) route(ctx context.Context, req protocol.Request, check func(protocol.Response) error, once bool) (protocol.Response, error) {
	whole := func(int) time.Duration { return c.cfg.Timeout }
	udp := func() (protocol.Response, error) {
		if once {
			return c.doN(ctx, req, check, 1, whole, nil)
		}
		n, until := c.schedule()
		return c.doN(ctx, req, check, n, until, nil)
	}
	carried := func() (protocol.Response, error) {
		n, until := c.schedule()
		if once || !isRead(req) {
			// Over a carrier that loses nothing, a write that may have
			// arrived is never sent again.
			n, until = 1, whole
		}
		return c.doN(ctx, req, check, n, until, c.cfg.Carrier)
	}
	switch {
	case c.cfg.Carrier == nil:
		return udp()
	case !c.cfg.Fallback:
		return carried()
	}
	var resp protocol.Response
	var err error
	if c.fallback.Load() {
		if !isRead(req) || time.Now().UnixNano() < c.probeAt.Load() {
			return carried()
		}
		// The probe: one UDP attempt, a quarter of the budget.
		c.probeAt.Store(time.Now().Add(c.probeInterval()).UnixNano())
		resp, err = c.doN(ctx, req, check, 1, func(int) time.Duration { return c.cfg.Timeout / 4 }, nil)
	} else {
		resp, err = udp()
	}
	var te *TimeoutError
	if errors.As(err, &te) && c.reachable() {
		if !c.fallback.Swap(true) {
			c.probeAt.Store(time.Now().Add(c.probeInterval()).UnixNano())
			c.log.Warn("the panel does not answer over UDP; commands go over the "+c.cfg.Carrier.Name()+" link", "panel", c.panel, "command", req.Code)
		}
		if isRead(req) {
			return carried()
		}
		return resp, err
	}
	if err == nil && c.fallback.Swap(false) {
		c.log.Info("the panel answers over UDP again; commands go there", "panel", c.panel)
	}
	return resp, err
}

func (c *Client) probeInterval() time.Duration {
	if c.cfg.ProbeInterval > 0 {
		return c.cfg.ProbeInterval
	}
	return 12 * c.cfg.Timeout
}

// reachable reports whether the Carrier can reach the panel: a Carrier
// that cannot tell is taken at its word.
func (c *Client) reachable() bool {
	r, ok := c.cfg.Carrier.(Reacher)
	return !ok || r.Reachable()
}

// isRead reports whether req only reads: a GET command (spec:
// local-protocol.md 3), which may be sent again without harm.
func isRead(req protocol.Request) bool {
	return req.System == "" && strings.HasPrefix(req.Code.String(), "GET")
}

// doN makes up to n attempts; attempt k waits until until(k) after the
// start, so the last one ends the budget wherever the others ended.
func (c *Client) doN(ctx context.Context, req protocol.Request, check func(protocol.Response) error, n int, until func(k int) time.Duration, via Carrier) (protocol.Response, error) {
	c.commands.Add(1)
	if err := c.acquire(ctx); err != nil {
		return protocol.Response{}, c.wrap(req, err)
	}
	defer c.release()
	// The budget starts once the request may go out: time spent queued
	// behind another command is not the panel's.
	started := time.Now()
	end := started.Add(until(n))
	progress := Progress{Panel: c.panel, Command: req.Code, Attempts: n, Started: started, End: end}
	if c.cfg.Progress != nil {
		defer func() { progress.Done = true; c.cfg.Progress(progress) }()
	}
	payload := req.Append(make([]byte, 0, 128))
	var last error
	for k := 1; k <= n; k++ {
		if k > 1 {
			c.retries.Add(1)
		}
		deadline := started.Add(until(k))
		if c.cfg.Progress != nil {
			progress.Attempt, progress.Deadline = k, deadline
			c.cfg.Progress(progress)
		}
		var resp protocol.Response
		var err error
		if via != nil {
			resp, err = c.carry(ctx, via, req, deadline)
		} else {
			resp, err = c.attempt(ctx, payload, deadline)
		}
		if err == nil && !resp.Empty() && resp.Code != req.Code {
			err = fmt.Errorf("%w: got %v", ErrWrongCode, resp.Code)
		}
		if err == nil && check != nil {
			err = check(resp)
		}
		var pe *protocol.PanelError
		if errors.As(err, &pe) {
			pe.Code = req.Code
		}
		switch {
		case err == nil:
			return resp, nil
		case errors.Is(err, errAttemptTimeout):
			last = err // resend at once on a new socket
			c.log.Debug("no reply", "panel", c.panel, "command", req.Code, "attempt", k, "of", n, "waited", time.Since(started).Round(time.Millisecond))
		case retryable(err) && k < n:
			// The reference sleeps for the attempt's wait before resending
			// (spec: local-protocol.md 1.7), so that a stale reply still
			// on its way is not taken for the next one; here the rest of
			// the attempt's share, which keeps the exchange in its budget.
			last = err
			c.log.Debug("retrying", "panel", c.panel, "command", req.Code, "attempt", k, "of", n, "err", err)
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-ctx.Done():
				t.Stop()
				return protocol.Response{}, c.wrap(req, ctx.Err())
			case <-t.C:
			}
		default:
			return protocol.Response{}, c.wrap(req, err)
		}
	}
	if errors.Is(last, errAttemptTimeout) {
		c.timeouts.Add(1)
		return protocol.Response{}, &TimeoutError{Panel: c.panel, Command: req.Code, Attempts: n, After: time.Since(started)}
	}
	return protocol.Response{}, c.wrap(req, last)
}

// attempt sends payload on a fresh socket and waits until deadline for
// the first datagram from the panel (spec: local-protocol.md 1.2, 1.5 steps
// 1–2). Datagrams from any other address or port are discarded and the
// wait goes on.
func (c *Client) attempt(ctx context.Context, payload []byte, deadline time.Time) (protocol.Response, error) {
	conn, err := c.listen(ctx, c.network(), ":0")
	if err != nil {
		return protocol.Response{}, err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(deadline); err != nil {
		return protocol.Response{}, err
	}
	// Registered after the deadline so a cancellation cannot be undone by it.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	c.attempts.Add(1)
	if _, err := conn.WriteTo(payload, c.addr); err != nil {
		return protocol.Response{}, err
	}
	for {
		n, from, err := conn.ReadFrom(c.buf)
		if err != nil {
			if ctx.Err() != nil {
				return protocol.Response{}, ctx.Err()
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return protocol.Response{}, errAttemptTimeout
			}
			return protocol.Response{}, err
		}
		if !c.fromPanel(from) {
			c.strays.Add(1)
			c.log.Debug("discarded datagram from another sender", "panel", c.panel, "from", from, "bytes", floodlog.Bytes(c.buf[:n]))
			continue
		}
		resp, err := protocol.ParseResponse(c.buf[:n])
		if err != nil && !errors.As(err, new(*protocol.PanelError)) {
			c.malformed.Add(1)
			c.log.Warn("malformed reply", "panel", c.panel, "err", err, "bytes", floodlog.Bytes(c.buf[:n]))
		}
		return resp, err
	}
}

// carry is attempt over the Carrier: one send, a wait until deadline.
func (c *Client) carry(ctx context.Context, via Carrier, req protocol.Request, deadline time.Time) (protocol.Response, error) {
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c.attempts.Add(1)
	resp, err := via.Exchange(actx, req)
	switch {
	case err == nil, errors.As(err, new(*protocol.PanelError)):
		return resp, err
	case ctx.Err() != nil:
		return protocol.Response{}, ctx.Err()
	case actx.Err() != nil:
		return protocol.Response{}, errAttemptTimeout
	}
	return protocol.Response{}, fmt.Errorf("over the %s link: %w", via.Name(), err)
}

func (c *Client) fromPanel(from net.Addr) bool {
	u, ok := from.(*net.UDPAddr)
	return ok && u.Port == c.addr.Port && u.IP.Equal(c.addr.IP)
}

func (c *Client) wrap(req protocol.Request, err error) error {
	if err == nil {
		return nil
	}
	// System requests carry code 0, which prints as SYSTEM(0).
	return &CommandError{Panel: c.panel, Command: req.Code, Err: err}
}
