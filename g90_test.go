package g90

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

func startSim(t testing.TB, cfg sim.Config) *sim.Panel { return simtest.Start(t, cfg) }

func newPanel(t testing.TB, s *sim.Panel, timeout time.Duration, retries int) *Panel {
	t.Helper()
	a := s.Addr().(*net.UDPAddr)
	p, err := New(Config{Host: a.IP.String(), Port: a.Port, Timeout: timeout, Retries: retries})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPanelAgainstSimulator(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	p.rebootGap = time.Millisecond
	ctx := context.Background()
	want := s.Snapshot()

	info, err := p.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.GUID != want.Host.GUID || info.GUID == "" {
		t.Errorf("GUID %q, want %q", info.GUID, want.Host.GUID)
	}

	sensors, err := p.Sensors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sensors) != len(want.Sensors) || len(sensors) < 10 {
		t.Fatalf("%d sensors, simulator has %d", len(sensors), len(want.Sensors))
	}
	for i, sn := range sensors {
		if !sn.Record.Equal(want.Sensors[i]) || sn.Position != i+1 {
			t.Errorf("sensor %d: %+v at %d, want %+v", i, sn.Record, sn.Position, want.Sensors[i])
		}
		if sn.Definition == nil {
			t.Errorf("sensor %q has no definition", sn.Name())
		}
	}

	devices, err := p.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes := 0
	var multi *struct{ index, nodes int }
	for _, d := range devices {
		nodes += len(d.Nodes())
		if n := len(d.Nodes()); n > 1 && multi == nil {
			multi = &struct{ index, nodes int }{d.Index(), n}
		}
	}
	if len(devices) < 2 || multi == nil || nodes <= len(devices) {
		t.Fatalf("devices %d, nodes %d: want ≥ 2 devices and a multi-node relay", len(devices), nodes)
	}

	// Relay control reaches the panel with the inverted values (0 = on).
	if err := p.SetRelay(ctx, multi.index, multi.nodes-1, true); err != nil {
		t.Fatal(err)
	}
	if got := s.Snapshot().Relays[multi.index]; !got[multi.nodes-1] {
		t.Errorf("relay %d node %d not on: %v", multi.index, multi.nodes-1, got)
	}
	if err := p.SetRelay(ctx, multi.index, multi.nodes-1, false); err != nil {
		t.Fatal(err)
	}
	if got := s.Snapshot().Relays[multi.index]; got[multi.nodes-1] {
		t.Errorf("relay %d node %d still on", multi.index, multi.nodes-1)
	}

	// Arm, check, disarm, check: and both are in the history, newest first.
	for _, st := range []protocol.ArmState{protocol.ArmHome, protocol.ArmAway, protocol.Disarmed} {
		if st == protocol.Disarmed {
			err = p.Disarm(ctx)
		} else {
			err = p.Arm(ctx, st)
		}
		if err != nil {
			t.Fatal(err)
		}
		status, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if status.State != st {
			t.Errorf("state %v after setting %v", status.State, st)
		}
	}
	hist, err := p.History(ctx, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	var states []protocol.HistoryState
	for _, h := range hist {
		states = append(states, h.HistoryState())
	}
	if diff := cmp.Diff([]protocol.HistoryState{protocol.StateDisarm, protocol.StateArmAway, protocol.StateArmHome}, states); diff != "" {
		t.Errorf("newest history (-want +got):\n%s", diff)
	}
	all, err := p.History(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(s.Snapshot().History) || len(all) < 30 {
		t.Errorf("%d history entries, simulator has %d", len(all), len(s.Snapshot().History))
	}
	if !slices.IsSortedFunc(all, func(a, b HistoryEntry) int { return b.UnixTime - a.UnixTime }) {
		t.Error("history not sorted newest first")
	}
	window, err := p.History(ctx, 12, 15) // spans two pages: [12,21], [22,26]
	if err != nil {
		t.Fatal(err)
	}
	if len(window) != 15 {
		t.Errorf("history window: %d entries, want 15", len(window))
	}

	// Every configuration object decodes.
	if _, err := p.HostConfig(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.AlarmPhones(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.AlertConfig(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.NetConfig(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.SIAConfig(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.CIDConfig(ctx); err != nil {
		t.Error(err)
	}
	if _, err := p.UserDataCRC(ctx); err != nil {
		t.Error(err)
	}

	// System commands get no reply but change the simulated panel.
	if err := p.SetCloudServer(ctx, "127.0.0.1", 5678); err != nil {
		t.Fatal(err)
	}
	if err := p.Reboot(ctx, ModuleAll); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the reboots and the server address", func() bool {
		st := s.Snapshot()
		return st.CloudServer.Port == 5678 && st.Reboots.MCU == 1 && st.Reboots.GSM == 1 && st.Reboots.WiFi == 1
	})
}

// TestFaultyPanelNeverCrossesReplies is the fault test: with 30 %
// of replies dropped, 10 % duplicated and a stray datagram before every
// reply, 200 sequential commands each return the right answer or a clear
// timeout, never a reply to a different command.
func TestFaultyPanelNeverCrossesReplies(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 42})
	if err := s.SetFaults(sim.Faults{Drop: 0.3, Duplicate: 0.1, Stray: true}); err != nil {
		t.Fatal(err)
	}
	p := newPanel(t, s, 80*time.Millisecond, 4)
	ctx := context.Background()
	want := s.Snapshot()
	var ok, timeouts int
	for i := range 200 {
		var err error
		switch i % 4 {
		case 0:
			var st protocol.HostStatus
			if st, err = p.Status(ctx); err == nil && st.State != want.Arm {
				t.Fatalf("command %d: status %v, want %v", i, st.State, want.Arm)
			}
		case 1:
			var info protocol.HostInfo
			if info, err = p.Info(ctx); err == nil && info.GUID != want.Host.GUID {
				t.Fatalf("command %d: info GUID %q", i, info.GUID)
			}
		case 2:
			var hc protocol.HostConfig
			if hc, err = p.HostConfig(ctx); err == nil && !cmp.Equal(hc, want.HostConfig) {
				t.Fatalf("command %d: host config %+v", i, hc)
			}
		case 3:
			var page protocol.Page
			if page, err = p.Client().ReadPage(ctx, protocol.GetSensorList, 2, 2); err == nil {
				var rec protocol.PeripheralRecord
				if err = protocol.Decode(&rec, page.Records[0].Arr); err != nil || !rec.Equal(want.Sensors[1]) {
					t.Fatalf("command %d: sensor at 2: %+v (%v)", i, rec, err)
				}
			}
		}
		switch {
		case err == nil:
			ok++
		case errors.Is(err, client.ErrTimeout):
			timeouts++
		default:
			t.Fatalf("command %d: %v", i, err)
		}
	}
	stats := p.Client().Stats()
	t.Logf("%d ok, %d timeouts; client stats %+v", ok, timeouts, stats)
	if ok < 190 || stats.Strays == 0 || stats.Retries == 0 {
		t.Errorf("%d of 200 succeeded, %d strays, %d retries: the faults did not happen or were not survived", ok, stats.Strays, stats.Retries)
	}
}

func TestSilentPanelTimesOut(t *testing.T) {
	s := startSim(t, sim.Config{})
	if err := s.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	p := newPanel(t, s, 50*time.Millisecond, 2)
	_, err := p.Status(context.Background())
	var te *client.TimeoutError
	if !errors.As(err, &te) || te.Command != protocol.GetHostStatus || te.Panel != p.Addr() {
		t.Fatalf("err = %v, want a timeout naming the panel and GETHOSTSTATUS", err)
	}
}

func TestArgumentErrors(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"arm disarmed": p.Arm(ctx, protocol.Disarmed),
		"relay -1":     p.SetRelay(ctx, -1, 0, true),
		"history 0":    func() error { _, err := p.History(ctx, 0, 1); return err }(),
		"reboot x":     p.Reboot(ctx, "x"),
		"cloud name":   p.SetCloudServer(ctx, "example", 5678),
		"cloud port":   p.SetCloudServer(ctx, "127.0.0.1", 0),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkRoundTrip measures one command against the simulator on
// loopback: the client's encode, a fresh socket, send, the simulator's
// answer and the decode. p50 and p99 are reported per command.
func BenchmarkRoundTrip(b *testing.B) {
	s := startSim(b, sim.Config{})
	p := newPanel(b, s, time.Second, 3)
	ctx := context.Background()
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := p.Status(ctx); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds())/1e3, "p99-µs")
}
