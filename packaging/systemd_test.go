package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const unitPath = "systemd/g90.service"

// maxExposure is the highest `systemd-analyze security` exposure the
// unit may have (0 is best, 10 worst; systemd calls below 2 "OK").
// Most of what is left is the network, which the daemon is for.
const maxExposure = 2.0

// unitSettings reads a unit file: section → key → values in order
// (a key may repeat, as ExecReload does).
func unitSettings(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	s := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			s[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not KEY=VALUE in a section", unitPath, n, line)
			}
			s[section][k] = append(s[section][k], v)
		}
	}
	return s
}

// The unit has the settings the issue asks for (a unit that verifies
// could still leave one out).
func TestSystemdUnitSettings(t *testing.T) {
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	svc := unitSettings(t, string(data))["Service"]
	const g90 = "/usr/local/bin/g90"
	const conf = "/etc/g90/g90.yaml"
	for k, want := range map[string][]string{
		"DynamicUser":             {"yes"},
		"StateDirectory":          {"g90"},
		"ProtectSystem":           {"strict"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"PrivateDevices":          {"yes"},
		"NoNewPrivileges":         {"yes"},
		"CapabilityBoundingSet":   {""},
		"RestrictAddressFamilies": {"AF_INET AF_INET6 AF_UNIX AF_NETLINK"},
		"MemoryDenyWriteExecute":  {"yes"},
		"LockPersonality":         {"yes"},
		"RestrictNamespaces":      {"yes"},
		"SystemCallFilter":        {"@system-service", "~@privileged @resources"},
		"Restart":                 {"on-failure"},
		"ExecStartPre":            {g90 + " serve --check --config " + conf},
		"ExecStart":               {g90 + " serve --config " + conf},
		"ExecReload":              {g90 + " serve --check --config " + conf, "/bin/kill -HUP $MAINPID"},
	} {
		if got := svc[k]; !slices.Equal(got, want) {
			t.Errorf("[Service] %s=%q, want %q", k, got, want)
		}
	}
}

// installedUnit writes the unit to a temporary directory with the
// binary and the config there (systemd-analyze checks that ExecStart
// names an executable), and returns its path and the directory.
func installedUnit(t *testing.T, edit func(string) string) (string, string) {
	t.Helper()
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.ReplaceAll(string(data), "/usr/local/bin/g90", hostG90(t))
	text = strings.ReplaceAll(text, "/etc/g90/", dir+"/")
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(dir, "g90.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// systemd-analyze verify finds nothing to say about the unit: no unknown
// key, no bad value, every executable there.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "G90_REQUIRE_SYSTEMD_ANALYZE", "apt-get install systemd", "systemd-analyze")
	path, _ := installedUnit(t, nil)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}

	// The same check sees a mistake (it does here, without systemd
	// running): a key in the wrong section, a missing executable.
	for _, c := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"Restart in [Unit]", func(s string) string {
			return strings.Replace(s, "[Unit]\n", "[Unit]\nRestart=on-failure\n", 1)
		}, "Unknown key"},
		{"no such ExecStart", func(s string) string {
			return regexp.MustCompile(`(?m)^ExecStart=\S+`).ReplaceAllString(s, "ExecStart=/nonexistent/g90")
		}, "/nonexistent/g90"},
	} {
		bad, _ := installedUnit(t, c.edit)
		out, _ := exec.Command(analyze, "verify", bad).CombinedOutput()
		if !strings.Contains(string(out), c.want) {
			t.Errorf("systemd-analyze verify of a broken unit (%s) did not say %q:\n%s", c.name, c.want, out)
		}
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for g90\.service: ([0-9.]+)`)

// The unit is hardened: systemd-analyze security, offline, rates its
// exposure at most maxExposure.
func TestSystemdUnitExposure(t *testing.T) {
	analyze := requireTool(t, "G90_REQUIRE_SYSTEMD_ANALYZE", "apt-get install systemd", "systemd-analyze")
	path, _ := installedUnit(t, nil)
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=true: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no overall exposure level in\n%s", out)
	}
	e, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if e > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f:\n%s", e, maxExposure, out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", e)
}
