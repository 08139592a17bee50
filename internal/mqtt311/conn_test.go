package mqtt311

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/internal/eventually"
	"github.com/g90alarm/g90/internal/leaktest"
)

// startBroker starts the embedded broker (mochi) on loopback for the
// test; auth, if not nil, decides who may connect.
func startBroker(t *testing.T, auth func(user, pass []byte) bool) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Authenticate: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// inbox collects the messages a Conn receives.
type inbox struct {
	mu   sync.Mutex
	msgs []string // "topic payload"
}

func (in *inbox) add(topic string, payload []byte) {
	in.mu.Lock()
	in.msgs = append(in.msgs, topic+" "+string(payload))
	in.mu.Unlock()
}

func (in *inbox) all() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs...)
}

func (in *inbox) has(msg string) bool {
	for _, m := range in.all() {
		if m == msg {
			return true
		}
	}
	return false
}

// dial connects cfg to addr, closing it when the test ends.
func dial(t *testing.T, addr string, cfg Config) *Conn {
	t.Helper()
	cfg.Addr = addr
	if cfg.ClientID == "" {
		cfg.ClientID = strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + fmt.Sprint(time.Now().UnixNano())
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A QoS 1 publish returns at its PUBACK and reaches a subscriber; so
// does a QoS 0 one.
func TestPublishSubscribe(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, nil)
	var in inbox
	sub := dial(t, b.Addr().String(), Config{CleanSession: true, OnMessage: in.add})
	granted, err := sub.Subscribe(context.Background(), []Subscription{{"t/#", 1}, {"q0", 0}})
	if err != nil || !bytes.Equal(granted, []byte{1, 0}) {
		t.Fatalf("Subscribe: %v, %v", granted, err)
	}
	pub := dial(t, b.Addr().String(), Config{CleanSession: true})
	ctx := context.Background()
	if err := pub.Publish(ctx, "t/a", []byte("hello"), 1, false); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "q0", []byte("fire and forget"), 0, false); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "both messages", func() bool { return in.has("t/a hello") && in.has("q0 fire and forget") })
	if err := pub.Publish(ctx, "t/#", nil, 1, false); !errors.Is(err, ErrEncode) {
		t.Fatalf("a wildcard topic: %v", err)
	}
	if err := pub.Publish(ctx, "t/a", nil, 2, false); err == nil {
		t.Fatal("QoS 2 accepted")
	}
	if pub.Err() != nil {
		t.Fatalf("the connection ended: %v", pub.Err())
	}
}

// Many QoS 1 publishes wait at once, each for its own PUBACK.
func TestConcurrentPublish(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, nil)
	var in inbox
	sub := dial(t, b.Addr().String(), Config{CleanSession: true, OnMessage: in.add})
	if _, err := sub.Subscribe(context.Background(), []Subscription{{"c/+", 1}}); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, b.Addr().String(), Config{CleanSession: true})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- pub.Publish(context.Background(), fmt.Sprintf("c/%d", i), []byte("x"), 1, false) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, "every message", func() bool { return len(in.all()) == n })
	pub.mu.Lock()
	left := len(pub.pending)
	pub.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d packet ids still in flight", left)
	}
}

// A retained message reaches a subscriber that comes later.
func TestRetained(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, nil)
	pub := dial(t, b.Addr().String(), Config{CleanSession: true})
	if err := pub.Publish(context.Background(), "r/state", []byte("on"), 1, true); err != nil {
		t.Fatal(err)
	}
	var in inbox
	late := dial(t, b.Addr().String(), Config{CleanSession: true, OnMessage: in.add})
	if _, err := late.Subscribe(context.Background(), []Subscription{{"r/#", 1}}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the retained message", func() bool { return in.has("r/state on") })
}

// Close leaves without a DISCONNECT: the broker publishes the will.
// Disconnect says goodbye: it does not.
func TestWill(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, nil)
	var in inbox
	w := dial(t, b.Addr().String(), Config{CleanSession: true, OnMessage: in.add})
	if _, err := w.Subscribe(context.Background(), []Subscription{{"will/#", 1}}); err != nil {
		t.Fatal(err)
	}
	will := func(who string) *Will {
		return &Will{Topic: "will/" + who, Payload: []byte("offline"), QoS: 1, Retain: true}
	}

	closed := dial(t, b.Addr().String(), Config{Will: will("closed")})
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(closed.Err(), ErrClosed) {
		t.Fatalf("Err after Close: %v", closed.Err())
	}
	eventually.True(t, "the will of the closed connection", func() bool { return in.has("will/closed offline") })

	polite := dial(t, b.Addr().String(), Config{Will: will("polite")})
	if err := polite.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(polite.Err(), ErrClosed) {
		t.Fatalf("Err after Disconnect: %v", polite.Err())
	}
	// A message published after the goodbye comes after any will would
	// have.
	other := dial(t, b.Addr().String(), Config{CleanSession: true})
	if err := other.Publish(context.Background(), "will/marker", []byte("after"), 1, false); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the marker", func() bool { return in.has("will/marker after") })
	if in.has("will/polite offline") {
		t.Fatal("the broker published the will after a DISCONNECT")
	}
}

// Credentials the broker refuses give a *ConnackError.
func TestCredentialsRefused(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, func(user, pass []byte) bool { return string(user) == "g90" && string(pass) == "right" })
	_, err := Dial(context.Background(), Config{Addr: b.Addr().String(), ClientID: "c", Username: "g90", Password: "wrong"})
	var ce *ConnackError
	if !errors.As(err, &ce) || ce.Code != 5 {
		t.Fatalf("Dial with a wrong password: %v, want a *ConnackError 5 (not authorized)", err)
	}
	if !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("error %q does not say why", err)
	}
	dial(t, b.Addr().String(), Config{Username: "g90", Password: "right"})
}

// An idle connection stays up on PINGREQs: mochi drops a client silent
// for 1.5 keepalives (3 s).
func TestKeepAlive(t *testing.T) {
	leaktest.Check(t)
	b := startBroker(t, nil)
	c := dial(t, b.Addr().String(), Config{CleanSession: true, KeepAlive: 2 * time.Second})
	select {
	case <-c.Done():
		t.Fatalf("the idle connection ended: %v", c.Err())
	case <-time.After(5 * time.Second):
	}
	if err := c.Publish(context.Background(), "k", []byte("still here"), 1, false); err != nil {
		t.Fatal(err)
	}
}

// fakeBroker accepts one connection on loopback and runs serve on it
// with a reader of its packets.
func fakeBroker(t *testing.T, serve func(fc *fakeConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(&fakeConn{t: t, c: c, r: bufio.NewReader(c)})
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// read reads one packet; nil when the connection ended.
func (f *fakeConn) read() Packet {
	var hdr []byte
	for {
		b, err := f.r.ReadByte()
		if err != nil {
			return nil
		}
		hdr = append(hdr, b)
		h, n, err := ParseHeader(hdr)
		if err != nil {
			f.t.Errorf("fake broker: %v", err)
			return nil
		}
		if n > 0 {
			raw := append(hdr, make([]byte, h.Remaining)...)
			if _, err := io.ReadFull(f.r, raw[n:]); err != nil {
				return nil
			}
			p, err := Decode(raw)
			if err != nil {
				f.t.Errorf("fake broker: %v", err)
				return nil
			}
			return p
		}
	}
}

func (f *fakeConn) send(raw ...byte) {
	_, _ = f.c.Write(raw)
}

// accept reads the CONNECT and accepts it.
func (f *fakeConn) accept() *Connect {
	p, ok := f.read().(*Connect)
	if !ok {
		f.t.Error("fake broker: no CONNECT")
		return nil
	}
	f.send(0x20, 2, 0, 0)
	return p
}

// A QoS 2 message from the broker is delivered once, its duplicate
// only answered, and the exchange completed: PUBREC, then PUBCOMP for
// the PUBREL.
func TestQoS2FromBroker(t *testing.T) {
	leaktest.Check(t)
	answers := make(chan []Packet, 1)
	addr := fakeBroker(t, func(f *fakeConn) {
		f.accept()
		pub := pk(0x34, 8, 0, 1, "t", 0, 9, "abc")
		f.send(pub...)
		got := []Packet{f.read()}
		pub[0] |= 0x08 // DUP
		f.send(pub...)
		got = append(got, f.read())
		f.send(0x62, 2, 0, 9) // PUBREL
		answers <- append(got, f.read())
	})
	var in inbox
	dial(t, addr, Config{OnMessage: in.add})
	want := []Packet{&Pubrec{9}, &Pubrec{9}, &Pubcomp{9}}
	if diff := cmp.Diff(want, <-answers); diff != "" {
		t.Fatalf("the client's answers (-want +got):\n%s", diff)
	}
	if msgs := in.all(); len(msgs) != 1 || msgs[0] != "t abc" {
		t.Fatalf("delivered %q, want t abc once", msgs)
	}
}

// A malformed packet from the broker ends the connection with an error
// that shows its bytes.
func TestMalformedFromBroker(t *testing.T) {
	leaktest.Check(t)
	addr := fakeBroker(t, func(f *fakeConn) {
		f.accept()
		f.send(pk(0x36, 5, 0, 1, "t", 0, 1)...) // QoS 3
		f.read()
	})
	c := dial(t, addr, Config{})
	<-c.Done()
	err := c.Err()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "36050001740001") {
		t.Fatalf("Err %v: want ErrMalformed with the packet in hex", err)
	}
}

// A PINGREQ without its PINGRESP ends the connection.
func TestPingTimeout(t *testing.T) {
	leaktest.Check(t)
	pinged := make(chan struct{}, 1)
	addr := fakeBroker(t, func(f *fakeConn) {
		if c := f.accept(); c != nil && c.KeepAlive != 1 {
			t.Errorf("keepalive %d s on the wire, want 1 (200 ms rounded up)", c.KeepAlive)
		}
		for p := f.read(); p != nil; p = f.read() {
			if _, ok := p.(*Pingreq); ok {
				pinged <- struct{}{}
			}
		}
	})
	c := dial(t, addr, Config{KeepAlive: 200 * time.Millisecond})
	<-c.Done()
	if !errors.Is(c.Err(), ErrPingTimeout) {
		t.Fatalf("Err %v, want ErrPingTimeout", c.Err())
	}
	select {
	case <-pinged:
	default:
		t.Fatal("no PINGREQ")
	}
}

// A broker that closes the connection instead of answering the CONNECT;
// one that refuses the protocol version; one that says nothing.
func TestConnectFailures(t *testing.T) {
	leaktest.Check(t)
	addr := fakeBroker(t, func(f *fakeConn) { f.read() })
	if _, err := Dial(context.Background(), Config{Addr: addr, ClientID: "c"}); !errors.Is(err, ErrNoConnack) {
		t.Fatalf("closed without CONNACK: %v", err)
	}
	addr = fakeBroker(t, func(f *fakeConn) {
		f.read()
		f.send(0x20, 2, 0, 1)
	})
	_, err := Dial(context.Background(), Config{Addr: addr, ClientID: "c"})
	if ce := (*ConnackError)(nil); !errors.As(err, &ce) || ce.Code != 1 {
		t.Fatalf("refused protocol: %v", err)
	}
	addr = fakeBroker(t, func(f *fakeConn) {
		f.read()
		f.read()
	})
	start := time.Now()
	_, err = Dial(context.Background(), Config{Addr: addr, ClientID: "c", ConnectTimeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("silent broker: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Dial(ctx, Config{Addr: addr, ClientID: "c"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// A publish whose caller gives up keeps its packet id until the PUBACK
// comes: the next publish gets another.
func TestPublishCancelKeepsID(t *testing.T) {
	leaktest.Check(t)
	ids := make(chan uint16, 2)
	addr := fakeBroker(t, func(f *fakeConn) {
		f.accept()
		for p := f.read(); p != nil; p = f.read() {
			if pub, ok := p.(*Publish); ok {
				ids <- pub.PacketID
				if len(ids) == 2 { // answer both, the first late
					for range 2 {
						id := <-ids
						f.send(0x40, 2, byte(id>>8), byte(id))
					}
				}
			}
		}
	})
	c := dial(t, addr, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Publish(ctx, "t", []byte("1"), 1, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish without PUBACK: %v", err)
	}
	if err := c.Publish(context.Background(), "t", []byte("2"), 1, false); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the late PUBACK", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == 0
	})
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

// TLS, to a broker whose certificate a test CA signed.
func TestTLS(t *testing.T) {
	leaktest.Check(t)
	roots, cert := testCert(t)
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c := dial(t, b.Addr().String(), Config{CleanSession: true, TLS: &tls.Config{RootCAs: roots}})
	if err := c.Publish(context.Background(), "tls", []byte("x"), 1, false); err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), Config{Addr: b.Addr().String(), ClientID: "c", TLS: &tls.Config{}})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted certificate: %v", err)
	}
}

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c)
	return roots, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// go test -run '^$' -bench PublishQoS1 -benchtime 2s ./internal/mqtt311
//
// One QoS 1 publish and its PUBACK through the embedded broker over
// loopback, one at a time: what the bridge's in-order queue costs per
// message.
func BenchmarkPublishQoS1(b *testing.B) {
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	c, err := Dial(context.Background(), Config{Addr: br.Addr().String(), ClientID: "bench", CleanSession: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Publish(ctx, benchPublish.Topic, benchPublish.Payload, 1, false); err != nil {
			b.Fatal(err)
		}
	}
}
