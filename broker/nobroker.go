//go:build nobroker

package broker

import "net"

// BuiltIn says whether this build has the embedded broker: it has not.
const BuiltIn = false

// Broker is a running embedded broker; in this build there is none.
type Broker struct{}

// Start returns ErrNotBuiltIn: this build has no embedded broker.
func Start(Config) (*Broker, error) { return nil, ErrNotBuiltIn }

// Addr returns nil: this build has no embedded broker.
func (b *Broker) Addr() net.Addr { return nil }

// URL returns "": this build has no embedded broker.
func (b *Broker) URL() string { return "" }

// Close does nothing: this build has no embedded broker.
func (b *Broker) Close() error { return nil }
