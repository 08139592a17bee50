package daemon

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/testpki"
	"github.com/g90alarm/g90/web"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// The example in docs is a valid config, and says what it means.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../docs/g90.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("g90.example.yaml", data, env(map[string]string{"G90_MQTT_PASSWORD": "s3cret", "G90_PIN": "1234"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		MQTT: MQTTConfig{
			URL: "mqtts://broker.example.net:8883", Username: "g90", Password: "s3cret", Listen: "127.0.0.1:1883",
			DiscoveryPrefix: "homeassistant", TopicPrefix: "g90",
		},
		Panels: []PanelConfig{
			{Name: "home", Host: "192.168.1.50", Port: 12368, Notifications: NotifyLocal, NotifyListen: ":12901", Poll: 30 * time.Second, HistoryInterval: 5 * time.Second, PIN: "1234", Transport: TransportLocal},
			{Name: "garage", Host: "192.168.1.51", Port: 12368, Notifications: NotifyChained, NotifyListen: ":12901", Poll: time.Minute, HistoryInterval: 5 * time.Second, Transport: TransportLocal},
		},
		Cloud:    CloudConfig{Listen: ":5678", Advertise: "192.168.1.10", Upstream: "47.88.7.61:5678", MaxConnections: 64, MaxPerAddress: 8, ReplayBuffer: 1024},
		Web:      WebConfig{Listen: "127.0.0.1:8080", Hosts: []string{}},
		Journal:  JournalConfig{MaxAge: 720 * time.Hour, MaxEvents: 100000, FloodBurst: 100, FloodRate: 1},
		HomeKit:  HomeKitConfig{Listen: ":51826", Name: "g90", MDNS: true, AllowDisarm: true},
		StateDir: "/var/lib/g90",
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if cfg.JournalPath() != "/var/lib/g90/journal.db" {
		t.Fatal(cfg.JournalPath())
	}
}

// The smallest config: one host, everything else defaults.
func TestConfigDefaults(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/tmp/state")
	path := filepath.Join(t.TempDir(), "g90.yaml")
	if err := os.WriteFile(path, []byte("panels:\n  - host: 10.0.0.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	p := defaultPanel()
	p.Name, p.Host = "10.0.0.2", "10.0.0.2"
	want.Panels = []PanelConfig{p}
	want.StateDir = "/tmp/state/g90"
	if diff := cmp.Diff(&want, cfg); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if want.Panels[0].Port != 12368 || want.Panels[0].Poll != 30*time.Second || want.MQTT.DiscoveryPrefix != "homeassistant" ||
		want.Web.Listen != "127.0.0.1:8080" || want.Panels[0].NotifyListen != ":12901" || want.MQTT.TopicPrefix != "g90" {
		t.Fatalf("defaults changed: %+v", want)
	}
}

// Under systemd with StateDirectory=g90, the default state_dir is the
// one systemd made ($STATE_DIRECTORY, the first of a list).
func TestConfigDefaultStateDirectory(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/tmp/state")
	for env, want := range map[string]string{
		"/var/lib/g90":            "/var/lib/g90",
		"/var/lib/g90:/var/lib/x": "/var/lib/g90",
		"relative":                "/tmp/state/g90", // not systemd's: ignored
		"":                        "/tmp/state/g90",
	} {
		t.Setenv("STATE_DIRECTORY", env)
		cfg, err := ParseConfig("/etc/g90/g90.yaml", []byte("panels:\n  - host: 10.0.0.2\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StateDir != want {
			t.Errorf("STATE_DIRECTORY=%q: state_dir %q, want %q", env, cfg.StateDir, want)
		}
	}
	t.Setenv("STATE_DIRECTORY", "/var/lib/g90")
	cfg, err := ParseConfig("/etc/g90/g90.yaml", []byte("panels:\n  - host: 10.0.0.2\nstate_dir: /srv/g90\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/srv/g90" {
		t.Errorf("state_dir in the file %q, want /srv/g90", cfg.StateDir)
	}
}

func TestConfigValues(t *testing.T) {
	cfg, err := ParseConfig("/etc/g90/g90.yaml", []byte(`
mqtt:
  url: tcp://${MQTT_HOST}:1883
  username: $USER_1
  password: "pa$$word"
panels:
  - host: a
    poll: 0s
    pin: "0123"
    notifications: none
  - host: a
    name: a2
    port: 1_000
    notifications: history
journal:
  max_age: 0s
  max_events: 0
state_dir: state
`), env(map[string]string{"MQTT_HOST": "broker", "USER_1": "me"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.URL != "tcp://broker:1883" || cfg.MQTT.Username != "me" || cfg.MQTT.Password != "pa$word" || len(cfg.Warnings) != 0 {
		t.Errorf("mqtt %+v", cfg.MQTT)
	}
	if p := cfg.Panels[0]; p.Poll != 0 || p.PIN != "0123" || p.Notifications != NotifyNone {
		t.Errorf("panel 0 %+v", p)
	}
	if p := cfg.Panels[1]; p.Port != 1000 || p.Name != "a2" || p.Notifications != NotifyHistory {
		t.Errorf("panel 1 %+v", p) // the same host on another port is another panel
	}
	if cfg.Journal.MaxAge != 0 || cfg.Journal.MaxEvents != 0 {
		t.Errorf("explicit zeros lost: %+v", cfg.Journal)
	}
	if cfg.StateDir != "/etc/g90/state" {
		t.Errorf("state_dir %q", cfg.StateDir)
	}
}

// mqtt.protocol, of the days of MQTT 5, is ignored whatever its value,
// with a warning that names it and its line and says what to do; the
// file still loads, so that an upgrade starts.
func TestConfigMQTTProtocolDeprecated(t *testing.T) {
	for _, yaml := range []string{"  protocol: auto\n", "  protocol: 5\n", "  protocol: 3.1.1\n", "  protocol: \"\"\n", "  url: ws://broker/mqtt\n  protocol: 3.1.1\n"} {
		cfg, err := ParseConfig("g90.yaml", []byte("mqtt:\n  listen: 127.0.0.1:1883\n"+yaml+"panels:\n  - host: a\n"), nil)
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0].Error(), "g90.yaml:") ||
			!strings.Contains(cfg.Warnings[0].Error(), ": mqtt.protocol: no longer used and ignored: g90 speaks MQTT 3.1.1, which every broker speaks; remove the key") {
			t.Errorf("%q: warnings %v", yaml, cfg.Warnings)
		}
	}
	cfg, err := ParseConfig("g90.yaml", []byte("panels:\n  - host: a\n"), nil)
	if err != nil || len(cfg.Warnings) != 0 {
		t.Fatalf("without the key: %v, warnings %v", err, cfg.Warnings)
	}
}

// Every kind of config error names the key, and its line where it has
// one.
func TestConfigErrors(t *testing.T) {
	const panel = "panels:\n  - host: 10.0.0.2\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"syntax", "panels: [", "g90.yaml: yaml: line 1"},
		{"two documents", panel + "---\n" + panel, "g90.yaml:3: more than one YAML document"},
		{"unknown top-level key", panel + "mqttt:\n  url: x\n", "g90.yaml:3: mqttt: unknown key"},
		{"unknown nested key", "mqtt:\n  passwd: x\n" + panel, "g90.yaml:2: mqtt.passwd: unknown key (known here: allow_config_changes, ca_file, cert_file, discovery_prefix, key_file, listen, password, protocol, publish_secrets, topic_prefix, url, username)"},
		{"unknown panel key", "panels:\n  - host: a\n  - host: b\n    prot: 1\n", "g90.yaml:4: panels[1].prot: unknown key"},
		{"duplicate key", "panels:\n  - host: a\n    host: b\n", "g90.yaml:3: panels[0].host: given twice (first on line 2)"},
		{"mapping for a value", panel + "state_dir:\n  a: b\n", "g90.yaml:4: state_dir: want a single value, not a mapping"},
		{"value for a mapping", panel + "mqtt: broker\n", "g90.yaml:3: mqtt: want a mapping of keys, not a value"},
		{"value for a list", "panels: 10.0.0.2\n", "g90.yaml:1: panels: want a list, not a value"},
		{"list for a value", "panels:\n  - host: [a, b]\n", "g90.yaml:2: panels[0].host: want a single value, not a list"},
		{"not an integer", "panels:\n  - host: a\n    port: twelve\n", `g90.yaml:3: panels[0].port: "twelve": not an integer`},
		{"not a boolean", panel + "mqtt:\n  publish_secrets: maybe\n", `g90.yaml:4: mqtt.publish_secrets: "maybe": not true or false`},
		{"not a duration", "panels:\n  - host: a\n  - host: b\n    poll: 5x\n", `g90.yaml:4: panels[1].poll: "5x": not a duration`},
		{"duration without unit", "panels:\n  - host: a\n    poll: 30\n", `panels[0].poll: "30": not a duration`},
		{"unset variable", panel + "mqtt:\n  password: ${NOPE}\n", "g90.yaml:4: mqtt.password: environment variable is not set: NOPE"},
		{"unset bare variable", panel + "mqtt:\n  password: $NOPE\n", "mqtt.password: environment variable is not set: NOPE"},
		{"unclosed variable", panel + "mqtt:\n  password: ${NOPE\n", "mqtt.password: ${ without }"},
		{"bad variable name", panel + "mqtt:\n  password: ${1X}\n", "mqtt.password: ${1X}: not a variable name"},
		{"lone dollar", panel + "mqtt:\n  password: a$\n", "mqtt.password: $ not followed by a variable name (write $$ for a $)"},
		{"no panels", "web:\n  listen: :8080\n", "g90.yaml: panels: no panel configured"},
		{"guid too long", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    notifications: cloud\n    guid: GA00000A00000000\n", `panels[0].guid: "GA00000A00000000": want 1 to 15 characters`},
		{"guid with a space", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    notifications: cloud\n    guid: GA 0\n", `panels[0].guid: "GA 0": want letters, digits and punctuation only`},
		{"guid of a local panel", "panels:\n  - host: a\n    guid: GA00000A0000000\n", "panels[0].guid: set, but notifications is local"},
		{"duplicate guid", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    notifications: cloud\n    guid: G1\n  - host: b\n    notifications: cloud\n    guid: G1\n", "panels[1].guid: G1 is also panels[0]'s"},
		{"bad cloud.allow", panel + "cloud:\n  allow: [192.168.1.0/33]\n", `cloud.allow: "192.168.1.0/33": want a network`},
		{"cloud.max_per_address 0", panel + "cloud:\n  max_per_address: 0\n", "cloud.max_per_address: 0: want at least 1"},
		{"empty file", "", "panels: no panel configured"},
		{"no host", "panels:\n  - name: x\n", "g90.yaml:2: panels[0]: host is required (unless transport is cloud and guid is set)"},
		{"no host, auto", "cloud:\n  listen: :5678\npanels:\n  - notifications: cloud\n    guid: G1\n    transport: auto\n", "panels[0]: host is required"},
		{"duplicate names", "panels:\n  - host: a\n    name: home\n  - host: b\n    name: home\n", `g90.yaml:5: panels[1].name: "home" is also the name of panels[0]`},
		{"duplicate hosts", "panels:\n  - host: a\n  - host: a\n    name: b\n", "g90.yaml:3: panels[1].host: a:12368 is also panels[0]"},
		{"bad port", "panels:\n  - host: a\n    port: 70000\n", "g90.yaml:3: panels[0].port: 70000 is outside 1..65535"},
		{"name too long", "panels:\n  - host: a\n    name: " + strings.Repeat("x", 2<<20) + "\n", "g90.yaml:3: panels[0].name: 2097152 bytes: want at most 64"},
		{"name with newline", "panels:\n  - host: a\n    name: \"home\\nlevel=ERROR\"\n", `g90.yaml:3: panels[0].name: "home\nlevel=ERROR" has a control character`},
		{"name with NUL", "panels:\n  - host: a\n    name: \"a\\0b\"\n", `panels[0].name: "a\x00b" has a control character`},
		{"shared notify_listen", "panels:\n  - host: a\n  - host: b\n", "g90.yaml:3: panels[1].notify_listen: :12901 is also panels[0]'s: only one panel per network sends local notifications"},
		{"shared notify_listen given", "panels:\n  - host: a\n    notify_listen: 10.0.0.1:12901\n  - host: b\n    notify_listen: 10.0.0.1:12901\n", "g90.yaml:5: panels[1].notify_listen: 10.0.0.1:12901 is also panels[0]'s"},
		{"bad notifications", "panels:\n  - host: a\n    notifications: pigeon\n", `g90.yaml:3: panels[0].notifications: "pigeon": want local, cloud, chained, history, none`},
		{"cloud without listen", "panels:\n  - host: a\n  - host: b\n    notifications: cloud\n", "g90.yaml:4: panels[1].notifications: cloud needs cloud.listen"},
		{"chained without upstream", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    notifications: chained\n", "g90.yaml:5: panels[0].notifications: chained needs cloud.upstream"},
		{"chained without anything", "panels:\n  - host: a\n    notifications: chained\n", "panels[0].notifications: chained needs cloud.listen"},
		{"history too often", "panels:\n  - host: a\n    notifications: history\n    history_interval: 100ms\n", "g90.yaml:4: panels[0].history_interval: 100ms: want at least 1s"},
		{"bad notify_listen", "panels:\n  - host: a\n    notify_listen: 12901\n", `g90.yaml:3: panels[0].notify_listen: "12901": want host:port`},
		{"poll too short", "panels:\n  - host: a\n    poll: 10ms\n", "g90.yaml:3: panels[0].poll: 10ms: want 0 (no polling) or at least 1s"},
		{"negative poll", "panels:\n  - host: a\n    poll: -1s\n", "panels[0].poll: -1s"},
		{"pin not digits", "panels:\n  - host: a\n    pin: 12ab\n", "g90.yaml:3: panels[0].pin: want digits only"},
		{"mqtt scheme", panel + "mqtt:\n  url: http://broker:1883\n", `g90.yaml:4: mqtt.url: scheme "http": want mqtt, mqtts, tcp, ssl, ws, wss`},
		{"mqtt no host", panel + "mqtt:\n  url: mqtt://:1883\n", `mqtt.url: "mqtt://:1883" names no host`},
		{"mqtt not a URL", panel + "mqtt:\n  url: \"mqtt://a b:%zz\"\n", "mqtt.url: not a URL"},
		{"mqtt listen", panel + "mqtt:\n  listen: localhost\n", `g90.yaml:4: mqtt.listen: "localhost": want host:port`},
		{"ca_file without TLS", panel + "mqtt:\n  url: mqtt://broker\n  ca_file: /etc/ssl/ca.pem\n", "g90.yaml:5: mqtt.ca_file: set, but mqtt.url is not a TLS broker"},
		{"cert without key", panel + "mqtt:\n  url: mqtts://broker\n  cert_file: /etc/ssl/me.pem\n", "mqtt.cert_file: cert_file and key_file go together"},
		{"ca_file missing", panel + "mqtt:\n  url: mqtts://broker\n  ca_file: /nonexistent/ca.pem\n", "g90.yaml:5: mqtt.ca_file: open /nonexistent/ca.pem: no such file"},
		{"ca_file not PEM", panel + "mqtt:\n  url: mqtts://broker\n  ca_file: config.go\n", "mqtt.ca_file: config.go: no PEM certificate in it"},
		{"password without user", panel + "mqtt:\n  password: x\n", "g90.yaml:4: mqtt.password: set without mqtt.username"},
		{"topic wildcard", panel + "mqtt:\n  topic_prefix: g90/#\n", `mqtt.topic_prefix: "g90/#": no MQTT wildcards`},
		{"topic slash", panel + "mqtt:\n  discovery_prefix: /ha\n", `mqtt.discovery_prefix: "/ha": no leading or trailing /`},
		{"empty topic", panel + "mqtt:\n  topic_prefix: \"\"\n", "g90.yaml:4: mqtt.topic_prefix: empty"},
		{"cloud listen", panel + "cloud:\n  listen: 5678\n", `g90.yaml:4: cloud.listen: "5678": want host:port`},
		{"cloud upstream port", panel + "cloud:\n  upstream: vendor:http\n", `cloud.upstream: "vendor:http": bad port "http"`},
		{"cloud advertise", panel + "cloud:\n  advertise: \"a:b:c\"\n", `g90.yaml:4: cloud.advertise: "a:b:c": want the IPv4 address`},
		{"cloud advertise name", panel + "cloud:\n  advertise: myhost:5678\n", `cloud.advertise: "myhost:5678": want the IPv4 address`},
		{"cloud advertise port", panel + "cloud:\n  advertise: 10.0.0.1:0\n", `cloud.advertise: "10.0.0.1:0"`},
		{"web host with port", panel + "web:\n  hosts: [\"g90.lan:8080\"]\n", `web.hosts[0]: "g90.lan:8080": want a host name`},
		{"web listen", panel + "web:\n  listen: 8080\n", `g90.yaml:4: web.listen: "8080": want host:port`},
		{"negative max_age", panel + "journal:\n  max_age: -1h\n", "g90.yaml:4: journal.max_age: negative"},
		{"negative max_events", panel + "journal:\n  max_events: -1\n", "g90.yaml:4: journal.max_events: negative"},
		{"negative max_bytes", panel + "journal:\n  max_bytes: -1\n", "g90.yaml:4: journal.max_bytes: negative"},
		{"zero flood_burst", panel + "journal:\n  flood_burst: 0\n", "journal.flood_burst: 0 would store nothing"},
		{"zero replay_buffer", panel + "cloud:\n  replay_buffer: 0\n", "cloud.replay_buffer: 0: want at least 1, or -1"},
		{"zero flood_rate", panel + "journal:\n  flood_rate: 0\n", "journal.flood_rate: 0: want events per second"},
		{"flood_rate text", panel + "journal:\n  flood_rate: fast\n", `journal.flood_rate: "fast": not a number`},
		{"transport unknown", "panels:\n  - host: a\n    transport: pigeon\n", `g90.yaml:3: panels[0].transport: "pigeon": want local, cloud or auto`},
		{"transport cloud, local notifications", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    transport: cloud\n", "panels[0].transport: cloud needs notifications: cloud"},
		{"transport cloud without guid", "cloud:\n  listen: :5678\npanels:\n  - host: a\n    notifications: cloud\n    transport: cloud\n", "panels[0].transport: cloud needs guid"},
		{"homekit listen", panel + "homekit:\n  listen: 51826\n", `g90.yaml:4: homekit.listen: "51826": want host:port`},
		{"homekit pin short", panel + "homekit:\n  pin: 1234\n", "g90.yaml:4: homekit.pin: want 8 digits"},
		{"homekit pin trivial", panel + "homekit:\n  pin: 123-45-678\n", "homekit.pin: too easy to guess"},
		{"homekit name", panel + "homekit:\n  name: \"\"\n", "g90.yaml:4: homekit.name: empty"},
		{"homekit unknown key", panel + "homekit:\n  pincode: 31415926\n", "homekit.pincode: unknown key (known here: allow_disarm, listen, mdns, name, pin)"},
		{"max_events too big", panel + "journal:\n  max_events: 99999999999999999999\n", `journal.max_events: "99999999999999999999": not an integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("g90.yaml", []byte(tc.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

// A homekit section, even empty, turns the bridge on with its defaults;
// without one it is off.
func TestHomeKitSection(t *testing.T) {
	const panel = "panels:\n  - host: 10.0.0.2\n"
	for _, tc := range []struct {
		yaml string
		want HomeKitConfig
	}{
		{panel, HomeKitConfig{Listen: ":51826", Name: "g90", MDNS: true, AllowDisarm: true}},
		{panel + "homekit:\n", HomeKitConfig{Enabled: true, Listen: ":51826", Name: "g90", MDNS: true, AllowDisarm: true}},
		{panel + "homekit: {}\n", HomeKitConfig{Enabled: true, Listen: ":51826", Name: "g90", MDNS: true, AllowDisarm: true}},
		{panel + "homekit:\n  listen: 192.168.1.2:51827\n  pin: 314-15-926\n  name: Alarm\n  mdns: false\n  allow_disarm: false\n",
			HomeKitConfig{Enabled: true, Listen: "192.168.1.2:51827", Pin: "314-15-926", Name: "Alarm"}},
	} {
		cfg, err := ParseConfig("g90.yaml", []byte(tc.yaml), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if diff := cmp.Diff(tc.want, cfg.HomeKit); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.yaml, diff)
		}
	}
}

// All problems are reported at once, each a ConfigError.
func TestConfigErrorsJoined(t *testing.T) {
	_, err := ParseConfig("g90.yaml", []byte("panels:\n  - host: a\n    port: 0\n    pin: x\nweb:\n  listen: nowhere\n"), nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "panels[0].port" || ce.Line != 3 {
		t.Fatalf("%v: first error %+v", err, ce)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Fatalf("%d errors:\n%v", n, err)
	}
	_, err = ParseConfig("g90.yaml", []byte("mqtt:\n  password: ${X}\npanels:\n  - host: a\n"), nil)
	if !errors.Is(err, ErrEnvUnset) {
		t.Fatalf("%v: not ErrEnvUnset", err)
	}
}

func TestLoadConfigMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.yaml")
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("%v", err)
	}
}

func TestOpenJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "g90")
	cfg, err := ParseConfig("g90.yaml", []byte("panels:\n  - host: a\njournal:\n  max_events: 2\nstate_dir: "+dir+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, aside, err := cfg.OpenJournal(nil)
	if err != nil || aside != "" {
		t.Fatal(err, aside)
	}
	defer j.Close()
	if j.Path() != filepath.Join(dir, "journal.db") {
		t.Fatalf("path %s", j.Path())
	}
	for range 3 {
		if _, err := j.Append(&event.Event{Type: event.Tamper}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j, _, err = cfg.OpenJournal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Events != 2 {
		t.Fatalf("max_events 2 not applied: %+v", st)
	}
	j.Close()

	// A damaged journal is moved aside, not fatal, and the numbers go on.
	data, err := os.ReadFile(cfg.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(data, []byte(`"tamper"`))
	if i < 0 {
		t.Fatal("no event in the file")
	}
	data[i+1] = 'T'
	if err := os.WriteFile(cfg.JournalPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	j, aside, err = cfg.OpenJournal(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("a damaged journal: %v", err)
	}
	defer j.Close()
	if !strings.HasPrefix(aside, cfg.JournalPath()+".damaged-") || !strings.Contains(logs.String(), "moved aside") {
		t.Errorf("moved to %q; log:\n%s", aside, logs.String())
	}
	if _, err := os.Stat(aside); err != nil {
		t.Errorf("the damaged file is not kept: %v", err)
	}
	e, err := j.Append(&event.Event{Type: event.Tamper})
	if err != nil || e.Seq != 4 {
		t.Errorf("first event of the new journal: seq %d, %v; want 4, after the old journal's 3", e.Seq, err)
	}
}

// Booleans are YAML's: true and false, in three spellings.
func TestConfigBool(t *testing.T) {
	for text, want := range map[string]bool{"true": true, "True": true, "TRUE": true, "false": false, "FALSE": false} {
		cfg, err := ParseConfig("g90.yaml", []byte("mqtt:\n  publish_secrets: "+text+"\npanels:\n  - host: a\n"), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MQTT.PublishSecrets != want {
			t.Errorf("%s: %v", text, cfg.MQTT.PublishSecrets)
		}
	}
}

// A web UI that more than this machine can reach needs a password hash;
// a hash that does not parse, and a certificate without its key or that
// cannot be read, are errors that name the field (and never quote the
// hash: it may be a pasted password).
func TestConfigWebLogin(t *testing.T) {
	const panel = "panels:\n  - host: 10.0.0.2\n"
	hash, err := web.HashPassword("opensesame")
	if err != nil {
		t.Fatal(err)
	}
	_, certFile, keyFile := testpki.New(t)
	dir := t.TempDir()
	for _, name := range []string{"cert.pem", "key.pem"} {
		src := map[string]string{"cert.pem": certFile, "key.pem": keyFile}[name]
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	parse := func(yaml string) (*Config, error) {
		return ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(panel+yaml), env(map[string]string{"HASH": hash}))
	}
	for _, listen := range []string{":8080", "0.0.0.0:8080", "[::]:8080", "192.168.1.2:8080", "alarm.lan:8080", "[fe80::1%eth0]:8080"} {
		_, err := parse("web:\n  listen: \"" + listen + "\"\n")
		if err == nil || !strings.Contains(err.Error(), "web.password_hash: not set, but web.listen") {
			t.Errorf("listen %s without a hash: %v", listen, err)
		}
		cfg, err := parse("web:\n  listen: \"" + listen + "\"\n  password_hash: ${HASH}\n")
		if err != nil || cfg.Web.PasswordHash != hash || cfg.Web.Loopback() {
			t.Errorf("listen %s with a hash: %v", listen, err)
		}
	}
	// In the file, each $ is written $$, as g90 hash-password prints it.
	if cfg, err := parse("web:\n  listen: \":8080\"\n  password_hash: " + strings.ReplaceAll(hash, "$", "$$") + "\n"); err != nil || cfg.Web.PasswordHash != hash {
		t.Errorf("the hash in the file: %v", err)
	}
	for _, listen := range []string{"127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080", "localhost:8080", "LOCALHOST.:80"} {
		cfg, err := parse("web:\n  listen: \"" + listen + "\"\n")
		if err != nil || !cfg.Web.Loopback() {
			t.Errorf("listen %s without a hash: %v", listen, err)
		}
	}

	low := strings.Replace(hash, "$600000$", "$1000$", 1)
	for _, tc := range []struct{ name, yaml, want string }{
		{"not a hash", "web:\n  password_hash: hunter2\n", "g90.yaml:4: web.password_hash: want pbkdf2-sha256$<iterations>$<salt>$<key> as g90 hash-password prints it"},
		{"too few iterations", "web:\n  password_hash: " + strings.ReplaceAll(low, "$", "$$") + "\n", "g90.yaml:4: web.password_hash: iterations: want 600000"},
		{"$ not doubled", "web:\n  password_hash: " + hash + "\n", "g90.yaml:4: web.password_hash: $ not followed by a variable name (write $$ for a $)"},
		{"cert without key", "web:\n  tls_cert: cert.pem\n", "web.tls_key: not set: web.tls_cert and web.tls_key go together"},
		{"key without cert", "web:\n  tls_key: key.pem\n", "web.tls_cert: not set: web.tls_cert and web.tls_key go together"},
		{"cert missing", "web:\n  tls_cert: nope.pem\n  tls_key: key.pem\n", "g90.yaml:4: web.tls_cert: open " + filepath.Join(dir, "nope.pem")},
		{"key missing", "web:\n  tls_cert: cert.pem\n  tls_key: /nonexistent/key.pem\n", "g90.yaml:5: web.tls_key: open /nonexistent/key.pem"},
		{"key for the cert swapped", "web:\n  tls_cert: key.pem\n  tls_key: cert.pem\n", "web.tls_cert: " + filepath.Join(dir, "key.pem") + " with web.tls_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), strings.Split(hash, "$")[3]) {
				t.Fatalf("the error quotes the hash: %v", err)
			}
		})
	}

	cfg, err := parse("web:\n  listen: \":8443\"\n  password_hash: ${HASH}\n  tls_cert: cert.pem\n  tls_key: " + filepath.Join(dir, "key.pem") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Web.TLSCert != filepath.Join(dir, "cert.pem") {
		t.Errorf("tls_cert %q: want it relative to the config file", cfg.Web.TLSCert)
	}
	tc, err := cfg.Web.TLSConfig()
	if err != nil || tc == nil || len(tc.Certificates) != 1 || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLSConfig: %+v, %v", tc, err)
	}
}
