package packaging

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// What the unit forbids would break the daemon only at run time, on a
// real systemd, and only on the path that needs it. So g90 serve runs
// here under strace, with a simulated panel, through what it does in a
// day: start, MQTT, the web UI and /metrics, arm from the UI, an alarm
// from a panel notification, disarm, a SIGHUP reload and a SIGTERM stop.
// Every system call, socket family, memory mapping and file it writes
// is then checked against the unit: SystemCallFilter,
// RestrictAddressFamilies, MemoryDenyWriteExecute, and
// ProtectSystem=strict (writes only in state_dir).
func TestSystemdSyscalls(t *testing.T) {
	strace := requireTool(t, "G90_REQUIRE_STRACE", "apt-get install strace", "strace")
	analyze := requireTool(t, "G90_REQUIRE_SYSTEMD_ANALYZE", "apt-get install systemd", "systemd-analyze")
	unitText, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	svc := unitSettings(t, string(unitText))["Service"]
	allowed := allowedSyscalls(t, analyze, svc["SystemCallFilter"])
	families := strings.Fields(strings.Join(svc["RestrictAddressFamilies"], " "))
	bin := hostG90(t)

	// The panel's notifications go to a port the daemon listens on.
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	notify := probe.LocalAddr().String()
	probe.Close()
	panel := simtest.Start(t, sim.Config{Seed: 1, Notify: notify})

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	config := filepath.Join(dir, "g90.yaml")
	write(t, config, fmt.Sprintf(`mqtt:
  listen: 127.0.0.1:0
web:
  listen: 127.0.0.1:0
cloud:
  listen: 127.0.0.1:0
state_dir: %s
panels:
  - name: home
    host: 127.0.0.1
    port: %d
    notify_listen: %s
`, state, panel.Addr().(*net.UDPAddr).Port, notify))

	trace := filepath.Join(dir, "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, bin, "serve", "--config", config)
	log := &lockedbuf.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.WaitDelay = 10 * time.Second
	web := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "web UI"); ok {
				select {
				case web <- strings.TrimSpace(u):
				default:
				}
			}
		}
		io.Copy(log, pr)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		done <- err
	}()
	exited, pid := false, 0
	defer func() {
		if !exited {
			// A killed strace leaves its tracee running: kill both.
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			cmd.Process.Kill()
			<-done
		}
	}()
	var url string
	select {
	case url = <-web:
	case err := <-done:
		exited = true
		t.Fatalf("g90 serve under strace ended: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("g90 serve under strace did not start in 60 s:\n%s", log.String())
	}
	pid = tracee(t, trace)

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
		}
		return string(b)
	}
	if m := get("metrics"); !strings.Contains(m, "process_start_time_seconds") {
		t.Errorf("/metrics has no process_start_time_seconds")
	}
	get("api/panels")
	resp, err := http.Post(url+"api/panels/home/arm", "application/json", strings.NewReader(`{"mode":"away"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST arm: %s", resp.Status)
	}
	eventually.True(t, "the panel armed away", func() bool { return panel.Snapshot().Arm == protocol.ArmAway })
	if _, err := panel.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	// Armed away, an open door is an alarm.
	eventually.True(t, "the alarm in the journal", func() bool { return strings.Contains(get("api/events"), `"type":"alarm"`) })
	resp, err = http.Post(url+"api/panels/home/disarm", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST disarm: %s", resp.Status)
	}
	eventually.True(t, "the panel disarmed", func() bool { return panel.Snapshot().Arm == protocol.Disarmed })

	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the reload", func() bool {
		return strings.Contains(log.String(), "reload") && strings.Count(log.String(), "web UI") >= 2
	})
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("g90 serve after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("g90 serve still runs 30 s after SIGTERM:\n%s", log.String())
	}

	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	checkTrace(t, data, allowed, families, state)
}

// tracee is the pid of the traced command: the first in the trace, the
// one that exec'd.
func tracee(t *testing.T, trace string) int {
	t.Helper()
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), " ")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("strace output starts with %q, not a pid", first)
	}
	return pid
}

var (
	callRE   = regexp.MustCompile(`(?m)^\d+ +([a-z0-9_]+)\(`)
	socketRE = regexp.MustCompile(`(?m)^\d+ +socket\((AF_[A-Z0-9]+)`)
	// A file opened or a directory made for writing, with its path. The
	// flags are on the call's own line: an unfinished call (strace -f)
	// has no ")" there, and the next line's flags are not its own.
	writeRE = regexp.MustCompile(`(?m)^\d+ +(?:openat\(AT_FDCWD, "([^"]*)", [^)\n]*O_(?:WRONLY|RDWR|CREAT)|mkdirat\(AT_FDCWD, "([^"]*)")`)
	// What MemoryDenyWriteExecute refuses: a mapping both writable and
	// executable, or one made executable later. (The dynamic loader of a
	// cgo build maps libraries PROT_READ|PROT_EXEC, which it allows.)
	wxRE = regexp.MustCompile(`(?m)^\d+ +(?:mmap\(.*PROT_WRITE\|PROT_EXEC|mmap\(.*PROT_EXEC\|PROT_WRITE|mprotect\(.*PROT_EXEC).*$`)
)

func checkTrace(t *testing.T, trace []byte, allowed map[string]bool, families []string, state string) {
	t.Helper()
	used := map[string]bool{}
	for _, m := range callRE.FindAllSubmatch(trace, -1) {
		used[string(m[1])] = true
	}
	if len(used) < 20 {
		t.Fatalf("only %d system calls in the trace: not a trace of g90 serve?\n%s", len(used), trace)
	}
	var denied []string
	for c := range used {
		if !allowed[c] {
			denied = append(denied, c)
		}
	}
	slices.Sort(denied)
	if len(denied) > 0 {
		t.Errorf("g90 serve makes system calls the unit's SystemCallFilter denies: %s", strings.Join(denied, " "))
	}
	for _, m := range socketRE.FindAllSubmatch(trace, -1) {
		if f := string(m[1]); !slices.Contains(families, f) {
			t.Errorf("g90 serve opens an %s socket; RestrictAddressFamilies is %s", f, families)
		}
	}
	for _, m := range wxRE.FindAll(trace, -1) {
		t.Errorf("g90 serve maps executable memory (MemoryDenyWriteExecute forbids it): %s", m)
	}
	for _, m := range writeRE.FindAllSubmatch(trace, -1) {
		p := string(m[1]) + string(m[2])
		if p != state && !strings.HasPrefix(p, state+"/") && p != "/dev/null" {
			t.Errorf("g90 serve writes %s, outside state_dir (ProtectSystem=strict makes it read-only)", p)
		}
	}
	t.Logf("%d distinct system calls", len(used))
}

// allowedSyscalls expands the unit's SystemCallFilter lines (an allow
// list, then ~ deny lists) with systemd-analyze's own table of groups.
func allowedSyscalls(t *testing.T, analyze string, filter []string) map[string]bool {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", stderrOf(err))
	}
	groups := map[string][]string{}
	group := ""
	for line := range bytes.Lines(out) {
		s := strings.TrimSpace(string(line))
		switch {
		case s == "" || strings.HasPrefix(s, "#"):
		case strings.HasPrefix(string(line), "@"):
			group = s
		case group != "":
			groups[group] = append(groups[group], s)
		}
	}
	var expand func(name string, into map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		members, ok := groups[name]
		if !ok {
			t.Fatalf("SystemCallFilter names %s, which systemd-analyze does not know", name)
		}
		for _, m := range members {
			expand(m, into)
		}
	}
	allowed := map[string]bool{}
	if len(filter) == 0 || strings.HasPrefix(filter[0], "~") {
		t.Fatalf("SystemCallFilter=%q: the test expects an allow list first", filter)
	}
	for _, f := range filter {
		deny := strings.HasPrefix(f, "~")
		set := map[string]bool{}
		for _, name := range strings.Fields(strings.TrimPrefix(f, "~")) {
			expand(name, set)
		}
		for c := range set {
			if deny {
				delete(allowed, c)
			} else {
				allowed[c] = true
			}
		}
	}
	return allowed
}

// An unfinished read-only open is not taken for a write because a later
// line has write flags (CI saw /proc/PID/stat reported so).
func TestWriteREOneLine(t *testing.T) {
	trace := []byte("12 openat(AT_FDCWD, \"/proc/12/stat\", O_RDONLY|O_CLOEXEC <unfinished ...>\n" +
		"13 openat(AT_FDCWD, \"/state/journal.db\", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 7\n")
	var got []string
	for _, m := range writeRE.FindAllSubmatch(trace, -1) {
		got = append(got, string(m[1])+string(m[2]))
	}
	if !slices.Equal(got, []string{"/state/journal.db"}) {
		t.Fatalf("writes %q", got)
	}
}
