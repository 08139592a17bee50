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
// added and removed on the panel, each change raising the configuration
// number so that controllers read it again; an accessory keeps its id
// through a rename and a restart, and a new one gets an id never used.
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
	if c3 := b.ConfigNumber(); c3 <= c2 {
		t.Errorf("configuration number %d after a removal, want more than %d", c3, c2)
	}

	before := map[string]uint64{}
	for _, n := range b.Published() {
		before[n] = b.AID(n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, _ = start()
	eventually.NoErrorWithin(t, 30*time.Second, "published after the restart", has("home Attic PIR"))
	for n, aid := range before {
		if got := b.AID(n); got != aid {
			t.Errorf("%s: aid %d after the restart, want %d", n, got, aid)
		}
	}
}
