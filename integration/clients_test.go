package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/protocol"
)

// pythonPaho returns a python3 that has paho-mqtt (Debian's
// python3-paho-mqtt installs it for /usr/bin/python3, which another
// python3 first on PATH may not see). Without one the test skips, or
// fails with G90_REQUIRE_PYTHON_PAHO set, as .ci/run sets it.
func pythonPaho(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		out, err := exec.Command(path, "-c", "import paho.mqtt, sys; sys.stdout.write(paho.mqtt.__version__)").CombinedOutput()
		if err == nil {
			t.Logf("%s with paho-mqtt %s", path, out)
			return path
		}
		tried = append(tried, path)
	}
	if os.Getenv("G90_REQUIRE_PYTHON_PAHO") != "" {
		t.Fatalf("no python3 with paho-mqtt (tried %v; .ci/run installs it: apt-get install python3-paho-mqtt)", tried)
	}
	t.Skip("no python3 with paho-mqtt; apt-get install python3-paho-mqtt to run Home Assistant's client against the daemon")
	return ""
}

// mosquittoClient returns the path of mosquitto_sub or mosquitto_pub
// (package mosquitto-clients); like startMosquitto it skips without
// them, or fails with G90_REQUIRE_MOSQUITTO.
func mosquittoClient(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("G90_REQUIRE_MOSQUITTO") != "" {
		t.Fatalf("%s not found (.ci/run installs it: apt-get install mosquitto-clients): %v", name, err)
	}
	t.Skipf("%s not installed; apt-get install mosquitto-clients", name)
	return ""
}

// Home Assistant's own MQTT client library (paho-mqtt for Python), as
// Home Assistant uses it: every retained discovery payload and state,
// the birth message answered with everything again, arm and disarm
// (with the PIN, after a wrong one, and without one), a relay and a
// config switch, each seen to change the simulated panel; against
// mosquitto and the embedded broker.
func TestHomeAssistantPython(t *testing.T) {
	py := pythonPaho(t)
	eachBroker(t, func(t *testing.T, b *testBroker) {
		for _, pin := range []string{"", "2580"} {
			t.Run(map[bool]string{true: "no PIN", false: "PIN"}[pin == ""], func(t *testing.T) {
				testHomeAssistant(t, py, b, pin)
			})
		}
	})
}

func testHomeAssistant(t *testing.T, py string, b *testBroker, pin string) {
	var panel []string
	if pin != "" {
		panel = append(panel, "    pin: \""+pin+"\"\n")
	}
	// Subscribed before the daemon publishes: see below.
	w := mqtttest.Watch(t, b.addr, "#")
	mqtt := "  url: " + b.url + "\n"
	if pin != "" {
		// The access point switch below is a configuration change:
		// with a PIN, it takes this (TestConfigChangesNeedPermission
		// in package bridge shows the refusal without it).
		mqtt += "  allow_config_changes: true\n"
	}
	r := startDaemon(t, mqtt, panel...)
	snap := r.sim.Snapshot()
	apBefore := snap.NetConfig.APEnabled
	devices := 1 + len(snap.Sensors) + len(snap.Devices)
	// Home Assistant starts after g90 has published, so that what it
	// gets on subscribing comes from the broker, retained; and once the
	// daemon is quiet, since NATS shows a retained message to new
	// subscriptions a moment after its PUBACK, not at it.
	w.WaitFor(t, "g90/"+r.guid+"/alarm", mqtttest.Is("disarmed"))
	eventually.True(t, "every discovery payload", func() bool { return len(discovery(w)) >= devices })
	quiet(t, w)
	host, port, _ := net.SplitHostPort(b.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"testdata/home_assistant.py", host, port, r.guid, strconv.Itoa(devices)}
	if pin != "" {
		args = append(args, pin)
	}
	cmd := exec.CommandContext(ctx, py, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("home_assistant.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("home_assistant.py:\n%s", out)
	for _, want := range []string{
		fmt.Sprintf("discovery %d retained\n", devices),
		"states online disarmed\n",
		fmt.Sprintf("birth republished %d\n", devices),
		"alarm armed_away\n", "alarm disarmed\n",
		"relay g90/" + r.guid + "/relay/",
		"switch ap_enabled ",
		"DONE\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("home_assistant.py did not print %q", want)
		}
	}
	got := r.sim.Snapshot()
	if got.Arm != protocol.Disarmed {
		t.Errorf("simulator arm state %v, want disarmed", got.Arm)
	}
	relays := 0
	for _, nodes := range got.Relays {
		for _, on := range nodes {
			if on {
				relays++
			}
		}
	}
	if relays != 1 {
		t.Errorf("%d relay nodes on in the simulator, want the one switched", relays)
	}
	if got.NetConfig.APEnabled == apBefore {
		t.Errorf("the access point switch did not reach the simulator (ap_enabled %d)", got.NetConfig.APEnabled)
	}
	if pin != "" && !strings.Contains(r.logs.String(), "MQTT command ignored") {
		t.Error("the wrong PIN was not refused")
	}
}

// mosquitto's own command-line clients: mosquitto_sub gets every
// retained discovery payload and the alarm state; mosquitto_pub arms the
// panel; against mosquitto and the embedded broker.
func TestMosquittoClients(t *testing.T) {
	sub, pub := mosquittoClient(t, "mosquitto_sub"), mosquittoClient(t, "mosquitto_pub")
	eachBroker(t, func(t *testing.T, b *testBroker) {
		r := startDaemon(t, "  url: "+b.url+"\n")
		snap := r.sim.Snapshot()
		devices := 1 + len(snap.Sensors) + len(snap.Devices)
		host, port, _ := net.SplitHostPort(b.addr)
		base := "g90/" + r.guid
		// The daemon publishes once it has read the panel.
		w := mqtttest.Watch(t, b.addr, base+"/alarm")
		w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))
		eventually.True(t, "every discovery payload", func() bool {
			out, err := exec.Command(sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", "homeassistant/device/+/config",
				"--retained-only", "-W", "2", "-v").Output()
			if err != nil && len(out) == 0 {
				return false
			}
			return strings.Count(string(out), "homeassistant/device/") >= devices
		})

		if out, err := exec.Command(pub, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-t", base+"/alarm/set", "-m", "ARM_HOME").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
		eventually.True(t, "the panel armed home", func() bool { return r.sim.Snapshot().Arm == protocol.ArmHome })
		// The panel arms before the daemon publishes the new state: wait
		// for it, or mosquitto_sub may get the retained "disarmed".
		w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_home"))
		out, err := exec.Command(sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", base+"/alarm", "-C", "1", "-W", "10").Output()
		if err != nil || strings.TrimSpace(string(out)) != "armed_home" {
			t.Fatalf("mosquitto_sub %s/alarm: %q, %v", base, out, err)
		}
	})
}

// WebSocket: the daemon connects to mosquitto's WebSocket listener
// (ws://) and publishes there like over TCP. The config is one of an
// earlier version, which needed mqtt.protocol 5 for WebSocket: the
// daemon warns that the key is gone, and runs.
func TestMosquittoWebSocket(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wsPort := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	m := startMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets\n", wsPort))
	r := startDaemon(t, fmt.Sprintf("  url: ws://127.0.0.1:%d/mqtt\n  protocol: 5\n", wsPort))
	if l := r.logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "mqtt.protocol: no longer used and ignored") {
		t.Fatalf("no warning for mqtt.protocol:\n%s", l)
	}
	w := mqtttest.Watch(t, m.addr(), "g90/#")
	w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	w.WaitFor(t, "g90/"+r.guid+"/alarm", mqtttest.Is("disarmed"))
	w.Publish(t, "g90/"+r.guid+"/alarm/set", "ARM_AWAY")
	eventually.True(t, "the panel armed away", func() bool { return r.sim.Snapshot().Arm == protocol.ArmAway })
}

// quiet waits until w has seen nothing new for half a second.
func quiet(t *testing.T, w *mqtttest.Watcher) {
	t.Helper()
	n := -1
	eventually.True(t, "the daemon to be quiet", func() bool {
		m := len(w.All(""))
		if m == n {
			return true
		}
		n = m
		time.Sleep(500 * time.Millisecond)
		return false
	})
}

// The report: `mosquitto_pub -r` arms the panel (a retained
// command, sent while the daemon runs, is carried out once); it is then
// disarmed, and neither a restart of the daemon nor one sent retained
// while it is stopped arms it again. The broker keeps no command (and
// so no PIN) afterwards; against mosquitto and the embedded broker.
func TestMosquittoRetainedCommand(t *testing.T) {
	sub, pub := mosquittoClient(t, "mosquitto_sub"), mosquittoClient(t, "mosquitto_pub")
	eachBroker(t, func(t *testing.T, b *testBroker) {
		r := startDaemon(t, "  url: "+b.url+"\n")
		host, port, _ := net.SplitHostPort(b.addr)
		base := "g90/" + r.guid
		w := mqtttest.Watch(t, b.addr, base+"/#")
		w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))
		publish := func(retain bool, payload string) {
			t.Helper()
			args := []string{"-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-t", base + "/alarm/set", "-m", payload}
			if retain {
				args = append(args, "-r")
			}
			if out, err := exec.Command(pub, args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v\n%s", err, out)
			}
		}
		kept := func() string {
			t.Helper()
			// -W ends it with an error when nothing is retained.
			out, _ := exec.Command(sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", base+"/alarm/set", "--retained-only", "-C", "1", "-W", "1").Output()
			return strings.TrimSpace(string(out))
		}
		publish(true, "ARM_AWAY")
		w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_away"))
		eventually.True(t, "the retained command cleared", func() bool { return kept() == "" })
		publish(false, "DISARM")
		w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))

		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		publish(true, "ARM_HOME") // while the daemon is stopped
		nc, err := net.ListenPacket("udp", r.notify)
		if err != nil {
			t.Fatal(err)
		}
		r.run(t, nc)
		eventually.True(t, "the retained command ignored", func() bool {
			return strings.Contains(r.logs.String(), "retained MQTT command ignored and cleared")
		})
		eventually.True(t, "the retained command cleared", func() bool { return kept() == "" })
		// Still disarmed after the daemon has read the panel again.
		w.WaitFor(t, base+"/availability", mqtttest.Is("online"))
		if got := r.sim.Snapshot().Arm; got != protocol.Disarmed {
			t.Fatalf("after a restart the panel is %v: the retained command was carried out", got)
		}
	})
}
