package cloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// patience bounds every wait in these tests. It is a fail-safe against a
// hang, never a timing assertion: nothing waits for it to pass.
const patience = 20 * time.Second

// recorder is a Handler that keeps every message.
type recorder struct {
	mu   sync.Mutex
	msgs []*Message
	more chan struct{} // signalled on every message
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) HandleCloud(_ context.Context, m *Message) {
	kept := *m // the server reuses m
	r.mu.Lock()
	r.msgs = append(r.msgs, &kept)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// wait returns the messages once there are at least n.
func (r *recorder) wait(t *testing.T, n int) []*Message {
	t.Helper()
	deadline := time.After(patience)
	for {
		r.mu.Lock()
		msgs := append([]*Message(nil), r.msgs...)
		r.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(msgs), n)
		}
	}
}

// fixedNow is the time of vector C-DISCOVERY (spec: F.4).
var fixedNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// start runs a server on 127.0.0.1:0 until the test ends, and checks that
// Serve returns nil and leaves no goroutine behind.
func start(t testing.TB, cfg Config) (*Server, *recorder) {
	t.Helper()
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	cfg.Listener = ln
	if cfg.Handler == nil {
		cfg.Handler = rec
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v", err)
			}
		case <-time.After(patience):
			t.Errorf("Serve did not return")
		}
	})
	return srv, rec
}

// panel is a test client speaking as a panel.
type panel struct {
	t  *testing.T
	nc net.Conn
}

func dial(t *testing.T, srv *Server) *panel { t.Helper(); return dialFrom(t, srv, "127.0.0.1") }

// dialFrom connects from the loopback address ip, as another host.
func dialFrom(t *testing.T, srv *Server, ip string) *panel {
	t.Helper()
	d := net.Dialer{Timeout: patience, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &panel{t: t, nc: nc}
}

func (p *panel) send(chunks ...[]byte) {
	p.t.Helper()
	for _, c := range chunks {
		if _, err := p.nc.Write(c); err != nil {
			p.t.Fatal(err)
		}
	}
}

// read returns the next n bytes the server sends.
func (p *panel) read(n int) []byte {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(patience))
	b := make([]byte, n)
	if _, err := io.ReadFull(p.nc, b); err != nil {
		p.t.Fatalf("reading %d bytes: %v (got % x)", n, err, b)
	}
	return b
}

// expect reads exactly want. To check that nothing else came first, send
// a ping before and expect its reply after.
func (p *panel) expect(want []byte) {
	p.t.Helper()
	if got := p.read(len(want)); !bytes.Equal(got, want) {
		p.t.Fatalf("server sent\n% x\nwant\n% x", got, want)
	}
}

// sync proves that everything sent so far was handled: the server answers
// in order, so when the ping reply arrives, nothing before the ping is
// still unread or unanswered.
func (p *panel) sync() {
	p.t.Helper()
	p.send(ping)
	p.expect(ping)
}

// closed waits until the server closes the connection, failing if it
// sends anything first.
func (p *panel) closed() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(patience))
	var b [1]byte
	n, err := p.nc.Read(b[:])
	if n > 0 || errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		p.t.Fatalf("connection not closed: read %d bytes, %v", n, err)
	}
}

var ping = []byte{0x01, 0x10, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00}

// vector returns the hex input of a C-* vector (spec: F.4, F.5).
func vector(t testing.TB, id string) []byte {
	t.Helper()
	return vectors.EntryHex(t, "../cloudproto/testdata/cloud-vectors.yaml", id, "input_hex")
}

// helloWithGUID returns C-HELLO with another GUID.
func helloWithGUID(t testing.TB, guid string) []byte {
	m, err := cloudproto.Decode(vector(t, "C-HELLO"))
	if err != nil {
		t.Fatal(err)
	}
	m.Hello.GUID = guid
	return m.Append(nil)
}

// helloReplies are the replies to a hello from srv.
func helloReplies(srv *Server) []byte {
	hello := cloudproto.Message{Kind: cloudproto.KindHello}
	return cloudproto.AppendReplies(nil, &hello, cloudproto.ReplyParams{LocalPort: srv.Addr().(*net.TCPAddr).Port})
}

func discoveryReply(advertise netip.AddrPort) []byte {
	m := cloudproto.DiscoveryReply(advertise, fixedNow)
	return m.Append(nil)
}
