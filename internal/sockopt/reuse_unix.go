//go:build unix

package sockopt

import (
	"errors"
	"net"
	"syscall"
)

// reuseAddr sets SO_REUSEADDR on the socket before it is bound.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// reuseAfterBind sets SO_REUSEADDR on a bound socket.
func reuseAfterBind(c net.PacketConn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return reuseAddr("", "", rc)
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
