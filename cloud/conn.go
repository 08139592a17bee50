package cloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/floodlog"
	"github.com/g90alarm/g90/notify"
)

// conn is one panel connection and its state (spec: E.5 [REC]: state per
// connection, replies on the connection the request came on).
type conn struct {
	srv       *Server
	nc        net.Conn
	remote    netip.AddrPort
	connected time.Time
	seq       uint64 // accept order

	mu   sync.Mutex // guards guid
	guid string
	// last is last_device_packet_time in Unix nanoseconds (spec: E.4.5).
	last atomic.Int64
	// valid is when the last valid message came, in Unix nanoseconds of
	// the real clock: what the idle timeout and Config.Takeover measure.
	valid atomic.Int64
	// named is set once a hello or discovery named an allowed panel;
	// fresh is set by handle when the current read had a valid message.
	named, fresh bool

	// framer is nil between reads unless a message is unfinished or the
	// framer is resynchronising (resync): then it is the connection's
	// own. During a read it is the scratch's, whose buffer is shared by
	// every idle connection (scratch). off is the stream offset of the
	// first byte the framer has not consumed: a scratch framer's own
	// offsets are another connection's.
	framer *cloudproto.Framer
	off    int64
	resync bool
	// raw reads the socket without a buffer of its own while it waits
	// (conn_unix.go); nil for connections that are not sockets.
	raw     syscall.RawConn
	rawRead func(fd uintptr) bool
	sc      *scratch // what rawRead took for the read in progress
	rn      int
	rerr    error

	out     []byte    // replies to the current read
	pending []Message // messages of the current read that carry events
	// replay are the status changes and notifications of the current
	// read, aliasing the framer's buffer: what the relay keeps for the
	// upstream while it is down (chained mode only).
	replay [][]byte
	// up is what the current read sends upstream (chained mode only):
	// the messages it completed, and the bytes the framer dropped, as
	// the panel sent them, but for the answers to our commands (spec:
	// E.4.1; issue 18.3). Whole messages only, so a new upstream
	// connection starts at a message boundary.
	up []byte

	wmu   sync.Mutex // serialises writes to nc: replies, relayed upstream bytes, commands
	relay *relay     // chained mode only; set before the connection is shared
	cmd   *cmdState  // the command in flight (Server.Command)

	// polled is set when the server's poller waits for c (polled.go);
	// then pmu guards pstate, killed and timer, which closes c at
	// deadline (Unix nanoseconds, real clock) when it comes while c is
	// idle.
	polled   bool
	pmu      sync.Mutex
	pstate   uint8
	killed   bool
	timer    *time.Timer
	deadline int64
}

// write writes b to the panel, bounded by writeTimeout.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(b)
	if err != nil {
		c.srv.log.Info("cloud: write to panel failed", "remote", c.remote, "err", err)
	}
	return err
}

// lastValid is when c last sent a valid message, or was accepted.
func (c *conn) lastValid() time.Time { return time.Unix(0, c.valid.Load()) }

func (c *conn) setGUID(g string) { c.mu.Lock(); c.guid = g; c.mu.Unlock() }

func (c *conn) getGUID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.guid }

func (c *conn) info() Panel {
	p := Panel{GUID: c.getGUID(), Remote: c.remote, Connected: c.connected}
	if n := c.last.Load(); n != 0 {
		p.LastPacket = time.Unix(0, n)
	}
	if c.relay != nil {
		if n := c.relay.last.Load(); n != 0 {
			p.LastUpstream = time.Unix(0, n)
		}
	}
	return p
}

// serveConn reads the panel's bytes until the connection closes, fails or
// idles out; every complete message is handled in order.
func (s *Server) serveConn(ctx context.Context, c *conn) {
	defer s.release(c)
	defer c.nc.Close()
	if c.relay != nil {
		var wg sync.WaitGroup
		wg.Go(func() { c.relay.run(ctx) })
		defer wg.Wait()
		defer close(c.relay.items)
	}
	// Until it names an allowed panel, a connection has HelloTimeout in
	// all; then IdleTimeout from its last valid message, counted only
	// while the reader reads (not while the Handler holds it up). A byte that does not make a valid message does not count:
	// one byte a minute held a place for ever (issue 13). Deadlines use
	// the real clock, not Config.Now.
	c.valid.Store(time.Now().UnixNano())
	deadline := time.Now().Add(min(s.helloWait, s.idle))
	for {
		c.nc.SetReadDeadline(deadline)
		sc, n, err := c.read()
		if n > 0 {
			keep := c.process(ctx, sc, sc.buf[:n])
			putScratch(sc)
			if !keep {
				return
			}
			if c.fresh && c.named {
				deadline = time.Now().Add(s.idle)
			}
		}
		if err != nil {
			c.closed(err)
			return
		}
	}
}

// scratch is what a connection needs only while it handles a read: the
// read buffer, a framer and the lists of one read's replies and
// messages. An idle connection holds none (issue 20.4: 10,000 idle
// panels each held a 1 KiB buffer, a framer's buffer and the capacity
// of their last burst); a pool shares them between the connections that
// are reading.
type scratch struct {
	buf     [readSize]byte
	framer  cloudproto.Framer
	out     []byte
	pending []Message
	replay  [][]byte
	up      []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) { scratchPool.Put(sc) }

// read waits for the panel's next bytes and returns them in a scratch,
// taken only once there are bytes to read; sc is nil when n is 0.
func (c *conn) read() (sc *scratch, n int, err error) {
	if c.raw == nil {
		sc = getScratch()
		n, err = c.nc.Read(sc.buf[:])
	} else {
		c.sc, c.rn, c.rerr = nil, 0, nil
		if err = c.raw.Read(c.rawRead); err == nil {
			err = c.rerr
		}
		sc, n = c.sc, c.rn
		c.sc = nil
	}
	if n <= 0 && sc != nil {
		putScratch(sc)
		sc, n = nil, 0
	}
	return sc, n, err
}

// process handles one read: frames, answers and delivers its messages.
// It returns false when the connection must close. The scratch's lists
// and framer are lent to c for the read and taken back after.
func (c *conn) process(ctx context.Context, sc *scratch, chunk []byte) bool {
	c.fresh = false
	now := c.srv.now()
	c.last.Store(now.UnixNano())
	if c.framer == nil {
		c.framer = &sc.framer
	}
	c.out, c.pending, c.replay, c.up = sc.out[:0], sc.pending[:0], sc.replay[:0], sc.up[:0]
	keep := c.drain(chunk, now)
	// The replies first, so a panel is answered whatever the Handler
	// does; then the read's messages (deliver).
	keep = c.reply(ctx, keep, chunk)
	c.deliver(ctx)
	clear(c.pending)
	clear(c.replay)
	sc.out, sc.pending, sc.replay, sc.up = c.out[:0], c.pending[:0], c.replay[:0], c.up[:0]
	c.out, c.pending, c.replay, c.up = nil, nil, nil, nil
	switch {
	case c.framer != &sc.framer:
	case len(c.framer.Buffered()) == 0 && !c.resync:
		c.framer = nil // nothing to keep: the scratch's framer goes back with it
	default:
		// An unfinished message, or garbage being skipped: the
		// connection keeps the framer, and the scratch starts a new one.
		own := sc.framer
		sc.framer = cloudproto.Framer{}
		c.framer = &own
	}
	return keep
}

// reply sends the replies to one read: relays the read upstream in
// chained mode, else writes c.out. It returns false when the connection
// must close: keep is false, or the write failed.
func (c *conn) reply(ctx context.Context, keep bool, chunk []byte) bool {
	s := c.srv
	switch {
	case !keep:
		return false
	case c.relay != nil && s.chain != nil && !s.chained(c.getGUID()):
		// A panel not chained (Config.Chain) is answered here alone.
		if len(c.out) > 0 {
			return c.write(c.out) == nil
		}
	case c.relay != nil:
		// spec: E.4.1: every read goes upstream unmodified; not before
		// the panel named itself when only some are served.
		if !s.restricted() || c.getGUID() != "" {
			it := item{chunk: bytes.Clone(c.up), local: bytes.Clone(c.out)}
			for _, raw := range c.replay {
				it.replay = append(it.replay, bytes.Clone(raw))
			}
			c.relay.enqueue(ctx, it)
		}
	case len(c.out) > 0:
		// One write: the bytes the panel receives are those of the
		// reference's separate writes (spec: D.5.10).
		return c.write(c.out) == nil
	}
	return true
}

// closed logs why the connection ended, and any partial message left.
func (c *conn) closed(err error) {
	log := c.srv.log.With("remote", c.remote, "guid", c.getGUID())
	if c.framer == nil {
	} else if rest := c.framer.Buffered(); len(rest) > 0 {
		log.Warn("cloud: connection closed in the middle of a message", "bytes", floodlog.Bytes(rest))
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && !c.named:
		c.srv.stats.helloTimeouts.Add(1)
		log.Info("cloud: connection closed: no hello naming a served panel in time", "timeout", min(c.srv.helloWait, c.srv.idle))
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.srv.stats.idleClosed.Add(1)
		log.Info("cloud: idle connection closed", "timeout", c.srv.idle)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		log.Info("cloud: panel disconnected")
	default:
		log.Info("cloud: connection failed", "err", err)
	}
}

// drain handles every complete message in the framer. It returns false
// when the connection must close.
func (c *conn) drain(chunk []byte, now time.Time) bool {
	s := c.srv
	// delta turns the framer's offsets into the connection's stream
	// offsets (see conn.framer).
	delta := c.off - c.framer.Offset()
	c.framer.Feed(chunk)
	defer func() { c.off = c.framer.Offset() + delta }()
	for {
		raw, err := c.framer.Next()
		if err != nil {
			// One record per run of dropped bytes, with "remote" so that
			// the daemon's log handler (floodlog) limits a garbage flood
			// from one panel to a few records a minute.
			c.resync = true // as the framer is, until it accepts a message
			var fe *cloudproto.FrameError
			if errors.As(err, &fe) {
				fe.Offset += delta
			}
			d := dropped(err)
			if c.relay != nil {
				c.up = append(c.up, d...) // spec: E.4.1: unmodified
			}
			s.stats.framingErrors.Add(1)
			s.stats.framingBytes.Add(int64(len(d)))
			s.log.Warn("cloud: framing error", "remote", c.remote, "err", err, "dropped", floodlog.Bytes(d))
			continue
		}
		if raw == nil {
			return true
		}
		c.resync = false
		keep, ours := c.handle(raw, now)
		if !keep {
			return false
		}
		if c.relay != nil && !ours {
			c.up = append(c.up, raw...)
		}
	}
}

func dropped(err error) []byte {
	var fe *cloudproto.FrameError
	if errors.As(err, &fe) {
		return fe.Dropped
	}
	return nil
}

// handle acts on one message: stores the GUID, adds its replies to c.out
// and, if it carries events, adds it to c.pending (spec: D.6.2, D.7),
// decoded and converted here once. It returns false when the connection
// must close, and ours for an answer to our command, which goes no
// further.
func (c *conn) handle(raw []byte, now time.Time) (keep, ours bool) {
	s := c.srv
	m, err := cloudproto.Decode(raw)
	if err != nil {
		s.stats.decodeErrors.Add(1)
		s.log.Warn("cloud: bad message", "remote", c.remote, "err", err, "bytes", floodlog.Bytes(raw))
		return true, false
	}
	s.stats.messages.Add(1)
	if m.Kind == cloudproto.KindUnknown {
		s.stats.unknown.Add(1)
		s.log.Debug("cloud: unknown message skipped", "remote", c.remote, "bytes", floodlog.Bytes(raw))
		return true, false
	}
	if g := m.GUID(); g != "" {
		if !s.allowed(g) {
			s.stats.rejected.Add(1)
			s.log.Warn("cloud: hello from a panel not served; closing", "from", c.remote.Addr(), "guid", g)
			return false, false
		}
		if !s.claim(c, g) {
			return false, false
		}
		c.named = true
	}
	guid := c.getGUID()
	if s.restricted() && guid == "" {
		s.stats.unidentified.Add(1)
		s.log.Debug("cloud: message before the panel named itself ignored", "remote", c.remote, "kind", m.Kind)
		return true, false
	}
	c.fresh = true
	c.valid.Store(time.Now().UnixNano())
	c.replies(&m)
	if m.Kind == cloudproto.KindCommandResponse {
		// An answer to Server.Command (spec: D.5.9), told by its
		// sequence; in chained mode any other goes upstream, as the
		// answer to the vendor's command (commandSeqBase).
		a := m
		a.Body = bytes.Clone(m.Body) // m aliases the framer's buffer
		ours, waited := c.cmd.answer(&a)
		switch {
		case waited:
			s.stats.commandAnswers.Add(1)
		case ours || c.relay == nil:
			s.stats.commandUnmatched.Add(1)
			s.log.Debug("cloud: command answer nobody waits for", "remote", c.remote, "guid", guid, "seq", m.Seq())
		}
		return true, ours
	}
	if m.Kind != cloudproto.KindStatusChange && m.Kind != cloudproto.KindNotification {
		return true, false
	}
	if c.relay != nil {
		c.replay = append(c.replay, raw)
	}
	// spec: D.10, D.5.7: what the spec drops goes no further.
	nm, ok, err := notify.FromCloud(&m, guid)
	if err != nil {
		s.stats.invalid.Add(1)
		s.log.Warn("cloud: bad notification", "remote", c.remote, "guid", guid, "err", err, "bytes", floodlog.Bytes(raw))
		return true, false
	}
	if ok {
		c.pending = append(c.pending, Message{GUID: guid, Remote: c.remote, Received: now, Kind: m.Kind, Notify: nm})
	}
	return true, false
}

// deliver hands the current read's messages to the Handler, from the
// connection's own goroutine: a Handler that waits holds up this panel
// alone, whose later bytes then wait in TCP.
//
// Backpressure, not dropping, because the panel speaks TCP: a reader
// that stops reading fills the socket buffers and TCP flow control makes
// the panel wait before it sends more, so a burst is slowed down and
// nothing is lost (the reference, reading as fast as it can, loses most
// of a 20,000-message burst). UDP notifications have no such flow
// control — a datagram not read in time is gone — so the local listener
// and the Monitor's local path drop and count instead. A panel held up
// for long is not disconnected by the idle timeout: the read deadline
// only runs while the reader reads.
func (c *conn) deliver(ctx context.Context) {
	s := c.srv
	for i := range c.pending {
		if s.handler != nil {
			s.handler.HandleCloud(ctx, &c.pending[i])
		}
		s.stats.delivered.Add(1)
	}
}

// replies appends to c.out the replies a standalone server sends for m
// (spec: D.7).
func (c *conn) replies(m *cloudproto.Message) {
	s := c.srv
	p := cloudproto.ReplyParams{LocalPort: s.localPort, Advertise: c.advertise(), Now: s.now()}
	if m.Kind == cloudproto.KindDiscovery && !p.Advertise.IsValid() {
		s.log.Error("cloud: no IPv4 address to advertise; set Config.Advertise", "local", c.nc.LocalAddr())
		return
	}
	c.out = cloudproto.AppendReplies(c.out, m, p)
}

// chained reports whether the panel with guid is relayed upstream: one
// that has not named itself is not.
func (s *Server) chained(guid string) bool { return guid != "" && s.chain(guid) }
