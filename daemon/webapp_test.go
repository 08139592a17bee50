// The browser test is slow (a Chromium starts several times) and gains
// nothing from -race (the Go side is covered by web's tests), so .ci/run
// runs it in a pass of its own, without -race.

//go:build !race

package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/internal/testrig/netns"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// e2eDir is the Node project of the browser test.
const e2eDir = "../web/e2e"

// webAppTools returns node and Debian's chromium and checks that
// playwright-core is installed (npm ci in e2eDir, as .ci/run does); it
// skips the test otherwise, or fails it with G90_REQUIRE_CHROMIUM set.
func webAppTools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		chromium, err = exec.LookPath("chromium")
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json"))
	}
	if err != nil {
		if os.Getenv("G90_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("node, chromium or playwright-core missing (.ci/run: apt-get install chromium, npm ci in %s): %v", e2eDir, err)
		}
		t.Skipf("node, chromium or playwright-core missing (npm ci in %s to run it): %v", e2eDir, err)
	}
	return node, chromium
}

// TestWebApp runs web/e2e/test.mjs, the web app in a real browser
// (Chromium driven by playwright-core) against g90 serve with two
// simulated panels, "home" without a PIN and "cabin" with PIN 4321, at
// phone and desktop sizes: arming and disarming with and without the
// PIN, a door opening shown live, a relay toggled and seen on MQTT and
// in the simulator, no sideways scrolling, text contrast in both themes,
// keyboard use, notifications (a tamper, a panel that stops answering),
// the Apple Home card with the HomeKit bridge's setup code and QR code,
// learning a sensor with the simulator's registration, renaming one,
// changing a setting and seeing it verified, the history filter, the
// login of a daemon with a password (a second one, for the cabin), and
// the shell offline once the daemon is gone. The script asks the
// rig below for what only the test can do. With G90_SCREENSHOTS=dir it
// writes the screens' screenshots there.
func TestWebApp(t *testing.T) {
	node, chromium := webAppTools(t)
	// In a network namespace of its own, the browser included: the
	// daemon with a password listens on every address (0.0.0.0), as a
	// UI reachable from the network does.
	if !netns.Run(t, os.Getenv("G90_REQUIRE_NETNS") != "") {
		return
	}
	// The HomeKit bridge's mDNS responder (brutella/dnssd, run by hap
	// even with mdns: false) subscribes to link changes with
	// vishvananda/netlink, whose receiving goroutine a closed
	// subscription does not end (it blocks in recvfrom until the next
	// link change: vishvananda/netlink#542): one left per publication of
	// the bridge. Nothing of g90's may leak.
	leaktest.Check(t, "github.com/vishvananda/netlink.linkSubscribeAt")
	dir := t.TempDir()
	sims := map[string]*sim.Panel{}
	conns := map[string]net.PacketConn{}
	var panels strings.Builder
	for i, name := range []string{"home", "cabin"} {
		nc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		simConn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st := sim.DefaultState()
		st.Host.GUID = sim.FleetGUID(i + 1)
		sims[name] = simtest.Start(t, sim.Config{PacketConn: simConn, Notify: nc.LocalAddr().String(), Seed: 1, State: &st})
		conns[name] = nc
		fmt.Fprintf(&panels, "  - name: %s\n    host: 127.0.0.1\n    port: %d\n    poll: 1s\n", name, simConn.LocalAddr().(*net.UDPAddr).Port)
		if name == "home" {
			panels.WriteString("    notifications: local\n")
		} else {
			// Only one panel per network gets local notifications; the
			// cabin's state follows the commands' reads.
			panels.WriteString("    notifications: none\n    pin: \"4321\"\n")
		}
	}
	// With a HomeKit bridge, for the web app's Apple Home card (a free
	// port; no mDNS: nothing here pairs).
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\n"+
		"homekit:\n  listen: 127.0.0.1:0\n  mdns: false\npanels:\n%s", dir, panels.String())
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, stop := daemontest.Run(t, cfg, daemon.Options{NotifyConns: conns, Timeout: 500 * time.Millisecond})
	w := mqtttest.Watch(t, strings.TrimPrefix(ep.MQTT, "mqtt://"), "#")
	guids := map[string]string{}
	for name, s := range sims {
		guids[name] = s.Snapshot().Host.GUID
		w.WaitFor(t, "g90/"+guids[name]+"/availability", mqtttest.Is("online"))
	}

	// A second daemon, for the cabin too, on every address of the
	// namespace: it must ask for a password.
	const password = "correct horse battery"
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	lockedDir := t.TempDir()
	locked := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 0.0.0.0:0\n  password_hash: %s\nstate_dir: %s\npanels:\n"+
		"  - name: cabin\n    host: 127.0.0.1\n    port: %d\n    poll: 1s\n    notifications: none\n",
		strings.ReplaceAll(hash, "$", "$$"), lockedDir, sims["cabin"].Addr().(*net.UDPAddr).Port)
	lockedCfg, err := daemon.ParseConfig(filepath.Join(lockedDir, "g90.yaml"), []byte(locked), nil)
	if err != nil {
		t.Fatal(err)
	}
	lockedEP, _ := daemontest.Run(t, lockedCfg, daemon.Options{Timeout: 500 * time.Millisecond})
	if !strings.HasPrefix(lockedEP.Web, "http://0.0.0.0:") && !strings.HasPrefix(lockedEP.Web, "http://[::]:") {
		t.Fatalf("the daemon with a password serves %s, want every address", lockedEP.Web)
	}
	lockedWeb := "http://127.0.0.1:" + port(t, lockedEP.Web) + "/"

	rig := httptest.NewServer(webAppRig(t, sims, guids, w, stop))
	defer rig.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "test.mjs")
	cmd.Dir = e2eDir
	// On a timeout, SIGTERM: playwright-core then closes the browser it
	// started, which a SIGKILL of node would leave running.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(),
		"G90_WEB="+ep.Web, "G90_RIG="+rig.URL, "G90_CHROMIUM="+chromium,
		"G90_WEB_LOGIN="+lockedWeb, "G90_PASSWORD="+password,
		"G90_USER_DATA="+t.TempDir())
	if d := os.Getenv("G90_SCREENSHOTS"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, "G90_SCREENSHOTS="+abs)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("node test.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
}

// webAppRig is what the browser test cannot do through the web app:
//
//	GET  /panels                        {"home":"<GUID>",…}
//	POST /inject?panel=                 a sim.Injection, e.g. {"event":"door_open","sensor":1}
//	GET  /state?panel=                  the simulator's state (sim.State's JSON)
//	GET  /relay?panel=&index=&node=     {"on":bool}, the simulator's relay
//	GET  /mqtt?topic=                   {"found":bool,"payload":"…"}, the topic's last message
//	POST /faults?panel=                 a sim.Faults, e.g. {"silent":true}: the panel stops answering
//	POST /stop                          stops the daemon (the app is then offline)
func webAppRig(t *testing.T, sims map[string]*sim.Panel, guids map[string]string, w *mqtttest.Watcher, stop func() error) http.Handler {
	m := http.NewServeMux()
	reply := func(rw http.ResponseWriter, status int, v any) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_ = json.NewEncoder(rw).Encode(v)
	}
	panel := func(rw http.ResponseWriter, r *http.Request) *sim.Panel {
		s := sims[r.URL.Query().Get("panel")]
		if s == nil {
			reply(rw, http.StatusNotFound, map[string]string{"error": "no such panel"})
		}
		return s
	}
	m.HandleFunc("GET /panels", func(rw http.ResponseWriter, _ *http.Request) { reply(rw, http.StatusOK, guids) })
	m.HandleFunc("POST /inject", func(rw http.ResponseWriter, r *http.Request) {
		s := panel(rw, r)
		if s == nil {
			return
		}
		var in sim.Injection
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			reply(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if _, err := s.Inject(in); err != nil {
			reply(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		reply(rw, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET /state", func(rw http.ResponseWriter, r *http.Request) {
		if s := panel(rw, r); s != nil {
			reply(rw, http.StatusOK, s.Snapshot())
		}
	})
	m.HandleFunc("POST /faults", func(rw http.ResponseWriter, r *http.Request) {
		s := panel(rw, r)
		if s == nil {
			return
		}
		var f sim.Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			reply(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := s.SetFaults(f); err != nil {
			reply(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		reply(rw, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET /relay", func(rw http.ResponseWriter, r *http.Request) {
		s := panel(rw, r)
		if s == nil {
			return
		}
		index, err1 := strconv.Atoi(r.URL.Query().Get("index"))
		node, err2 := strconv.Atoi(r.URL.Query().Get("node"))
		nodes := s.Snapshot().Relays[index]
		if err := errors.Join(err1, err2); err != nil || node < 0 || node >= len(nodes) {
			reply(rw, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no relay %d:%d (%v)", index, node, err)})
			return
		}
		reply(rw, http.StatusOK, map[string]bool{"on": nodes[node]})
	})
	m.HandleFunc("GET /mqtt", func(rw http.ResponseWriter, r *http.Request) {
		p, ok := w.Get(r.URL.Query().Get("topic"))
		reply(rw, http.StatusOK, map[string]any{"found": ok, "payload": p})
	})
	m.HandleFunc("POST /stop", func(rw http.ResponseWriter, _ *http.Request) {
		if err := stop(); err != nil {
			t.Errorf("the daemon stopped with %v", err)
		}
		reply(rw, http.StatusOK, map[string]bool{"ok": true})
	})
	return m
}
