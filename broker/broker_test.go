//go:build !nobroker

package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/testpki"
)

// start starts a broker on a free loopback port, closed when the test ends.
func start(t *testing.T, cfg Config) *Broker {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	b, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// client is a paho.mqtt.golang client, MQTT 3.1.1 only (with protocol
// version 0, paho falls back to MQTT 3.1, which NATS refuses, and reports
// that instead of the 3.1.1 refusal), that that records what it
// receives, in order.
type client struct {
	c    mqtt.Client
	msgs chan mqtt.Message
	mu   sync.Mutex
	conn net.Conn // the connection's socket, to break it
}

var ids atomic.Int64

// connect connects to b; opt adjusts the options (client id, session,
// will, credentials). Messages of every subscription, and of a resumed
// session's, go to c.msgs.
func connect(t *testing.T, b *Broker, opt func(*mqtt.ClientOptions)) (*client, error) {
	t.Helper()
	c := &client{msgs: make(chan mqtt.Message, 100)}
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + b.Addr().String()).
		SetClientID("test-" + strconv.FormatInt(ids.Add(1), 10)).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.msgs <- m }).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
			c.mu.Lock()
			c.conn = conn
			c.mu.Unlock()
			return conn, err
		})
	if opt != nil {
		opt(o)
	}
	c.c = mqtt.NewClient(o)
	if err := wait(c.c.Connect()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.c.Disconnect(0) })
	return c, nil
}

func mustConnect(t *testing.T, b *Broker, opt func(*mqtt.ClientOptions)) *client {
	t.Helper()
	c, err := connect(t, b, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wait waits for a paho token, bounded.
func wait(tok mqtt.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("timed out")
	}
	return tok.Error()
}

func (c *client) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	tok := c.c.Subscribe(filter, qos, nil)
	if err := wait(tok); err != nil {
		t.Fatal(err)
	}
	if got := tok.(*mqtt.SubscribeToken).Result()[filter]; got != qos {
		t.Fatalf("subscribe %s: granted QoS %d, want %d", filter, got, qos)
	}
}

func (c *client) publish(t *testing.T, topic string, qos byte, retained bool, payload string) {
	t.Helper()
	if err := wait(c.c.Publish(topic, qos, retained, payload)); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// next returns the next message received, failing after a while.
func (c *client) next(t *testing.T) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
		return nil
	}
}

// none checks that nothing arrives for a short while (a message that
// should not exist; the broker delivers in well under this on loopback).
func (c *client) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("unexpected message %s %q", m.Topic(), m.Payload())
	case <-time.After(300 * time.Millisecond):
	}
}

// lateSubscriber connects a new client, subscribes it to filter and
// returns it once it has received a retained message with payload (or,
// with payload "", once it receives nothing: no retained message).
//
// NATS makes a retained message, or its clearing, visible to new
// subscriptions a moment after the PUBACK, not at it: its in-memory view
// of retained messages is updated when JetStream hands the stored message
// back to it (mqttHandlePubRetain, processRetainedMsg). So a subscriber
// right after the PUBACK may not see it yet; this asks again with a new
// subscriber, a bounded number of times.
func lateSubscriber(t *testing.T, b *Broker, filter, topic, payload string) *client {
	t.Helper()
	for range 50 {
		c := mustConnect(t, b, nil)
		c.subscribe(t, filter, 1)
		select {
		case m := <-c.msgs:
			if payload != "" && m.Topic() == topic && string(m.Payload()) == payload && m.Retained() {
				return c
			}
		case <-time.After(200 * time.Millisecond):
			if payload == "" {
				return c
			}
		}
		c.c.Disconnect(0)
	}
	t.Fatalf("a new subscriber to %s never got the retained %s %q", filter, topic, payload)
	return nil
}

// gone waits until the broker has no more than n clients: a client that
// disconnected is gone for the broker too. A QoS 1 message published
// before the broker has closed a persistent session's connection goes to
// that connection and comes again only after NATS's ack wait (30 s), on
// the next connection.
func gone(t *testing.T, b *Broker, n int) {
	t.Helper()
	eventually.NoError(t, fmt.Sprintf("the broker down to %d clients", n), func() error {
		if c := b.srv.NumClients(); c > n {
			return fmt.Errorf("it still has %d", c)
		}
		return nil
	})
}

func expect(t *testing.T, m mqtt.Message, topic, payload string, retained bool) {
	t.Helper()
	if m.Topic() != topic || string(m.Payload()) != payload || m.Retained() != retained {
		t.Fatalf("got %s %q retained=%v, want %s %q retained=%v", m.Topic(), m.Payload(), m.Retained(), topic, payload, retained)
	}
}

func TestPublishSubscribe(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	sub := mustConnect(t, b, nil)
	pub := mustConnect(t, b, nil)
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("g90/0123456789ABCDEF/qos%d", qos)
			sub.subscribe(t, topic, qos)
			for i := range 5 {
				pub.publish(t, topic, qos, false, strconv.Itoa(i))
			}
			for i := range 5 {
				m := sub.next(t)
				expect(t, m, topic, strconv.Itoa(i), false)
				if m.Qos() != qos {
					t.Fatalf("delivered at QoS %d, want %d", m.Qos(), qos)
				}
			}
		})
	}
	// Wildcards as Home Assistant uses them.
	sub.subscribe(t, "homeassistant/#", 1)
	sub.subscribe(t, "g90/+/event", 1)
	pub.publish(t, "homeassistant/binary_sensor/g90_0123/door_1/config", 1, false, "{}")
	pub.publish(t, "g90/0123456789ABCDEF/event", 1, false, `{"type":"door_open"}`)
	// Each QoS 1 subscription is its own JetStream consumer in NATS, so
	// messages matched by different subscriptions may arrive in either
	// order (seen in CI); each arrives once.
	got := map[string]string{}
	for range 2 {
		m := sub.next(t)
		got[m.Topic()] = string(m.Payload())
	}
	want := map[string]string{"homeassistant/binary_sensor/g90_0123/door_1/config": "{}", "g90/0123456789ABCDEF/event": `{"type":"door_open"}`}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	sub.none(t)
}

func TestAddr(t *testing.T) {
	b := start(t, Config{})
	a := b.Addr().(*net.TCPAddr)
	if !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port == 0 {
		t.Fatalf("Addr %v: want 127.0.0.1 and the port bound", a)
	}
	if b.URL() != "mqtt://"+a.String() {
		t.Fatalf("URL %s", b.URL())
	}
	c, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestRetained(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	pub := mustConnect(t, b, nil)
	const topic = "homeassistant/alarm_control_panel/g90_0123/config"
	pub.publish(t, topic, 1, true, "first")
	pub.publish(t, topic, 1, true, "second") // replaces the first

	late := lateSubscriber(t, b, "homeassistant/#", topic, "second")
	late.none(t)

	// An empty retained message clears it (and reaches who listens).
	pub.publish(t, topic, 1, true, "")
	expect(t, late.next(t), topic, "", false)
	later := lateSubscriber(t, b, "homeassistant/#", topic, "")
	later.none(t)
}

func TestWill(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	watch := mustConnect(t, b, nil)
	watch.subscribe(t, "g90/bridge/status", 1)
	const topic = "g90/bridge/status"
	gone := mustConnect(t, b, func(o *mqtt.ClientOptions) {
		o.SetWill(topic, "offline", 1, true)
	})
	gone.publish(t, topic, 1, true, "online")
	expect(t, watch.next(t), topic, "online", false)

	// The socket breaks without a DISCONNECT: the broker sends the will.
	gone.mu.Lock()
	gone.conn.Close()
	gone.mu.Unlock()
	expect(t, watch.next(t), topic, "offline", false)
	// Retained, as the will asked.
	lateSubscriber(t, b, topic, topic, "offline")

	// A clean DISCONNECT sends no will.
	polite := mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetWill(topic, "polite-offline", 1, false) })
	polite.c.Disconnect(250)
	watch.none(t)
}

func TestPersistentSession(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	persistent := func(o *mqtt.ClientOptions) { o.SetClientID("homeassistant-1").SetCleanSession(false) }
	ha := mustConnect(t, b, persistent)
	ha.subscribe(t, "g90/+/event", 1)
	ha.c.Disconnect(250)
	gone(t, b, 0)

	pub := mustConnect(t, b, nil)
	for i := range 5 {
		pub.publish(t, "g90/0123456789ABCDEF/event", 1, false, strconv.Itoa(i))
	}
	pub.publish(t, "g90/0123456789ABCDEF/event", 0, false, "qos0, not kept")
	// Its PUBACK says the broker is done with the QoS 0 message before it.
	pub.publish(t, "g90/0123456789ABCDEF/event", 1, false, "5")

	ha = mustConnect(t, b, persistent)
	// The session is resumed: the broker sends what came meanwhile, at
	// QoS 1; the QoS 0 message is not kept for it. (NATS may redeliver
	// from JetStream out of order, so the order is not checked here.)
	got := map[string]bool{}
	for range 6 {
		m := ha.next(t)
		if m.Topic() != "g90/0123456789ABCDEF/event" || m.Qos() != 1 {
			t.Fatalf("got %s QoS %d", m.Topic(), m.Qos())
		}
		got[string(m.Payload())] = true
	}
	for i := range 6 {
		if !got[strconv.Itoa(i)] {
			t.Fatalf("message %d missing: got %v", i, got)
		}
	}
	ha.none(t)
	// And the subscription is still there.
	pub.publish(t, "g90/0123456789ABCDEF/event", 1, false, "live")
	expect(t, ha.next(t), "g90/0123456789ABCDEF/event", "live", false)
}

func TestAuthenticate(t *testing.T) {
	leaktest.Check(t)
	var asked atomic.Int32
	b := start(t, Config{Authenticate: func(user, pass []byte) bool {
		asked.Add(1)
		return string(user) == "g90" && string(pass) == "s3cret"
	}})
	for _, cred := range [][2]string{{"g90", "wrong"}, {"other", "s3cret"}, {"", ""}} {
		_, err := connect(t, b, func(o *mqtt.ClientOptions) { o.SetUsername(cred[0]).SetPassword(cred[1]) })
		// A CONNACK "not authorized", not just a closed socket: the bridge
		// tells the user to check the credentials on that.
		if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("%q/%q: %v, want %v", cred[0], cred[1], err, packets.ErrorRefusedNotAuthorised)
		}
	}
	c := mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetUsername("g90").SetPassword("s3cret") })
	c.subscribe(t, "a/b", 1)
	c.publish(t, "a/b", 1, false, "x")
	expect(t, c.next(t), "a/b", "x", false)
	if asked.Load() < 3 {
		t.Fatalf("Authenticate asked %d times", asked.Load())
	}
}

func TestCloseReleasesPort(t *testing.T) {
	leaktest.Check(t)
	b, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	c := mustConnect(t, b, nil)
	c.subscribe(t, "x", 1)
	addr := b.Addr().String()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
	// The same port again, given explicitly.
	b2, err := Start(Config{Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Addr().String() != addr {
		t.Fatalf("Addr %v, want %s", b2.Addr(), addr)
	}
	b2.Close()
}

func TestPortInUse(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(Config{Listen: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a busy port: %v", err)
	}
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, err := Start(Config{Listen: bad}); err == nil {
			t.Errorf("Listen %q: no error", bad)
		}
	}
}

// The store survives a restart: a retained message and a persistent
// session's queued message are still there.
func TestStoreDirSurvivesRestart(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	b, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	persistent := func(o *mqtt.ClientOptions) { o.SetClientID("ha").SetCleanSession(false) }
	ha := mustConnect(t, b, persistent)
	ha.subscribe(t, "g90/+/event", 1)
	ha.c.Disconnect(250)
	gone(t, b, 0)
	pub := mustConnect(t, b, nil)
	pub.publish(t, "g90/0123456789ABCDEF/availability", 1, true, "online")
	pub.publish(t, "g90/0123456789ABCDEF/event", 1, false, "while away")
	pub.c.Disconnect(250)
	b.Close()

	b, err = Start(Config{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ha = mustConnect(t, b, persistent)
	expect(t, ha.next(t), "g90/0123456789ABCDEF/event", "while away", false)
	lateSubscriber(t, b, "g90/#", "g90/0123456789ABCDEF/availability", "online")
}

// What NATS makes of topic characters (README: the embedded broker's
// limits): '.' is carried, white space is refused and costs the
// publisher its connection.
func TestTopicCharacters(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	sub := mustConnect(t, b, nil)
	sub.subscribe(t, "#", 1)
	pub := mustConnect(t, b, nil)
	for _, topic := range []string{"a.b/c", "/leading", "trailing/", "a//b", "ünïcode/ok", "dash-under_score/0123456789ABCDEF"} {
		pub.publish(t, topic, 1, false, topic)
		expect(t, sub.next(t), topic, topic, false)
	}
	// A filter with a space: the SUBSCRIBE is refused.
	tok := sub.c.Subscribe("a topic/#", 1, nil)
	if err := wait(tok); err != nil {
		t.Fatal(err)
	}
	if got := tok.(*mqtt.SubscribeToken).Result()["a topic/#"]; got != 0x80 {
		t.Fatalf("subscribe with a space: granted %#x, want the failure 0x80", got)
	}
	lost := make(chan error, 1)
	bad, err := connect(t, b, func(o *mqtt.ClientOptions) {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	})
	if err != nil {
		t.Fatal(err)
	}
	bad.c.Publish("a topic/with space", 1, false, "x")
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a topic with a space: the connection stayed up")
	}
	sub.none(t)
}

// A subscription on '#' gets everything, at every QoS, retained messages
// included: the permissions that keep clients out of NATS's subjects
// must not filter it (see clientPermissions).
func TestWildcardAll(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	pub := mustConnect(t, b, nil)
	pub.publish(t, "g90/0123456789ABCDEF/state", 1, true, "armed_away")
	lateSubscriber(t, b, "g90/#", "g90/0123456789ABCDEF/state", "armed_away") // visible from now on
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			sub := mustConnect(t, b, nil)
			sub.subscribe(t, "#", qos)
			expect(t, sub.next(t), "g90/0123456789ABCDEF/state", "armed_away", true)
			for _, q := range []byte{0, 1, 2} {
				pub.publish(t, "homeassistant/status", q, false, strconv.Itoa(int(q)))
				m := sub.next(t)
				expect(t, m, "homeassistant/status", strconv.Itoa(int(q)), false)
				if want := min(q, qos); m.Qos() != want {
					t.Fatalf("delivered at QoS %d, want %d", m.Qos(), want)
				}
			}
			sub.none(t)
		})
	}
}

// MQTT clients cannot reach NATS's internal subjects: a JetStream API
// request published over MQTT does not purge the retained messages, and
// the sessions' records cannot be read.
func TestInternalSubjects(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	pub := mustConnect(t, b, nil)
	pub.publish(t, "keep/me", 1, true, "retained")
	for _, topic := range []string{"$JS/API/STREAM/PURGE/$MQTT_rmsgs", "$JS/API/STREAM/DELETE/$MQTT_rmsgs", "$JS/API/STREAM/DELETE/$MQTT_sess", "$MQTT/rmsgs/keep/me"} {
		// NATS drops a denied publish (and answers a QoS 1 one with its
		// PUBACK all the same).
		pub.publish(t, topic, 1, false, "")
	}
	lateSubscriber(t, b, "keep/#", "keep/me", "retained")

	spy := mustConnect(t, b, nil)
	tok := spy.c.Subscribe("$MQTT/sess/#", 0, nil)
	if err := wait(tok); err != nil {
		t.Fatal(err)
	}
	if got := tok.(*mqtt.SubscribeToken).Result()["$MQTT/sess/#"]; got != 0x80 {
		t.Fatalf("subscribe $MQTT/sess/#: granted %#x, want the failure 0x80", got)
	}
	persistent := mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	persistent.subscribe(t, "a/b", 1) // writes its session record
	spy.none(t)
}

// Config.TLS makes the listener TLS only.
func TestTLS(t *testing.T) {
	leaktest.Check(t)
	caFile, certFile, keyFile := testpki.New(t)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	b := start(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{pair}}})

	dialTLS := func(roots *x509.CertPool) (*client, error) {
		c := &client{msgs: make(chan mqtt.Message, 10)}
		o := mqtt.NewClientOptions().AddBroker("ssl://" + b.Addr().String()).SetClientID("tls-" + strconv.FormatInt(ids.Add(1), 10)).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
			SetTLSConfig(&tls.Config{RootCAs: roots}).
			SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.msgs <- m })
		c.c = mqtt.NewClient(o)
		if err := wait(c.c.Connect()); err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.c.Disconnect(0) })
		return c, nil
	}
	c, err := dialTLS(roots)
	if err != nil {
		t.Fatal(err)
	}
	c.subscribe(t, "tls", 1)
	c.publish(t, "tls", 1, false, "x")
	expect(t, c.next(t), "tls", "x", false)
	if _, err := dialTLS(x509.NewCertPool()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted certificate: %v", err)
	}
	// Plain MQTT on the TLS port gets nowhere.
	if _, err := connect(t, b, func(o *mqtt.ClientOptions) { o.SetConnectTimeout(2 * time.Second) }); err == nil {
		t.Fatal("plain MQTT connected to the TLS listener")
	}
}

// Client ids NATS refuses (README: the embedded broker's limits), and
// the kind g90 uses.
func TestClientIDs(t *testing.T) {
	leaktest.Check(t)
	b := start(t, Config{})
	for _, id := range []string{"a.b", "with space", "star*", "gt>"} {
		_, err := connect(t, b, func(o *mqtt.ClientOptions) { o.SetClientID(id) })
		if !errors.Is(err, packets.ErrorRefusedIDRejected) {
			t.Errorf("client id %q: %v, want %v", id, err, packets.ErrorRefusedIDRejected)
		}
	}
	mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetClientID("g90-myhost-1234") })
	mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetClientID("") }) // clean session: NATS picks one
}

// go test -run '^$' -bench StartClose -benchtime 20x ./broker
//
// Starting a broker on a fresh temporary store and closing it: what a
// test, or g90 demo, waits for.
func BenchmarkStartClose(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		br, err := Start(Config{Listen: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		br.Close()
	}
}

// go test -run '^$' -bench BrokerPublishQoS1 -benchtime 2s ./broker
//
// One QoS 1 publish and its PUBACK over loopback, one at a time, with a
// QoS 1 subscriber receiving it: the broker's cost per message the
// bridge sends (JetStream stores a QoS 1 message before it is acked).
func BenchmarkBrokerPublishQoS1(b *testing.B) {
	br, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	got := make(chan struct{}, 1024)
	opts := func(id string) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker("tcp://" + br.Addr().String()).SetClientID(id).SetProtocolVersion(4)
	}
	sub := mqtt.NewClient(opts("bench-sub"))
	if err := wait(sub.Connect()); err != nil {
		b.Fatal(err)
	}
	defer sub.Disconnect(0)
	if err := wait(sub.Subscribe("g90/+/event", 1, func(mqtt.Client, mqtt.Message) { got <- struct{}{} })); err != nil {
		b.Fatal(err)
	}
	pub := mqtt.NewClient(opts("bench-pub"))
	if err := wait(pub.Connect()); err != nil {
		b.Fatal(err)
	}
	defer pub.Disconnect(0)
	payload := []byte(`{"time":"2026-12-03T08:24:27.080201673Z","panel":"SIMPANEL0001","source":"local","type":"sensor_activity","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"occupied":true,"seq":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := wait(pub.Publish("g90/SIMPANEL0001/event", 1, false, payload)); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}
