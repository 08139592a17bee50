// Package mqttlink is a link to one MQTT broker (MQTT 3.1.1, with
// eclipse/paho.mqtt.golang) that delivers what it is given in order and
// at least once, across broker outages and restarts of the process: every
// message goes into an outbound queue (on disk with Config.QueueDir), and
// one supervisor keeps a connection up and sends the queue in order,
// many QoS 1 publishes in flight at once, each leaving the queue only
// once it and every message before it have their PUBACK. After a lost
// connection it sends again from the oldest message without one. It
// knows nothing of what the messages mean.
//
//	l, err := mqttlink.New(mqttlink.Config{
//		URL: "mqtt://127.0.0.1:1883", QueueDir: "/var/lib/g90/mqtt-queue",
//		Will:      &mqttlink.Message{Topic: "app/status", Payload: []byte("offline"), QoS: 1, Retain: true},
//		Birth:     &mqttlink.Message{Topic: "app/status", Payload: []byte("online"), QoS: 1, Retain: true},
//		Subscribe: []string{"app/+/set"},
//		OnMessage: func(topic string, payload []byte, retained bool) { /* must not block */ },
//	})
//	err = l.Publish(mqttlink.Message{Topic: "app/event", Payload: b, QoS: 1})
//	err = l.Run(ctx) // until ctx ends
package mqttlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Config configures a Link. The zero value of every field but URL means
// its default.
type Config struct {
	// URL is the broker: mqtt:// or tcp:// (plain), mqtts://, ssl:// or
	// tls:// (TLS), ws:// or wss:// (WebSocket, plain or TLS; the path
	// is the broker's, often /mqtt).
	URL string
	// Username and Password authenticate to the broker when set.
	Username, Password string
	// TLS configures mqtts, ssl, tls and wss connections; nil is Go's
	// default, which trusts the system's certificate authorities.
	TLS *tls.Config
	// ClientID is the MQTT client id; "" means "mqttlink". The session
	// is clean: nothing that came for the subscriptions while the link
	// was away is delivered when it is back.
	ClientID string
	// QueueDir keeps the outbound queue on disk, across broker outages
	// and restarts of the process; "" keeps it in memory.
	QueueDir string
	// Will is published by the broker when the connection ends without
	// a word, as it does when Run returns; nil is none.
	Will *Message
	// Birth is published at each connection, before the queue; nil is
	// none.
	Birth *Message
	// Subscribe are the topic filters subscribed to with QoS 1 at each
	// connection.
	Subscribe []string
	// OnMessage receives the messages of the subscriptions, one at a
	// time, in the order they come; it must not block. payload is valid
	// only during the call. retained is true for a message the broker
	// kept and sends because a subscription was just made (MQTT 3.1.1
	// §3.3.1.3): one published before, perhaps long before.
	OnMessage func(topic string, payload []byte, retained bool)
	// OnConnectError is called after each failed connection attempt;
	// nil logs it. A broker's refusal is a *RefusedError.
	OnConnectError func(err error)
	// ReconnectDelay is the wait between connection attempts; 0 means
	// 2 s.
	ReconnectDelay time.Duration
	// Window is how many QoS 1 publishes may wait for their PUBACK at
	// once; 0 means DefaultWindow.
	Window int
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
}

// DefaultWindow is the default Config.Window: enough to keep a loopback
// or LAN connection busy (docs/benchmarks.md: 16 is noticeably slower),
// far below the 65,535 packet identifiers a connection has. MQTT 3.1.1
// sets no limit on a client's messages in flight.
const DefaultWindow = 256

// Message is one MQTT message.
type Message struct {
	Topic   string
	Payload []byte
	// QoS is 0 or 1; the link delivers both in order, and QoS 1 at least
	// once.
	QoS    byte
	Retain bool
}

// Settings of every connection.
const (
	keepAlive      = 20 * time.Second
	connectTimeout = 5 * time.Second
	// ackTimeout bounds the wait for an acknowledgement (SUBACK, or the
	// PUBACK of the oldest message in flight): past it the connection
	// counts as lost.
	ackTimeout = 30 * time.Second
)

// Link is a link to a broker. Publish may be called at any time, from
// any goroutine; Run sends.
type Link struct {
	cfg Config
	url *url.URL
	log *slog.Logger
	q   queue
	// damaged is what the disk queue set aside when it was opened.
	damaged []Damage

	connected atomic.Bool
	connects  atomic.Uint64
	published atomic.Uint64
}

// Stats counts what a Link has done.
type Stats struct {
	Published uint64 // messages queued by Publish
	Connects  uint64 // connections made to the broker
	Queued    int    // messages in the queue, waiting for the broker
	// Damaged are the runs of bytes of the disk queue that were no valid
	// record when it was opened, each set aside in a file beside it;
	// the messages after them were kept.
	Damaged []Damage
}

// New checks cfg and opens the queue, so that Publish works before Run.
func New(cfg Config) (*Link, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	for _, m := range []*Message{cfg.Will, cfg.Birth} {
		if m != nil {
			if err := m.check(); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range cfg.Subscribe {
		if f == "" || strings.ContainsRune(f, 0) {
			return nil, fmt.Errorf("mqttlink: topic filter %q", f)
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "mqttlink"
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = 2 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	cfg.Window = min(cfg.Window, 65535)
	l := &Link{cfg: cfg, url: u, log: cfg.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueDir != "" {
		fq, err := openFileQueue(cfg.QueueDir)
		if err != nil {
			return nil, fmt.Errorf("mqttlink: queue directory %s: %w", cfg.QueueDir, err)
		}
		for _, d := range fq.damaged {
			l.log.Warn("MQTT queue: damaged bytes set aside; the messages after them are kept", "file", d.File, "bytes", d.Bytes)
		}
		l.damaged = fq.damaged
		l.q = fq
	} else {
		l.q = &memQueue{}
	}
	return l, nil
}

// parseURL checks a broker URL and gives it a port.
func parseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("mqttlink: no broker URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("mqttlink: broker URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "mqtt", "tcp":
		u.Scheme = "mqtt"
	case "mqtts", "ssl", "tls":
		u.Scheme = "tls"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("mqttlink: broker URL %q: scheme %q: want mqtt, mqtts, tcp, ssl, tls, ws or wss", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mqttlink: broker URL %q names no host", s)
	}
	if u.Port() == "" {
		u.Host += ":" + map[string]string{"mqtt": "1883", "tls": "8883", "ws": "80", "wss": "443"}[u.Scheme]
	}
	return u, nil
}

// check refuses a message no broker would take, so that none can stop
// the queue: an empty topic, a wildcard or NUL in it (MQTT 3.1.1
// §4.7.3, §1.5.3), a topic past 65,535 bytes, QoS above 1.
func (m *Message) check() error {
	switch {
	case m.Topic == "" || len(m.Topic) > 65535:
		return fmt.Errorf("mqttlink: topic of %d bytes", len(m.Topic))
	case strings.ContainsAny(m.Topic, "+#\x00"):
		return fmt.Errorf("mqttlink: topic %q: wildcards and NUL are not allowed", m.Topic)
	case m.QoS > 1:
		return fmt.Errorf("mqttlink: topic %s: QoS %d: want 0 or 1", m.Topic, m.QoS)
	}
	return nil
}

// Publish queues m; Run sends the queue in order whenever it is
// connected. It does not wait for the broker.
func (l *Link) Publish(m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := l.q.push(m); err != nil {
		return err
	}
	l.published.Add(1)
	return nil
}

// Connected reports whether the link is connected to the broker.
func (l *Link) Connected() bool { return l.connected.Load() }

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	return Stats{Published: l.published.Load(), Connects: l.connects.Load(), Queued: l.q.len(), Damaged: l.damaged}
}

// Close closes the queue. Call it after Run has returned, or instead of
// Run.
func (l *Link) Close() error { return l.q.close() }

// Run keeps a connection to the broker until ctx ends, and sends the
// queue over it. On the way out it drops the connection without a
// DISCONNECT, so that the broker publishes the will. It returns nil when
// ctx ends, after every goroutine it started has ended; what is left in
// the queue stays there for the next Run (in memory, or on disk).
func (l *Link) Run(ctx context.Context) error {
	defer l.connected.Store(false)
	for {
		err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ce *connectError
		switch {
		case errors.As(err, &ce):
			if l.cfg.OnConnectError != nil {
				l.cfg.OnConnectError(ce.err)
			} else {
				l.log.Warn("cannot connect to the MQTT broker", "url", l.cfg.URL, "err", ce.err)
			}
		case err != nil:
			l.log.Warn("lost the MQTT broker; queueing until it is back", "url", l.cfg.URL, "err", err)
		}
		t := time.NewTimer(l.cfg.ReconnectDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// connectError is a session that never connected.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }
