package cloud

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
)

// fakeCloud is a vendor cloud for chained-mode tests, on a fixed loopback
// address that survives stop and restart. It answers a hello with
// onHello, a discovery with an M11 naming the vendor, and a ping with a
// marker: an M12 whose sequence is the number of the connection (1, 2,
// ...), so a test can tell an upstream's answer from a local ping reply.
type fakeCloud struct {
	t    *testing.T
	addr string

	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	n       int           // connections accepted so far
	mode    mode          // what the next connections do
	delay   time.Duration // before every answer: a slow cloud
	onHello []byte
	got     chan received
	wg      sync.WaitGroup
}

type mode int

const (
	serve      mode = iota
	stall           // accept and read, never answer
	closeFirst      // close connection 1 after its first message; serve the others
	resetFirst      // reset connection 1 after its first message; serve the others
)

// received is a message the fake cloud got, on connection conn.
type received struct {
	conn int
	msg  []byte
}

// vendorAddr is the vendor's factory address (spec: 0.3).
var vendorAddr = [...]byte{47, 88, 7, 61}

// newFakeCloud starts a fake cloud; the caller defers its stop, which then
// runs before the leak check of start.
func newFakeCloud(t *testing.T, onHello []byte) *fakeCloud {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCloud{t: t, addr: ln.Addr().String(), onHello: onHello, got: make(chan received, 100)}
	f.serve(ln)
	return f
}

func (f *fakeCloud) set(m mode, delay time.Duration) {
	f.mu.Lock()
	f.mode, f.delay = m, delay
	f.mu.Unlock()
}

func (f *fakeCloud) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			if f.ln != ln { // stopped while accepting
				f.mu.Unlock()
				c.Close()
				return
			}
			f.n++
			n, m := f.n, f.mode
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Go(func() { f.handle(c, n, m) })
		}
	})
}

// stop closes the listener and every connection: connects are refused.
func (f *fakeCloud) stop() {
	f.mu.Lock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// restart listens again on the same address.
func (f *fakeCloud) restart() {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(ln)
}

func (f *fakeCloud) handle(c net.Conn, n int, m mode) {
	defer c.Close()
	if m == stall {
		io.Copy(io.Discard, c) // never answer
		return
	}
	var fr cloudproto.Framer
	buf := make([]byte, 4096)
	for {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		fr.Feed(buf[:k])
		for {
			raw, err := fr.Next()
			if err != nil {
				continue
			}
			if raw == nil {
				break
			}
			f.got <- received{conn: n, msg: append([]byte(nil), raw...)}
			if n == 1 && (m == closeFirst || m == resetFirst) {
				if m == resetFirst {
					c.(*net.TCPConn).SetLinger(0)
				}
				return
			}
			f.mu.Lock()
			delay := f.delay
			f.mu.Unlock()
			time.Sleep(delay)
			if _, err := c.Write(f.answer(raw, n)); err != nil {
				return
			}
		}
	}
}

func (f *fakeCloud) answer(raw []byte, n int) []byte {
	m, err := cloudproto.Decode(raw)
	if err != nil {
		return nil
	}
	switch m.Kind {
	case cloudproto.KindHello:
		return f.onHello
	case cloudproto.KindDiscovery:
		r := cloudproto.DiscoveryReply(netip.AddrPortFrom(netip.AddrFrom4(vendorAddr), 5678), fixedNow)
		return r.Append(nil)
	case cloudproto.KindPing:
		return marker(n)
	}
	return nil
}

// marker is the fake cloud's answer to a ping on connection n.
func marker(n int) []byte {
	m := cloudproto.Message{Kind: cloudproto.KindCommand, Header: cloudproto.Header{Code: cloudproto.CodeCommand, Source: cloudproto.DirCloudCommand, Dest: cloudproto.DirDevice, Version: 1, Sequence: uint16(n)}, Body: []byte{0}}
	return m.Append(nil)
}

// next waits for the next message the fake cloud receives.
func (f *fakeCloud) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-f.got:
		return r
	case <-time.After(patience):
		t.Fatal("the fake cloud received nothing")
		return received{}
	}
}
