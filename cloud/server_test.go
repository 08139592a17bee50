package cloud

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// waitStats polls the counters until ok holds. The server counts before
// it closes or answers, so most checks hold at once; this covers the
// rest (a connection's release after its close).
func waitStats(t *testing.T, srv *Server, ok func(Stats) bool) Stats {
	t.Helper()
	var st Stats
	eventually.NoErrorWithin(t, patience, "the expected stats", func() error {
		if st = srv.Stats(); !ok(st) {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	return st
}

// TestStandalone plays the spec's cloud vectors over TCP on one
// connection: byte-exact replies, events in wire order, errors counted
// and survived (spec: D.7, F.4, F.5).
func TestStandalone(t *testing.T) {
	adv := netip.MustParseAddrPort("127.0.0.1:5678")
	srv, rec := start(t, Config{Advertise: adv})
	p := dial(t, srv)

	// C-HELLO: M8 M9 M10, M10 carrying the listening port (spec: D.5.10).
	p.send(vector(t, "C-HELLO"))
	want := []byte{
		0x41, 0x20, 0x00, 0x10, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01,
		0x01, 0x20, 0x00, 0x10, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x1f,
		0x63, 0x20, 0x00, 0x10, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0, 0, 0, 0,
	}
	binary.LittleEndian.PutUint32(want[38:], uint32(srv.Addr().(*net.TCPAddr).Port))
	p.expect(want)

	// C-DISCOVERY, byte for byte as in the spec.
	p.send(vector(t, "C-DISCOVERY"))
	p.expect([]byte{
		0x01, 0xd0, 0x00, 0x10, 0x2c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x31, 0x32, 0x37, 0x2e,
		0x30, 0x2e, 0x30, 0x2e, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x2e, 0x16, 0x00, 0x00, 0x80, 0x85, 0x74, 0x67,
	})

	// Events, in wire order, with the stored GUID.
	p.send(vector(t, "C-STATUS-ALARM-TAMPER"), vector(t, "C-NOTIFICATION"), vector(t, "C-STATUS-SENSOR-OPEN"))
	p.sync()
	msgs := rec.wait(t, 3)
	var types []event.Type
	for _, m := range msgs {
		if m.GUID != "GA00000A0000000" || m.Received != fixedNow || m.Remote != addrPort(p.nc.LocalAddr()) {
			t.Errorf("message %+v: wrong GUID, time or remote", m)
		}
		evs, err := m.Events()
		if err != nil {
			t.Errorf("message %+v: %v", m, err)
		}
		for _, ev := range evs {
			if ev.Source != event.SourceCloud || ev.Time.IsZero() {
				t.Errorf("event %+v: want source cloud and a time", ev)
			}
			types = append(types, ev.Type)
		}
	}
	wantTypes := []event.Type{event.Tamper, event.Alarm, event.SensorActivity, event.SensorActivity, event.DoorOpen}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("event types %v, want %v", types, wantTypes)
	}
	if evs, _ := msgs[1].Events(); msgs[1].Kind != cloudproto.KindNotification || !evs[0].Time.Equal(fixedNow) {
		t.Errorf("notification %+v: want its events timed at receipt", msgs[1])
	}
	if evs, _ := msgs[0].Events(); evs[0].Time.Unix() != 1739185423 {
		t.Errorf("status change event time %v, want the panel's", evs[0].Time)
	}

	// F.5 and friends: no reply, no event, the connection goes on.
	p.send(vector(t, "C-ERR-WRONG-VERSION"), vector(t, "C-ERR-UNKNOWN-DIRECTION"),
		vector(t, "C-ERR-NONPING-TOO-SHORT"), vector(t, "C-ERR-STATUS-SENSOR-WRONG-STATE"))
	p.send(vector(t, "C-NOTIFICATION-BAD-JSON-CONTINUES")) // answers its ping
	p.expect(ping)
	st := srv.Stats()
	if st.DecodeErrors != 1 || st.Unknown != 2 || st.Invalid != 1 || st.FramingErrors != 0 {
		t.Errorf("stats %+v: want 1 decode error, 2 unknown, 1 invalid", st)
	}
	// A sentinel notification: it is the next message after the alert no
	// rule maps, which has no events (the Monitor counts it, spec: F.5).
	p.send(vector(t, "C-NOTIFICATION"))
	got := rec.wait(t, 5)
	if evs, err := got[3].Events(); len(got) != 5 || got[4].Kind != cloudproto.KindNotification || err == nil || len(evs) != 0 {
		t.Errorf("%d messages delivered, want the unmapped alert 4th (no events) and the sentinel 5th", len(got))
	}
	ps := srv.Panels()
	if len(ps) != 1 || ps[0].GUID != "GA00000A0000000" || !ps[0].LastPacket.Equal(fixedNow) {
		t.Errorf("Panels = %+v", ps)
	}
}
