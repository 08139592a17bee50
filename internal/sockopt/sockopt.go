// Package sockopt opens UDP sockets that share their port with other
// listeners where the operating system allows it.
//
// The panel's notification port 12901 is also the local port of targeted
// discovery (spec: notifications-and-cloud.md A.1), and other programs
// (the reference, a second g90) may listen on it too: the panel
// broadcasts, so every socket bound with SO_REUSEADDR receives every
// datagram.
package sockopt

import (
	"context"
	"net"
)

// ListenPacket is net.ListenConfig.ListenPacket with SO_REUSEADDR set
// before bind, on systems that have it.
func ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	return lc.ListenPacket(ctx, network, address)
}
