//go:build !nobroker

package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// BuiltIn says whether this build has the embedded broker: it has.
const BuiltIn = true

// The broker's JetStream limits. A router has little RAM and flash: the
// MQTT state is on disk (file streams), memory streams are not used, and
// the store only holds retained messages, sessions and the QoS 1 and 2
// messages waiting for a subscriber that is away.
const (
	maxMemory = 32 << 20
	maxStore  = 256 << 20
)

// readyWait bounds the wait for a started server to accept clients.
const readyWait = 10 * time.Second

// Broker is a running embedded broker.
type Broker struct {
	srv     *server.Server
	addr    *net.TCPAddr
	tempDir string // removed by Close; "" when the caller gave StoreDir
	once    sync.Once
}

// Start starts a broker that accepts every client, or those
// Config.Authenticate accepts (it listens on loopback by default; put it
// elsewhere only on a network you trust). It returns once the broker
// accepts connections.
func Start(cfg Config) (*Broker, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker: listen %q: bad port", cfg.Listen)
	}
	if port == 0 {
		port = -1 // NATS: a random port; 0 would mean no MQTT listener
	}
	b := &Broker{}
	dir := cfg.StoreDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "g90-broker-"); err != nil {
			return nil, fmt.Errorf("broker: store: %w", err)
		}
		b.tempDir = dir
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: store: %w", err)
	}
	opts := &server.Options{
		ServerName: "g90-broker",
		// No NATS client port: MQTT clients are served by the MQTT
		// listener, and the server talks to JetStream in process.
		DontListen: true,
		// The daemon handles signals itself.
		NoSigs:                 true,
		JetStream:              true,
		StoreDir:               dir,
		JetStreamMaxMemory:     maxMemory,
		JetStreamMaxStore:      maxStore,
		DisableJetStreamBanner: true,
		MQTT: server.MQTTOpts{
			Host:      host,
			Port:      port,
			TLSConfig: cfg.TLS,
		},
	}
	if cfg.TLS != nil {
		opts.MQTT.TLSTimeout = 5 // seconds
	}
	// Every client goes through guard, for the permissions it sets.
	opts.CustomClientAuthentication = guard{cfg.Authenticate}
	srv, err := server.NewServer(opts)
	if err != nil {
		b.removeTemp()
		return nil, fmt.Errorf("broker: %w", err)
	}
	log := newLogger(cfg.Logger)
	srv.SetLoggerV2(log, log.debug, false, false)
	b.srv = srv
	// Start runs its set-up in this goroutine (DontListen: no accept
	// loop of its own), so a listener that failed has said so to log
	// when it returns.
	srv.Start()
	if err := log.fatal(); err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if !srv.ReadyForConnections(readyWait) {
		b.Close()
		return nil, fmt.Errorf("broker: not ready after %v", readyWait)
	}
	// Start wrote the port it bound into opts (the same struct: NATS
	// keeps the pointer it was given).
	ip := net.ParseIP(host)
	if ip == nil && host != "" {
		if a, err := net.ResolveIPAddr("ip", host); err == nil {
			ip = a.IP
		}
	}
	b.addr = &net.TCPAddr{IP: ip, Port: opts.MQTT.Port}
	return b, nil
}

// Addr returns the broker's TCP address, with the port it bound.
func (b *Broker) Addr() net.Addr { return b.addr }

// URL returns the address as an mqtt:// URL.
func (b *Broker) URL() string { return "mqtt://" + b.addr.String() }

// Close stops the broker, disconnects its clients and waits until every
// goroutine of the server has ended; it removes the store when it was a
// temporary one. Its state on disk is kept otherwise.
func (b *Broker) Close() error {
	b.once.Do(func() {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.removeTemp()
	})
	return nil
}

func (b *Broker) removeTemp() {
	if b.tempDir != "" {
		os.RemoveAll(b.tempDir)
	}
}

// guard authenticates clients with Config.Authenticate (NATS puts an
// MQTT CONNECT's user name and password in the client's options before it
// asks), and keeps them out of NATS's own subjects.
type guard struct {
	auth func(username, password []byte) bool
}

func (g guard) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if g.auth != nil && !g.auth([]byte(o.Username), []byte(o.Password)) {
		return false
	}
	c.RegisterUser(&server.User{Permissions: clientPermissions})
	return true
}

// clientPermissions deny MQTT clients NATS's internal subjects. An MQTT
// topic is a NATS subject ('/' becomes '.'), so without them a client
// publishing on $JS/API/STREAM/PURGE/$MQTT_rmsgs wipes every retained
// message (TestInternalSubjects), and one subscribing to $MQTT/sess/#
// reads the other clients' sessions. Not every $MQTT subject can be
// denied to subscribers: NATS subscribes a client's QoS 1 and 2
// deliveries on $MQTT.sub.* and $MQTT.deliver.pubrel.* in its name, and
// checks what reaches a '#' subscription against the deny list with the
// subject a message was stored under ($MQTT.msgs.*, $MQTT.rmsgs.*,
// $MQTT.out.*) — deny those and '#' at QoS 1 receives nothing
// (TestWildcardAll).
var clientPermissions = func() *server.Permissions {
	nats := []string{"$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SYS.>", "$NRG.>", "$G.>", "_INBOX.>"}
	mqtt := []string{"$MQTT.sess.>", "$MQTT.JSA.>"}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Deny: append(nats, "$MQTT.>")},
		Subscribe: &server.SubjectPermission{Deny: append(nats, mqtt...)},
	}
}()

// logger is NATS's Logger on a *slog.Logger. Notices (the start-up
// banner, a listener opened) go to debug: a broker that works says
// nothing. Traces would carry payloads, so they are never turned on.
type logger struct {
	l     *slog.Logger
	debug bool

	mu  sync.Mutex
	err error // the first Fatalf
}

func newLogger(l *slog.Logger) *logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &logger{l: l, debug: l.Enabled(context.Background(), slog.LevelDebug)}
}

func (l *logger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l *logger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l *logger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l *logger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l *logger) Tracef(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }

// Fatalf is how NATS reports what stops it, such as a port in use. NATS's
// own loggers exit the process here; this one logs it and keeps the first
// for Start to return.
func (l *logger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.l.Error(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = errors.New(msg)
	}
}

func (l *logger) fatal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
