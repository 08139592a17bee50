package cloud

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/cloudproto"
)

// Defaults of the chained mode settings of Config.
const (
	// DefaultConnectTimeout bounds a connect to the upstream cloud
	// ([REC], spec: E.4.3).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultBackoffMin and DefaultBackoffMax bound the wait between
	// failed upstream connects.
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = time.Minute
	// DefaultBackoffReset is how long an upstream connection must live
	// for the backoff to reset: half a ping period (spec: D.5.1, G.10),
	// so a connection that carried a ping and its answer counts, and
	// one the vendor resets at once does not (issue 13: 15 connects in
	// 3 s).
	DefaultBackoffReset = 30 * time.Second
	// DefaultReplayBuffer bounds a panel's replay buffer: at a few
	// hundred bytes each (spec: D.4), some 150 KB, and more events than
	// a panel sends in hours.
	DefaultReplayBuffer = 1024
	// DefaultUpstreamQueue bounds the panel reads waiting to be relayed.
	DefaultUpstreamQueue = 64
	// DefaultUpstreamTimeout is how long the upstream may leave a
	// request unanswered before the server answers it itself. Panels
	// ping about once a minute (spec: D.5.1).
	DefaultUpstreamTimeout = 10 * time.Second
)

// item is one read from the panel on its way upstream, with the replies a
// standalone server would send for the messages it completed: the
// relay sends those instead when the upstream is down ([REC], spec:
// E.4.3). One ordered queue per panel connection keeps the order the
// reference loses while reconnecting (spec: E.4.2).
type item struct {
	chunk []byte
	local []byte
	// replay are the messages the read completed that go to the replay
	// buffer when the upstream is down (relay.buffer).
	replay [][]byte
}

// relay owns the upstream connection of one panel connection in chained
// mode (spec: E.4). The policy per read: relay it when the upstream is up
// (no local replies, spec: D.7), answer it locally when the upstream is
// down or backing off, or when it leaves a relayed request unanswered
// for UpstreamTimeout.
type relay struct {
	c     *conn
	items chan item
	// last is last_upstream_packet_time in Unix nanoseconds (spec:
	// E.4.5).
	last atomic.Int64
	// reads counts the upstream's reads, so run sees it answer.
	reads atomic.Int64
	upMu  sync.Mutex // guards up against the close when the server stops
	// Owned by run (which alone sets up, under upMu):
	up      net.Conn
	upDone  chan struct{} // closed when the upstream reader has ended
	upSince time.Time     // when up connected
	upReads int64         // reads when up connected: more means it answered
	backoff time.Duration
	retryAt time.Time
	retry   *time.Timer // fires at retryAt while there is a backlog to replay
	tries   int         // connect attempts
	// backlog is the replay buffer. Until up has proved alive (proven,
	// see confirm), the messages replayed to it and those relayed to it
	// live that would have gone to the backlog are kept too (replaying,
	// unproven), to go back to the backlog if up dies first. guid is the
	// panel's, once known, for parking the backlog when the panel leaves.
	backlog   replayBuf
	proven    bool
	replaying [][]byte
	unproven  [][]byte
	guid      string
	// awaiting are the local replies to the requests relayed since the
	// upstream last sent anything, and mark the value of reads then.
	awaiting []byte
	mark     int64
	timer    *time.Timer // runs while awaiting is not empty
}

func newRelay(c *conn) *relay {
	return &relay{c: c, items: make(chan item, c.srv.upQueue)}
}

// enqueue hands a read to the relay. When the queue is full the panel's
// reader waits, as it does for the Handler (Server.enqueue): dropping a
// read would tear the byte stream the upstream sees, and leave the panel
// without answers.
func (r *relay) enqueue(ctx context.Context, it item) {
	s := r.c.srv
	select {
	case r.items <- it:
	case <-ctx.Done():
		s.stats.upstreamDropped.Add(1)
		s.log.Info("cloud: server stopping; panel bytes not relayed", "remote", r.c.remote, "bytes", len(it.chunk))
	}
}

// run relays the queued reads in order until the queue is closed and
// drained, or ctx ends. It closes the upstream connection and waits for
// its reader before returning.
func (r *relay) run(ctx context.Context) {
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	defer r.timer.Stop()
	r.retry = time.NewTimer(time.Hour)
	r.retry.Stop()
	defer r.retry.Stop()
	defer r.disconnect()
	defer r.park(ctx) // first: it looks at the upstream connection
	// A stopping server must not wait for a write to a stalled upstream.
	stop := context.AfterFunc(ctx, func() {
		r.upMu.Lock()
		if r.up != nil {
			r.up.Close()
		}
		r.upMu.Unlock()
	})
	defer stop()
	for {
		select {
		case it, ok := <-r.items:
			if !ok {
				return
			}
			if ctx.Err() != nil {
				continue // drain: the server is stopping
			}
			if !r.relay(ctx, it) {
				return
			}
		case <-r.upDone: // nil while there is no upstream connection
			r.c.srv.log.Info("cloud: upstream connection lost", "remote", r.c.remote, "lived", time.Since(r.upSince).Round(time.Millisecond))
			if !r.lost() {
				return
			}
		case <-r.retry.C:
			// Replay as soon as the upstream is back, not at the panel's
			// next read.
			r.adopt()
			if r.up == nil && r.backlog.len() > 0 && ctx.Err() == nil {
				r.connect(ctx)
			}
		case <-r.timer.C:
			if r.reads.Load() != r.mark {
				r.awaiting = r.awaiting[:0] // the upstream answered
				continue
			}
			r.c.srv.stats.upstreamStalls.Add(1)
			r.c.srv.log.Warn("cloud: upstream left a request unanswered; answering locally", "remote", r.c.remote, "timeout", r.c.srv.upTimeout)
			if !r.lost() {
				return
			}
		}
	}
}

// relay sends one read upstream, or answers it locally. It returns false
// when the panel connection is gone.
func (r *relay) relay(ctx context.Context, it item) bool {
	if r.reads.Load() != r.mark {
		r.awaiting = r.awaiting[:0] // the upstream answered
	}
	r.adopt()
	r.confirm()
	if r.up == nil && !time.Now().Before(r.retryAt) {
		r.connect(ctx)
	}
	if r.up != nil && r.backlog.len() > 0 {
		r.flush() // a backlog parked by the panel's previous connection
	}
	if r.up != nil {
		// Whole messages (conn.up): a new connection starts at a
		// message boundary.
		out := it.chunk
		if len(out) == 0 {
			return true // the middle of a message: wait for its end
		}
		mark := r.reads.Load() // before the write: the answer may come before it returns
		r.up.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := r.up.Write(out)
		if err == nil {
			if !r.proven && r.c.srv.replayMax >= 0 {
				r.unproven = append(r.unproven, it.replay...)
			}
			if len(it.local) > 0 {
				if len(r.awaiting) == 0 {
					r.mark = mark
					r.timer.Reset(r.c.srv.upTimeout)
				}
				r.awaiting = append(r.awaiting, it.local...)
			}
			return true
		}
		r.c.srv.log.Info("cloud: upstream write failed; answering locally", "remote", r.c.remote, "err", err)
		if !r.lost() {
			return false
		}
	}
	r.buffer(it.replay)
	return r.answer(it.local)
}

// buffer keeps the status changes and notifications of a read the
// upstream did not get, for replay. Only these: they are what the vendor
// app shows, and neither side answers them (spec: D.4, D.7), so sent
// late they mean what they meant. Pings and hellos are keepalives (spec:
// D.5.1, D.9) and discovery a handshake (spec: D.8) whose answers the
// panel has already had from the server (spec: E.4.3 [REC]); an old one
// would only make the vendor answer again. A command response answers a
// command of the upstream connection that is gone (spec: D.5.8, D.5.9).
// All of those stay live-only ([REC], spec: E.4.3.1).
func (r *relay) buffer(msgs [][]byte) {
	s := r.c.srv
	if s.replayMax < 0 || len(msgs) == 0 {
		return
	}
	dropped := 0
	for _, m := range msgs {
		dropped += r.backlog.push(m, s.replayMax)
	}
	s.stats.replayBuffered.Add(int64(len(msgs)))
	s.stats.replayPending.Add(int64(len(msgs)))
	r.dropped(dropped)
	r.scheduleRetry()
}

// dropped counts and logs n messages dropped from a full replay buffer.
// One record per read that overflows, with "remote", which the daemon's
// log handler (floodlog) limits to a few a minute.
func (r *relay) dropped(n int) {
	if n == 0 {
		return
	}
	s := r.c.srv
	s.stats.replayDropped.Add(int64(n))
	s.stats.replayPending.Add(-int64(n))
	s.log.Warn("cloud: replay buffer full; oldest messages dropped", "remote", r.c.remote, "guid", r.guid, "dropped", n, "bound", s.replayMax)
}

// flush replays the backlog to the upstream connection, oldest first,
// in one write. The messages are kept (replaying) until the connection
// proves alive, and put back if it does not.
func (r *relay) flush() {
	s := r.c.srv
	msgs := r.backlog.take()
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	r.up.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := r.up.Write(b); err != nil {
		s.log.Info("cloud: upstream write failed while replaying", "remote", r.c.remote, "err", err)
		r.dropped(r.backlog.prepend(msgs, s.replayMax))
		r.lost() // a panel gone shows at its next read
		return
	}
	s.log.Info("cloud: replayed to the upstream what it missed", "remote", r.c.remote, "guid", r.guid, "messages", len(msgs))
	r.replaying = append(r.replaying, msgs...)
}

// confirm marks the upstream connection proven once it has answered
// something or lived BackoffReset, and counts what was replayed to it as
// delivered. No message of the protocol acknowledges a status change or a
// notification (spec: D.7), so this is the best sign there is that a
// vendor that resets every new connection (issue 13) did not swallow
// them. The price: a connection that dies young and silent after the
// vendor did take them makes it get them twice (spec: E.4.3.1).
func (r *relay) confirm() {
	if r.proven || r.up == nil {
		return
	}
	if r.reads.Load() == r.upReads && time.Since(r.upSince) < r.c.srv.backoffReset {
		return
	}
	n := int64(len(r.replaying))
	r.c.srv.stats.replayed.Add(n)
	r.c.srv.stats.replayPending.Add(-n)
	r.proven, r.replaying, r.unproven = true, nil, nil
}

// requeue puts back in front of the backlog what an upstream connection
// that died unproven was sent, oldest first.
func (r *relay) requeue() {
	s := r.c.srv
	r.confirm()
	if n := int64(len(r.unproven)); n > 0 && s.replayMax >= 0 {
		s.stats.replayBuffered.Add(n)
		s.stats.replayPending.Add(n)
	}
	if msgs := append(r.replaying, r.unproven...); len(msgs) > 0 && s.replayMax >= 0 {
		r.dropped(r.backlog.prepend(msgs, s.replayMax))
	}
	r.replaying, r.unproven = nil, nil
}

// lost handles the end of the upstream connection: what it left
// unanswered is answered locally, what was replayed to it unconfirmed is
// kept for the next one, and the next connect waits for the backoff,
// reset first if the connection lived BackoffReset. It returns false when
// the panel connection is gone.
func (r *relay) lost() bool {
	s := r.c.srv
	r.requeue()
	if time.Since(r.upSince) >= s.backoffReset {
		r.backoff = 0
	}
	ok := r.giveUp()
	r.failed()
	return ok
}

// adopt takes over the backlog the panel's previous connection parked,
// once the panel has named itself: older, so in front.
func (r *relay) adopt() {
	if r.guid == "" {
		if r.guid = r.c.getGUID(); r.guid == "" {
			return
		}
	}
	if b := r.c.srv.unpark(r.guid); b != nil {
		r.dropped(r.backlog.prepend(b.take(), r.c.srv.replayMax))
		r.scheduleRetry()
	}
}

// park hands what the relay still keeps to the panel's next connection
// when this one ends; without a GUID, or when the server stops, it is
// lost.
func (r *relay) park(ctx context.Context) {
	s := r.c.srv
	r.requeue()
	n := r.backlog.len()
	if n == 0 {
		return
	}
	r.adopt()
	if r.guid == "" || ctx.Err() != nil {
		s.stats.replayLost.Add(int64(n))
		s.stats.replayPending.Add(-int64(n))
		s.log.Warn("cloud: panel gone; messages kept for the upstream discarded", "remote", r.c.remote, "guid", r.guid, "messages", n)
		return
	}
	s.park(r.guid, &r.backlog)
}

// scheduleRetry sets the retry timer for retryAt when there is a backlog
// and no upstream connection.
func (r *relay) scheduleRetry() {
	if r.up == nil && r.backlog.len() > 0 {
		r.retry.Reset(max(time.Until(r.retryAt), 0))
	}
}

// giveUp drops the upstream connection and answers locally what was
// relayed to it and left unanswered. It returns false when the panel
// connection is gone.
func (r *relay) giveUp() bool {
	r.disconnect()
	r.timer.Stop()
	var local []byte
	if r.reads.Load() == r.mark {
		local = r.awaiting
	}
	r.awaiting = r.awaiting[:0]
	return r.answer(local)
}

// answer sends local replies to the panel ([REC], spec: E.4.3).
func (r *relay) answer(local []byte) bool {
	if len(local) == 0 {
		return true
	}
	r.c.srv.stats.localReplies.Add(1)
	return r.c.write(local) == nil
}

// connect dials the upstream, bounded by the connect timeout, and starts
// its reader.
func (r *relay) connect(ctx context.Context) {
	s := r.c.srv
	dctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	defer cancel()
	if r.tries++; r.tries > 1 {
		s.stats.upstreamReconnects.Add(1)
	}
	up, err := s.dial(dctx, "tcp", s.upstream)
	if err != nil {
		s.stats.upstreamFailures.Add(1)
		s.log.Warn("cloud: upstream connect failed; answering locally", "remote", r.c.remote, "upstream", s.upstream, "err", err)
		r.failed()
		return
	}
	s.stats.upstreamConnects.Add(1)
	s.log.Info("cloud: upstream connected", "remote", r.c.remote, "upstream", s.upstream)
	r.upMu.Lock()
	r.up, r.upDone = up, make(chan struct{})
	r.upMu.Unlock()
	r.upSince, r.upReads, r.proven = time.Now(), r.reads.Load(), false
	go r.readUpstream(up, r.upDone)
	if r.backlog.len() > 0 {
		r.flush()
	}
}

// failed schedules the next connect attempt with exponential backoff,
// waiting between half and all of it so that panels that lost the
// upstream together do not come back together (spec: E.4.3.1).
func (r *relay) failed() {
	s := r.c.srv
	r.backoff = min(max(2*r.backoff, s.backoffMin), s.backoffMax)
	wait := r.backoff/2 + rand.N(r.backoff/2+1)
	r.retryAt = time.Now().Add(wait)
	s.log.Info("cloud: upstream connect backing off", "remote", r.c.remote, "wait", wait.Round(time.Millisecond))
	r.scheduleRetry()
}

// disconnect closes the upstream connection and waits for its reader.
func (r *relay) disconnect() {
	if r.up == nil {
		return
	}
	r.up.Close()
	<-r.upDone
	r.upMu.Lock()
	r.up, r.upDone = nil, nil
	r.upMu.Unlock()
}

// readUpstream writes everything the upstream sends to the panel,
// unmodified except for the optional discovery rewrite (spec: E.4.1), in
// whole messages, so that our commands (Server.Command) go between them.
// The vendor's commands are noted first (cmdState.vendorCommands): one
// that reuses the sequence of ours in flight waits until ours is done.
func (r *relay) readUpstream(up net.Conn, done chan struct{}) {
	defer close(done)
	defer up.Close()
	s := r.c.srv
	cs := r.c.cmd
	var (
		f    cloudproto.Framer
		out  []byte
		seqs []uint16
	)
	buf := make([]byte, readSize)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			r.last.Store(s.now().UnixNano())
			r.reads.Add(1)
			f.Feed(buf[:n])
			out, seqs = r.forward(&f, out[:0], seqs[:0])
			turn := false // holding cs.sem: no command of ours in flight
			if len(seqs) > 0 && cs.vendorCommands(seqs) {
				select {
				case cs.sem <- struct{}{}:
					turn = true
					cs.forget(seqs)
				case <-cs.gone:
					return
				}
			}
			var werr error
			if len(out) > 0 {
				werr = r.c.write(out)
			}
			if turn {
				<-cs.sem
			}
			if werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Info("cloud: upstream closed", "remote", r.c.remote, "err", err)
			}
			return
		}
	}
}

// forward appends to out the complete upstream messages in f, with the
// address of a discovery reply replaced by the one this server
// advertises when Config.RewriteDiscovery says so, so that the panel
// keeps coming here (spec: G.5), and to seqs the sequences of the
// vendor's commands (M12, spec: D.5.8). Bytes that do not frame pass
// unchanged.
func (r *relay) forward(f *cloudproto.Framer, out []byte, seqs []uint16) ([]byte, []uint16) {
	for {
		raw, err := f.Next()
		if err != nil {
			var fe *cloudproto.FrameError
			if errors.As(err, &fe) {
				out = append(out, fe.Dropped...)
			}
			continue
		}
		if raw == nil {
			return out, seqs
		}
		m, err := cloudproto.Decode(raw)
		switch {
		case err != nil:
		case m.Kind == cloudproto.KindCommand:
			seqs = append(seqs, m.Seq())
		case m.Kind == cloudproto.KindDiscoveryResponse && r.c.srv.rewriteDiscovery:
			if adv := r.c.advertise(); adv.IsValid() {
				m.Discovery.ServerIP = adv.Addr().String()
				m.Discovery.ServerPort = int32(adv.Port())
				out = m.Append(out)
				continue
			}
		}
		out = append(out, raw...)
	}
}

// advertise returns the address sent in discovery replies on c: the
// configured one, else the IPv4 address the panel connected to with the
// listening port; invalid if neither can be sent.
func (c *conn) advertise() netip.AddrPort {
	if c.srv.advertise.IsValid() {
		return c.srv.advertise
	}
	local := addrPort(c.nc.LocalAddr()).Addr().Unmap()
	if !local.Is4() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(local, uint16(c.srv.localPort))
}
