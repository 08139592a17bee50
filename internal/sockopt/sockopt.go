// Package sockopt opens UDP sockets that share their port with other
// listeners where the operating system allows it.
//
// The panel's notification port 12901 is also the local port of targeted
// discovery (spec: notifications-and-cloud.md A.1). With SO_REUSEADDR,
// Linux gives every socket on the port a copy of a broadcast, but a
// unicast datagram to only one of them, the last bound (A.1.1). So the
// notification listener binds with ListenPacketFirst, which refuses a
// port that is taken, and discovery with ListenPacket, which joins it.
package sockopt

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ListenPacket is net.ListenConfig.ListenPacket with SO_REUSEADDR set
// before bind, on systems that have it: it shares the port with every
// socket that allows it.
func ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	return lc.ListenPacket(ctx, network, address)
}

// ListenPacketFirst binds like a plain socket, so it fails if any other
// socket has the port, with an *InUseError; then it sets SO_REUSEADDR, so
// that sockets from ListenPacket can join the port afterwards (Linux
// checks the option of the sockets already bound when another binds).
func ListenPacketFirst(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	c, err := lc.ListenPacket(ctx, network, address)
	if err != nil {
		if isAddrInUse(err) {
			e := &InUseError{Addr: address, Err: err}
			if _, p, serr := net.SplitHostPort(address); serr == nil {
				e.Port, _ = strconv.Atoi(p)
			}
			if e.Port != 0 {
				e.Users = PortUsers(e.Port)
			}
			return nil, e
		}
		return nil, err
	}
	if err := reuseAfterBind(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	return c, nil
}

// InUseError is a UDP port that another socket already has.
type InUseError struct {
	Addr  string    // the address asked for
	Port  int       // its port, 0 if it has none
	Users []Process // the processes that have a socket on the port, where the system says
	Err   error     // the bind error
}

func (e *InUseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "UDP port %d is already in use by ", e.Port)
	if len(e.Users) == 0 {
		b.WriteString("another program")
	}
	for i, p := range e.Users {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "pid %d (%s)", p.PID, p.Command)
	}
	return b.String()
}

func (e *InUseError) Unwrap() error { return e.Err }

// Process is a process that has a socket.
type Process struct {
	PID     int
	Command string // its command line, shortened
}
