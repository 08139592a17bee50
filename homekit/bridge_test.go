//go:build !nohomekit

package homekit_test

import (
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/netns"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// TestBridgeFollowsThePanel: the accessory set follows sensors renamed,
// added and removed on the panel, and relays renamed and added, each
// change raising the configuration number so that controllers read it
// again; an accessory keeps its id through a rename and a restart, and a
// new one gets an id never used; the setup code generated at the first
// start (no pin configured) is the same after a restart.
// In a network namespace of its own, as hap's mDNS responder joins every
// interface.
func TestBridgeFollowsThePanel(t *testing.T) {
	if !netns.Run(t, os.Getenv("G90_REQUIRE_NETNS") != "") {
		return
	}
	s := simtest.Start(t, sim.Config{Seed: 1})
	a := s.Addr().(*net.UDPAddr)
	p, err := g90.New(g90.Config{Host: a.IP.String(), Port: a.Port, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Polled more often than the bridge lets the set settle: a state at
	// every poll must not hold its publication back.
	mon := p.NewMonitor(g90.MonitorConfig{Name: "home", Poll: 300 * time.Millisecond})
	dir := t.TempDir()
	start := func() (*homekit.Bridge, func() error) {
		b, err := homekit.New(homekit.Config{Listen: "127.0.0.1:0", Dir: dir, Panels: []*g90.Monitor{mon}, AllowDisarm: true})
		if err != nil {
			t.Fatal(err)
		}
		return b, testrig.Serve(t, b.Run)
	}
	b, stop := start()
	testrig.Serve(t, mon.Run)

	has := func(name string) func() error {
		return func() error {
			if !slices.Contains(b.Published(), name) {
				return fmt.Errorf("%q not among %q", name, b.Published())
			}
			return nil
		}
	}
	eventually.NoErrorWithin(t, 30*time.Second, "the first publication", has("home Front door"))
	door := b.AID("home Front door")
	c0 := b.ConfigNumber()
	if door < 2 || c0 < 1 {
		t.Fatalf("aid %d, configuration number %d", door, c0)
	}

	change := func(edit func(st *sim.State)) {
		t.Helper()
		st := s.Snapshot()
		edit(&st)
		if err := s.SetState(st); err != nil {
			t.Fatal(err)
		}
		mon.Refresh()
	}
	change(func(st *sim.State) { st.Sensors[0].Name = "Porch door" })
	eventually.NoErrorWithin(t, 30*time.Second, "the renamed sensor", has("home Porch door"))
	if slices.Contains(b.Published(), "home Front door") || b.AID("home Porch door") != door {
		t.Errorf("after the rename: %q, aid %d (want %d)", b.Published(), b.AID("home Porch door"), door)
	}
	c1 := b.ConfigNumber()
	if c1 <= c0 {
		t.Errorf("configuration number %d after a rename, want more than %d", c1, c0)
	}

	var most uint64
	for _, n := range b.Published() {
		most = max(most, b.AID(n))
	}
	change(func(st *sim.State) {
		st.Sensors = append(st.Sensors, protocol.PeripheralRecord{Name: "Attic PIR", Index: 40, TypeID: 8, Subtype: 3, ProtocolID: 1, ReservedData: 16, NodeCount: 1, UserFlags: 1})
	})
	eventually.NoErrorWithin(t, 30*time.Second, "the added sensor", has("home Attic PIR"))
	if aid := b.AID("home Attic PIR"); aid <= most {
		t.Errorf("the new sensor's aid %d, want one never used (above %d)", aid, most)
	}
	c2 := b.ConfigNumber()
	if c2 <= c1 {
		t.Errorf("configuration number %d after an addition, want more than %d", c2, c1)
	}

	change(func(st *sim.State) {
		st.Sensors = slices.DeleteFunc(st.Sensors, func(r protocol.PeripheralRecord) bool { return r.Name == "Kitchen smoke" })
	})
	eventually.NoErrorWithin(t, 30*time.Second, "the removed sensor gone", func() error {
		if slices.Contains(b.Published(), "home Kitchen smoke") {
			return fmt.Errorf("still published")
		}
		return nil
	})
	c3 := b.ConfigNumber()
	if c3 <= c2 {
		t.Errorf("configuration number %d after a removal, want more than %d", c3, c2)
	}

	// Relays: a rename keeps the aid, an addition gets a new one.
	lights := b.AID("home Garden lights")
	if lights < 2 {
		t.Fatalf("the relay Garden lights not published: %q", b.Published())
	}
	change(func(st *sim.State) {
		for i := range st.Devices {
			if st.Devices[i].Name == "Garden lights" {
				st.Devices[i].Name = "Patio lights"
			}
		}
	})
	eventually.NoErrorWithin(t, 30*time.Second, "the renamed relay", has("home Patio lights"))
	if slices.Contains(b.Published(), "home Garden lights") || b.AID("home Patio lights") != lights {
		t.Errorf("after the relay's rename: %q, aid %d (want %d)", b.Published(), b.AID("home Patio lights"), lights)
	}
	c4 := b.ConfigNumber()
	if c4 <= c3 {
		t.Errorf("configuration number %d after a relay's rename, want more than %d", c4, c3)
	}
	for _, n := range b.Published() {
		most = max(most, b.AID(n))
	}
	change(func(st *sim.State) {
		st.Devices = append(st.Devices, protocol.PeripheralRecord{Name: "Pond pump", Index: 12, TypeID: 128, Subtype: 3, Baudrate: 1190, ReservedData: 17, NodeCount: 1, UserFlags: 1})
	})
	eventually.NoErrorWithin(t, 30*time.Second, "the added relay", has("home Pond pump"))
	if aid := b.AID("home Pond pump"); aid <= most {
		t.Errorf("the new relay's aid %d, want one never used (above %d)", aid, most)
	}
	if c5 := b.ConfigNumber(); c5 <= c4 {
		t.Errorf("configuration number %d after a relay's addition, want more than %d", c5, c4)
	}

	setup := b.Setup()
	before := map[string]uint64{}
	for _, n := range b.Published() {
		before[n] = b.AID(n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, _ = start()
	if got := b.Setup(); got.Code != setup.Code || got.URI != setup.URI {
		t.Errorf("setup code %s %s after the restart, want %s %s (generated once, kept)", got.Code, got.URI, setup.Code, setup.URI)
	}
	eventually.NoErrorWithin(t, 30*time.Second, "published after the restart", has("home Pond pump"))
	for n, aid := range before {
		if got := b.AID(n); got != aid {
			t.Errorf("%s: aid %d after the restart, want %d", n, got, aid)
		}
	}
}
