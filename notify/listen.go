package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/event"
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
	Packet(src event.Source, t time.Time)
	// Message hands over one decoded message received at t. The sink owns
	// m from then on.
	Message(m Message, src event.Source, t time.Time)
}

// ListenerConfig configures a Listener. The zero value of every field
// means its default.
type ListenerConfig struct {
	// Addr is the local UDP address to listen on; "" means DefaultListen.
	// Listen refuses a port that another socket already has, then lets
	// targeted discovery (client.Probe) share it: a second notification
	// listener on the port would take the unicast datagrams meant for
	// the first (spec: A.1.1).
	Addr string
	// PacketConn, if set, is used instead of opening Addr. The Listener
	// closes it when Run returns. It is not checked for other listeners,
	// and the arrival interface is not checked on it.
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
	Datagrams      uint64 // read from the socket
	WrongHost      uint64 // rejected by the source address filter (spec: A.7.1)
	WrongInterface uint64 // from the panel's address, but on an interface that does not lead to it (spec: A.7.4)
	Malformed      uint64 // from the panel but not decodable (spec: A.7.3)
	Messages       uint64 // decoded and handed to the sink

	// Interface is the name of the interface that leads to the panel, as
	// last looked up; "" while the interface is not checked (no Host, an
	// injected PacketConn, a system without IP_PKTINFO) or not known.
	Interface string
	// LastWrongHost and LastWrongInterface are the latest datagrams each
	// filter rejected; zero Time if none. A LastWrongInterface means the
	// panel's address was seen in two places: a forged sender, or a
	// network misconfigured so that the panel's datagrams arrive on
	// another interface than the route to it leaves by.
	LastWrongHost, LastWrongInterface Rejection
}

// Rejection describes a datagram that a listener's filter rejected.
type Rejection struct {
	Time      time.Time      // when it arrived
	From      netip.AddrPort // its source address
	Interface string         // the interface it arrived on, "" if not known
}

// Listener receives the panel's notification and alert datagrams (spec:
// A.1) and hands each decoded message to a Sink. One goroutine reads the
// socket, filters, decodes and hands over; it never waits on anything
// else.
//
// On Linux, a Listener that opened its own socket also checks the
// interface a datagram from the panel's address arrived on (IP_PKTINFO):
// it must be the interface of the kernel's route to the panel, looked up
// at start and again, at most every ifaceRefresh, when a datagram arrives
// on another one (DHCP, Wi-Fi roaming). Elsewhere, on an injected
// PacketConn and while the route is unknown, only the address is checked
// (spec: A.7.4).
type Listener struct {
	cfg  ListenerConfig
	conn net.PacketConn
	udp  *net.UDPConn // with IP_PKTINFO on: the interface is checked
	log  *slog.Logger

	// Owned by Run's goroutine.
	want      int       // ifindex of the route to the panel; 0: unknown
	looked    time.Time // last route lookup
	seenIndex int       // ifindex of the last rejection, and its name
	seenName  string
	dec       Decoder

	mu         sync.Mutex // guards the fields below
	wantName   string
	lastHost   Rejection
	lastIfaceR Rejection

	datagrams, wrongHost, wrongIface, malformed, messages atomic.Uint64
}

// ifaceRefresh is how often, at most, a datagram on an unexpected
// interface makes the listener look up the route to the panel again.
const ifaceRefresh = 2 * time.Second

// Listen opens the listener's socket; Run reads it. A port that another
// socket has is an error that names, on Linux, the process holding it.
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
		// spec: A.1.1: first bind alone, then share with discovery.
		conn, err := sockopt.ListenPacketFirst(ctx, "udp", cfg.Addr)
		if err != nil {
			var inUse *sockopt.InUseError
			if errors.As(err, &inUse) {
				return nil, fmt.Errorf("notify: listen %s: %w; only one notification listener may have the port, a second would take the unicast datagrams meant for the first (see README, \"Sharing the notification port\")", cfg.Addr, err)
			}
			return nil, fmt.Errorf("notify: listen %s: %w", cfg.Addr, err)
		}
		l.conn = conn
		if u, ok := conn.(*net.UDPConn); ok && checksSender(cfg.Host) {
			if err := enablePktinfo(u); err == nil {
				l.udp = u
				l.lookup(cfg.Now())
			} else if pktinfoSupported {
				l.log.Warn("notify: the arrival interface is not checked", "err", err)
			}
		}
	}
	// A bigger kernel buffer rides out a burst while the reader is
	// descheduled; the system may cap it, which is not an error.
	if u, ok := l.conn.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(readBuffer)
	}
	return l, nil
}

// checksSender says whether CheckSender filters anything for host.
func checksSender(host netip.Addr) bool {
	return CheckSender(host, netip.IPv6Unspecified()) != nil
}

// readBuffer is the socket receive buffer Listen asks for.
const readBuffer = 4 << 20

// Addr returns the local address the listener reads.
func (l *Listener) Addr() net.Addr { return l.conn.LocalAddr() }

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ListenerStats{
		Datagrams: l.datagrams.Load(), WrongHost: l.wrongHost.Load(),
		WrongInterface: l.wrongIface.Load(),
		Malformed:      l.malformed.Load(), Messages: l.messages.Load(),
		Interface: l.wantName, LastWrongHost: l.lastHost, LastWrongInterface: l.lastIfaceR,
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
	oob := make([]byte, oobSize) // reused: no allocation per datagram
	for {
		var (
			n, ifindex int
			from       netip.AddrPort
			err        error
		)
		if l.udp != nil {
			var oobn int
			n, oobn, _, from, err = l.udp.ReadMsgUDPAddrPort(buf, oob)
			if err == nil {
				ifindex = pktinfoIfindex(oob[:oobn])
				from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			}
		} else {
			var a net.Addr
			n, a, err = l.conn.ReadFrom(buf)
			from = addrPortOf(a)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return fmt.Errorf("notify: read %s: %w", l.Addr(), err)
		}
		l.receive(sink, from, ifindex, buf[:n])
	}
}

// receive applies spec: A.2, A.7.1 and A.7.4 to one datagram that arrived
// on interface ifindex (0: not known).
func (l *Listener) receive(sink Sink, from netip.AddrPort, ifindex int, b []byte) {
	l.datagrams.Add(1)
	now := l.cfg.Now()
	if err := CheckSender(l.cfg.Host, from.Addr()); err != nil {
		l.wrongHost.Add(1)
		r := l.rejection(now, from, ifindex)
		l.mu.Lock()
		l.lastHost = r
		l.mu.Unlock()
		l.log.Warn("dropped notification", "from", from, "err", err, "bytes", floodlog.Bytes(b))
		return
	}
	if l.udp != nil && ifindex != 0 && !l.onPanelInterface(ifindex, now) {
		l.wrongIface.Add(1)
		r := l.rejection(now, from, ifindex)
		l.mu.Lock()
		l.lastIfaceR = r
		want := l.wantName
		l.mu.Unlock()
		l.log.Warn("dropped notification from the panel's address on another interface than the one that leads to the panel: forged?",
			"from", from, "interface", r.Interface, "expected", want, "bytes", floodlog.Bytes(b))
		return
	}
	sink.Packet(event.SourceLocal, now)
	m, err := l.dec.Decode(b)
	if err != nil {
		l.malformed.Add(1)
		l.log.Warn("dropped malformed notification", "from", from, "err", err, "bytes", floodlog.Bytes(b))
		return
	}
	l.messages.Add(1)
	sink.Message(m, event.SourceLocal, now)
}

// onPanelInterface says whether ifindex leads to the panel, looking the
// route up again if it may have changed. While the route is not known,
// every interface is accepted: the address filter still applies.
func (l *Listener) onPanelInterface(ifindex int, now time.Time) bool {
	if ifindex == l.want {
		return true
	}
	if l.looked.IsZero() || now.Sub(l.looked) >= ifaceRefresh || now.Before(l.looked) {
		l.lookup(now)
	}
	return l.want == 0 || ifindex == l.want
}

// lookup finds the interface of the route to the panel.
func (l *Listener) lookup(now time.Time) {
	l.looked = now
	idx, err := routeInterface(l.cfg.Host)
	if err != nil {
		l.log.Warn("cannot look up the interface that leads to the panel; accepting its address on every interface until it is known", "host", l.cfg.Host, "err", err)
		idx = 0
	}
	if idx == l.want && idx != 0 {
		return
	}
	name := ""
	if idx != 0 {
		name = interfaceName(idx)
		if l.want != 0 {
			l.log.Info("the route to the panel now leaves by another interface", "host", l.cfg.Host, "interface", name)
		}
	}
	l.want = idx
	l.mu.Lock()
	l.wantName = name
	l.mu.Unlock()
}

// rejection describes a rejected datagram; it looks the interface's name
// up only when it differs from the last rejection's, so a flood costs no
// lookups.
func (l *Listener) rejection(now time.Time, from netip.AddrPort, ifindex int) Rejection {
	if ifindex != 0 && ifindex != l.seenIndex {
		l.seenIndex, l.seenName = ifindex, interfaceName(ifindex)
	}
	r := Rejection{Time: now, From: from}
	if ifindex != 0 {
		r.Interface = l.seenName
	}
	return r
}

// interfaceName is the name of interface index, or its number.
func interfaceName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return "#" + strconv.Itoa(index)
}

// addrPortOf returns the address of a datagram's sender.
func addrPortOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
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
