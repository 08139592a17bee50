//go:build !linux

package notify

import (
	"errors"
	"net"
	"net/netip"
)

// pktinfoSupported says whether this system can tell the interface a
// datagram arrived on: here it is not implemented, and the listener checks
// the sender's address only.
const pktinfoSupported = false

const oobSize = 0

var errNoPktinfo = errors.New("notify: the arrival interface is not known on this system")

func enablePktinfo(*net.UDPConn) error { return errNoPktinfo }

func pktinfoIfindex([]byte) int { return 0 }

func routeInterface(netip.Addr) (int, error) { return 0, errNoPktinfo }
