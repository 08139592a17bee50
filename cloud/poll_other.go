//go:build !linux

package cloud

import "errors"

// poller is Linux's epoll (poll_linux.go); elsewhere every connection
// has a goroutine of its own that waits for it.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("cloud: no poller on this platform") }

func (*poller) add(*conn) error       { return nil }
func (*poller) arm(*conn) error       { return nil }
func (*poller) remove(*conn)          {}
func (*poller) run(func(*conn)) error { return nil }
func (*poller) stop()                 {}
func (*poller) close()                {}
