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

// The build tags that leave parts out of g90 for small router builds:
// nobroker the embedded MQTT broker (NATS), nohomekit the HomeKit bridge
// (brutella/hap). Each build has none of the left-out packages, and says
// so when a config asks for what it lacks.

// goTool is the go command that runs the tests.
func goTool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed for this test: %v", err)
	}
	return bin
}

// leftOut checks that the default build of g90 has a package whose path
// contains marker, and the build with tag none.
func leftOut(t *testing.T, tag, marker string) {
	t.Helper()
	deps := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command(goTool(t), append(append([]string{"list", "-deps"}, args...), ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		var hits []string
		for _, p := range strings.Fields(string(out)) {
			if strings.Contains(p, marker) {
				hits = append(hits, p)
			}
		}
		return hits
	}
	if len(deps()) == 0 {
		t.Fatalf("the default build has no %s package: the test would prove nothing", marker)
	}
	if hits := deps("-tags", tag); len(hits) > 0 {
		t.Fatalf("go list -deps -tags %s ./cmd/g90 has %s packages: %v", tag, marker, hits)
	}
}

// buildTagged builds g90 with tags into dir and returns the binary.
func buildTagged(ctx context.Context, t *testing.T, dir, tags string) string {
	t.Helper()
	bin := filepath.Join(dir, "g90")
	if out, err := exec.CommandContext(ctx, goTool(t), "build", "-tags", tags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	return bin
}

// fails runs bin with args, which must fail saying every one of want.
func fails(ctx context.Context, t *testing.T, bin string, args []string, want ...string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("g90 %v: succeeded\n%s", args, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("g90 %v: %v; the output lacks %q:\n%s", args, err, w, out)
		}
	}
}

// writeConfig writes a g90.yaml of one panel (no notifications) with
// the web UI on a free loopback port, extra appended, and returns it.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "g90.yaml")
	yaml := "web:\n  listen: 127.0.0.1:0\nstate_dir: " + filepath.Join(dir, "state") + "\npanels:\n  - host: 127.0.0.1\n    notifications: none\n" + extra
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestNoBrokerLeavesNATSOut(t *testing.T) { leftOut(t, "nobroker", "nats") }

func TestNoHomeKitLeavesHapOut(t *testing.T) { leftOut(t, "nohomekit", "brutella") }

// Built with -tags nobroker, g90 serve without mqtt.url and g90 demo
// stop at once and say why: the broker is not built in, set mqtt.url.
func TestNoBrokerBuild(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTagged(ctx, t, dir, "nobroker")
	cfg := writeConfig(t, dir, "")
	want := []string{"mqtt.url", "built without the embedded MQTT broker"}
	fails(ctx, t, bin, []string{"serve", "--config", cfg}, want...)
	fails(ctx, t, bin, []string{"demo", "--exit", "--listen", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--web", "127.0.0.1:0"}, want...)
}

// Built with -tags nohomekit, g90 serve with a homekit section stops at
// once, and serve --check refuses the file, both naming the section.
func TestNoHomeKitBuild(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildTagged(ctx, t, dir, "nohomekit")
	cfg := writeConfig(t, dir, "mqtt:\n  listen: 127.0.0.1:0\nhomekit:\n  listen: 127.0.0.1:0\n  mdns: false\n")
	want := []string{"homekit", "built without the HomeKit bridge"}
	fails(ctx, t, bin, []string{"serve", "--check", "--config", cfg}, want...)
	fails(ctx, t, bin, []string{"serve", "--config", cfg}, want...)
}
