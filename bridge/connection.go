package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/g90alarm/g90/internal/mqtt311"
)

// The values of Config.Protocol.
const (
	ProtocolAuto = "auto"
	Protocol5    = "5"
	Protocol311  = "3.1.1"
)

// errFallback ends a connection runner whose broker refused its
// protocol before it ever connected: the other protocol is next.
var errFallback = errors.New("bridge: the broker refused the protocol")

// Settings both protocols share.
const (
	keepAlive      = 20 * time.Second
	connectTimeout = 5 * time.Second
)

// connection keeps the bridge connected to the broker until ctx ends,
// with MQTT 5 (autopaho) or MQTT 3.1.1 (internal/mqtt311); in auto mode
// it starts with 5 and changes protocol while the broker refuses the
// one tried, until one connects, and then keeps that one.
func (b *Bridge) connection(ctx context.Context) error {
	defer b.connected.Store(false)
	proto := Protocol5
	if b.cfg.Protocol == Protocol311 {
		proto = Protocol311
	}
	for {
		var err error
		if proto == Protocol5 {
			err = b.run5(ctx)
		} else {
			err = b.run311(ctx)
		}
		if !errors.Is(err, errFallback) {
			return err
		}
		if proto == Protocol5 {
			proto = Protocol311
			b.log.Info("the MQTT broker refused MQTT 5; trying MQTT 3.1.1", "url", b.cfg.URL)
		} else {
			proto = Protocol5
			b.log.Info("the MQTT broker refused MQTT 3.1.1; trying MQTT 5 again", "url", b.cfg.URL)
		}
	}
}

// auto reports whether the bridge may change protocol: in auto mode,
// unless over WebSocket, which has no MQTT 3.1.1 client.
func (b *Bridge) auto() bool {
	return b.cfg.Protocol == ProtocolAuto && b.url.Scheme != "ws" && b.url.Scheme != "wss"
}

// up is what both protocols do on each connection, before subscribing.
func (b *Bridge) up(proto string) {
	b.connects.Add(1)
	b.connected.Store(true)
	b.log.Info("connected to the MQTT broker", "url", b.cfg.URL, "protocol", proto)
	b.publish(b.bridgeStatus(), []byte("online"), true)
}

// down is what both protocols do when a connection is lost.
func (b *Bridge) down(err error) {
	b.connected.Store(false)
	if err != nil {
		b.log.Warn("lost the MQTT broker; queueing until it is back", "url", b.cfg.URL, "err", err)
	} else {
		b.log.Warn("lost the MQTT broker; queueing until it is back", "url", b.cfg.URL)
	}
}

// subscriptions are the topic filters of every connection: Home
// Assistant's status, and the commands of panel entities (the alarm
// panel, buttons, settings), sensor and relay entities (relay nodes
// included).
func (b *Bridge) subscriptions() []string {
	subs := []string{b.cfg.DiscoveryPrefix + "/status"}
	for _, t := range []string{"/+/+/set", "/+/sensor/+/+/set", "/+/relay/+/+/set"} {
		subs = append(subs, b.cfg.TopicPrefix+t)
	}
	return subs
}

// run5 is the MQTT 5 connection: autopaho, which reconnects by itself
// and sends the queue. In auto mode it returns errFallback when the
// broker refuses MQTT 5 before any connection was made.
func (b *Bridge) run5(ctx context.Context) error {
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fallback := b.auto()
	refused := make(chan struct{}, 1)
	var connected atomic.Bool
	// The connection of the last attempt, which saw what the broker
	// answered; autopaho makes one attempt at a time.
	var last atomic.Pointer[probeConn]
	q := &stoppableQueue{Queue: b.q}
	cfg := autopaho.ClientConfig{
		ServerUrls: []*url.URL{b.url}, TlsCfg: b.cfg.TLS, KeepAlive: uint16(keepAlive / time.Second),
		// A session that outlives outages, so QoS 1 messages in flight
		// when the connection drops are sent again (spec of PublishViaQueue).
		CleanStartOnInitialConnection: false, SessionExpiryInterval: 3600,
		ReconnectBackoff: autopaho.NewConstantBackoff(b.cfg.ReconnectDelay),
		ConnectTimeout:   connectTimeout,
		Queue:            q,
		ConnectUsername:  b.cfg.Username, ConnectPassword: []byte(b.cfg.Password),
		WillMessage: &paho.WillMessage{Topic: b.bridgeStatus(), Payload: []byte("offline"), QoS: 1, Retain: true},
		DisconnectPacketBuilder: func() *paho.Disconnect {
			return &paho.Disconnect{ReasonCode: 0x04} // disconnect with will message
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			connected.Store(true)
			b.up(Protocol5)
			var subs []paho.SubscribeOptions
			for _, t := range b.subscriptions() {
				subs = append(subs, paho.SubscribeOptions{Topic: t, QoS: 1})
			}
			if _, err := cm.Subscribe(cctx, &paho.Subscribe{Subscriptions: subs}); err != nil && cctx.Err() == nil {
				b.log.Warn("MQTT subscribe failed", "err", err)
			}
		},
		OnConnectionDown: func() bool {
			b.down(nil)
			return true
		},
		OnConnectError: func(err error) {
			why := last.Load().refusal()
			if why != "" {
				err = fmt.Errorf("%s: %w", why, err)
			}
			if fallback && !connected.Load() && refusedMQTT5(err, why) {
				b.log.Info("the MQTT broker does not speak MQTT 5", "url", b.cfg.URL, "err", connectError(err))
				select {
				case refused <- struct{}{}:
				default:
				}
				return
			}
			b.log.Warn("cannot connect to the MQTT broker", "url", b.cfg.URL, "err", connectError(err))
		},
		ClientConfig: paho.ClientConfig{
			ClientID: b.cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					b.received(pr.Packet.Topic, pr.Packet.Payload)
					return true, nil
				},
			},
		},
	}
	if b.url.Scheme == "mqtt" || b.url.Scheme == "tls" {
		// Our own dial, to see what a broker that refuses the CONNECT
		// answers; paho only says EOF. (WebSocket stays autopaho's.)
		cfg.AttemptConnection = func(ctx context.Context, _ autopaho.ClientConfig, _ *url.URL) (net.Conn, error) {
			last.Store(nil)
			// autopaho passes its own context, not the attempt's with
			// ConnectTimeout.
			ctx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			nc, err := b.dial5(ctx)
			if err != nil {
				return nil, err
			}
			p := &probeConn{Conn: nc}
			last.Store(p)
			return p, nil
		}
	}
	cm, err := autopaho.NewConnection(cctx, cfg)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	select {
	case <-refused:
		// Never connected: nothing to say goodbye to.
		q.stop.Store(true)
		cancel()
		<-cm.Done()
		return errFallback
	case <-ctx.Done():
	}
	// Say goodbye: a disconnect that asks the broker to publish the
	// will, offline (MQTT 5 reason 0x04). A goodbye of our own could wait
	// behind the queue's messages in flight, and a clean disconnect would
	// then discard the will.
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer dcancel()
	// autopaho's queue sender retries a failed publish without looking at
	// its context; an empty queue lets it see the end.
	q.stop.Store(true)
	_ = cm.Disconnect(dctx)
	cancel()
	<-cm.Done()
	return nil
}

// dial5 opens the network connection of an MQTT 5 attempt as autopaho
// does, TCP or TLS (but without its all_proxy support).
func (b *Bridge) dial5(ctx context.Context) (net.Conn, error) {
	if b.url.Scheme == "tls" {
		return (&tls.Dialer{Config: b.cfg.TLS}).DialContext(ctx, "tcp", b.url.Host)
	}
	return new(net.Dialer).DialContext(ctx, "tcp", b.url.Host)
}

// refusedMQTT5 reports whether a failed MQTT 5 attempt was the broker
// refusing MQTT 5 itself: a CONNACK with reason 0x84 (unsupported
// protocol version), or what probeConn.refusal saw. A failed dial, a
// refusal of the credentials or a timeout is not.
func refusedMQTT5(err error, refusal string) bool {
	var ce *autopaho.ConnackError
	if errors.As(err, &ce) {
		return ce.ReasonCode == 0x84
	}
	return refusal != ""
}

// probeConn is the connection of an MQTT 5 attempt, watched: it keeps
// the first bytes the broker sent and whether it closed the connection
// before sending any. It is a sync.Locker, which paho takes around each
// packet it writes, so that packets of several goroutines do not mix.
type probeConn struct {
	net.Conn
	wmu sync.Mutex

	mu     sync.Mutex
	wrote  bool
	head   []byte // the first bytes read, up to 4
	closed bool   // the broker closed the connection before sending a byte
}

func (p *probeConn) Lock()   { p.wmu.Lock() }
func (p *probeConn) Unlock() { p.wmu.Unlock() }

func (p *probeConn) Write(b []byte) (int, error) {
	n, err := p.Conn.Write(b)
	if n > 0 {
		p.mu.Lock()
		p.wrote = true
		p.mu.Unlock()
	}
	return n, err
}

func (p *probeConn) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.head) < 4 {
		p.head = append(p.head, b[:min(n, 4-len(p.head))]...)
	}
	if n == 0 && len(p.head) == 0 && p.wrote && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		p.closed = true
	}
	return n, err
}

// refusal says how the broker refused the CONNECT of MQTT 5 if it did
// so as a broker that does not speak it: "" otherwise. Such a broker
// answers with an MQTT 3.1.1 CONNACK, return code 1 (MQTT 3.1.1
// §3.1.2.2): 20 02 00 01, two bytes where an MQTT 5 CONNACK has at
// least three (MQTT 5.0 §3.2.2); or it closes the connection without a
// word. p may be nil: no connection.
func (p *probeConn) refusal() string {
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(p.head) == 4 && p.head[0] == 0x20 && p.head[1] == 2 && p.head[3] == 1:
		return "the broker answered with an MQTT 3.1.1 CONNACK: unacceptable protocol version"
	case p.closed:
		return "the broker closed the connection without answering the MQTT 5 CONNECT"
	}
	return ""
}

// run311 is the MQTT 3.1.1 connection: internal/mqtt311, reconnected
// here, sending the queue one message at a time. In auto mode it returns
// errFallback when the broker refuses MQTT 3.1.1 as it might refuse
// MQTT 5, before any connection was made.
func (b *Bridge) run311(ctx context.Context) error {
	var tc *tls.Config
	if b.url.Scheme == "tls" {
		tc = b.cfg.TLS
		if tc == nil {
			tc = &tls.Config{}
		}
	}
	cfg := mqtt311.Config{
		Addr: b.url.Host, TLS: tc, ClientID: b.cfg.ClientID, Username: b.cfg.Username, Password: b.cfg.Password,
		// The broker keeps the subscriptions and the QoS 1 commands that
		// come while the bridge is away.
		CleanSession: false,
		KeepAlive:    keepAlive, ConnectTimeout: connectTimeout,
		Will:      &mqtt311.Will{Topic: b.bridgeStatus(), Payload: []byte("offline"), QoS: 1, Retain: true},
		OnMessage: b.received,
	}
	fallback := b.auto()
	for {
		c, err := mqtt311.Dial(ctx, cfg)
		switch {
		case ctx.Err() != nil:
			if err == nil {
				c.Close()
			}
			return nil
		case err != nil && fallback && refusedMQTT311(err):
			b.log.Info("the MQTT broker does not speak MQTT 3.1.1", "url", b.cfg.URL, "err", connectError(err))
			if wait(ctx, b.cfg.ReconnectDelay) {
				return errFallback
			}
			return nil
		case err != nil:
			b.log.Warn("cannot connect to the MQTT broker", "url", b.cfg.URL, "err", connectError(err))
		default:
			fallback = false
			err = b.serve311(ctx, c)
			if ctx.Err() != nil {
				return nil
			}
			b.down(err)
		}
		if !wait(ctx, b.cfg.ReconnectDelay) {
			return nil
		}
	}
}

// refusedMQTT311 reports whether a failed MQTT 3.1.1 attempt was the
// broker refusing the protocol: return code 1, unacceptable protocol
// version (MQTT 3.1.1 §3.2.2.3), or, as the MQTT 5 attempt before it
// may have seen, the connection closed without a CONNACK.
func refusedMQTT311(err error) bool {
	var ce *mqtt311.ConnackError
	return errors.As(err, &ce) && ce.Code == 1 || errors.Is(err, mqtt311.ErrNoConnack)
}

// wait waits d, or until ctx ends: then it returns false.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serve311 runs one MQTT 3.1.1 connection until it is lost or ctx
// ends; then it closes it without a DISCONNECT, so that the broker
// publishes the will.
func (b *Bridge) serve311(ctx context.Context, c *mqtt311.Conn) error {
	defer c.Close()
	b.up(Protocol311)
	topics := b.subscriptions()
	subs := make([]mqtt311.Subscription, len(topics))
	for i, t := range topics {
		subs[i] = mqtt311.Subscription{Topic: t, QoS: 1}
	}
	granted, err := c.Subscribe(ctx, subs)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("MQTT subscribe failed", "err", err)
		}
		return err
	}
	for i, g := range granted {
		if g == mqtt311.SubackFailure {
			b.log.Warn("the MQTT broker refused a subscription", "topic", topics[i])
		}
	}
	return b.drain311(ctx, c)
}

// drain311 sends the queue over c in order, one message at a time: each
// leaves the queue once the broker has acknowledged it, so a lost
// connection sends it again on the next.
func (b *Bridge) drain311(ctx context.Context, c *mqtt311.Conn) error {
	for {
		e, err := b.q.Peek()
		if errors.Is(err, queue.ErrEmpty) {
			select {
			case <-b.q.Wait():
				continue
			case <-c.Done():
				return c.Err()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return fmt.Errorf("bridge: queue: %w", err)
		}
		pub, err := queued(e)
		if err == nil {
			err = c.Publish(ctx, pub.Topic, pub.Payload, 1, pub.Retain)
			if err != nil && !errors.Is(err, mqtt311.ErrEncode) {
				_ = e.Leave()
				return err
			}
		}
		if err != nil {
			b.log.Error("a queued MQTT message cannot be sent; set aside", "err", err)
			err = e.Quarantine()
		} else {
			err = e.Remove()
		}
		if err != nil && !errors.Is(err, queue.ErrEmpty) {
			return fmt.Errorf("bridge: queue: %w", err)
		}
	}
}

// queued reads a queue entry: an MQTT 5 PUBLISH as Bridge.publish
// wrote it.
func queued(e queue.Entry) (*packets.Publish, error) {
	r, err := e.Reader()
	if err != nil {
		return nil, err
	}
	cp, err := packets.ReadPacket(r)
	if err != nil {
		return nil, err
	}
	pub, ok := cp.Content.(*packets.Publish)
	if !ok {
		return nil, fmt.Errorf("a %s, not a PUBLISH", cp.PacketType())
	}
	return pub, nil
}
