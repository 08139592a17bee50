// Package broker runs an embedded MQTT broker for when no broker is
// configured: `g90 serve` and `g90 demo` then work with nothing else
// installed, and tests get a real broker on loopback.
//
// The broker is a NATS server (github.com/nats-io/nats-server/v2) with
// only its MQTT listener open: MQTT 3.1.1, QoS 0, 1 and 2, retained
// messages, wills and persistent sessions, all kept in JetStream under
// Config.StoreDir. The same engine clustered is where an installation
// goes that outgrows one machine.
//
//	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:1883", StoreDir: dir})
//	defer b.Close()
//	fmt.Println(b.URL()) // mqtt://127.0.0.1:1883
//
// It adds about 10 MB to a stripped binary (docs/benchmarks.md): built
// with the tag nobroker (go build -tags nobroker ./cmd/g90) the package
// leaves NATS out and Start returns ErrNotBuiltIn.
package broker

import (
	"crypto/tls"
	"errors"
	"log/slog"
)

// DefaultListen is the embedded broker's address: loopback only, so the
// broker without passwords is not exposed to the network by default.
const DefaultListen = "127.0.0.1:1883"

// ErrNotBuiltIn is Start's error in a g90 built with the tag nobroker.
var ErrNotBuiltIn = errors.New("broker: this g90 was built without the embedded MQTT broker (build tag nobroker); set mqtt.url to an MQTT broker")

// Config configures Start. The zero value of every field means its
// default.
type Config struct {
	// Listen is the MQTT listener's TCP address, host:port; "" means
	// DefaultListen, port 0 any free port (Addr tells which).
	Listen string
	// TLS, if set, makes the listener TLS only, with these certificates.
	TLS *tls.Config
	// StoreDir holds the broker's state (JetStream: sessions, retained
	// messages, QoS 1 and 2 messages in flight), which survives a
	// restart on the same directory; "" means a temporary directory
	// removed by Close.
	StoreDir string
	// Logger receives the broker's log; nil is silent. NATS's start-up
	// notices are logged at debug level, its warnings and errors (a
	// client refused, a topic it cannot carry) at theirs.
	Logger *slog.Logger
	// Authenticate, if set, decides whether a client with these
	// credentials may connect; nil accepts every client.
	Authenticate func(username, password []byte) bool
}
