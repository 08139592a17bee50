package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// installSection is the README's "Install as a service", up to the next
// section of its level.
func installSection(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(data), "\n## Install as a service\n")
	if !ok {
		t.Fatal(`README.md has no "## Install as a service"`)
	}
	if i := strings.Index(s, "\n## "); i >= 0 {
		s = s[:i]
	}
	return s
}

// The config the README's install commands write is one the unit's
// ExecStartPre accepts, with the state directory systemd gives it; the
// files those commands copy exist; and the env-file example works.
func TestREADMEInstall(t *testing.T) {
	s := installSection(t)
	bin := hostG90(t)

	m := regexp.MustCompile(`(?s)sudo tee /etc/g90/g90.yaml >/dev/null <<'YAML'\n(.*?)\nYAML\n`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("the README's install commands write no /etc/g90/g90.yaml (<<'YAML' … YAML)")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "g90.yaml")
	write(t, config, m[1]+"\n")
	check := func(config string, env ...string) {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--check", "--config", config)
		cmd.Env = append(os.Environ(), append(env, "STATE_DIRECTORY="+filepath.Join(dir, "state"))...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("g90 serve --check --config %s: %v\n%s", filepath.Base(config), err, out)
		}
	}
	check(config)

	// The secrets example: its mqtt section with the README's panel, and
	// the variable its env file sets.
	mq := regexp.MustCompile("(?s)```yaml\n(mqtt:\n.*?)```").FindStringSubmatch(s)
	env := regexp.MustCompile(`echo '([A-Z0-9_]+)=[^']*' \| sudo tee -a /etc/g90/g90.env`).FindStringSubmatch(s)
	if mq == nil || env == nil {
		t.Fatal("the README's secrets example (an mqtt: block and an echo NAME=… into g90.env) is gone")
	}
	if !strings.Contains(mq[1], "${"+env[1]+"}") {
		t.Errorf("the mqtt example does not use ${%s}, which the env file sets", env[1])
	}
	secrets := filepath.Join(dir, "secrets.yaml")
	write(t, secrets, mq[1]+m[1]+"\n")
	check(secrets, env[1]+"=secret")

	// The OpenWrt config, which the small binary (no broker) accepts.
	ow := regexp.MustCompile(`(?s)'cat >/etc/g90/g90.yaml' <<'YAML'\n(.*?)\nYAML\n`).FindStringSubmatch(s)
	if ow == nil {
		t.Fatal("the README's OpenWrt commands write no /etc/g90/g90.yaml (<<'YAML' … YAML)")
	}
	for _, line := range []string{"state_dir:", "mqtt:", "  url: "} {
		if !regexp.MustCompile(`(?m)^` + line).MatchString(ow[1]) {
			t.Errorf("the README's OpenWrt config has no %q: OpenWrt needs a state_dir, the small binary a broker", line)
		}
	}
	openwrt := filepath.Join(dir, "openwrt.yaml")
	write(t, openwrt, ow[1]+"\n")
	small := filepath.Join(dir, "g90-small")
	build := exec.Command("go", "build", "-tags", "nobroker", "-o", small, "./cmd/g90")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nobroker ./cmd/g90: %v\n%s", err, out)
	}
	if out, err := exec.Command(small, "serve", "--check", "--config", openwrt).CombinedOutput(); err != nil {
		t.Errorf("g90-small serve --check --config (the README's OpenWrt config): %v\n%s", err, out)
	}
	// and refuses the systemd one, which has no mqtt.url: the small
	// binary could not start with it.
	out, err := exec.Command(small, "serve", "--check", "--config", config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mqtt.url") {
		t.Errorf("g90-small serve --check accepts a config without mqtt.url (err %v):\n%s", err, out)
	}

	// Files the commands copy from the checkout.
	for _, m := range regexp.MustCompile(`(?m)(?:install -m [0-7]+|scp -O) (packaging/\S+|dist/\S+)`).FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(m[1], "dist/") {
			continue // made by scripts/release, whose test checks the names
		}
		if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
			t.Errorf("the README copies %s: %v", m[1], err)
		}
	}
}

// The README's table of targets is the one scripts/release builds.
func TestREADMETargets(t *testing.T) {
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "release"), "-h").Output()
	if err != nil {
		t.Fatalf("scripts/release -h: %v", stderrOf(err))
	}
	_, list, ok := strings.Cut(string(out), "\ntargets: ")
	if !ok {
		t.Fatalf("scripts/release -h lists no targets:\n%s", out)
	}
	var script []string
	for _, tg := range strings.Fields(list) {
		script = append(script, strings.Replace(tg, "/", "_", 1))
	}
	var readme []string
	for _, m := range regexp.MustCompile("(?m)^\\| (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)*) \\|").FindAllStringSubmatch(installSection(t), -1) {
		for _, tg := range strings.Split(m[1], ", ") {
			readme = append(readme, strings.Trim(tg, "`"))
		}
	}
	slices.Sort(script)
	slices.Sort(readme)
	if !slices.Equal(script, readme) {
		t.Errorf("README targets %q, scripts/release builds %q", readme, script)
	}
}
