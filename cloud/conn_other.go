//go:build !unix

package cloud

import (
	"net"
	"syscall"
)

// rawConn is nil where reads go through net.Conn.Read: a connection then
// holds a scratch while it waits.
func rawConn(net.Conn) syscall.RawConn { return nil }

func (c *conn) readRaw(uintptr) bool { return true }
