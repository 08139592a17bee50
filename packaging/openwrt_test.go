package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const initPath = "openwrt/g90.init"

// procdStandIn runs a function of the init script with procd's shell API
// replaced by functions that print their calls, as rc.common would call
// it on OpenWrt: sh -c STANDIN sh INIT PROG CONFIG FUNCTION.
const procdStandIn = `
procd_open_instance() { echo "procd_open_instance $*"; }
procd_set_param() { echo "procd_set_param $*"; }
procd_close_instance() { echo "procd_close_instance"; }
procd_send_signal() { echo "procd_send_signal $*"; }
. "$1"
PROG=$2
CONFIG=$3
"$4"
echo "$4 returned $?"
`

// shells are the shells the init script is run with: the system's sh
// (dash on Debian) and, as OpenWrt has it, busybox ash.
func shells(t *testing.T) [][]string {
	bb := requireTool(t, "G90_REQUIRE_BUSYBOX", "apt-get install busybox", "busybox")
	return [][]string{{"sh"}, {bb, "sh"}}
}

func TestOpenWrtInitSyntax(t *testing.T) {
	for _, sh := range shells(t) {
		out, err := exec.Command(sh[0], append(sh[1:], "-n", initPath)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s -n %s: %v\n%s", strings.Join(sh, " "), initPath, err, out)
		}
	}
}

// start_service hands procd `g90 serve --config FILE` to respawn, after
// checking the config; a bad config starts nothing. reload_service checks
// the config and then sends SIGHUP.
func TestOpenWrtInitProcd(t *testing.T) {
	bin := hostG90(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "g90.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write(t, good, "panels:\n  - host: 127.0.0.1\nstate_dir: "+filepath.Join(dir, "state")+"\n")
	write(t, bad, "panels:\n  - host: 127.0.0.1\n    notifications: carrier-pigeon\n")
	script, err := filepath.Abs(initPath)
	if err != nil {
		t.Fatal(err)
	}

	for _, sh := range shells(t) {
		run := func(config, fn string) string {
			t.Helper()
			args := append(sh[1:], "-c", procdStandIn, "sh", script, bin, config, fn)
			out, err := exec.Command(sh[0], args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %s: %v\n%s", strings.Join(sh, " "), fn, err, out)
			}
			return string(out)
		}
		name := strings.Join(sh, " ")

		out := run(good, "start_service")
		for _, want := range []string{
			"procd_open_instance \n",
			"procd_set_param command " + bin + " serve --config " + good + "\n",
			"procd_set_param respawn 3600 5 0\n",
			"procd_set_param stderr 1\n",
			"procd_close_instance\n",
			"start_service returned 0\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: start_service with a good config: no %q in\n%s", name, want, out)
			}
		}

		out = run(bad, "start_service")
		if strings.Contains(out, "procd_open_instance") || !strings.Contains(out, "start_service returned 1\n") ||
			!strings.Contains(out, "carrier-pigeon") {
			t.Errorf("%s: start_service with a bad config should say why and start nothing:\n%s", name, out)
		}

		out = run(good, "reload_service")
		if !strings.Contains(out, "procd_send_signal g90 * HUP\n") || !strings.Contains(out, "reload_service returned 0\n") {
			t.Errorf("%s: reload_service with a good config should send SIGHUP:\n%s", name, out)
		}
		out = run(bad, "reload_service")
		if strings.Contains(out, "procd_send_signal") || !strings.Contains(out, "reload_service returned 1\n") {
			t.Errorf("%s: reload_service with a bad config should send nothing:\n%s", name, out)
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
