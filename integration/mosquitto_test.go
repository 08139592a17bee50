package integration

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// mosquitto is a mosquitto broker run for a test on a loopback port,
// with persistence so that sessions survive a restart.
type mosquitto struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	port int
	cmd  *exec.Cmd
	log  *lockedbuf.Buffer
}

// startMosquittoTLS starts mosquitto with a TLS listener only.
func startMosquittoTLS(t *testing.T, ca, cert, key string) *mosquitto {
	t.Helper()
	return startMosquitto(t, "cafile "+ca+"\ncertfile "+cert+"\nkeyfile "+key+"\n")
}

// startMosquitto starts mosquitto; extra lines go into its config (after
// the listener line, so listener options apply to it). It
// fails the test when mosquitto is missing and G90_REQUIRE_MOSQUITTO is
// set (as .ci/run does), and skips it otherwise.
func startMosquitto(t testing.TB, extra string) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("G90_REQUIRE_MOSQUITTO") != "" {
			t.Fatalf("mosquitto not found (.ci/run installs it: apt-get install mosquitto): %v", err)
		}
		t.Skip("mosquitto not installed; apt-get install mosquitto to run the broker integration suite (.ci/run does)")
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\npersistence true\npersistence_location %s/\nmax_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n%s",
		port, dir, extra)
	if !strings.Contains(extra, "allow_anonymous") {
		body += "allow_anonymous true\n"
	}
	if os.Geteuid() == 0 {
		// As root, mosquitto becomes user mosquitto, who cannot read the
		// test's files.
		body += "user root\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &mosquitto{t: t, bin: bin, dir: dir, conf: conf, port: port, log: &lockedbuf.Buffer{}}
	m.start()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("mosquitto's log:\n%s", m.log.String())
		}
	})
	return m
}

func (m *mosquitto) addr() string { return "127.0.0.1:" + strconv.Itoa(m.port) }
func (m *mosquitto) url() string  { return "mqtt://" + m.addr() }

// start runs mosquitto and waits until it accepts connections.
func (m *mosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	eventually.NoError(m.t, "mosquitto to listen on "+m.addr(), func() error {
		c, err := net.DialTimeout("tcp", m.addr(), time.Second)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, m.log.String())
		}
		c.Close()
		return nil
	})
}

// stop ends mosquitto the way a service manager does (SIGTERM, which
// saves its persistence file) and waits for it.
func (m *mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// rig is a simulated panel and g90 serve publishing to a broker.
type rig struct {
	sim    *sim.Panel
	cfg    *daemon.Config
	guid   string
	notify string // the UDP address the simulator sends notifications to
	logs   *lockedbuf.Buffer
	ep     daemon.Endpoints
	stop   func() error
}

// startDaemon runs g90 serve for one simulated panel with local
// notifications; mqtt is the config's mqtt section, panel lines added to
// the panel's.
func startDaemon(t testing.TB, mqtt string, panel ...string) *rig {
	t.Helper()
	return startDaemonState(t, nil, mqtt, panel...)
}

// startDaemonState is startDaemon with the simulated panel starting from
// st (nil: its default home).
func startDaemonState(t testing.TB, st *sim.State, mqtt string, panel ...string) *rig {
	t.Helper()
	dir := t.TempDir()
	nc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Notify: nc.LocalAddr().String(), Seed: 1, State: st})
	yaml := fmt.Sprintf("mqtt:\n%sweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\npanels:\n  - name: home\n    host: 127.0.0.1\n    port: %d\n    poll: 1s\n%s",
		mqtt, dir, s.Addr().(*net.UDPAddr).Port, strings.Join(panel, ""))
	cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sim: s, cfg: cfg, guid: s.Snapshot().Host.GUID, notify: nc.LocalAddr().String(), logs: &lockedbuf.Buffer{}}
	r.run(t, nc)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the daemon's log:\n%s", r.logs.String())
		}
	})
	return r
}

// run starts the daemon with the notifications arriving on nc.
func (r *rig) run(t testing.TB, nc net.PacketConn) {
	t.Helper()
	r.ep, r.stop = daemontest.Run(t, r.cfg, daemon.Options{
		Logger:      slogTo(r.logs),
		NotifyConns: map[string]net.PacketConn{"home": nc},
		Timeout:     500 * time.Millisecond,
	})
}

// restart stops the daemon and starts it again on the same state
// directory (journal, MQTT queue) and notification address.
func (r *rig) restart(t *testing.T) {
	t.Helper()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	nc, err := net.ListenPacket("udp", r.notify)
	if err != nil {
		t.Fatal(err)
	}
	r.run(t, nc)
}

// testBroker is a broker the suite runs the daemon against.
type testBroker struct {
	// url is what the daemon connects to; addr is the broker itself, for
	// the test's own clients.
	url, addr string
	// outage makes the broker unreachable for the daemon; the function
	// it returns ends the outage.
	outage func() (end func())
	mosq   *mosquitto // nil for the embedded broker
}

// eachBroker runs test against mosquitto and against the embedded
// broker (package broker, which g90 serve runs without mqtt.url), each
// a subtest; without mosquitto its subtest skips (or fails, with
// G90_REQUIRE_MOSQUITTO).
func eachBroker(t *testing.T, test func(t *testing.T, b *testBroker)) {
	t.Run("mosquitto", func(t *testing.T) {
		m := startMosquitto(t, "")
		test(t, &testBroker{url: m.url(), addr: m.addr(), mosq: m, outage: func() func() {
			m.stop()
			return m.start
		}})
	})
	t.Run("embedded", func(t *testing.T) {
		br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { br.Close() })
		// The daemon reaches it through a proxy that can cut it off: the
		// embedded broker keeps its sessions in memory, so a restart of
		// it would lose the subscriber's; cut off, the daemon sees the
		// same outage and the subscriber stays.
		cut := mqtttest.StartCutter(t, br.Addr().String())
		test(t, &testBroker{url: cut.URL(), addr: br.Addr().String(), outage: func() func() {
			cut.SetDown(true)
			return func() { cut.SetDown(false) }
		}})
	})
}

// checkProtocol checks, for mosquitto, that it saw the daemon connect
// with MQTT 3.1.1 (its log says p2).
func checkProtocol(t *testing.T, r *rig, b *testBroker) {
	t.Helper()
	eventually.True(t, "the connection logged", func() bool { return strings.Contains(r.logs.String(), "connected to the MQTT broker") })
	if b.mosq == nil {
		return
	}
	eventually.True(t, "mosquitto to log the client's protocol", func() bool {
		for _, l := range strings.Split(b.mosq.log.String(), "\n") {
			if strings.Contains(l, "New client connected") && strings.Contains(l, " as g90-") && strings.Contains(l, "(p2,") {
				return true
			}
		}
		return false
	})
}

// Discovery payloads on a real broker: every device payload is retained,
// well formed and follows spec home-assistant.md §3; then sim events
// arrive as MQTT states, and MQTT commands reach the simulator; with
// mosquitto and with the embedded broker.
func TestDiscoveryStatesCommands(t *testing.T) { eachBroker(t, testDiscoveryStatesCommands) }

func testDiscoveryStatesCommands(t *testing.T, b *testBroker) {
	r := startDaemon(t, "  url: "+b.url+"\n")
	checkProtocol(t, r, b)
	w := mqtttest.Watch(t, b.addr, "#")
	base := "g90/" + r.guid
	w.WaitFor(t, base+"/availability", mqtttest.Is("online"))
	// Published as the daemon connected, before w subscribed: the
	// embedded broker shows a retained message to new subscriptions a
	// moment after its PUBACK.
	w.WaitRetained(t, "g90/bridge/status", "online")

	// Discovery: one device payload for the panel and one per sensor and
	// relay device.
	snap := r.sim.Snapshot()
	want := 1 + len(snap.Sensors) + len(snap.Devices)
	// As Home Assistant does once it has subscribed: its birth message,
	// which makes the bridge publish everything again. A subscriber the
	// embedded broker takes while the daemon publishes its discovery can
	// miss a retained payload there, as NATS stores them a moment later
	// (seen under load: 11 of 16; a new subscriber then had all 16).
	before := len(w.All("homeassistant/device/"))
	w.Publish(t, "homeassistant/status", "online")
	eventually.True(t, "every discovery payload, again after the birth", func() bool {
		return len(discovery(w)) >= want && len(w.All("homeassistant/device/")) >= before+want
	})
	for topic, payload := range discovery(w) {
		checkDevicePayload(t, topic, payload, r.guid)
	}
	// The panel's device links to the web UI (issue 15.7).
	var panelDev struct {
		Dev struct {
			URL string `json:"configuration_url"`
		} `json:"device"`
	}
	if err := json.Unmarshal([]byte(discovery(w)["homeassistant/device/g90_"+strings.ToLower(r.guid)+"/config"]), &panelDev); err != nil || panelDev.Dev.URL != r.ep.Web {
		t.Errorf("the panel's configuration_url is %q (%v), want %q", panelDev.Dev.URL, err, r.ep.Web)
	}
	// Retained: a late subscriber gets them all from the broker.
	late := mqtttest.Watch(t, b.addr, "homeassistant/#")
	eventually.True(t, "retained discovery", func() bool { return len(discovery(late)) >= want })
	for _, msg := range late.All("homeassistant/device/") {
		if !msg.Retained {
			t.Errorf("%s is not retained", msg.Topic)
		}
	}

	// Simulator events become states and events.
	one := 1
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	w.WaitFor(t, base+"/sensor/1", func(p string) bool { return strings.Contains(p, `"occupied":true`) })
	eventually.True(t, "the door_open event", func() bool {
		for _, msg := range w.All(base + "/event") {
			if strings.Contains(msg.Payload, `"type":"door_open"`) && !msg.Retained {
				return true
			}
		}
		return false
	})

	// MQTT commands reach the simulator and show at once.
	w.Publish(t, base+"/alarm/set", "ARM_HOME")
	w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_home"))
	if got := r.sim.Snapshot().Arm; got != protocol.ArmHome {
		t.Fatalf("simulator arm state %v, want home", got)
	}
	w.Publish(t, base+"/relay/6/2/set", "ON")
	w.WaitFor(t, base+"/relay/6/2", mqtttest.Is("ON"))
	if !r.sim.Snapshot().Relays[6][2] {
		t.Fatal("relay 6:2 is not on in the simulator")
	}
	// A setting: the siren duration number reaches the panel's config.
	w.Publish(t, base+"/alarm_siren_duration/set", "77")
	w.WaitFor(t, base+"/alarm_siren_duration", mqtttest.Is("77"))
	if got := r.sim.Snapshot().HostConfig.AlarmSirenDuration; got != 77 {
		t.Fatalf("simulator siren duration %d, want 77", got)
	}
	// An invalid payload is ignored: nothing reaches the panel.
	w.Publish(t, base+"/alarm/set", "ARM_EVERYTHING")
	w.Publish(t, base+"/relay/6/2/set", "MAYBE")
	eventually.True(t, "both invalid commands logged as ignored", func() bool {
		l := r.logs.String()
		return strings.Contains(l, "topic="+base+"/alarm/set payload=ARM_EVERYTHING") &&
			strings.Contains(l, "topic="+base+"/relay/6/2/set payload=MAYBE")
	})
	if got := r.sim.Snapshot(); got.Arm != protocol.ArmHome || !got.Relays[6][2] {
		t.Fatalf("an invalid command changed the panel: arm %v, relay %v", got.Arm, got.Relays[6][2])
	}
}

// discovery returns the device discovery payloads w saw, by topic.
func discovery(w *mqtttest.Watcher) map[string]string {
	out := map[string]string{}
	for _, m := range w.All("homeassistant/device/") {
		if m.Payload != "" {
			out[m.Topic] = m.Payload
		}
	}
	return out
}

// checkDevicePayload checks one device discovery payload against the
// bridge's entity table and spec home-assistant.md §3 (bridge.CheckDiscovery):
// every component is a row of the table, well formed, and no entity every
// device of its kind has is missing.
func checkDevicePayload(t *testing.T, topic, payload, guid string) {
	t.Helper()
	d, err := bridge.CheckDiscovery([]byte(payload))
	if err != nil {
		t.Errorf("%s: %v", topic, err)
		return
	}
	if !strings.Contains(d.ObjectID, strings.ToLower(guid)) || topic != "homeassistant/device/"+d.ObjectID+"/config" {
		t.Errorf("%s: object id %q", topic, d.ObjectID)
	}
	if missing := d.Missing(); len(missing) > 0 {
		t.Errorf("%s: lacks %v", topic, missing)
	}
	if len(d.Entities) == 0 {
		t.Errorf("%s: no entities", topic)
	}
}

// The broker goes away for 5 s in the middle of a stream of 1,000 panel
// events, and the daemon is restarted while it is away: a subscriber
// with a persistent session gets every event, exactly in order, and the
// journal has the same; with mosquitto (stopped and started again, with
// its persistence) and with the embedded broker (cut off).
func TestBrokerOutageMidStream(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *testBroker) {
		r := startDaemon(t, "  url: "+b.url+"\njournal:\n  flood_burst: -1 # a stream of 1,000 door events on one sensor\n")
		checkProtocol(t, r, b)
		testOutageMidStream(t, r, b)
	})
}

func testOutageMidStream(t *testing.T, r *rig, b *testBroker) {
	topic := "g90/" + r.guid + "/event"

	var mu sync.Mutex
	var seqs []uint64
	persistentSubscriber(t, b.addr, topic, func(payload []byte) {
		var ev struct{ Seq uint64 }
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("event %q: %v", payload, err)
			return
		}
		mu.Lock()
		seqs = append(seqs, ev.Seq)
		mu.Unlock()
	})
	eventually.True(t, "the panel online", func() bool { return strings.Contains(r.logs.String(), "connected to the MQTT broker") })

	// 1,000 injections: doors opening and closing, each one or two events.
	inject := func(from, to int) {
		for i := from; i < to; i++ {
			ev := "door_open"
			if i%2 == 1 {
				ev = "door_close"
			}
			one := 1
			if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
				t.Fatal(err)
			}
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond) // a stream, not one burst
			}
		}
	}
	inject(0, 300)
	start := time.Now()
	end := b.outage()
	inject(300, 500) // into the bridge's disk queue
	r.restart(t)     // which the next daemon sends
	eventually.True(t, "the daemon to read the panel again", func() bool { return strings.Count(r.logs.String(), "g90 serve running") >= 2 })
	inject(500, 700)
	time.Sleep(5*time.Second - time.Since(start))
	end()
	inject(700, 1000)

	// Everything the journal has, MQTT delivers.
	eventually.True(t, "the journal to hold the stream", func() bool { return len(journalSeqs(t, r)) >= 1000 })
	want := journalSeqs(t, r)
	var got []uint64
	eventually.NoErrorWithin(t, 60*time.Second, "MQTT to deliver what the journal has", func() error {
		mu.Lock()
		delivered := slices.Clone(seqs)
		mu.Unlock()
		// Outside the lock: a Fatalf in it must not block the handler.
		got = distinctInOrder(t, delivered)
		if len(got) < len(want) {
			return fmt.Errorf("MQTT delivered %d events, the journal has %d", len(got), len(want))
		}
		return nil
	})
	if !slices.Equal(got, want) {
		t.Fatalf("MQTT delivered %d events (first %v…), the journal has %d (1…%d)", len(got), got[:min(5, len(got))], len(want), want[len(want)-1])
	}
}

// distinctInOrder drops QoS 1 redeliveries (a seq seen already, sent
// again after the broker restarted) and fails if anything else arrives
// out of order.
func distinctInOrder(t *testing.T, seqs []uint64) []uint64 {
	var out []uint64
	var top uint64
	for _, s := range seqs {
		if s <= top {
			continue // a redelivery
		}
		if s != top+1 {
			t.Fatalf("event seq %d after %d: a gap or reordering", s, top)
		}
		out = append(out, s)
		top = s
	}
	return out
}

// journalSeqs reads the daemon's journal while it runs.
func journalSeqs(t *testing.T, r *rig) []uint64 {
	t.Helper()
	// While events stream in, the daemon keeps the file busy; a loaded
	// CI machine saw a reader wait more than 5 s for its turn.
	j, err := journal.Open(journal.Config{Path: r.cfg.JournalPath(), ReadOnly: true, LockTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var out []uint64
	for e, err := range j.Query(journal.Query{Panel: r.guid}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Seq)
	}
	return out
}

// persistentSubscriber subscribes to topic with QoS 1 in a session that
// outlives broker restarts (paho.mqtt.golang reconnecting by itself),
// calling got for every message, in order.
func persistentSubscriber(t *testing.T, addr, topic string, got func([]byte)) {
	t.Helper()
	subscribed := make(chan struct{}, 1)
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("g90-integration-subscriber").
		SetProtocolVersion(4).SetCleanSession(false).SetKeepAlive(5 * time.Second).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetOrderMatters(true).
		SetOnConnectHandler(func(c paho.Client) {
			go func() {
				if tok := c.Subscribe(topic, 1, nil); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
					select {
					case subscribed <- struct{}{}:
					default:
					}
				}
			}()
		}).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got(m.Payload()) })
	c := paho.NewClient(opts)
	c.Connect()
	t.Cleanup(func() { c.Disconnect(250) })
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber did not subscribe")
	}
}

// A broker that refuses the daemon's credentials: the daemon says so,
// keeps serving the panel (the journal fills) and connects once the
// credentials are right.
func TestMosquittoCredentials(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if bin, err := exec.LookPath("mosquitto_passwd"); err == nil {
		if out, err := exec.Command(bin, "-b", "-c", pw, "g90", "right").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	m := startMosquitto(t, "allow_anonymous false\npassword_file "+pw+"\n")
	if _, err := os.Stat(pw); err != nil {
		t.Fatal("mosquitto_passwd is missing (package mosquitto)")
	}
	wrong := startDaemon(t, "  url: "+m.url()+"\n  username: g90\n  password: wrong\n")
	eventually.True(t, "the refusal logged", func() bool { return strings.Contains(wrong.logs.String(), "cannot connect to the MQTT broker") })
	if l := wrong.logs.String(); !strings.Contains(l, "not authorized (return code 5) (check mqtt.username, mqtt.password and the broker's ACL)") &&
		!strings.Contains(l, "bad user name or password (return code 4) (check mqtt.username and mqtt.password)") {
		t.Fatalf("the log does not say why and what to check:\n%s", l)
	}
	one := 1
	if _, err := wrong.sim.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the journal to keep events", func() bool { return len(journalSeqs(t, wrong)) > 0 })
	if err := wrong.stop(); err != nil {
		t.Fatal(err)
	}

	right := startDaemon(t, "  url: "+m.url()+"\n  username: g90\n  password: right\n")
	eventually.True(t, "the connection", func() bool { return strings.Contains(right.logs.String(), "connected to the MQTT broker") })
}

func slogTo(w *lockedbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
