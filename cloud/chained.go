package cloud

import (
	"context"
	"errors"
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
	backoff time.Duration
	retryAt time.Time
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
	defer r.disconnect()
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
			r.c.srv.log.Info("cloud: upstream connection lost", "remote", r.c.remote)
			if !r.giveUp() {
				return
			}
		case <-r.timer.C:
			if r.reads.Load() != r.mark {
				r.awaiting = r.awaiting[:0] // the upstream answered
				continue
			}
			r.c.srv.stats.upstreamStalls.Add(1)
			r.c.srv.log.Warn("cloud: upstream left a request unanswered; answering locally", "remote", r.c.remote, "timeout", r.c.srv.upTimeout)
			if !r.giveUp() {
				return
			}
			r.failed()
		}
	}
}

// relay sends one read upstream, or answers it locally. It returns false
// when the panel connection is gone.
func (r *relay) relay(ctx context.Context, it item) bool {
	if r.reads.Load() != r.mark {
		r.awaiting = r.awaiting[:0] // the upstream answered
	}
	if r.up == nil && !time.Now().Before(r.retryAt) {
		r.connect(ctx)
	}
	if r.up != nil {
		mark := r.reads.Load() // before the write: the answer may come before it returns
		r.up.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := r.up.Write(it.chunk)
		if err == nil {
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
		if !r.giveUp() {
			return false
		}
		r.failed()
	}
	return r.answer(it.local)
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
	r.up, r.upDone, r.backoff = up, make(chan struct{}), 0
	r.upMu.Unlock()
	go r.readUpstream(up, r.upDone)
}

// failed schedules the next connect attempt with exponential backoff.
func (r *relay) failed() {
	s := r.c.srv
	r.backoff = min(max(2*r.backoff, s.backoffMin), s.backoffMax)
	r.retryAt = time.Now().Add(r.backoff)
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
// unmodified except for the optional discovery rewrite (spec: E.4.1).
func (r *relay) readUpstream(up net.Conn, done chan struct{}) {
	defer close(done)
	defer up.Close()
	s := r.c.srv
	var (
		f   cloudproto.Framer
		out []byte
	)
	buf := make([]byte, readSize)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			r.last.Store(s.now().UnixNano())
			r.reads.Add(1)
			out = buf[:n]
			if s.rewriteDiscovery {
				f.Feed(buf[:n])
				out = r.rewrite(&f, out[:0:0])
			}
			if len(out) > 0 {
				if werr := r.c.write(out); werr != nil {
					return
				}
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

// rewrite returns the complete upstream messages in f, with the address
// of a discovery reply replaced by the one this server advertises, so
// that the panel keeps coming here (spec: G.5). Bytes that do not frame
// pass unchanged.
func (r *relay) rewrite(f *cloudproto.Framer, out []byte) []byte {
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
			return out
		}
		m, err := cloudproto.Decode(raw)
		if err != nil || m.Kind != cloudproto.KindDiscoveryResponse {
			out = append(out, raw...)
			continue
		}
		adv := r.c.advertise()
		if !adv.IsValid() {
			out = append(out, raw...)
			continue
		}
		m.Discovery.ServerIP = adv.Addr().String()
		m.Discovery.ServerPort = int32(adv.Port())
		out = m.Append(out)
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
