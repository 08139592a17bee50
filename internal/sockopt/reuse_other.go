//go:build !unix

package sockopt

import "syscall"

// reuseAddr does nothing where SO_REUSEADDR is not portable: there a
// second listener on the port gets an "address in use" error.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
