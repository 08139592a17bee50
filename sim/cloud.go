package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/floodlog"
)

// Defaults of CloudConfig.
const (
	// DefaultCloudPing and DefaultCloudHello: a panel pings and says
	// hello about once a minute (spec: notifications-and-cloud.md D.5.1,
	// D.5.2, G.10).
	DefaultCloudPing  = time.Minute
	DefaultCloudHello = time.Minute
	// DefaultCloudReplyTimeout: a server that leaves a discovery, ping or
	// hello unanswered this long, and takes none of the bytes written to
	// it meanwhile, is taken for gone. The panel's own timeout is not
	// known.
	DefaultCloudReplyTimeout = 30 * time.Second
	// DefaultCloudBackoffMin and DefaultCloudBackoffMax bound the wait
	// before a reconnect, which doubles from one to the other while
	// connects fail.
	DefaultCloudBackoffMin = time.Second
	DefaultCloudBackoffMax = time.Minute
	// DefaultCloudQueue bounds the event messages waiting to be sent.
	DefaultCloudQueue = 1 << 16

	// cloudWriteTimeout bounds one write to a server that stopped
	// reading; a server applying backpressure reads on, slowly.
	cloudWriteTimeout = 30 * time.Second
	// cloudBatch is the most bytes of queued messages written at once, so
	// pings and hellos get their turn in a long burst.
	cloudBatch = 64 << 10
	// cloudReadSize: the server sends only short replies.
	cloudReadSize = 512
)

// CloudConfig configures a CloudLink: the connection a panel keeps to
// its cloud server (spec: notifications-and-cloud.md D, E). Zero values
// mean the defaults.
type CloudConfig struct {
	// Addr is the server's HOST:PORT, where the panel is pointed (spec:
	// E.2).
	Addr string
	// GUID is the panel GUID sent in discovery and hello (spec: D.5.2).
	// A Panel sends its own, State.Host.GUID, instead.
	GUID string
	// PingInterval and HelloInterval are the times between two pings and
	// two hellos; defaults DefaultCloudPing and DefaultCloudHello.
	PingInterval, HelloInterval time.Duration
	// ReplyTimeout bounds a connect, and the wait for the reply to a
	// discovery, ping or hello while the server takes nothing; default
	// DefaultCloudReplyTimeout. Then the panel reconnects.
	ReplyTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before a reconnect;
	// defaults DefaultCloudBackoffMin and DefaultCloudBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// QueueSize bounds the event messages waiting to be sent, while the
	// server is unreachable or slow; more are dropped and counted in
	// CloudStats.Dropped, as events happen whether or not the panel can
	// report them. Default DefaultCloudQueue.
	QueueSize int
	// Commands carries out the local protocol command an M12 carries
	// (the command datagram, ISTART…IEND) and returns the datagram the
	// command port would answer, nil for none; the link sends its body
	// back in an M6 (spec: notifications-and-cloud.md D.5.8, D.5.9). A
	// Panel answers from its state, as over UDP. Nil: commands are
	// counted in CloudStats.Ignored and not carried out (a Fleet's
	// panels). It is called from the link's reader, one command at a
	// time, concurrently with anything else the panel does.
	Commands func(local []byte) (reply []byte)
	// Dial connects to Addr; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the link's log; nil means silent.
	Logger *slog.Logger
}

// CloudStats are a CloudLink's counters since it was made.
type CloudStats struct {
	Connected      int64 // sessions open now: 0 or 1 for a link
	Connects       int64 // connections made
	ConnectErrors  int64 // connects that failed
	Disconnects    int64 // sessions ended, whatever the reason
	Silent         int64 // of which because the server left a request unanswered
	Discoveries    int64 // discovery replies (M11) received
	HellosSent     int64 // hellos (M2) sent
	HellosAnswered int64 // hellos answered with M8, M9 and M10 in order
	PingsSent      int64 // pings (M1) sent
	PingsAnswered  int64 // ping replies (M7) received
	Commands       int64 // commands (M12) received
	Answered       int64 // of which answered with an M6 (CloudConfig.Commands)
	Malformed      int64 // of which not answered: the command in it does not parse
	Ignored        int64 // of which not carried out: CloudConfig.Commands is nil
	Sent           int64 // event messages written in full
	Queued         int64 // event messages waiting now
	Dropped        int64 // event messages dropped: the queue was full, or not a whole message
}

type cloudCounters struct {
	connected, connects, connectErrors, disconnects, silent, discoveries atomic.Int64
	hellosSent, hellosAnswered, pingsSent, pingsAnswered, commands       atomic.Int64
	answered, malformed, ignored                                         atomic.Int64
	sent, dropped                                                        atomic.Int64
}

// CloudLink is the panel's side of the cloud protocol: it connects to
// the server, says who it is, keeps the session alive and sends the
// panel's events, reconnecting with backoff whenever the connection is
// lost (spec: notifications-and-cloud.md D.8, D.9). A Panel with
// Config.Cloud has one; Fleet runs many. Its methods are safe for
// concurrent use.
//
// A session is: connect, discovery (M3, answered by M11), hello (M2,
// answered by M8 M9 M10), then pings and hellos at their intervals and
// the queued events (M4, M5) as they come. Whether a panel opens a new
// connection to the address the discovery reply names is not known
// (spec: G.6); the link stays on the connection it has, and reconnects
// to Addr. The address in the reply is logged.
type CloudLink struct {
	ping, hello, replyTimeout time.Duration
	backoffMin, backoffMax    time.Duration
	queueSize                 int
	dial                      func(ctx context.Context, network, addr string) (net.Conn, error)
	commands                  func(local []byte) []byte
	log                       *slog.Logger
	// flood is log with at most a few records a minute of each kind, for
	// the server's malformed input, which may come without end (the
	// daemon's servers log theirs so too).
	flood                      *slog.Logger
	floodH                     *floodlog.Handler
	wake, moved, stop, stopped chan struct{}

	mu       sync.Mutex // guards everything below
	addr     string
	guid     string
	out      []byte // queued messages, whole and in order, from outR
	outR     int
	outN     int           // messages queued
	changed  chan struct{} // closed and replaced when Stats change in a way Wait may care about
	running  bool
	stopping bool
	cancel   context.CancelFunc // of Run

	c cloudCounters
}

// NewCloudLink checks cfg and fills in its defaults; Run connects.
func NewCloudLink(cfg CloudConfig) (*CloudLink, error) {
	l := &CloudLink{
		ping: cfg.PingInterval, hello: cfg.HelloInterval, replyTimeout: cfg.ReplyTimeout,
		backoffMin: cfg.BackoffMin, backoffMax: cfg.BackoffMax, queueSize: cfg.QueueSize,
		dial: cfg.Dial, commands: cfg.Commands, log: cfg.Logger, addr: cfg.Addr, guid: cfg.GUID,
		wake: make(chan struct{}, 1), moved: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{}), changed: make(chan struct{}),
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{{&l.ping, DefaultCloudPing}, {&l.hello, DefaultCloudHello}, {&l.replyTimeout, DefaultCloudReplyTimeout},
		{&l.backoffMin, DefaultCloudBackoffMin}, {&l.backoffMax, DefaultCloudBackoffMax}}
	for _, d := range defaults {
		if *d.v < 0 {
			return nil, fmt.Errorf("sim: cloud: negative duration %v", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.d
		}
	}
	switch {
	case l.addr == "":
		return nil, errors.New("sim: cloud: no server address")
	case l.backoffMax < l.backoffMin:
		return nil, fmt.Errorf("sim: cloud: BackoffMax %v below BackoffMin %v", l.backoffMax, l.backoffMin)
	case l.queueSize < 0:
		return nil, fmt.Errorf("sim: cloud: negative QueueSize %d", l.queueSize)
	}
	if l.queueSize == 0 {
		l.queueSize = DefaultCloudQueue
	}
	if l.dial == nil {
		l.dial = (&net.Dialer{}).DialContext
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.floodH = floodlog.New(l.log.Handler(), floodlog.Config{})
	l.flood = slog.New(l.floodH)
	return l, nil
}

// Stats returns the counters.
func (l *CloudLink) Stats() CloudStats {
	l.mu.Lock()
	queued := l.outN
	l.mu.Unlock()
	c := &l.c
	return CloudStats{
		Connected: c.connected.Load(), Connects: c.connects.Load(), ConnectErrors: c.connectErrors.Load(),
		Disconnects: c.disconnects.Load(), Silent: c.silent.Load(), Discoveries: c.discoveries.Load(),
		HellosSent: c.hellosSent.Load(), HellosAnswered: c.hellosAnswered.Load(),
		PingsSent: c.pingsSent.Load(), PingsAnswered: c.pingsAnswered.Load(), Commands: c.commands.Load(),
		Answered: c.answered.Load(), Malformed: c.malformed.Load(), Ignored: c.ignored.Load(), Sent: c.sent.Load(), Queued: int64(queued), Dropped: c.dropped.Load(),
	}
}

// Wait returns once ok holds for the link's Stats, or ctx's error. It
// looks again whenever a connection opens or closes, a reply arrives,
// messages are sent or dropped.
func (l *CloudLink) Wait(ctx context.Context, ok func(CloudStats) bool) error {
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if ok(l.Stats()) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *CloudLink) signal() {
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// SetAddr points the link at another server; it reconnects at once, as
// a panel given a new server address (spec: E.2).
func (l *CloudLink) SetAddr(addr string) {
	l.mu.Lock()
	changed := addr != l.addr
	l.addr = addr
	l.mu.Unlock()
	if changed {
		poke(l.moved)
	}
}

// SetGUID changes the GUID sent from the next discovery or hello on.
func (l *CloudLink) SetGUID(guid string) {
	l.mu.Lock()
	l.guid = guid
	l.mu.Unlock()
}

func (l *CloudLink) target() (addr, guid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr, l.guid
}

// Send queues event messages for the server, in order, and returns how
// many it queued. Each must be one whole message, as
// cloudproto.Message.Append makes it; Send copies them. Messages that do
// not fit in the queue are dropped and counted.
func (l *CloudLink) Send(msgs ...[]byte) int {
	queued, dropped := 0, 0
	l.mu.Lock()
	for _, m := range msgs {
		if len(m) < cloudproto.BasicHeaderSize || messageLen(m) != len(m) || l.outN >= l.queueSize {
			dropped++
			continue
		}
		l.out = append(l.out, m...)
		l.outN++
		queued++
	}
	l.mu.Unlock()
	if queued > 0 {
		poke(l.wake)
	}
	if dropped > 0 {
		if n := l.c.dropped.Add(int64(dropped)); bits.OnesCount64(uint64(n)) == 1 || dropped > 1 {
			l.log.Warn("sim: cloud: event messages dropped: queue full or not whole", "dropped", n, "queue", l.queueSize)
		}
		l.signal()
	}
	return queued
}

func messageLen(b []byte) int { return int(int32(binary.LittleEndian.Uint32(b[4:8]))) }

// take moves up to cloudBatch bytes of whole queued messages (at least
// one) into dst and returns it and the number of messages.
func (l *CloudLink) take(dst []byte) ([]byte, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.out[l.outR:]
	k, n := 0, 0
	for k < len(q) {
		m := messageLen(q[k:])
		if k > 0 && k+m > cloudBatch {
			break
		}
		k += m
		n++
	}
	dst = append(dst[:0], q[:k]...)
	l.outR += k
	l.outN -= n
	switch {
	case l.outR == len(l.out):
		l.out, l.outR = l.out[:0], 0
	case l.outR > len(l.out)/2:
		l.out = l.out[:copy(l.out, l.out[l.outR:])]
		l.outR = 0
	}
	return dst, n
}

// putBack queues again, ahead of the rest, the n messages of b that were
// not written in full.
func (l *CloudLink) putBack(b []byte, n int) {
	l.mu.Lock()
	l.out = append(bytes.Clone(b), l.out[l.outR:]...)
	l.outR = 0
	l.outN += n
	l.mu.Unlock()
}

// Run keeps the panel connected until ctx ends or Shutdown finishes,
// and returns nil after every goroutine it started has ended. It can be
// called once.
func (l *CloudLink) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return ErrServing
	}
	l.running = true
	ctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	l.mu.Unlock()
	defer close(l.stopped)
	defer cancel()
	defer l.floodH.Close() // the counts of malformed input still pending

	var backoff time.Duration
	stop := l.stop
	for {
		addr, _ := l.target()
		established, done := l.session(ctx, addr)
		if done || ctx.Err() != nil || l.idleStop() {
			return nil
		}
		if established {
			backoff = 0
		}
		backoff = min(max(2*backoff, l.backoffMin), l.backoffMax)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-l.moved:
			t.Stop()
			backoff = 0
		case <-stop:
			t.Stop()
			if l.idleStop() {
				return nil
			}
			stop = nil // reconnect to send what is queued
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// idleStop reports whether Shutdown was called and nothing is left to
// send.
func (l *CloudLink) idleStop() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopping && l.outN == 0
}

// Shutdown ends the session gracefully: no more pings and hellos, the
// queued messages are sent, the requests sent are answered, then the
// connection is closed and Run returns. If ctx ends first the link stops
// at once and Shutdown returns ctx's error. A link that is not running
// is only marked stopped.
func (l *CloudLink) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	first := !l.stopping
	l.stopping = true
	running, cancel := l.running, l.cancel
	l.mu.Unlock()
	if first {
		close(l.stop)
	}
	if !running {
		return nil
	}
	select {
	case <-l.stopped:
		return nil
	case <-ctx.Done():
		cancel()
		<-l.stopped
		return ctx.Err()
	}
}

// session is one connection to the server.
type session struct {
	l   *CloudLink
	nc  net.Conn
	wmu sync.Mutex // serialises writes to nc (writeN)
	// sent counts the requests written (discovery, pings, hellos);
	// answered their replies, from the reader.
	sent       int64
	answered   atomic.Int64
	hellos     atomic.Int64  // hellos answered in this session
	discovered atomic.Bool   // the discovery reply arrived
	progress   atomic.Int64  // Unix nanoseconds of the latest reply or completed write
	replied    chan struct{} // cap 1: the reader counted a reply
	gone       chan struct{} // closed when the reader has ended
}

// session connects to addr and runs one session until the connection
// ends, ctx ends, the address changes or a Shutdown completes (done).
// established reports that a hello was answered.
func (l *CloudLink) session(ctx context.Context, addr string) (established, done bool) {
	dctx, cancel := context.WithTimeout(ctx, l.replyTimeout)
	nc, err := l.dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		l.c.connectErrors.Add(1)
		l.log.Info("sim: cloud: connect failed", "server", addr, "err", err)
		l.signal()
		return false, false
	}
	l.c.connects.Add(1)
	l.c.connected.Add(1)
	log := l.log.With("server", addr)
	log.Info("sim: cloud: connected", "local", nc.LocalAddr())
	s := &session{l: l, nc: nc, replied: make(chan struct{}, 1), gone: make(chan struct{})}
	s.progress.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Go(func() { s.read(log, l.flood.With("server", addr)) })
	l.signal()
	defer func() {
		nc.Close()
		wg.Wait()
		l.c.connected.Add(-1)
		l.c.disconnects.Add(1)
		l.signal()
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	request := func(b []byte) bool {
		if !s.write(b) {
			return false
		}
		if s.sent++; !armed {
			timer.Reset(l.replyTimeout)
			armed = true
		}
		return true
	}
	_, guid := l.target()
	// spec: D.8 step 1: the panel starts with a discovery.
	if !request(discoveryMessage(guid)) {
		return false, false
	}
	var (
		pings, hellos <-chan time.Time
		helloSent     bool
		stop          = l.stop
		buf           []byte
	)
	for {
		select {
		case <-ctx.Done():
			return s.hellos.Load() > 0, false
		case <-s.gone:
			log.Info("sim: cloud: connection closed by the server")
			return s.hellos.Load() > 0, false
		case <-l.moved:
			poke(l.moved) // Run reconnects at once
			log.Info("sim: cloud: server address changed; reconnecting")
			return s.hellos.Load() > 0, false
		case <-stop:
			stop, pings, hellos = nil, nil, nil
		case <-s.replied:
		case <-pings:
			if !request(pingMessage()) {
				return s.hellos.Load() > 0, false
			}
			l.c.pingsSent.Add(1)
		case <-hellos:
			_, guid := l.target()
			if !request(helloMessage(guid)) {
				return s.hellos.Load() > 0, false
			}
			l.c.hellosSent.Add(1)
		case <-l.wake:
		case <-timer.C:
			armed = false
			if s.sent == s.answered.Load() {
				break
			}
			idle := time.Since(time.Unix(0, s.progress.Load()))
			if idle >= l.replyTimeout {
				l.c.silent.Add(1)
				log.Warn("sim: cloud: the server left a request unanswered; reconnecting", "timeout", l.replyTimeout)
				return s.hellos.Load() > 0, false
			}
			timer.Reset(l.replyTimeout - idle)
			armed = true
		}
		if !helloSent && s.discovered.Load() {
			// spec: D.8 step 3: the session proper starts with a hello.
			_, guid := l.target()
			if !request(helloMessage(guid)) {
				return false, false
			}
			l.c.hellosSent.Add(1)
			helloSent = true
			if stop != nil {
				pt, ht := time.NewTicker(l.ping), time.NewTicker(l.hello)
				defer pt.Stop()
				defer ht.Stop()
				pings, hellos = pt.C, ht.C
			}
		}
		if helloSent {
			// Events go out once the panel has said who it is; one batch
			// per turn, so that pings are not held up by a long burst.
			var n int
			if buf, n = l.take(buf); n > 0 {
				if !s.flush(buf, n) {
					return s.hellos.Load() > 0, false
				}
				poke(l.wake) // there may be more
			}
		}
		if stop == nil && helloSent && s.sent == s.answered.Load() && l.idleStop() {
			log.Info("sim: cloud: shut down")
			return s.hellos.Load() > 0, true
		}
	}
}

// write writes b, bounded by cloudWriteTimeout.
func (s *session) write(b []byte) bool {
	_, err := s.writeN(b)
	return err == nil
}

// writeN writes b whole or fails. The session goroutine and the reader
// (answering commands) both write; wmu keeps their messages whole on the
// wire whatever the net.Conn (an injected Dial's may not serialise
// writes, and one write may be split), and each write's deadline its own.
func (s *session) writeN(b []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.nc.SetWriteDeadline(time.Now().Add(cloudWriteTimeout))
	n, err := s.nc.Write(b)
	if err != nil {
		s.l.log.Info("sim: cloud: write failed", "err", err)
		return n, err
	}
	s.progress.Store(time.Now().UnixNano())
	return n, nil
}

// flush writes a batch of n event messages. On failure the messages not
// written in full go back to the front of the queue, for the next
// session; those written may or may not have arrived.
func (s *session) flush(b []byte, n int) bool {
	w, err := s.writeN(b)
	sent := n
	if err != nil {
		sent = 0
		off := 0
		for off < len(b) && off+messageLen(b[off:]) <= w {
			off += messageLen(b[off:])
			sent++
		}
		s.l.putBack(b[off:], n-sent)
	}
	s.l.c.sent.Add(int64(sent))
	s.l.signal()
	return err == nil
}

// read counts the server's replies and answers its commands until the
// connection ends. A hello is answered when M8, M9 and M10 arrive in that
// order (spec: D.5.10). Malformed input is logged to flood.
func (s *session) read(log, flood *slog.Logger) {
	defer close(s.gone)
	l := s.l
	var f cloudproto.Framer
	buf := make([]byte, cloudReadSize)
	step := 0 // hello replies seen in order
	for {
		n, err := s.nc.Read(buf)
		if n > 0 {
			f.Feed(buf[:n])
			for {
				raw, ferr := f.Next()
				if ferr != nil {
					flood.Warn("sim: cloud: framing error in the server's bytes", "err", ferr)
					continue
				}
				if raw == nil {
					break
				}
				m, derr := cloudproto.Decode(raw)
				if derr != nil {
					flood.Warn("sim: cloud: bad message from the server", "err", derr, "bytes", floodlog.Bytes(raw))
					continue
				}
				switch m.Kind {
				case cloudproto.KindPing: // M7 is the ping itself
					l.c.pingsAnswered.Add(1)
					s.reply()
				case cloudproto.KindHelloAck:
					step = 1
				case cloudproto.KindHelloResponse:
					if step == 1 {
						step = 2
					} else {
						step = 0
					}
				case cloudproto.KindHelloInfo:
					if step == 2 {
						l.c.hellosAnswered.Add(1)
						s.hellos.Add(1)
						s.reply()
					}
					step = 0
				case cloudproto.KindDiscoveryResponse:
					l.c.discoveries.Add(1)
					log.Debug("sim: cloud: discovery reply", "server", fmt.Sprintf("%s:%d", m.Discovery.ServerIP, m.Discovery.ServerPort), "time", m.Discovery.Timestamp)
					s.discovered.Store(true)
					s.reply()
				case cloudproto.KindCommand:
					l.c.commands.Add(1)
					s.command(log, flood, &m, raw)
					l.signal()
				default:
					log.Debug("sim: cloud: unexpected message from the server", "kind", m.Kind, "bytes", floodlog.Bytes(raw))
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// command carries out an M12 as the command port would and answers it
// with an M6 (spec: D.5.8, D.5.9). Like a datagram the command port
// cannot parse, one whose command does not parse gets no answer, and
// neither does one the command port would not answer (a system command,
// spec: local-protocol.md 5). The session goes on either way.
func (s *session) command(log, flood *slog.Logger, m *cloudproto.Message, raw []byte) {
	l := s.l
	if l.commands == nil {
		l.c.ignored.Add(1)
		log.Debug("sim: cloud: command not carried out", "code", m.Command.CommandCode, "bytes", floodlog.Bytes(raw))
		return
	}
	req, err := m.Request()
	if err != nil {
		l.c.malformed.Add(1)
		flood.Warn("sim: cloud: malformed command, not answered", "err", err, "bytes", floodlog.Bytes(raw))
		return
	}
	reply := l.commands(req.Append(nil))
	if reply == nil {
		log.Debug("sim: cloud: command not answered, as over UDP", "code", req.Code)
		return
	}
	resp, err := cloudproto.ResponseOf(m, reply)
	if err != nil { // the command port's reply is not a datagram: a bug
		log.Error("sim: cloud: reply not sent", "err", err, "reply", floodlog.Bytes(reply))
		return
	}
	if !s.write(resp.Append(nil)) {
		// As when the session's own write fails: the connection is
		// done; closing it ends this reader and with it the session.
		s.nc.Close()
		return
	}
	l.c.answered.Add(1)
}

func (s *session) reply() {
	s.answered.Add(1)
	s.progress.Store(time.Now().UnixNano())
	poke(s.replied)
	s.l.signal()
}
