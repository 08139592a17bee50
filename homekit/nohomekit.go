//go:build nohomekit

package homekit

import (
	"context"
	"net"
)

// BuiltIn says whether this build has the HomeKit bridge: it has not
// (built with -tags nohomekit, which leaves brutella/hap and its mDNS
// responder out, some 2 MB).
const BuiltIn = false

// Bridge is the HomeKit bridge; in this build there is none, and New
// never returns one.
type Bridge struct{}

// New returns ErrNotBuiltIn: this build has no HomeKit bridge.
func New(Config) (*Bridge, error) { return nil, ErrNotBuiltIn }

// Setup returns the zero Setup: this build has no HomeKit bridge.
func (b *Bridge) Setup() Setup { return Setup{} }

// Addr returns nil: this build has no HomeKit bridge.
func (b *Bridge) Addr() net.Addr { return nil }

// Run returns ErrNotBuiltIn: this build has no HomeKit bridge.
func (b *Bridge) Run(context.Context) error { return ErrNotBuiltIn }
