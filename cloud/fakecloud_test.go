package cloud

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/sim"
)

// fakeCloud is the simulator's fake vendor cloud for chained-mode tests,
// on a loopback address that survives Stop and Restart. Its answers are
// the vendor's but for two, so a test can tell an upstream's answer from
// a local reply: a hello is answered with onHello, and a ping with a
// marker, an M12 whose sequence is the number of the connection (1, 2,
// ...). Its discovery replies name the vendor's factory address.
type fakeCloud struct {
	*sim.VendorCloud
	addr string
	got  chan received
}

// received is a message the fake cloud got, on connection conn.
type received struct {
	conn int
	msg  []byte
}

// vendorAddr is the vendor's factory address (spec: 0.3).
var vendorAddr = [...]byte{47, 88, 7, 61}

// newFakeCloud starts a fake cloud until the test ends; a test that
// starts it before start() defers its Stop, which then runs before the
// leak check.
func newFakeCloud(t *testing.T, onHello []byte) *fakeCloud {
	t.Helper()
	f := &fakeCloud{got: make(chan received, 1000)}
	v, err := sim.NewVendorCloud(sim.VendorCloudConfig{
		Advertise: netip.AddrPortFrom(netip.AddrFrom4(vendorAddr), 5678),
		Now:       func() time.Time { return fixedNow },
		Answer: func(conn int, m *cloudproto.Message) ([]byte, bool) {
			switch m.Kind {
			case cloudproto.KindHello:
				return onHello, true
			case cloudproto.KindPing:
				return marker(conn), true
			}
			return nil, false
		},
		OnMessage: func(conn int, raw []byte) {
			select {
			case f.got <- received{conn: conn, msg: bytes.Clone(raw)}:
			default: // nobody reads them all; next() wants the first ones
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.VendorCloud, f.addr = v, v.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("vendor cloud: %v", err)
		}
	})
	return f
}

// restart listens again on the same address.
func (f *fakeCloud) restart(t *testing.T) {
	t.Helper()
	if err := f.Restart(); err != nil {
		t.Fatal(err)
	}
}

// marker is the fake cloud's answer to a ping on connection n.
func marker(n int) []byte {
	m := cloudproto.Message{Kind: cloudproto.KindCommand, Header: cloudproto.KindCommand.Header(), Body: []byte{0}}
	m.Header.Sequence = uint16(n)
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
