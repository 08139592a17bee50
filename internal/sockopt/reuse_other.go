//go:build !unix

package sockopt

import (
	"errors"
	"net"
	"syscall"
)

// reuseAddr does nothing where SO_REUSEADDR is not portable (on Windows
// it would let another program take the port): there a second listener
// on the port gets an "address in use" error.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }

func reuseAfterBind(net.PacketConn) error { return nil }

// wsaeAddrInUse is Windows' WSAEADDRINUSE.
const wsaeAddrInUse = syscall.Errno(10048)

func isAddrInUse(err error) bool {
	return errors.Is(err, wsaeAddrInUse) || errors.Is(err, syscall.EADDRINUSE)
}
