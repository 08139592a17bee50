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

// The build tag nohomekit leaves the HomeKit bridge, and with it
// brutella/hap and its mDNS responder, out of g90; the default build has
// it.
func TestNoHomeKitLeavesHapOut(t *testing.T) {
	deps := func(tags ...string) string {
		t.Helper()
		out, err := exec.Command(goTool(t), append(append([]string{"list", "-deps"}, tags...), ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	if d := deps(); !strings.Contains(d, "github.com/brutella/hap") {
		t.Fatal("the default build has no brutella/hap: the test below would prove nothing")
	}
	var hap []string
	for _, p := range strings.Fields(deps("-tags", "nohomekit")) {
		if strings.Contains(p, "brutella") {
			hap = append(hap, p)
		}
	}
	if len(hap) > 0 {
		t.Fatalf("go list -deps -tags nohomekit ./cmd/g90 has HomeKit packages: %v", hap)
	}
}

// Built with -tags nohomekit, g90 serve with a homekit section stops at
// once, and serve --check refuses the file, both naming the section;
// without one the build serves as any other (TestNoBrokerBuild and the
// serve tests cover the rest).
func TestNoHomeKitBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "g90")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(t), "build", "-tags", "nohomekit", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nohomekit: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "g90.yaml")
	yaml := "web:\n  listen: 127.0.0.1:0\nmqtt:\n  listen: 127.0.0.1:0\nstate_dir: " + filepath.Join(dir, "state") + "\npanels:\n  - host: 127.0.0.1\n    notifications: none\nhomekit:\n  listen: 127.0.0.1:0\n  mdns: false\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"serve", "--check", "--config", cfg}, {"serve", "--config", cfg}} {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err == nil {
			t.Fatalf("g90 %v: succeeded\n%s", args, out)
		}
		for _, w := range []string{"homekit", "built without the HomeKit bridge"} {
			if !strings.Contains(string(out), w) {
				t.Errorf("g90 %v: %v; the output lacks %q:\n%s", args, err, w, out)
			}
		}
	}
}
