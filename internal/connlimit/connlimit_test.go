package connlimit

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// serve accepts on l until it is closed, holding each connection open
// until the peer closes it.
func serve(t *testing.T, l *Listener) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
}

func dial(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closed reports whether the server closed c (a read ends with EOF).
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF
}

func TestLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejected, perAddr atomic.Int64
	l := New(ln, Config{Max: 5, PerAddr: 3, Rejected: func(_ net.Addr, p bool) {
		rejected.Add(1)
		if p {
			perAddr.Add(1)
		}
	}})
	serve(t, l)
	addr := ln.Addr().String()
	var held []net.Conn
	for range 3 {
		held = append(held, dial(t, "127.0.0.1", addr))
	}
	eventually.True(t, "3 open", func() bool { return l.Open() == 3 })
	if c := dial(t, "127.0.0.1", addr); !closed(c) {
		t.Error("a 4th connection from one address was kept")
	}
	// Another address still gets in, up to the total.
	b1, b2 := dial(t, "127.0.0.2", addr), dial(t, "127.0.0.2", addr)
	eventually.True(t, "5 open", func() bool { return l.Open() == 5 })
	if closed(b1) || closed(b2) {
		t.Error("another address's connections were closed")
	}
	if c := dial(t, "127.0.0.3", addr); !closed(c) {
		t.Error("a connection past Max was kept")
	}
	if rejected.Load() != 2 || perAddr.Load() != 1 || l.Rejected() != 2 {
		t.Errorf("rejected %d (per address %d), Rejected() %d; want 2, 1, 2", rejected.Load(), perAddr.Load(), l.Rejected())
	}
	// A closed connection gives its place back.
	held[0].Close()
	eventually.True(t, "4 open", func() bool { return l.Open() == 4 })
	if c := dial(t, "127.0.0.1", addr); closed(c) {
		t.Error("no place after one was freed")
	}
}
