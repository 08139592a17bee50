package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloudproto"
)

// VendorCloudConfig configures a VendorCloud. The zero value listens on
// an ephemeral loopback port and answers as the vendor does.
type VendorCloudConfig struct {
	// Listen is the TCP address to listen on; default "127.0.0.1:0".
	Listen string
	// Listener, if set, is used instead of listening on Listen. Restart
	// listens again on its address.
	Listener net.Listener
	// Advertise is the address discovery replies name: where the vendor
	// tells a panel to connect (spec: notifications-and-cloud.md D.8).
	// Zero means the address the connection arrived on.
	Advertise netip.AddrPort
	// Answer, if set, is asked first for the answer to every message that
	// decodes: it returns the bytes to send and true, or false for the
	// default answer. conn numbers the connections from 1 in accept
	// order, across restarts. Tests use it to tell the vendor's answers
	// apart from anyone else's.
	Answer func(conn int, m *cloudproto.Message) ([]byte, bool)
	// OnMessage, if set, is called with every message received, in order
	// for each connection, before it is answered. It must not keep raw.
	OnMessage func(conn int, raw []byte)
	// Logger receives the fake's log; nil means silent.
	Logger *slog.Logger
	// Now is the clock sent in discovery replies; nil means time.Now.
	Now func() time.Time
}

// VendorCloudStats are a VendorCloud's counters since it was made.
type VendorCloudStats struct {
	Accepted int64 // connections accepted
	Open     int64 // connections open now
	Messages int64 // messages received
	Answered int64 // messages answered
}

// VendorCloud is a fake of the vendor's cloud server, the upstream of a
// cloud server in chained mode (spec: notifications-and-cloud.md E.4). It
// answers as a standalone server does, which is what the reference
// copied from the vendor (spec: D.5.10): a ping with the ping, a hello
// with M8 M9 M10, a discovery with M11 naming Advertise. For fault tests
// it can be stopped (connections refused), restarted on the same address,
// slowed, stalled (it reads and never answers) and made to drop its
// connections, with a close or a reset. Its methods are safe for
// concurrent use.
type VendorCloud struct {
	cfg  VendorCloudConfig
	log  *slog.Logger
	now  func() time.Time
	addr string // where Restart listens again

	lifeMu   sync.Mutex    // serialises Stop and Restart, so wg is never added to while waited on
	relisten chan struct{} // cap 1: Restart has a new listener for Serve
	mu       sync.Mutex    // guards everything below
	ln       net.Listener
	conns    map[*vendorConn]struct{}
	n        int // connections accepted so far
	delay    time.Duration
	stall    bool
	serving  bool
	closed   bool

	wg sync.WaitGroup // connections

	accepted, open, messages, answered atomic.Int64
}

type vendorConn struct {
	nc   net.Conn
	wmu  sync.Mutex // serialises writes: answers and Send
	n    int
	quit chan struct{} // closed when the fake closes the connection
	once sync.Once
}

func (c *vendorConn) close(reset bool) {
	c.once.Do(func() {
		if tc, ok := c.nc.(*net.TCPConn); ok && reset {
			tc.SetLinger(0) // close with RST
		}
		c.nc.Close()
		close(c.quit)
	})
}

// ErrNotServing is returned by VendorCloud.Restart outside Serve.
var ErrNotServing = errors.New("sim: vendor cloud not serving")

// NewVendorCloud listens as cfg says; Serve answers.
func NewVendorCloud(cfg VendorCloudConfig) (*VendorCloud, error) {
	v := &VendorCloud{cfg: cfg, log: cfg.Logger, now: cfg.Now, conns: map[*vendorConn]struct{}{}, relisten: make(chan struct{}, 1)}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.ln = cfg.Listener
	if v.ln == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("sim: vendor cloud: listen: %w", err)
		}
		v.ln = ln
	}
	v.addr = v.ln.Addr().String()
	return v, nil
}

// Addr is the address the fake listens on, also while stopped.
func (v *VendorCloud) Addr() string { return v.addr }

// Stats returns the counters.
func (v *VendorCloud) Stats() VendorCloudStats {
	return VendorCloudStats{Accepted: v.accepted.Load(), Open: v.open.Load(), Messages: v.messages.Load(), Answered: v.answered.Load()}
}

// Serve accepts connections until ctx ends, then closes the listener and
// every connection, waits for every goroutine it started and returns nil.
// It can be called once.
func (v *VendorCloud) Serve(ctx context.Context) error {
	v.mu.Lock()
	switch {
	case v.closed:
		v.mu.Unlock()
		return ErrClosed
	case v.serving:
		v.mu.Unlock()
		return ErrServing
	}
	v.serving = true
	v.mu.Unlock()
	v.log.Info("sim: vendor cloud serving", "addr", v.addr)
	stop := context.AfterFunc(ctx, func() {
		v.mu.Lock()
		v.closed = true
		if v.ln != nil {
			v.ln.Close()
		}
		v.mu.Unlock()
		poke(v.relisten)
	})
	defer stop()
	for {
		v.mu.Lock()
		ln, closed := v.ln, v.closed
		v.mu.Unlock()
		if closed {
			break
		}
		if ln != nil {
			v.accept(ln) // until Stop or ctx closes ln
			continue
		}
		select { // stopped: wait for Restart
		case <-v.relisten:
		case <-ctx.Done():
		}
	}
	v.Stop()
	return nil
}

// Stop closes the listener, so that connects are refused, and every
// connection, and waits until their goroutines have ended. Serve goes
// on: Restart listens again.
func (v *VendorCloud) Stop() {
	v.lifeMu.Lock()
	defer v.lifeMu.Unlock()
	v.mu.Lock()
	if v.ln != nil {
		v.ln.Close()
		v.ln = nil
	}
	for c := range v.conns {
		c.close(false)
	}
	v.mu.Unlock()
	v.wg.Wait()
}

// Restart listens again on the address of the first listener, after
// Stop. It does nothing when the fake listens already.
func (v *VendorCloud) Restart() error {
	v.lifeMu.Lock()
	defer v.lifeMu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case !v.serving || v.closed:
		return ErrNotServing
	case v.ln != nil:
		return nil
	}
	ln, err := net.Listen("tcp", v.addr)
	if err != nil {
		return fmt.Errorf("sim: vendor cloud: listen again: %w", err)
	}
	v.ln = ln
	poke(v.relisten)
	return nil
}

// SetDelay makes the fake wait d before every answer: a slow cloud.
func (v *VendorCloud) SetDelay(d time.Duration) {
	v.mu.Lock()
	v.delay = d
	v.mu.Unlock()
}

// SetStall makes the fake go on reading and stop answering, or answer
// again.
func (v *VendorCloud) SetStall(stall bool) {
	v.mu.Lock()
	v.stall = stall
	v.mu.Unlock()
}

// Drop closes every open connection now, with a reset (RST) instead of a
// close (FIN) when reset is set; new connections are served.
func (v *VendorCloud) Drop(reset bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for c := range v.conns {
		c.close(reset)
	}
}

// accept serves connections from ln until it is closed.
func (v *VendorCloud) accept(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		v.mu.Lock()
		if v.ln != ln { // stopped while accepting
			v.mu.Unlock()
			nc.Close()
			return
		}
		v.n++
		c := &vendorConn{nc: nc, n: v.n, quit: make(chan struct{})}
		v.conns[c] = struct{}{}
		v.accepted.Add(1)
		v.open.Add(1)
		v.wg.Go(func() { v.serveConn(c) })
		v.mu.Unlock()
	}
}

func (v *VendorCloud) serveConn(c *vendorConn) {
	log := v.log.With("conn", c.n, "remote", c.nc.RemoteAddr())
	log.Info("sim: vendor cloud: connected")
	defer func() {
		c.close(false)
		v.mu.Lock()
		delete(v.conns, c)
		v.mu.Unlock()
		v.open.Add(-1)
		log.Info("sim: vendor cloud: disconnected")
	}()
	var f cloudproto.Framer
	buf := make([]byte, 4096)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			f.Feed(buf[:n])
			if !v.drain(c, &f, log) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// drain answers every complete message in f; false when the connection
// is gone.
func (v *VendorCloud) drain(c *vendorConn, f *cloudproto.Framer, log *slog.Logger) bool {
	for {
		raw, err := f.Next()
		if err != nil {
			log.Warn("sim: vendor cloud: framing error", "err", err)
			continue
		}
		if raw == nil {
			return true
		}
		v.messages.Add(1)
		if v.cfg.OnMessage != nil {
			v.cfg.OnMessage(c.n, raw)
		}
		m, err := cloudproto.Decode(raw)
		if err != nil {
			log.Warn("sim: vendor cloud: bad message", "err", err, "bytes", hex.EncodeToString(raw))
			continue
		}
		log.Debug("sim: vendor cloud: message", "kind", m.Kind, "guid", m.GUID())
		v.mu.Lock()
		delay, stall := v.delay, v.stall
		v.mu.Unlock()
		if stall {
			continue
		}
		out := v.answer(c, &m)
		if len(out) == 0 {
			continue
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.quit:
				t.Stop()
				return false
			}
		}
		if _, err := c.write(out); err != nil {
			return false
		}
		v.answered.Add(1)
	}
}

func (c *vendorConn) write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.nc.Write(b)
}

// Send writes b, whole messages, to every open connection, as the
// vendor's cloud sends a panel a command (M12, spec:
// notifications-and-cloud.md D.5.8); what the panel answers arrives at
// OnMessage. It returns the connections written to.
func (v *VendorCloud) Send(b []byte) int {
	v.mu.Lock()
	conns := make([]*vendorConn, 0, len(v.conns))
	for c := range v.conns {
		conns = append(conns, c)
	}
	v.mu.Unlock()
	n := 0
	for _, c := range conns {
		if _, err := c.write(b); err == nil {
			n++
		}
	}
	return n
}

// answer is the reply to m: the test hook's, else the vendor's (spec:
// D.7, standalone column, which copies the vendor).
func (v *VendorCloud) answer(c *vendorConn, m *cloudproto.Message) []byte {
	if v.cfg.Answer != nil {
		if b, ok := v.cfg.Answer(c.n, m); ok {
			return b
		}
	}
	adv := v.cfg.Advertise
	local, _ := netip.ParseAddrPort(c.nc.LocalAddr().String())
	if !adv.IsValid() {
		adv = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	}
	return cloudproto.AppendReplies(nil, m, cloudproto.ReplyParams{LocalPort: int(local.Port()), Advertise: adv, Now: v.now()})
}
