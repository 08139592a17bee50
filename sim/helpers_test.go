package sim

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
)

// testNow is the simulated panel's clock in tests.
var testNow = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// ioTimeout bounds every wait for a datagram; it only matters when a test
// is failing.
const ioTimeout = 5 * time.Second

// start serves a panel on loopback for the rest of the test and checks on
// cleanup that Serve returns nil and leaves no goroutine behind.
func start(t *testing.T, cfg Config) *Panel {
	t.Helper()
	leaktest.Check(t)
	if cfg.Listen == "" && cfg.PacketConn == nil {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = fixedClock
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testrig.Serve(t, p.Serve)
	return p
}

// startWith serves a panel whose state is the default home changed by edit.
func startWith(t *testing.T, edit func(st *State)) *Panel {
	t.Helper()
	st := defaultState(testNow)
	if edit != nil {
		edit(&st)
	}
	return start(t, Config{State: &st})
}

// client is a test client socket, unconnected so that it sees datagrams
// from any sender.
type client struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
}

func newClient(t *testing.T, to net.Addr) *client {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, to: to}
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteTo(b, c.to); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next datagram and its sender.
func (c *client) recv() ([]byte, net.Addr) {
	c.t.Helper()
	buf := make([]byte, 64*1024)
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	n, from, err := c.conn.ReadFrom(buf)
	if err != nil {
		c.t.Fatalf("no datagram: %v", err)
	}
	return buf[:n], from
}

// do sends req and returns the reply, which must come from the panel's
// address.
func (c *client) do(req []byte) []byte {
	c.t.Helper()
	c.send(req)
	b, from := c.recv()
	if from.String() != c.to.String() {
		c.t.Fatalf("reply from %v, want %v", from, c.to)
	}
	return b
}

// expect sends req and checks the reply byte for byte; both are written
// without their final NUL.
func (c *client) expect(req, want string) {
	c.t.Helper()
	if got := c.do(raw(req)); string(got) != want+"\x00" {
		c.t.Errorf("%s\n got %q\nwant %q", req, strings.TrimSuffix(string(got), "\x00"), want)
	}
}

// expectNoReply sends req, then a GETHOSTSTATUS probe on the same socket,
// and checks that the first datagram back answers the probe. The panel
// handles a socket's datagrams in order and answers synchronously, so a
// reply to req would have come first.
func (c *client) expectNoReply(req []byte) {
	c.t.Helper()
	c.send(req)
	got := c.do(raw(`ISTART[100,100,""]IEND`))
	resp, err := protocol.ParseResponse(got)
	if err != nil || resp.Code != protocol.GetHostStatus {
		c.t.Errorf("%q was answered: first datagram back is %q", req, got)
	}
}

// raw appends the NUL that ends every datagram.
func raw(s string) []byte { return []byte(s + "\x00") }
