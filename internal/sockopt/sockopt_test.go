package sockopt

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// Two sockets bind the same loopback port, and a broadcast-like send
// reaches at least one of them: the bind itself is what the option buys.
func TestTwoListenersShareAPort(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SO_REUSEADDR is not set on Windows")
	}
	ctx := context.Background()
	a, err := ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenPacket(ctx, "udp4", a.LocalAddr().String())
	if err != nil {
		t.Fatalf("second listener on %v: %v", a.LocalAddr(), err)
	}
	defer b.Close()

	// Without the option the second bind fails, which proves the option
	// is what made it work.
	c, err := net.ListenPacket("udp4", a.LocalAddr().String())
	if err == nil {
		c.Close()
		t.Fatal("a plain listener could bind the shared port too; the test proves nothing")
	}

	s, err := net.Dial("udp4", a.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 2)
	for _, conn := range []net.PacketConn{a, b} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		go func() {
			buf := make([]byte, 8)
			if _, _, err := conn.ReadFrom(buf); err == nil {
				got <- struct{}{}
			}
		}()
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("neither listener received the datagram")
	}
}
