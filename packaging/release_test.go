package packaging

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
)

// releaseVersion is stamped by the test, so that it can see the stamp.
const releaseVersion = "v0.0.0-qemutest"

// The arm64 and armv7 release binaries, full and small, are what
// scripts/release says (static, for the right machine, built with
// -trimpath and the tags), run under qemu-user, and their simulator
// answers the host's g90 over loopback: arm, status, disarm.
func TestReleaseBinariesRunUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds two targets (about 2 minutes with a cold build cache); not in -short")
	}
	const install = "apt-get install qemu-user-static"
	targets := []struct {
		name    string // as in the file name
		qemu    string
		machine elf.Machine
		goarch  string
		goarm   string
	}{
		{"linux_arm64", requireTool(t, "G90_REQUIRE_QEMU", install, "qemu-aarch64-static"), elf.EM_AARCH64, "arm64", ""},
		{"linux_armv7", requireTool(t, "G90_REQUIRE_QEMU", install, "qemu-arm-static"), elf.EM_ARM, "arm", "7"},
	}
	hostBin := hostG90(t)

	dist := t.TempDir()
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "release"), "-o", dist, "linux/arm64", "linux/armv7")
	cmd.Env = append(os.Environ(), "VERSION="+releaseVersion)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, out)
	}
	t.Logf("scripts/release linux/arm64 linux/armv7: %s\n%s", time.Since(start).Round(time.Second), out)

	var want []string
	for _, tg := range targets {
		want = append(want, "g90_"+releaseVersion+"_"+tg.name, "g90-small_"+releaseVersion+"_"+tg.name)
	}
	checkSums(t, dist, want)

	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"g90_" + releaseVersion + "_" + tg.name, "g90-small_" + releaseVersion + "_" + tg.name} {
				bin := filepath.Join(dist, name)
				checkBinary(t, bin, tg.machine, tg.goarch, tg.goarm, strings.HasPrefix(name, "g90-small_"))
				checkVersion(t, tg.qemu, bin)
			}
			simUnderQEMU(t, tg.qemu, filepath.Join(dist, "g90_"+releaseVersion+"_"+tg.name), hostBin)
		})
	}
}

// checkSums checks that dir/SHA256SUMS lists exactly the files want, in
// `sha256sum -c` format, with their real hashes.
func checkSums(t *testing.T, dir string, want []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(data)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q: not 'HASH  NAME'", line)
		}
		f, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("SHA256SUMS names %s: %v", name, err)
		}
		if h := sha256.Sum256(f); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s has sha256 %x, the file says %s", name, h, sum)
		}
		got = append(got, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("SHA256SUMS lists %q, want %q", got, want)
	}
}

// checkBinary checks that bin is a static ELF executable for machine,
// and that its build info says how scripts/release built it.
func checkBinary(t *testing.T, bin string, machine elf.Machine, goarch, goarm string, small bool) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %v, want %v", bin, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: has a program interpreter: not static", bin)
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	tags := ""
	if small {
		tags = "nobroker"
	}
	for k, v := range map[string]string{
		"GOOS": "linux", "GOARCH": goarch, "GOARM": goarm, "CGO_ENABLED": "0", "-trimpath": "true", "-tags": tags,
	} {
		if settings[k] != v {
			t.Errorf("%s: build setting %s=%q, want %q (all: %v)", bin, k, settings[k], v, settings)
		}
	}
	if rev := wantRevision(t); settings["vcs.revision"] != rev {
		t.Errorf("%s: vcs.revision %q, want %q (scripts/release builds with -buildvcs=true)", bin, settings["vcs.revision"], rev)
	}
}

// wantRevision is the vcs.revision scripts/release's binaries must
// record: HEAD in a clone (as .ci/run tests), and none in a linked git
// worktree, whose .git is a file that Go does not take for a
// repository (golang/go#58218).
func wantRevision(t *testing.T) string {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, ".git"))
	if err != nil {
		t.Fatalf("%v: scripts/release needs a git checkout (or VERSION)", err)
	}
	if !fi.IsDir() {
		return ""
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

// The release binaries for this machine, full and small, say the version
// they were stamped with and the commit they were built from, and only
// the full one has the embedded broker.
func TestReleaseStampsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binaries for this machine (about 2 minutes with a cold build cache); not in -short")
	}
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("scripts/release has no native target for %s/%s to run here", runtime.GOOS, runtime.GOARCH)
	}
	const version = "v0.0.0-stamptest"
	dist := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "release"), "-o", dist, "linux/"+runtime.GOARCH)
	// GOFLAGS=-buildvcs=false, as this machine's go env and .ci/run have:
	// the script's own -buildvcs=true must win.
	cmd.Env = append(os.Environ(), "VERSION="+version, "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, out)
	}
	t.Logf("scripts/release linux/%s:\n%s", runtime.GOARCH, out)
	rev := wantRevision(t)
	if rev == "" && !strings.Contains(string(out), "golang/go#58218") {
		t.Errorf("in a linked worktree scripts/release does not say why the binaries have no revision:\n%s", out)
	}
	full := "g90_" + version + "_linux_" + runtime.GOARCH
	small := "g90-small_" + version + "_linux_" + runtime.GOARCH
	checkSums(t, dist, []string{full, small})
	sizes := map[string]int64{}
	for _, name := range []string{full, small} {
		bin := filepath.Join(dist, name)
		out, err := exec.CommandContext(t.Context(), bin, "version", "--json").Output()
		if err != nil {
			t.Fatalf("%s version --json: %v", name, stderrOf(err))
		}
		var v struct {
			Version  string `json:"version"`
			Revision string `json:"revision"`
			OS       string `json:"os"`
			Arch     string `json:"arch"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s version --json: %v\n%s", name, err, out)
		}
		if v.Version != version || v.Revision != rev || v.OS != "linux" || v.Arch != runtime.GOARCH {
			t.Errorf("%s version --json = %+v, want version %s, revision %q, linux/%s", name, v, version, rev, runtime.GOARCH)
		}
		out, err = exec.CommandContext(t.Context(), bin, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", name, stderrOf(err))
		}
		if !strings.HasPrefix(string(out), "g90 "+version+" ") {
			t.Errorf("%s version: %q, want it to begin with %q", name, out, "g90 "+version+" ")
		}
		if rev != "" && !strings.Contains(string(out), rev[:12]) {
			t.Errorf("%s version: %q does not name the commit %s", name, out, rev[:12])
		}
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		nats := false
		for _, d := range info.Deps {
			nats = nats || strings.HasPrefix(d.Path, "github.com/nats-io/nats-server")
		}
		if nats != (name == full) {
			t.Errorf("%s: has nats-server: %v, want %v", name, nats, name == full)
		}
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		sizes[name] = fi.Size()
	}
	t.Logf("sizes: full %d B, small %d B", sizes[full], sizes[small])
	if sizes[small] >= sizes[full] {
		t.Errorf("the small binary (%d B) is not smaller than the full one (%d B)", sizes[small], sizes[full])
	}
}

// checkVersion runs `BIN version --json` under qemu and checks the
// stamped release version.
func checkVersion(t *testing.T, qemu, bin string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), qemu, bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s %s version --json: %v", filepath.Base(qemu), filepath.Base(bin), stderrOf(err))
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if v["version"] != releaseVersion {
		t.Errorf("%s version --json: version %v, want %s\n%s", filepath.Base(bin), v["version"], releaseVersion, out)
	}
	out, err = exec.CommandContext(t.Context(), qemu, bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", filepath.Base(bin), stderrOf(err))
	}
	if !strings.Contains(string(out), releaseVersion) {
		t.Errorf("%s version does not say %s:\n%s", filepath.Base(bin), releaseVersion, out)
	}
}

// simUnderQEMU runs `BIN sim` under qemu on a loopback port and drives it
// with the host's g90: status, arm away, status, disarm. Then it stops
// the simulator with SIGINT, as Ctrl-C would, and checks it ended well.
func simUnderQEMU(t *testing.T, qemu, bin, hostBin string) {
	t.Helper()
	sim := exec.CommandContext(t.Context(), qemu, bin, "sim", "--listen", "127.0.0.1:0", "--notify", "")
	pr, pw := io.Pipe()
	sim.Stderr = pw
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	log := &lockedbuf.Buffer{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
			if a, ok := strings.CutPrefix(sc.Text(), "simulated panel listening on udp "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
		io.Copy(log, pr)
	}()
	done := make(chan error, 1)
	go func() {
		err := sim.Wait()
		pw.Close()
		done <- err
	}()
	stopped := false
	defer func() {
		if !stopped {
			sim.Process.Kill()
			<-done
		}
	}()

	var a string
	select {
	case a = <-addr:
	case err := <-done:
		stopped = true
		t.Fatalf("sim under qemu ended before it listened: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("sim under qemu did not say where it listens in 60 s:\n%s", log.String())
	}
	if !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("sim listens on %s, not on loopback", a)
	}

	g90 := func(args ...string) string {
		t.Helper()
		args = append([]string{"--host", a, "--timeout", "20s"}, args...)
		out, err := exec.CommandContext(t.Context(), hostBin, args...).Output()
		if err != nil {
			t.Fatalf("g90 %s: %v\nsim log:\n%s", strings.Join(args, " "), stderrOf(err), log.String())
		}
		return string(out)
	}
	state := func() string {
		t.Helper()
		var s struct {
			State   string `json:"state"`
			Product string `json:"product"`
		}
		out := g90("--json", "status")
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("g90 --json status: %v\n%s", err, out)
		}
		if s.Product == "" {
			t.Errorf("g90 --json status: no product\n%s", out)
		}
		return s.State
	}
	if s := state(); s != "disarmed" {
		t.Errorf("status of a new simulated panel: %q, want disarmed", s)
	}
	g90("arm", "away")
	if s := state(); s != "away" {
		t.Errorf("status after arm away: %q, want away", s)
	}
	g90("disarm")
	if s := state(); s != "disarmed" {
		t.Errorf("status after disarm: %q, want disarmed", s)
	}

	if err := sim.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("sim under qemu after SIGINT: %v\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("sim under qemu still runs 30 s after SIGINT:\n%s", log.String())
	}
}

// stderrOf adds a failed command's stderr to its error.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return err.Error() + ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}
