package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goTool is the go command that runs the tests.
func goTool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed for this test: %v", err)
	}
	return bin
}

// The build tag nobroker leaves the embedded broker, and with it every
// NATS package, out of g90; the default build has it.
func TestNoBrokerLeavesNATSOut(t *testing.T) {
	deps := func(tags ...string) string {
		t.Helper()
		out, err := exec.Command(goTool(t), append(append([]string{"list", "-deps"}, tags...), ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	if d := deps(); !strings.Contains(d, "github.com/nats-io/nats-server/v2/server") {
		t.Fatal("the default build has no nats-server: the test below would prove nothing")
	}
	var nats []string
	for _, p := range strings.Fields(deps("-tags", "nobroker")) {
		if strings.Contains(p, "nats") {
			nats = append(nats, p)
		}
	}
	if len(nats) > 0 {
		t.Fatalf("go list -deps -tags nobroker ./cmd/g90 has NATS packages: %v", nats)
	}
}

// Built with -tags nobroker, g90 serve without mqtt.url and g90 demo
// stop at once and say why: the broker is not built in, set mqtt.url.
func TestNoBrokerBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "g90")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(t), "build", "-tags", "nobroker", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nobroker: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "g90.yaml")
	yaml := "web:\n  listen: 127.0.0.1:0\nstate_dir: " + filepath.Join(dir, "state") + "\npanels:\n  - host: 127.0.0.1\n    notifications: none\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--config", cfg}, []string{"mqtt.url", "built without the embedded MQTT broker"}},
		{[]string{"demo", "--exit", "--listen", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--web", "127.0.0.1:0"}, []string{"mqtt.url", "built without the embedded MQTT broker"}},
	} {
		out, err := exec.CommandContext(ctx, bin, tc.args...).CombinedOutput()
		if err == nil {
			t.Fatalf("g90 %s: succeeded\n%s", tc.args[0], out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("g90 %s: %v; the output lacks %q:\n%s", tc.args[0], err, w, out)
			}
		}
	}
}
