// Package connlimit bounds the connections a listener keeps open, in all
// and per source address, so that one host cannot take every file
// descriptor of the daemon (19,985 slow connections once made arming fail
// with "too many open files").
//
//	ln = connlimit.New(ln, connlimit.Config{Max: 256, PerAddr: 32})
//	srv.Serve(ln) // a connection over a limit is closed as it is accepted
//
// A connection over a limit is accepted and closed at once, not left in
// the kernel's queue, so that the others are served on.
package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Config sets the limits; 0 means no limit.
type Config struct {
	// Max is how many connections may be open at once.
	Max int
	// PerAddr is how many of them may come from one IP address.
	PerAddr int
	// Rejected, if set, is called with the address of each connection
	// closed for a limit (for a log line; keep it cheap).
	Rejected func(addr net.Addr, perAddr bool)
}

// Listener is a net.Listener with limits.
type Listener struct {
	net.Listener
	cfg Config

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int

	rejected atomic.Uint64
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the limits, closing those
// over them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(c.RemoteAddr())
		l.mu.Lock()
		overAll := l.cfg.Max > 0 && l.open >= l.cfg.Max
		overAddr := l.cfg.PerAddr > 0 && l.byAddr[addr] >= l.cfg.PerAddr
		if !overAll && !overAddr {
			l.open++
			l.byAddr[addr]++
			l.mu.Unlock()
			return &conn{Conn: c, l: l, addr: addr}, nil
		}
		l.mu.Unlock()
		l.rejected.Add(1)
		if l.cfg.Rejected != nil {
			l.cfg.Rejected(c.RemoteAddr(), overAddr)
		}
		c.Close()
	}
}

// Open is how many connections are open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Rejected is how many connections were closed for a limit.
func (l *Listener) Rejected() uint64 { return l.rejected.Load() }

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{} // not IP (a pipe in a test): one bucket
}

// conn gives its place back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

// SyscallConn returns the raw connection, when the accepted one has
// one, so that a server can wait for bytes without a read buffer
// (cloud, issue 20.4).
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoRaw
}

var errNoRaw = errors.New("connlimit: not a socket")

// Close gives the place back first, so that a peer who has seen the
// connection end finds the place free.
func (c *conn) Close() error {
	c.once.Do(func() { c.l.release(c.addr) })
	return c.Conn.Close()
}
