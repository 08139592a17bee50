package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/sim"
)

func startSim(t *testing.T) *sim.Panel {
	return simtest.Start(t, sim.Config{DiscoveryListen: "127.0.0.1:0", Seed: 7})
}

// run executes the CLI in-process against the simulator, until the
// command ends or the test does. It does not fail t, so it may run on any
// goroutine.
func run(t *testing.T, s *sim.Panel, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--host", s.Addr().String(), "--timeout", "1s"}, args...))
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func runJSON(t *testing.T, s *sim.Panel, v any, args ...string) {
	t.Helper()
	out, err := run(t, s, append(args, "--json")...)
	if err != nil {
		t.Fatalf("g90 %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("g90 %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: key %q missing in %v", what, k, m)
		}
	}
}

func TestJSONContract(t *testing.T) {
	s := startSim(t)
	want := s.Snapshot()

	var info map[string]any
	runJSON(t, s, &info, "info")
	hasKeys(t, "info", info, "guid", "product", "mcu_version", "wifi_version")
	if info["guid"] != want.Host.GUID {
		t.Errorf("info guid %v, want %v", info["guid"], want.Host.GUID)
	}

	var sensors []map[string]any
	runJSON(t, s, &sensors, "sensors")
	if len(sensors) != len(want.Sensors) {
		t.Fatalf("%d sensors, want %d", len(sensors), len(want.Sensors))
	}
	for _, sn := range sensors {
		hasKeys(t, "sensor", sn, "index", "name", "type", "enabled", "wireless", "alert_mode")
	}

	var devices []map[string]any
	runJSON(t, s, &devices, "devices")
	nodes := 0
	for _, d := range want.Devices {
		nodes += max(d.NodeCount, 1)
	}
	if len(devices) != nodes {
		t.Errorf("%d device nodes, want %d (multi-node relays expand)", len(devices), nodes)
	}
	for _, d := range devices {
		hasKeys(t, "device", d, "index", "name", "node", "type")
	}

	for _, state := range []string{"away", "home"} {
		if _, err := run(t, s, "arm", state); err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		runJSON(t, s, &st, "status")
		if st["state"] != state {
			t.Errorf("status after arm %s: %v", state, st["state"])
		}
	}
	if _, err := run(t, s, "disarm"); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	runJSON(t, s, &st, "status")
	if st["state"] != "disarmed" {
		t.Errorf("status after disarm: %v", st["state"])
	}

	var hist []map[string]any
	runJSON(t, s, &hist, "history", "--count", "3")
	if len(hist) != 3 {
		t.Fatalf("%d history entries, want 3", len(hist))
	}
	for _, h := range hist {
		hasKeys(t, "history", h, "time", "type", "state", "sensor")
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(h["time"])); err != nil {
			t.Errorf("history time: %v", err)
		}
	}
	if hist[0]["state"] != "disarm" || hist[1]["state"] != "arm_home" {
		t.Errorf("newest history %v", hist[:2])
	}

	var host map[string]any
	runJSON(t, s, &host, "config", "show", "host")
	hasKeys(t, "config host", host, "alarm_siren_duration", "timezone_offset_m")
	var all map[string]map[string]any
	runJSON(t, s, &all, "config", "show")
	for _, sec := range []string{"host", "net", "phones", "alerts", "sia", "cid"} {
		if _, ok := all[sec]; !ok {
			t.Errorf("config show: section %q missing", sec)
		}
	}

	var found []map[string]any
	runJSON(t, s, &found, "discover", "--addr", s.Addr().String(), "--window", "300ms")
	if len(found) != 1 || found[0]["guid"] != want.Host.GUID {
		t.Errorf("discover: %v", found)
	}
	var probed []map[string]any
	runJSON(t, s, &probed, "discover", "--guid", want.Host.GUID, "--addr", s.DiscoveryAddr().String(), "--local", "127.0.0.1:0", "--window", "300ms")
	if len(probed) != 1 || probed[0]["guid"] != want.Host.GUID {
		t.Errorf("discover --guid: %v", probed)
	}
}

func TestWriteCommandsReachThePanel(t *testing.T) {
	s := startSim(t)
	var multi, nodes int
	for _, d := range s.Snapshot().Devices {
		if d.NodeCount > 1 {
			multi, nodes = d.Index, d.NodeCount
		}
	}
	if _, err := run(t, s, "relay", "on", fmt.Sprintf("%d:%d", multi, nodes-1)); err != nil {
		t.Fatal(err)
	}
	if !s.Snapshot().Relays[multi][nodes-1] {
		t.Error("relay node not switched on")
	}
	if _, err := run(t, s, "set-cloud-server", "127.0.0.1", "--port", "5679"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, s, "reboot", "wifi"); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, "the system commands at the panel", func() error {
		if st := s.Snapshot(); st.CloudServer.Port != 5679 || st.Reboots.WiFi != 1 {
			return fmt.Errorf("cloud server %+v, reboots %+v", st.CloudServer, st.Reboots)
		}
		return nil
	})
}

func TestHumanOutputIsATable(t *testing.T) {
	s := startSim(t)
	out, err := run(t, s, "sensors")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(s.Snapshot().Sensors)+1 || !strings.HasPrefix(lines[0], "INDEX") {
		t.Fatalf("sensors table:\n%s", out)
	}
	// Columns line up: every row has the NAME column at the same offset.
	col := strings.Index(lines[0], "NAME")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned row %q", l)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	s := startSim(t)
	for _, args := range [][]string{
		{"arm", "sideways"},
		{"relay", "toggle", "1"},
		{"relay", "on", "x:1"},
		{"config", "show", "nosuch"},
		{"reboot", "toaster"},
		{"set-cloud-server", "not-an-ip"},
		{"history", "--start", "0"},
	} {
		if _, err := run(t, s, args...); err == nil {
			t.Errorf("g90 %s: no error", strings.Join(args, " "))
		}
	}
}

func TestTimeoutNamesPanelAndCommand(t *testing.T) {
	s := startSim(t)
	if err := s.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, s, "status", "--timeout", "100ms", "--retries", "1")
	if err == nil || !strings.Contains(err.Error(), s.Addr().String()) || !strings.Contains(err.Error(), "GETHOSTSTATUS") {
		t.Fatalf("err = %v, want the panel address and the command", err)
	}
}

// g90 demo: the tour, then the simulator and the daemon with an event
// going through the embedded broker.
func TestDemo(t *testing.T) {
	leaktest.Check(t)
	root := newRoot()
	var out lockedbuf.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"demo", "--tour", "--exit", "--listen", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--web", "127.0.0.1:0"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"== g90 info", "== g90 sensors", "switched on", "status: away", "status: disarmed", "== g90 history",
		"MQTT broker   mqtt://127.0.0.1:", "mosquitto_sub", `demo check: an event went through MQTT: {`, `"panel":"SIMPANEL0001"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("g90 %s: %v", strings.Join(args, " "), err)
		}
		if line := out.String(); !strings.HasPrefix(line, "g90 ") || !strings.Contains(line, runtime.Version()) || !strings.Contains(line, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Errorf("g90 %s = %q, want the version line with %s and %s/%s", strings.Join(args, " "), line, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		}
		root = newRoot()
		out.Reset()
		root.SetOut(&out)
		root.SetArgs(append(args, "--json"))
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("g90 %s --json: %v", strings.Join(args, " "), err)
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("g90 %s --json: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		hasKeys(t, "version", v, "version", "go", "os", "arch")
		if v["go"] != runtime.Version() {
			t.Errorf("version --json go = %v, want %s", v["go"], runtime.Version())
		}
	}
}
