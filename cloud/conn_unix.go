//go:build unix

package cloud

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawConn returns nc's raw socket, for reading with no buffer held while
// the connection waits, and sets c.rawRead; nil when nc is not a socket.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readRaw is conn.rawRead: called by RawConn.Read each time the socket
// may be readable, it takes a scratch, reads into it, and gives it back
// when there was nothing to read yet (false: wait for the socket; a
// polled connection returns errAgain instead, see polled.go). It is
// a method value made once per connection, so a read allocates nothing.
func (c *conn) readRaw(fd uintptr) bool {
	if c.sc == nil {
		c.sc = getScratch()
	}
	for {
		n, err := syscall.Read(int(fd), c.sc.buf[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			putScratch(c.sc)
			c.sc = nil
			if c.polled {
				c.rerr = errAgain // the poller waits, not this goroutine
				return true
			}
			return false
		case err != nil:
			c.rerr = os.NewSyscallError("read", err)
		case n == 0:
			c.rerr = io.EOF
		default:
			c.rn = n
		}
		return true
	}
}
