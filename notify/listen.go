package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/internal/floodlog"
	"github.com/g90alarm/g90/internal/sockopt"
)

// DefaultListen is where the panel sends its notifications: it broadcasts
// to UDP port 12901 (spec: A.1).
const DefaultListen = ":12901"

// Sink receives what an event source reads. Both methods are called from
// the source's one goroutine, in wire order, and must not block: a source
// that waits on its sink loses datagrams in the kernel.
type Sink interface {
	// Packet reports that a packet from the panel arrived at t, before it
	// is decoded: a malformed packet from the right host counts too
	// (spec: A.8).
	Packet(src Source, t time.Time)
	// Message hands over one decoded message received at t. The sink owns
	// m from then on.
	Message(m Message, src Source, t time.Time)
}

// ListenerConfig configures a Listener. The zero value of every field
// means its default.
type ListenerConfig struct {
	// Addr is the local UDP address to listen on; "" means DefaultListen.
	// The socket is opened with SO_REUSEADDR where the system has it, so
	// other listeners (targeted discovery, another program) can share
	// the port (spec: A.1).
	Addr string
	// PacketConn, if set, is used instead of opening Addr. The Listener
	// closes it when Run returns.
	PacketConn net.PacketConn
	// Host is the panel's address. Datagrams from any other address are
	// rejected and counted (spec: A.7.1). The zero Addr and the broadcast
	// address accept every sender.
	Host netip.Addr
	// Logger receives one line per rejected or malformed datagram, with
	// its bytes; nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ListenerStats counts what a Listener has read.
type ListenerStats struct {
	Datagrams uint64 // read from the socket
	WrongHost uint64 // rejected by the source address filter (spec: A.7.1)
	Malformed uint64 // from the panel but not decodable (spec: A.7.3)
	Messages  uint64 // decoded and handed to the sink
}

// Listener receives the panel's notification and alert datagrams (spec:
// A.1) and hands each decoded message to a Sink. One goroutine reads the
// socket, filters, decodes and hands over; it never waits on anything
// else.
type Listener struct {
	cfg  ListenerConfig
	conn net.PacketConn
	log  *slog.Logger

	datagrams, wrongHost, malformed, messages atomic.Uint64
}

// Listen opens the listener's socket; Run reads it.
func Listen(ctx context.Context, cfg ListenerConfig) (*Listener, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultListen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Listener{cfg: cfg, conn: cfg.PacketConn, log: cfg.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.conn == nil {
		conn, err := sockopt.ListenPacket(ctx, "udp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("notify: listen %s: %w", cfg.Addr, err)
		}
		l.conn = conn
	}
	// A bigger kernel buffer rides out a burst while the reader is
	// descheduled; the system may cap it, which is not an error.
	if u, ok := l.conn.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(readBuffer)
	}
	return l, nil
}

// readBuffer is the socket receive buffer Listen asks for.
const readBuffer = 4 << 20

// Addr returns the local address the listener reads.
func (l *Listener) Addr() net.Addr { return l.conn.LocalAddr() }

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{
		Datagrams: l.datagrams.Load(), WrongHost: l.wrongHost.Load(),
		Malformed: l.malformed.Load(), Messages: l.messages.Load(),
	}
}

// Close closes the socket of a listener that is not running; Run closes
// it itself.
func (l *Listener) Close() error { return l.conn.Close() }

// Run reads datagrams until ctx ends, then closes the socket and returns
// nil. A read error other than the socket being closed by ctx is
// returned.
func (l *Listener) Run(ctx context.Context, sink Sink) error {
	defer l.conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = l.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 65536)
	for {
		n, from, err := l.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return fmt.Errorf("notify: read %s: %w", l.Addr(), err)
		}
		l.receive(sink, from, buf[:n])
	}
}

// receive applies spec: A.2 and A.7.1 to one datagram.
func (l *Listener) receive(sink Sink, from net.Addr, b []byte) {
	l.datagrams.Add(1)
	now := l.cfg.Now()
	sender := addrOf(from)
	if err := CheckSender(l.cfg.Host, sender); err != nil {
		l.wrongHost.Add(1)
		l.log.Warn("dropped notification", "from", from, "err", err, "bytes", floodlog.Bytes(b))
		return
	}
	sink.Packet(SourceLocal, now)
	m, err := Decode(b)
	if err != nil {
		l.malformed.Add(1)
		l.log.Warn("dropped malformed notification", "from", from, "err", err, "bytes", floodlog.Bytes(b))
		return
	}
	l.messages.Add(1)
	sink.Message(m, SourceLocal, now)
}

// addrOf returns the IP of a datagram's sender.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// ErrNoHost is returned by ResolveHost for a host that has no address.
var ErrNoHost = errors.New("notify: host has no IP address")

// ResolveHost returns the address CheckSender compares with, for a panel
// configured by IP address or host name ([REC] spec: A.7.1: the reference
// compares the configured string and so rejects everything for a host
// name).
func ResolveHost(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("notify: resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNoHost, host)
	}
	return addrs[0].Unmap(), nil
}
