package mqtt311

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors of a connection.
var (
	// ErrClosed: the connection was ended by Close or Disconnect.
	ErrClosed = errors.New("mqtt311: connection closed")
	// ErrPingTimeout: the broker did not answer a PINGREQ in time.
	ErrPingTimeout = errors.New("mqtt311: no PINGRESP from the broker")
	// ErrProtocol: the broker sent a packet it must not send now.
	ErrProtocol = errors.New("mqtt311: protocol violation by the broker")
	// ErrTooManyInFlight: every packet id is taken by a QoS 1 publish or
	// a subscribe waiting for its answer.
	ErrTooManyInFlight = errors.New("mqtt311: 65,535 requests waiting for an answer")
	// ErrNoConnack: the broker closed the connection after the CONNECT
	// without answering it.
	ErrNoConnack = errors.New("mqtt311: the broker closed the connection without a CONNACK")
)

// connackReturnCodes name the refusals of a CONNACK (MQTT 3.1.1
// §3.2.2.3).
var connackReturnCodes = map[byte]string{
	1: "unacceptable protocol version",
	2: "identifier rejected",
	3: "server unavailable",
	4: "bad user name or password",
	5: "not authorized",
}

// ConnackError is a broker's refusal of a CONNECT.
type ConnackError struct {
	Code byte // the CONNACK's return code, 1–5 (MQTT 3.1.1 §3.2.2.3)
}

func (e *ConnackError) Error() string {
	if why, ok := connackReturnCodes[e.Code]; ok {
		return fmt.Sprintf("mqtt311: the broker refused the connection: %s (return code %d)", why, e.Code)
	}
	return fmt.Sprintf("mqtt311: the broker refused the connection: return code %d", e.Code)
}

// Config configures Dial. The zero value of every field but Addr means
// its default.
type Config struct {
	// Addr is the broker's host:port.
	Addr string
	// TLS, when not nil, makes the connection TLS with these settings;
	// an empty ServerName is Addr's host.
	TLS *tls.Config
	// Dialer opens the TCP connection; nil is a net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// ClientID names the session; "" asks the broker to make one up,
	// which it only does with CleanSession (MQTT 3.1.1 §3.1.3.1).
	ClientID string
	// Username and Password are sent when not empty.
	Username string
	Password string
	// CleanSession discards the session the broker kept for ClientID,
	// and the new one ends with the connection. Without it the broker
	// keeps the subscriptions and QoS 1 messages across connections.
	CleanSession bool
	// KeepAlive is the longest the connection stays silent: a PINGREQ
	// goes out when nothing else did for three quarters of it, and its
	// PINGRESP must come back within it. 0 means 30 s; it is sent in
	// whole seconds, rounded up.
	KeepAlive time.Duration
	// Will is published by the broker when the connection ends without
	// a DISCONNECT; nil is none.
	Will *Will
	// ConnectTimeout bounds Dial: the TCP and TLS handshakes, the
	// CONNECT and its CONNACK. 0 means 10 s.
	ConnectTimeout time.Duration
	// MaxPacketSize bounds a packet from the broker; a larger one ends
	// the connection. 0 means 1 MiB.
	MaxPacketSize int
	// OnMessage is called with each message from the broker, one at a
	// time and in order, on the connection's reader goroutine: it must
	// not block for long, and payload is valid only during the call.
	// Messages are acknowledged once it returns. nil drops them.
	OnMessage func(topic string, payload []byte)
}

// Conn is one connection to a broker. Its methods may be called from
// several goroutines at once.
type Conn struct {
	cfg  Config
	nc   net.Conn
	br   *bufio.Reader
	rbuf []byte // the packet being read; only the reader uses it

	// wsem admits one writer at a time; a channel, so that waiting
	// for it heeds a context.
	wsem      chan struct{}
	wbuf      []byte       // guarded by wsem
	lastWrite atomic.Int64 // unix ns of the last write
	pingSent  atomic.Int64 // unix ns of the PINGREQ waiting for its PINGRESP, 0 if none

	mu      sync.Mutex
	pending map[uint16]*pending // packet ids in flight
	nextID  uint16              // the last id given; the next is below

	qos2 map[uint16]bool // QoS 2 messages received and not yet released; only the reader uses it

	closing  atomic.Bool // Disconnect or Close began: the end is ErrClosed
	failOnce sync.Once
	err      error         // why the connection ended, set before stop closes
	stop     chan struct{} // closed when the connection fails or is closed
	done     chan struct{} // closed when every goroutine has ended
}

// pending is a request waiting for its answer: a PUBACK or a SUBACK.
type pending struct {
	want Type
	ch   chan Packet // buffered: the reader never waits
}

// Dial connects to the broker, sends the CONNECT and waits for the
// broker's CONNACK. A refusal is a *ConnackError; a broker that closes
// the connection instead of answering gives ErrNoConnack.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Addr == "" {
		return nil, errors.New("mqtt311: no broker address")
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.MaxPacketSize <= 0 {
		cfg.MaxPacketSize = 1 << 20
	}
	if cfg.Dialer == nil {
		cfg.Dialer = new(net.Dialer).DialContext
	}
	ka := (cfg.KeepAlive + time.Second - 1) / time.Second
	if ka > 65535 {
		return nil, fmt.Errorf("mqtt311: keepalive %v: at most 65535 s", cfg.KeepAlive)
	}
	connect := &Connect{
		ClientID: cfg.ClientID, CleanSession: cfg.CleanSession, KeepAlive: uint16(ka),
		Will: cfg.Will, Username: cfg.Username, Password: []byte(cfg.Password),
	}
	pkt, err := connect.Append(nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	nc, err := cfg.Dialer(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt311: dial %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		tc := cfg.TLS
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(cfg.Addr)
			tc = tc.Clone()
			tc.ServerName = host
		}
		t := tls.Client(nc, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("mqtt311: TLS with %s: %w", cfg.Addr, err)
		}
		nc = t
	}
	c := &Conn{
		cfg: cfg, nc: nc, br: bufio.NewReaderSize(nc, 4096),
		wsem: make(chan struct{}, 1), pending: map[uint16]*pending{}, qos2: map[uint16]bool{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	ack, err := c.handshake(ctx, pkt)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if ack.ReturnCode != 0 {
		nc.Close()
		return nil, &ConnackError{Code: ack.ReturnCode}
	}
	c.lastWrite.Store(time.Now().UnixNano())
	go c.readLoop()
	return c, nil
}

// handshake sends the CONNECT and reads the CONNACK, both bounded by
// ctx.
func (c *Conn) handshake(ctx context.Context, connect []byte) (*Connack, error) {
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(longAgo) })
	ack, err := c.exchangeConnect(ctx, connect)
	if !stop() {
		// ctx ended: the deadline is in the past, whatever came in.
		return nil, fmt.Errorf("mqtt311: connect: %w", context.Cause(ctx))
	}
	return ack, err
}

func (c *Conn) exchangeConnect(ctx context.Context, connect []byte) (*Connack, error) {
	if _, err := c.nc.Write(connect); err != nil {
		return nil, fmt.Errorf("mqtt311: send CONNECT: %w", orCtx(ctx, err))
	}
	raw, err := c.readPacket()
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, fmt.Errorf("%w: %w", ErrNoConnack, err)
		}
		return nil, fmt.Errorf("mqtt311: read CONNACK: %w", orCtx(ctx, err))
	}
	p, err := Decode(raw)
	if err != nil {
		return nil, malformed(raw, err)
	}
	ack, ok := p.(*Connack)
	if !ok {
		return nil, fmt.Errorf("%w: %v instead of CONNACK", ErrProtocol, p.Type())
	}
	return ack, nil
}

// orCtx returns ctx's error when ctx ended, which is then why an I/O
// call failed.
func orCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// longAgo is a deadline in the past: it interrupts a blocked read or
// write.
var longAgo = time.Unix(1, 0)

// malformed is the error of a packet from the broker that does not
// decode: the bytes, in hex, for whoever has to look into it.
func malformed(raw []byte, err error) error {
	const show = 256
	h := hex.EncodeToString(raw[:min(len(raw), show)])
	if len(raw) > show {
		h += fmt.Sprintf("… (%d bytes)", len(raw))
	}
	return fmt.Errorf("%w (packet %s)", err, h)
}

// readPacket reads one packet; the result is valid until the next call.
func (c *Conn) readPacket() ([]byte, error) {
	hdr := c.rbuf[:0]
	var h Header
	for {
		b, err := c.br.ReadByte()
		if err != nil {
			if len(hdr) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		hdr = append(hdr, b)
		var n int
		if h, n, err = ParseHeader(hdr); err != nil {
			return nil, malformed(hdr, err)
		}
		if n > 0 {
			break
		}
	}
	if h.Remaining > c.cfg.MaxPacketSize {
		return nil, fmt.Errorf("%w: a %v of %d bytes, more than the %d accepted", ErrProtocol, h.Type, h.Remaining, c.cfg.MaxPacketSize)
	}
	n := len(hdr) + h.Remaining
	if cap(hdr) < n {
		hdr = append(make([]byte, 0, max(n, 256)), hdr...)
	}
	raw := hdr[:n]
	if _, err := io.ReadFull(c.br, raw[len(hdr):]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if cap(raw) <= 64<<10 {
		c.rbuf = raw[:0] // keep a small buffer, let a large one go
	}
	return raw, nil
}

// Done is closed when the connection has ended and its goroutines with
// it.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended: nil while it is up, ErrClosed
// after Close or Disconnect.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// fail ends the connection for err; the first call decides Err.
func (c *Conn) fail(err error) {
	c.failOnce.Do(func() {
		if c.closing.Load() {
			err = ErrClosed
		}
		c.err = err
		close(c.stop)
		c.nc.Close()
	})
}

// Close closes the connection without a DISCONNECT, so the broker
// publishes the will, and waits for its goroutines to end.
func (c *Conn) Close() error {
	c.closing.Store(true)
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// Disconnect sends a DISCONNECT, which makes the broker discard the
// will, closes the connection and waits for its goroutines to end. The
// error says whether the DISCONNECT could be sent.
func (c *Conn) Disconnect() error {
	c.closing.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), disconnectWait)
	defer cancel()
	err := c.write(ctx, &Disconnect{})
	if err == nil {
		// The broker closes the connection once it has the DISCONNECT
		// (§3.14.4); closing first could reset the connection before
		// the broker reads it.
		if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	}
	c.fail(ErrClosed)
	<-c.done
	if err != nil {
		return fmt.Errorf("mqtt311: send DISCONNECT: %w", err)
	}
	return nil
}

// disconnectWait bounds Disconnect's wait for the broker.
const disconnectWait = 2 * time.Second

// write sends one packet. An encoding error leaves the connection up;
// a write that fails or is interrupted by ctx ends it, since part of the
// packet may have gone out.
func (c *Conn) write(ctx context.Context, p Packet) error {
	select {
	case c.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return c.err
	}
	defer func() { <-c.wsem }()
	select {
	case <-c.stop:
		return c.err // stopped while waiting for the turn
	default:
	}
	b, err := p.Append(c.wbuf[:0])
	if err != nil {
		return err
	}
	if cap(b) <= 64<<10 {
		c.wbuf = b[:0]
	}
	// A broker that stops reading would block the write, and with it
	// every other; the keepalive bounds how long that may last.
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.KeepAlive))
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetWriteDeadline(longAgo)
		close(fired)
	})
	_, err = c.nc.Write(b)
	if !stop() {
		<-fired
	}
	if err != nil {
		err = fmt.Errorf("mqtt311: send %v: %w", p.Type(), orCtx(ctx, err))
		c.fail(err)
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// request allocates a packet id for a request whose answer is of type
// want. Ids in flight are not reused, not even those whose caller gave
// up waiting: their answer may still come. They count down from 65535:
// the two directions have their own ids (§2.3.1), but a broker may not
// keep them apart (mochi answers a SUBSCRIBE whose id one of its own
// messages in flight has with 0x91, and drops that message on a PUBLISH
// with it), and brokers count theirs up from 1.
func (c *Conn) request(want Type) (uint16, *pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
		return 0, nil, c.err
	default:
	}
	if len(c.pending) >= 65535 {
		return 0, nil, ErrTooManyInFlight
	}
	for {
		c.nextID--
		if c.nextID == 0 {
			c.nextID = 65535
		}
		if c.pending[c.nextID] == nil {
			break
		}
	}
	p := &pending{want: want, ch: make(chan Packet, 1)}
	c.pending[c.nextID] = p
	return c.nextID, p, nil
}

func (c *Conn) release(id uint16) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// await waits for a request's answer.
func (c *Conn) await(ctx context.Context, p *pending) (Packet, error) {
	select {
	case a := <-p.ch:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.err
	}
}

// Publish sends a message. With QoS 1 it returns once the broker has
// acknowledged it; several may wait at once. QoS 2 is not supported.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	p := &Publish{Topic: topic, Payload: payload, QoS: qos, Retain: retain}
	switch qos {
	case 0:
		if err := c.write(ctx, p); err != nil {
			return fmt.Errorf("mqtt311: publish to %s: %w", topic, err)
		}
		return nil
	case 1:
	default:
		return fmt.Errorf("mqtt311: publish to %s: QoS %d: want 0 or 1", topic, qos)
	}
	id, pend, err := c.request(TypePuback)
	if err != nil {
		return fmt.Errorf("mqtt311: publish to %s: %w", topic, err)
	}
	p.PacketID = id
	if err := c.write(ctx, p); err != nil {
		c.release(id)
		return fmt.Errorf("mqtt311: publish to %s: %w", topic, err)
	}
	if _, err := c.await(ctx, pend); err != nil {
		return fmt.Errorf("mqtt311: publish to %s: waiting for PUBACK: %w", topic, err)
	}
	return nil
}

// Subscribe subscribes to topic filters and returns the broker's return
// code for each: the QoS granted, or SubackFailure for a refusal.
func (c *Conn) Subscribe(ctx context.Context, subs []Subscription) ([]byte, error) {
	id, pend, err := c.request(TypeSuback)
	if err != nil {
		return nil, fmt.Errorf("mqtt311: subscribe: %w", err)
	}
	if err := c.write(ctx, &Subscribe{PacketID: id, Subscriptions: subs}); err != nil {
		c.release(id)
		return nil, fmt.Errorf("mqtt311: subscribe: %w", err)
	}
	a, err := c.await(ctx, pend)
	if err != nil {
		return nil, fmt.Errorf("mqtt311: subscribe: waiting for SUBACK: %w", err)
	}
	codes := a.(*Suback).ReturnCodes
	if len(codes) != len(subs) {
		err := fmt.Errorf("%w: a SUBACK with %d return codes for %d topic filters (§3.9.3)", ErrProtocol, len(codes), len(subs))
		c.fail(err)
		return nil, err
	}
	return codes, nil
}

// readLoop reads and handles the broker's packets until the connection
// ends. It owns the keepalive goroutine and closes done after it ended.
func (c *Conn) readLoop() {
	var wg sync.WaitGroup
	wg.Go(c.keepAlive)
	for {
		raw, err := c.readPacket()
		if err != nil {
			c.fail(fmt.Errorf("mqtt311: read: %w", err))
			break
		}
		p, err := Decode(raw)
		if err != nil {
			c.fail(malformed(raw, err))
			break
		}
		if err := c.handle(p); err != nil {
			c.fail(err)
			break
		}
	}
	wg.Wait()
	close(c.done)
}

// handle acts on one packet from the broker.
func (c *Conn) handle(p Packet) error {
	ctx := context.Background() // writes are bounded by their deadline
	switch p := p.(type) {
	case *Publish:
		switch p.QoS {
		case 0:
			c.deliver(p)
		case 1:
			c.deliver(p)
			return c.write(ctx, &Puback{p.PacketID})
		case 2:
			// Delivered once, at the first PUBLISH with its id; a
			// duplicate before the PUBREL is only answered (§4.3.3).
			if !c.qos2[p.PacketID] {
				c.deliver(p)
				c.qos2[p.PacketID] = true
			}
			return c.write(ctx, &Pubrec{p.PacketID})
		}
	case *Pubrel:
		delete(c.qos2, p.PacketID)
		return c.write(ctx, &Pubcomp{p.PacketID})
	case *Puback:
		return c.answer(p.PacketID, p)
	case *Suback:
		p.ReturnCodes = append([]byte(nil), p.ReturnCodes...) // the read buffer is reused
		return c.answer(p.PacketID, p)
	case *Pingresp:
		c.pingSent.Store(0)
	default:
		return fmt.Errorf("%w: it sent a %v", ErrProtocol, p.Type())
	}
	return nil
}

func (c *Conn) deliver(p *Publish) {
	if c.cfg.OnMessage != nil {
		c.cfg.OnMessage(p.Topic, p.Payload)
	}
}

// answer hands a PUBACK or SUBACK to the request waiting for it. An
// answer to no request is dropped: its caller may be gone.
func (c *Conn) answer(id uint16, a Packet) error {
	c.mu.Lock()
	p := c.pending[id]
	if p != nil && p.want == a.Type() {
		delete(c.pending, id)
	}
	c.mu.Unlock()
	switch {
	case p == nil:
		return nil
	case p.want != a.Type():
		return fmt.Errorf("%w: a %v for packet id %d, which waits for a %v", ErrProtocol, a.Type(), id, p.want)
	}
	p.ch <- a
	return nil
}

// keepAlive sends a PINGREQ when the connection was silent for three
// quarters of the keepalive, since the client must not stay silent for
// longer than it (MQTT 3.1.1 §3.1.2.10), and ends the connection when
// the PINGRESP does not come within the keepalive.
func (c *Conn) keepAlive() {
	ka := c.cfg.KeepAlive
	t := time.NewTicker(max(ka/8, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			if sent := c.pingSent.Load(); sent != 0 {
				if now.Sub(time.Unix(0, sent)) >= ka {
					c.fail(fmt.Errorf("%w within %v", ErrPingTimeout, ka))
					return
				}
				continue
			}
			if now.Sub(time.Unix(0, c.lastWrite.Load())) >= ka*3/4 {
				c.pingSent.Store(now.UnixNano())
				if c.write(context.Background(), &Pingreq{}) != nil {
					return
				}
			}
		}
	}
}
