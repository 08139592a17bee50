package mqtttest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Cutter is a TCP proxy in front of the broker that can cut every
// connection and refuse new ones: a broker outage, seen from the link,
// while subscribers on the broker itself stay.
type Cutter struct {
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
	closed bool
}

// StartCutter starts a Cutter for the broker at upstream (host:port);
// the test's cleanup stops it.
func StartCutter(t testing.TB, upstream string) *Cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cutter{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	c.wg.Go(c.accept)
	t.Cleanup(c.close)
	return c
}

// URL is the proxy's mqtt:// URL.
func (c *Cutter) URL() string { return "mqtt://" + c.ln.Addr().String() }

// SetDown cuts every connection and refuses new ones, or lets them in
// again.
func (c *Cutter) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
	if down {
		for nc := range c.conns {
			nc.Close()
		}
	}
}

func (c *Cutter) track(nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down || c.closed {
		nc.Close()
		return false
	}
	c.conns[nc] = true
	return true
}

func (c *Cutter) untrack(nc net.Conn) {
	c.mu.Lock()
	delete(c.conns, nc)
	c.mu.Unlock()
	nc.Close()
}

func (c *Cutter) close() {
	c.ln.Close()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.SetDown(true)
	c.wg.Wait()
}

func (c *Cutter) accept() {
	for {
		nc, err := c.ln.Accept()
		if err != nil {
			return
		}
		if c.track(nc) {
			c.wg.Go(func() { c.pipe(nc) })
		}
	}
}

func (c *Cutter) pipe(nc net.Conn) {
	defer c.untrack(nc)
	up, err := net.Dial("tcp", c.upstream)
	if err != nil || !c.track(up) {
		return
	}
	defer c.untrack(up)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(nc, up)
		nc.Close()
	})
	_, _ = io.Copy(up, nc)
	up.Close()
	wg.Wait()
}
