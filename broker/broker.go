// Package broker runs an embedded MQTT broker (mochi-mqtt) for when no
// broker is configured: `g90 serve` and `g90 demo` then work with nothing
// else installed, and tests get a real broker on loopback.
//
//	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:1883"})
//	defer b.Close()
//	fmt.Println(b.URL()) // mqtt://127.0.0.1:1883
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultListen is the embedded broker's address: loopback only, so the
// broker without passwords is not exposed to the network by default.
const DefaultListen = "127.0.0.1:1883"

// Config configures Start. The zero value of every field means its
// default.
type Config struct {
	// Listen is the TCP address; "" means DefaultListen.
	Listen string
	// Listener, if set, is used instead of opening Listen.
	Listener net.Listener
	// Logger receives the broker's log; nil is silent.
	Logger *slog.Logger
	// Authenticate, if set, decides whether a client with these
	// credentials may connect; nil accepts every client.
	Authenticate func(username, password []byte) bool
}

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	ln  net.Listener
}

// Start starts a broker that accepts every client (it listens on loopback
// by default; put it elsewhere only on a network you trust).
func Start(cfg Config) (*Broker, error) {
	ln := cfg.Listener
	if ln == nil {
		if cfg.Listen == "" {
			cfg.Listen = DefaultListen
		}
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("broker: listen %s: %w", cfg.Listen, err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := mqtt.New(&mqtt.Options{Logger: log, InlineClient: false})
	err := errors.Join(
		srv.AddHook(&allowAll{auth: cfg.Authenticate}, nil),
		srv.AddListener(listeners.NewNet("g90", ln)),
	)
	if err == nil {
		err = srv.Serve()
	}
	if err != nil {
		ln.Close()
		srv.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, ln: ln}, nil
}

// Addr returns the broker's TCP address.
func (b *Broker) Addr() net.Addr { return b.ln.Addr() }

// URL returns the address as an mqtt:// URL.
func (b *Broker) URL() string { return "mqtt://" + b.ln.Addr().String() }

// Close stops the broker and disconnects its clients.
//
// mochi's Server.Close can deadlock: it read-locks the client list twice
// (Clients.GetByListener calls Clients.Len), and a client being added or
// removed in between waits for the write lock and blocks the second read
// lock. So no client may come or go while it runs: the listener is closed
// first, every client is disconnected and its removal waited for, and
// only then is Close called; should it still hang, Close gives up after
// closeWait and says so rather than hanging its caller.
func (b *Broker) Close() error {
	b.ln.Close()
	for _, cl := range b.srv.Clients.GetAll() {
		_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
	}
	// Removals happen on the clients' goroutines: wait until the list
	// stops changing.
	last, stable := -1, 0
	for deadline := time.Now().Add(closeWait); stable < 3 && time.Now().Before(deadline); {
		if n := b.srv.Clients.Len(); n == last {
			stable++
		} else {
			last, stable = n, 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() {
		b.srv.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(closeWait):
		return errors.New("broker: mochi's Close did not return (a known lock-order bug); giving up")
	}
}

// closeWait bounds each step of Close.
const closeWait = 5 * time.Second

// allowAll lets every client connect (or those auth accepts) and use
// every topic. It is ours, not mochi's auth package, which would pull in
// the archived gopkg.in/yaml.v3.
type allowAll struct {
	mqtt.HookBase
	auth func(username, password []byte) bool
}

func (h *allowAll) ID() string { return "g90-allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(_ *mqtt.Client, pk packets.Packet) bool {
	return h.auth == nil || h.auth(pk.Connect.Username, pk.Connect.Password)
}

func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
