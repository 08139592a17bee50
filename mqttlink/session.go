package mqttlink

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// writeTimeout bounds one packet's write, and a Publish waiting for
// paho's writer.
const writeTimeout = 10 * time.Second

// session is one connection, from the dial until it is lost or ctx
// ends. A failed attempt returns a *connectError; a lost connection, why.
//
// Reconnecting is ours, not paho's (no auto-reconnect, no connect
// retry): each session is a new paho client with an empty memory store,
// so paho never resends from its store, which reorders (upstream issue
// #731); the queue is the only store, and the send loop resends from its
// head. The session is clean: a message that came for the subscriptions
// while the link was away is not handed over late (a command must not
// run minutes after it was sent); the subscriptions are made again at
// each connection, and retained messages come then, marked retained.
func (l *Link) session(ctx context.Context) error {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &conn{lost: make(chan struct{})}
	opts := paho.NewClientOptions().
		AddBroker(l.url.String()).
		SetClientID(l.cfg.ClientID).
		SetProtocolVersion(4). // MQTT 3.1.1, and nothing else
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(keepAlive).
		SetConnectTimeout(connectTimeout).
		SetWriteTimeout(writeTimeout).
		// Messages reach OnMessage one at a time, in order: commands
		// must not overtake each other. OnMessage does not block.
		SetOrderMatters(true).
		SetConnectionLostHandler(func(_ paho.Client, err error) { s.setLost(err) }).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			nc, err := l.dial(dctx, u)
			if err != nil {
				return nil, err
			}
			return s.setNet(nc), nil
		}).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			if l.cfg.OnMessage != nil {
				l.cfg.OnMessage(m.Topic(), m.Payload(), m.Retained())
			}
		})
	if l.cfg.Username != "" {
		opts.SetUsername(l.cfg.Username)
		opts.SetPassword(l.cfg.Password)
	}
	if w := l.cfg.Will; w != nil {
		opts.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	c := paho.NewClient(opts)
	tok := c.Connect().(*paho.ConnectToken)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		cancel()    // a dial in progress
		s.dropNet() // a CONNECT waiting for its CONNACK
		<-tok.Done()
	}
	if err := tok.Error(); err != nil {
		if rc := tok.ReturnCode(); rc >= 1 && rc <= 5 {
			err = &RefusedError{Code: rc}
		}
		return &connectError{err}
	}
	defer s.drop()
	l.connects.Add(1)
	l.connected.Store(true)
	defer l.connected.Store(false)
	l.log.Info("connected to the MQTT broker", "url", l.cfg.URL, "protocol", "3.1.1")
	if err := l.subscribe(ctx, c, s); err != nil {
		return err
	}
	return l.send(ctx, c, s)
}

// dial opens the network connection: TCP or TLS here, so that ctx can
// cancel it; WebSocket with paho's dialer, bounded by the connect
// timeout.
func (l *Link) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	switch u.Scheme {
	case "tls":
		return (&tls.Dialer{Config: l.cfg.TLS}).DialContext(ctx, "tcp", u.Host)
	case "ws", "wss":
		du := *u
		du.User = nil
		return paho.NewWebsocket(du.String(), l.cfg.TLS, connectTimeout, nil, nil)
	}
	return new(net.Dialer).DialContext(ctx, "tcp", u.Host)
}

// subscribe subscribes to the filters of the config and waits for the
// SUBACK. A filter the broker refuses is logged; the rest work.
func (l *Link) subscribe(ctx context.Context, c paho.Client, s *conn) error {
	if len(l.cfg.Subscribe) == 0 {
		return nil
	}
	filters := make(map[string]byte, len(l.cfg.Subscribe))
	for _, f := range l.cfg.Subscribe {
		filters[f] = 1
	}
	tok := c.SubscribeMultiple(filters, nil).(*paho.SubscribeToken)
	if err := s.await(ctx, tok); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for f, qos := range tok.Result() {
		if qos == 0x80 { // MQTT 3.1.1 §3.9.3: failure
			l.log.Warn("the MQTT broker refused a subscription", "filter", f)
		}
	}
	return nil
}

// inFlight is a publish waiting for its acknowledgement: a message of
// the queue, or the birth message, which is not one.
type inFlight struct {
	tok    paho.Token
	queued bool
}

// send publishes the birth message and then the queue, in order, with
// up to Window publishes in flight, until the connection is lost or ctx
// ends. The head of the queue leaves it only once its PUBACK (for QoS
// 0: its write) has come, and the PUBACKs are taken in order, so no
// message leaves before one queued earlier. At the next connection the
// queue is sent again from its head: a message may reach the broker
// twice, never out of order nor not at all.
func (l *Link) send(ctx context.Context, c paho.Client, s *conn) error {
	var flight []inFlight // oldest first
	sent := 0             // queue entries in flight
	if b := l.cfg.Birth; b != nil {
		flight = append(flight, inFlight{tok: c.Publish(b.Topic, b.QoS, b.Retain, b.Payload)})
	}
	var ackTimer *time.Timer
	defer func() {
		if ackTimer != nil {
			ackTimer.Stop()
		}
	}()
	for {
		for len(flight) < l.cfg.Window {
			m, ok, err := l.q.at(sent)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			flight = append(flight, inFlight{tok: c.Publish(m.Topic, m.QoS, m.Retain, m.Payload), queued: true})
			sent++
		}
		var (
			acked   <-chan struct{}
			more    <-chan struct{}
			timeout <-chan time.Time
		)
		if len(flight) > 0 {
			acked = flight[0].tok.Done()
			if ackTimer == nil {
				ackTimer = time.NewTimer(ackTimeout)
			}
			timeout = ackTimer.C
		}
		if len(flight) < l.cfg.Window {
			more = l.q.beyond(sent)
		}
		select {
		case <-acked:
			f := flight[0]
			if err := f.tok.Error(); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			flight[0] = inFlight{}
			flight = flight[1:]
			if f.queued {
				if err := l.q.pop(); err != nil {
					return fmt.Errorf("mqttlink: queue: %w", err)
				}
				sent--
			}
			ackTimer.Stop()
			ackTimer = nil
		case <-more:
		case <-timeout:
			return fmt.Errorf("no acknowledgement from the broker in %v", ackTimeout)
		case <-s.lost:
			return s.err
		case <-ctx.Done():
			return nil
		}
	}
}

// conn is what a session knows of its connection: the network
// connection under paho, and whether paho has lost it.
type conn struct {
	mu   sync.Mutex
	nc   *netConn
	once sync.Once
	lost chan struct{} // closed when paho reports the connection lost
	err  error         // why; set before lost is closed
}

func (s *conn) setNet(nc net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nc = &netConn{Conn: nc, r: bufio.NewReaderSize(nc, 4096)}
	return s.nc
}

func (s *conn) setLost(err error) {
	s.once.Do(func() {
		if err == nil {
			err = errors.New("connection lost")
		}
		s.err = err
		close(s.lost)
	})
}

// dropNet closes the network connection, if there is one.
func (s *conn) dropNet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.drop()
	}
}

// errDropped is what paho reads from a connection the link dropped.
var errDropped = errors.New("mqttlink: connection dropped")

// netConn is the network connection under paho. paho takes a read on a
// connection closed on its side for a disconnect of its own and does not
// report it lost, so once dropped its reads fail with errDropped. Reads
// are buffered: paho reads a packet's header a byte at a time, three
// reads for each 4-byte PUBACK.
type netConn struct {
	net.Conn
	r       *bufio.Reader
	dropped atomic.Bool
}

func (c *netConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil && c.dropped.Load() {
		err = errDropped
	}
	return n, err
}

func (c *netConn) drop() {
	c.dropped.Store(true)
	c.Conn.Close()
}

// drop ends the connection without a DISCONNECT, so that the broker
// publishes the will (MQTT 3.1.1 §3.1.2.5), and waits until paho has
// seen it and stopped its goroutines: it reports the loss only then.
func (s *conn) drop() {
	s.dropNet()
	t := time.NewTimer(writeTimeout)
	defer t.Stop()
	select {
	case <-s.lost:
	case <-t.C:
	}
}

// await waits for tok, up to ackTimeout; the connection lost or ctx
// ending end the wait too.
func (s *conn) await(ctx context.Context, tok paho.Token) error {
	t := time.NewTimer(ackTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-s.lost:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no acknowledgement from the broker in %v", ackTimeout)
	}
}
