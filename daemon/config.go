// Package daemon holds the parts of `g90 serve` that know nothing of the
// protocol: its configuration file and its Prometheus metrics.
//
//	cfg, err := daemon.LoadConfig("/etc/g90/g90.yaml") // strict, defaults filled in
//	j, aside, err := cfg.OpenJournal(logger) // aside: where a damaged journal went
//
//	m := daemon.NewMetrics()
//	m.WatchJournal(j, aside)
//	// per panel, before mon.Run:
//	pm, err := m.AddPanel(daemon.PanelSources{Name: pc.Name, Monitor: mon, Client: panel.Client(), Listener: l})
//	go pm.Run(ctx)                  // counts the monitor's events by type and source
//	m.WatchBridge(b)                // the MQTT bridge's state and counters
//	http.Handle("/metrics", m.Handler())
package daemon

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/web"
)

// Config is the configuration of `g90 serve`, as read from its YAML file.
// The YAML keys (in the field tags) are a stable contract.
type Config struct {
	MQTT    MQTTConfig    `yaml:"mqtt"`
	Panels  []PanelConfig `yaml:"panels"`
	Cloud   CloudConfig   `yaml:"cloud"`
	Web     WebConfig     `yaml:"web"`
	Journal JournalConfig `yaml:"journal"`
	HomeKit HomeKitConfig `yaml:"homekit"`
	// StateDir keeps the journal, the MQTT queue and other state. A
	// relative path is relative to the config file's directory; "~/" is
	// the home directory. Default: DefaultStateDir.
	StateDir string `yaml:"state_dir"`

	// Warnings are what ParseConfig found deprecated in the file: keys
	// that no longer do anything. Run logs them.
	Warnings []*ConfigError
}

// MQTTConfig is the broker the daemon publishes to.
type MQTTConfig struct {
	// URL is the broker, scheme mqtt, mqtts, tcp, ssl, ws or wss; empty
	// starts an embedded broker on Listen.
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Protocol is no longer used: the daemon speaks MQTT 3.1.1, which
	// every broker speaks. Left in a file it is a warning (Warnings), not
	// an error, so that an upgrade starts.
	Protocol string `yaml:"protocol"`
	// Listen is the embedded broker's TCP address (only without URL);
	// default DefaultMQTTListen.
	Listen string `yaml:"listen"`
	// DiscoveryPrefix is Home Assistant's discovery prefix; default
	// "homeassistant".
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// TopicPrefix starts every topic of ours; default "g90".
	TopicPrefix string `yaml:"topic_prefix"`
	// PublishSecrets publishes the panel's passwords and SIA key as
	// retained states; by default they are write-only.
	PublishSecrets bool `yaml:"publish_secrets"`
	// AllowConfigChanges lets MQTT change the configuration of a panel
	// that has a PIN (bridge.Config.AllowConfigChanges).
	AllowConfigChanges bool `yaml:"allow_config_changes"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// broker's certificate (mqtts, ssl, wss), for a broker whose
	// certificate the system does not trust; empty trusts the system's.
	// A relative path is relative to the config file's directory.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that authenticate clients by certificate.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// TLSConfig returns the TLS settings for a mqtts, ssl or wss broker: nil
// when none of ca_file, cert_file and key_file is set (Go's defaults).
func (m *MQTTConfig) TLSConfig() (*tls.Config, error) {
	if m.CAFile == "" && m.CertFile == "" && m.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return nil, &ConfigError{Field: "mqtt.ca_file", Err: err}
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Field: "mqtt.ca_file", Err: fmt.Errorf("%s: no PEM certificate in it", m.CAFile)}
		}
	}
	if m.CertFile != "" || m.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			return nil, &ConfigError{Field: "mqtt.cert_file", Err: err}
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Notifications is where a panel's events come from.
type Notifications string

// Notification sources of panels[].notifications.
const (
	NotifyLocal   Notifications = "local"   // UDP notifications on NotifyListen
	NotifyCloud   Notifications = "cloud"   // the cloud server, standing in for the vendor's
	NotifyChained Notifications = "chained" // the cloud server, relaying to the vendor's too
	NotifyHistory Notifications = "history" // polling the panel's history
	NotifyNone    Notifications = "none"    // status polling only
)

var notificationKinds = []Notifications{NotifyLocal, NotifyCloud, NotifyChained, NotifyHistory, NotifyNone}

// PanelConfig is one panel.
type PanelConfig struct {
	// Name identifies the panel in logs, metrics and the web UI; default
	// Host. Names are unique.
	Name string `yaml:"name"`
	// Host is the panel's IP address or host name. Required, but for a
	// panel with transport cloud and a guid, reachable only through its
	// cloud connection.
	Host string `yaml:"host"`
	// Port is its UDP command port; default 12368.
	Port int `yaml:"port"`
	// Notifications is the event source; default local.
	Notifications Notifications `yaml:"notifications"`
	// NotifyListen is the UDP address local notifications arrive on;
	// default ":12901".
	NotifyListen string `yaml:"notify_listen"`
	// Poll is how often the panel's state is read; default 30s, 0 reads
	// it only at start and when an event asks for it.
	Poll time.Duration `yaml:"poll"`
	// HistoryInterval is how often the history is read for events, with
	// notifications: history or while the "simulate alerts from history"
	// switch is on; default 5s.
	HistoryInterval time.Duration `yaml:"history_interval"`
	// PIN, when set, is required by arm and disarm commands from MQTT.
	PIN string `yaml:"pin"`
	// GUID is the panel's GUID, for notifications cloud and chained: the
	// cloud server serves the panel from the start, without reading its
	// GUID over UDP first (which a panel reachable only through its
	// cloud connection never answers). Default: read from the panel.
	GUID string `yaml:"guid"`
	// Transport is how commands reach the panel: local (UDP, the
	// default), cloud (its connection to our cloud server, for a panel
	// UDP cannot reach; needs notifications: cloud and guid) or auto
	// (UDP, and the cloud connection while UDP does not answer).
	Transport Transport `yaml:"transport"`
}

// Transport is how a panel's commands travel (panels[].transport).
type Transport string

// Transports of panels[].transport.
const (
	TransportLocal Transport = "local" // UDP to host:port
	TransportCloud Transport = "cloud" // M12/M6 over the panel's cloud connection
	TransportAuto  Transport = "auto"  // UDP, the cloud connection while UDP does not answer
)

// CloudConfig is the cloud server shared by the cloud and chained panels.
type CloudConfig struct {
	// Listen is the TCP address the panels connect to, e.g. ":5678";
	// empty runs no cloud server.
	Listen string `yaml:"listen"`
	// Advertise is the address the panels are told to connect to, an
	// IPv4 address with an optional :port, when it differs from Listen's.
	Advertise string `yaml:"advertise"`
	// Upstream is the vendor's cloud server chained panels are relayed
	// to, host or host:port (port 5678 by default); the panels' factory
	// setting is 47.88.7.61:5678 (spec: notifications-and-cloud.md).
	Upstream string `yaml:"upstream"`
	// Allow lists the networks (CIDR, or single addresses) panels may
	// connect from; others are closed at once. Default: any address.
	Allow []string `yaml:"allow"`
	// AcceptAnyGUID serves every panel that connects; by default only
	// the configured panels are (by panels[].guid, or the GUID read from
	// the panel), and a connection naming another is closed.
	AcceptAnyGUID bool `yaml:"accept_any_guid"`
	// MaxConnections bounds the open panel connections; default
	// DefaultCloudMaxConns.
	MaxConnections int `yaml:"max_connections"`
	// MaxPerAddress bounds the open connections from one IP address;
	// default DefaultCloudMaxPerAddr. Raise it for many panels behind
	// one NAT.
	MaxPerAddress int `yaml:"max_per_address"`
	// ReplayBuffer bounds, per chained panel, the status changes and
	// notifications kept while the vendor's cloud is unreachable, sent
	// to it in order once it is back; beyond it the oldest go. Default
	// cloud.DefaultReplayBuffer; -1 keeps none.
	ReplayBuffer int `yaml:"replay_buffer"`
}

// AllowNets returns Allow as prefixes; a single address is its own
// network.
func (c *CloudConfig) AllowNets() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.Allow))
	for _, a := range c.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, ierr := netip.ParseAddr(a)
			if ierr != nil {
				return nil, fmt.Errorf("%q: want a network (192.168.1.0/24) or an address", a)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// checkGUID checks a panel GUID as the cloud protocol carries it: up
// to 15 bytes of text (spec: notifications-and-cloud.md D.5.2), here
// printable ASCII without spaces, as every GUID seen.
func checkGUID(g string) error {
	if len(g) == 0 || len(g) > 15 {
		return fmt.Errorf("%q: want 1 to 15 characters (e.g. GA00000A0000000)", g)
	}
	for i := range len(g) {
		if g[i] <= ' ' || g[i] > '~' {
			return fmt.Errorf("%q: want letters, digits and punctuation only", g)
		}
	}
	return nil
}

// AdvertiseAddr returns Advertise as an address and port (port 5678 when
// it names none); the zero AddrPort when Advertise is empty.
func (c *CloudConfig) AdvertiseAddr() (netip.AddrPort, error) {
	a := c.Advertise
	if a == "" {
		return netip.AddrPort{}, nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		host, port = a, strconv.Itoa(DefaultCloudPort)
	}
	// The panel is given an IPv4 address (spec: local-protocol.md 5.3).
	ip, err := netip.ParseAddr(host)
	n, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || !ip.Is4() || perr != nil || n == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q: want the IPv4 address the panels connect to, optionally with :port", a)
	}
	return netip.AddrPortFrom(ip, uint16(n)), nil
}

// WebConfig is the web UI, which also serves /metrics.
type WebConfig struct {
	// Listen is its TCP address; default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// Hosts are the host names the UI may be opened by, besides IP
	// addresses and localhost (a guard against DNS rebinding); "*"
	// accepts any.
	Hosts []string `yaml:"hosts"`
	// PasswordHash, from g90 hash-password, is the login's password:
	// set, the UI and its API require a login. Required when Listen is
	// not a loopback address.
	PasswordHash string `yaml:"password_hash"`
	// TLSCert and TLSKey are PEM files, both or neither: the certificate
	// (with its chain) and its private key. Set, the UI is served over
	// HTTPS only. Relative paths are relative to the config file.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// Loopback reports whether Listen takes connections from this machine
// only: an IP address of loopback, or localhost. An empty host (every
// address) and other names are not.
func (w *WebConfig) Loopback() bool {
	host, _, err := net.SplitHostPort(w.Listen)
	if err != nil {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

// TLSConfig returns the web server's TLS settings: nil without tls_cert
// and tls_key (plain HTTP). TLS 1.2 at least.
func (w *WebConfig) TLSConfig() (*tls.Config, error) {
	if w.TLSCert == "" && w.TLSKey == "" {
		return nil, nil
	}
	if w.TLSCert == "" || w.TLSKey == "" {
		field := "web.tls_cert"
		if w.TLSKey == "" {
			field = "web.tls_key"
		}
		return nil, &ConfigError{Field: field, Err: errors.New("not set: web.tls_cert and web.tls_key go together")}
	}
	certPEM, err := os.ReadFile(w.TLSCert)
	if err != nil {
		return nil, &ConfigError{Field: "web.tls_cert", Err: err}
	}
	keyPEM, err := os.ReadFile(w.TLSKey)
	if err != nil {
		return nil, &ConfigError{Field: "web.tls_key", Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &ConfigError{Field: "web.tls_cert", Err: fmt.Errorf("%s with web.tls_key %s: %w", w.TLSCert, w.TLSKey, err)}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// HomeKitConfig is the HomeKit bridge (package homekit). The section
// being there, even empty, turns the bridge on.
type HomeKitConfig struct {
	// Enabled is set when the file has a homekit section.
	Enabled bool
	// Listen is the HAP server's TCP address; default
	// homekit.DefaultListen (every address: the iPhone must reach it).
	Listen string `yaml:"listen"`
	// Pin is the 8-digit setup code; empty generates one at first start
	// and keeps it in state_dir/homekit.
	Pin string `yaml:"pin"`
	// Name is the bridge's name in the Home app; default "g90".
	Name string `yaml:"name"`
	// MDNS announces the bridge (Bonjour); default true.
	MDNS bool `yaml:"mdns"`
	// AllowDisarm lets paired controllers disarm; default true.
	AllowDisarm bool `yaml:"allow_disarm"`
}

// JournalConfig is the event journal's retention.
type JournalConfig struct {
	// MaxAge drops events older than this; default 30 days (720h), 0
	// keeps them.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxEvents bounds the events kept of each panel, so that one
	// panel's cannot push another's out; default 100000, 0 means no
	// bound.
	MaxEvents int `yaml:"max_events"`
	// MaxBytes bounds the bytes of the events kept; default 0, no
	// bound.
	MaxBytes int64 `yaml:"max_bytes"`
	// FloodBurst and FloodRate limit what the journal stores of one kind
	// of event (panel, type, sensor, source): FloodBurst at once, then
	// FloodRate per second; the rest is counted, not stored, so that a
	// flood cannot push the history out. Default 100 and 1; a negative
	// flood_burst stores everything.
	FloodBurst int     `yaml:"flood_burst"`
	FloodRate  float64 `yaml:"flood_rate"`
}

// Defaults of the config file.
const (
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultTopicPrefix     = "g90"
	DefaultMQTTListen      = "127.0.0.1:1883"
	DefaultPort            = 12368
	DefaultNotifyListen    = ":12901"
	DefaultPoll            = 30 * time.Second
	DefaultHistoryInterval = 5 * time.Second
	DefaultWebListen       = "127.0.0.1:8080"
	DefaultCloudPort       = 5678 // spec: local-protocol.md 1.1
	DefaultCloudMaxConns   = 64   // cloud.DefaultMaxConns
	DefaultCloudMaxPerAddr = 8    // cloud.DefaultMaxPerAddr
	DefaultJournalMaxAge   = 30 * 24 * time.Hour
	DefaultJournalMaxEvent = 100_000
	// DefaultJournalFloodBurst and DefaultJournalFloodRate: a door
	// opened and closed every second for ever is stored whole.
	DefaultJournalFloodBurst = 100
	DefaultJournalFloodRate  = 1.0
	// MinPoll is the shortest polling interval accepted.
	MinPoll = time.Second
	// JournalFile is the journal's name in StateDir.
	JournalFile = "journal.db"
)

// JournalPath is the journal's file.
func (c *Config) JournalPath() string { return filepath.Join(c.StateDir, JournalFile) }

// OpenJournal creates the state directory if need be and opens the
// journal with the configured retention. A damaged journal file is moved
// aside (its new path is returned as aside, and logged) and a new journal
// started, whose numbers continue where the damaged one's did as far as
// it can still be read.
func (c *Config) OpenJournal(log *slog.Logger) (j *journal.Journal, aside string, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("state_dir: %w", err)
	}
	jc := journal.Config{
		Path: c.JournalPath(), MaxAge: c.Journal.MaxAge, MaxPanelEvents: c.Journal.MaxEvents, MaxBytes: c.Journal.MaxBytes,
		FloodBurst: c.Journal.FloodBurst, FloodRate: c.Journal.FloodRate,
		Logger: log,
	}
	j, err = journal.Open(jc)
	if !errors.Is(err, journal.ErrCorrupt) {
		return j, "", err
	}
	// A damaged journal must not keep the daemon from starting (a
	// supervisor would restart it for ever): keep it for whoever wants
	// to look, and start a new one that numbers on from the old.
	var seqs map[string]uint64
	if old, oerr := journal.Open(journal.Config{Path: jc.Path, ReadOnly: true, Salvage: true, LockTimeout: -1}); oerr == nil {
		seqs, _ = old.Panels()
		old.Close()
	}
	aside = fmt.Sprintf("%s.damaged-%s", jc.Path, time.Now().UTC().Format("20060102T150405Z"))
	if rerr := os.Rename(jc.Path, aside); rerr != nil {
		return nil, "", fmt.Errorf("%w; moving it aside failed: %v", err, rerr)
	}
	log.Error("journal: the file is damaged; moved aside, starting a new journal", "err", err, "moved_to", aside, "read_it_with", "g90 events --journal "+aside)
	if j, err = journal.Open(jc); err != nil {
		return nil, aside, err
	}
	if err := j.Continue(seqs); err != nil {
		j.Close()
		return nil, aside, err
	}
	return j, aside, nil
}

// DefaultStateDir is $STATE_DIRECTORY, which systemd sets for a unit
// with StateDirectory= (the first, when it names several), else
// $XDG_STATE_HOME/g90, else ~/.local/state/g90.
func DefaultStateDir() (string, error) {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); filepath.IsAbs(d) {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "g90"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no default state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "g90"), nil
}

func defaultConfig() Config {
	return Config{
		MQTT:    MQTTConfig{DiscoveryPrefix: DefaultDiscoveryPrefix, TopicPrefix: DefaultTopicPrefix, Listen: DefaultMQTTListen},
		Web:     WebConfig{Listen: DefaultWebListen},
		Cloud:   CloudConfig{MaxConnections: DefaultCloudMaxConns, MaxPerAddress: DefaultCloudMaxPerAddr, ReplayBuffer: cloud.DefaultReplayBuffer},
		HomeKit: HomeKitConfig{Listen: homekit.DefaultListen, Name: "g90", MDNS: true, AllowDisarm: true},
		Journal: JournalConfig{MaxAge: DefaultJournalMaxAge, MaxEvents: DefaultJournalMaxEvent, FloodBurst: DefaultJournalFloodBurst, FloodRate: DefaultJournalFloodRate},
	}
}

func defaultPanel() PanelConfig {
	return PanelConfig{Port: DefaultPort, Notifications: NotifyLocal, Transport: TransportLocal, NotifyListen: DefaultNotifyListen, Poll: DefaultPoll, HistoryInterval: DefaultHistoryInterval}
}

// ConfigError is one error in a config file: where, which key, what.
type ConfigError struct {
	File  string
	Line  int    // 0 when the error has no place in the file
	Field string // the key's path, e.g. panels[1].poll; "" for the file
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ErrEnvUnset is wrapped by the error for ${NAME} naming an unset
// environment variable.
var ErrEnvUnset = errors.New("environment variable is not set")

// LoadConfig reads, checks and completes the config file at path;
// environment variables come from the process. The error of a bad file
// joins one ConfigError per problem.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data, os.LookupEnv)
}

// ParseConfig is LoadConfig for data read from file name (used in errors
// and to resolve a relative state_dir); lookupEnv resolves ${NAME} and
// $NAME in values ($$ is a $), nil means no variables are set.
//
// Strict: a key the Config does not have, a value of the wrong type and
// an unset variable are errors naming the key and its line. Defaults fill
// what is left out; an explicit 0 for poll, journal.max_age or
// journal.max_events stands.
func ParseConfig(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	d := &decoder{file: name, env: lookupEnv, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &ConfigError{File: name, Err: err}
	default:
		var more yaml.Node
		if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: name, Line: more.Line, Err: errors.New("more than one YAML document")}
		}
	}
	cfg := defaultConfig()
	if len(doc.Content) > 0 {
		d.decode(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "")
	}
	if _, ok := d.lines["homekit"]; ok {
		cfg.HomeKit.Enabled = true
	}
	if len(d.errs) == 0 {
		d.validate(&cfg)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	cfg.Warnings = d.warnings
	return &cfg, nil
}

// decoder fills a Config from YAML nodes, strictly, and keeps the line
// of every key for the errors of validation.
type decoder struct {
	file     string
	env      func(string) (string, bool)
	lines    map[string]int // key path → line
	errs     []error
	warnings []*ConfigError
}

func (d *decoder) errorf(path string, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: d.line(path), Field: path, Err: fmt.Errorf(format, args...)})
}

// line is where path is in the file, or where the nearest enclosing key
// is when the value is a default (panels[1].notify_listen not given:
// panels[1]'s line); 0 when none is.
func (d *decoder) line(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return 0
		}
		path = path[:i]
	}
}

func (d *decoder) warnf(path string, format string, args ...any) {
	d.warnings = append(d.warnings, &ConfigError{File: d.file, Line: d.lines[path], Field: path, Err: fmt.Errorf(format, args...)})
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	panelType    = reflect.TypeFor[PanelConfig]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a value"
}

// decode stores n in v; path names v in errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	if null && v.Kind() != reflect.String {
		return // "key:" with nothing: the default stays
	}
	switch {
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errorf(path, "want a mapping of keys, not %s", kindName(n))
			return
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			if tag := v.Type().Field(i).Tag.Get("yaml"); tag != "" {
				fields[tag] = i
			}
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := join(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				d.lines[key] = k.Line
				d.errorf(key, "given twice (first on line %d)", line)
				continue
			}
			seen[k.Value] = k.Line
			d.lines[key] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				d.errorf(key, "unknown key (known here: %s)", strings.Join(known, ", "))
				continue
			}
			d.decode(val, v.Field(f), key)
		}
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(path, "want a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if v.Type().Elem() == panelType {
				s.Index(i).Set(reflect.ValueOf(defaultPanel()))
			}
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			d.errorf(path, "want a single value, not %s", kindName(n))
			return
		}
		s := n.Value
		if null {
			s = ""
		}
		s, err := expandEnv(s, d.env)
		if err != nil {
			d.errorf(path, "%w", err)
			return
		}
		d.scalar(s, v, path)
	}
}

// scalar parses s into v.
func (d *decoder) scalar(s string, v reflect.Value, path string) {
	switch {
	case v.Type() == durationType:
		t, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(path, "%q: not a duration (write e.g. 30s, 5m, 720h)", s)
			return
		}
		v.SetInt(int64(t))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.errorf(path, "%q: not an integer", s)
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil || math.IsNaN(f) {
			d.errorf(path, "%q: not a number", s)
			return
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Bool:
		// YAML's core schema: true, True, TRUE and the same of false.
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.errorf(path, "%q: not true or false", s)
		}
	default:
		panic(fmt.Sprintf("daemon: config field %s of type %v", path, v.Type()))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// expandEnv replaces ${NAME} and $NAME with the variable's value and $$
// with $.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", errors.New("${ without }")
			}
			name = rest[1:end]
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s}: not a variable name", name)
			}
			i += end + 1
		default:
			n := 0
			for n < len(rest) && (rest[n] == '_' || isAlnum(rest[n])) {
				n++
			}
			name = rest[:n]
			if !validEnvName(name) {
				return "", errors.New("$ not followed by a variable name (write $$ for a $)")
			}
			i += n
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("%w: %s", ErrEnvUnset, name)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if s[i] != '_' && !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

var mqttSchemes = []string{"mqtt", "mqtts", "tcp", "ssl", "ws", "wss"}

// validate checks the values and fills the defaults that depend on
// others.
// MaxNameLen bounds a panel's name: it goes into logs, metrics labels,
// MQTT topics and Home Assistant's device names.
const MaxNameLen = 64

// checkName refuses names that would break a log line, a label or a
// topic: too long, not UTF-8, or with control characters.
func checkName(name string) error {
	switch {
	case len(name) > MaxNameLen:
		return fmt.Errorf("%d bytes: want at most %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%q has a control character (a newline, a tab, NUL…)", name)
	}
	return nil
}

func (d *decoder) validate(c *Config) {
	m := &c.MQTT
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		switch {
		case err != nil:
			d.errorf("mqtt.url", "not a URL: %v", err)
		case !slices.Contains(mqttSchemes, u.Scheme):
			d.errorf("mqtt.url", "scheme %q: want %s", u.Scheme, strings.Join(mqttSchemes, ", "))
		case u.Hostname() == "":
			d.errorf("mqtt.url", "%q names no host", m.URL)
		}
	} else {
		d.checkAddr("mqtt.listen", m.Listen, false)
	}
	tlsScheme := false
	if u, err := url.Parse(m.URL); err == nil {
		tlsScheme = slices.Contains([]string{"mqtts", "ssl", "wss"}, u.Scheme)
	}
	for _, f := range []struct {
		key  string
		path *string
	}{{"mqtt.ca_file", &m.CAFile}, {"mqtt.cert_file", &m.CertFile}, {"mqtt.key_file", &m.KeyFile}} {
		if *f.path == "" {
			continue
		}
		if !tlsScheme {
			d.errorf(f.key, "set, but mqtt.url is not a TLS broker (mqtts://, ssl:// or wss://)")
		}
		if !filepath.IsAbs(*f.path) {
			*f.path = filepath.Join(filepath.Dir(d.file), *f.path)
		}
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		d.errorf("mqtt.cert_file", "cert_file and key_file go together")
	} else if tlsScheme {
		if _, err := m.TLSConfig(); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				d.errorf(ce.Field, "%v", ce.Err)
			}
		}
	}
	if _, set := d.lines["mqtt.protocol"]; set {
		d.warnf("mqtt.protocol", "no longer used and ignored: g90 speaks MQTT 3.1.1, which every broker speaks; remove the key")
	}
	if m.Password != "" && m.Username == "" {
		d.errorf("mqtt.password", "set without mqtt.username")
	}
	d.checkTopic("mqtt.discovery_prefix", m.DiscoveryPrefix)
	d.checkTopic("mqtt.topic_prefix", m.TopicPrefix)

	if len(c.Panels) == 0 {
		d.errorf("panels", "no panel configured")
	}
	names, hosts, listens, guids := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for i := range c.Panels {
		p := &c.Panels[i]
		at := func(key string) string { return fmt.Sprintf("panels[%d].%s", i, key) }
		switch {
		case p.Host != "":
		case p.Transport == TransportCloud && p.GUID != "":
			// A cloud-only panel: everything goes over its connection.
		default:
			d.errorf(fmt.Sprintf("panels[%d]", i), "host is required (unless transport is cloud and guid is set)")
		}
		if p.Name == "" {
			p.Name = cmp.Or(p.Host, p.GUID)
		}
		if err := checkName(p.Name); err != nil {
			d.errorf(at("name"), "%v", err)
		}
		if j, dup := names[p.Name]; dup {
			d.errorf(at("name"), "%q is also the name of panels[%d]", p.Name, j)
		} else {
			names[p.Name] = i
		}
		if p.Port < 1 || p.Port > 65535 {
			d.errorf(at("port"), "%d is outside 1..65535", p.Port)
		}
		hp := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
		if j, dup := hosts[hp]; dup && p.Host != "" {
			d.errorf(at("host"), "%s is also panels[%d]", hp, j)
		} else {
			hosts[hp] = i
		}
		switch p.Notifications {
		case NotifyCloud, NotifyChained:
			if c.Cloud.Listen == "" {
				d.errorf(at("notifications"), "%s needs cloud.listen", p.Notifications)
			}
			if p.Notifications == NotifyChained && c.Cloud.Upstream == "" {
				d.errorf(at("notifications"), "chained needs cloud.upstream, the vendor's server")
			}
		case NotifyLocal, NotifyHistory, NotifyNone:
		default:
			kinds := make([]string, len(notificationKinds))
			for i, k := range notificationKinds {
				kinds[i] = string(k)
			}
			d.errorf(at("notifications"), "%q: want %s", p.Notifications, strings.Join(kinds, ", "))
		}
		if p.Notifications == NotifyLocal {
			d.checkAddr(at("notify_listen"), p.NotifyListen, false)
			// Only a panel at 10.10.10.250 sends them (spec:
			// notifications-and-cloud.md A.1), so one per network: two
			// on one socket would each get the other's, or neither.
			if j, dup := listens[p.NotifyListen]; dup {
				d.errorf(at("notify_listen"), "%s is also panels[%d]'s: only one panel per network sends local notifications (it must have the address 10.10.10.250); use notifications: cloud (or history) for the other panel", p.NotifyListen, j)
			} else {
				listens[p.NotifyListen] = i
			}
		}
		if p.HistoryInterval < MinPoll {
			d.errorf(at("history_interval"), "%v: want at least %v", p.HistoryInterval, MinPoll)
		}
		if p.Poll < 0 || p.Poll > 0 && p.Poll < MinPoll {
			d.errorf(at("poll"), "%v: want 0 (no polling) or at least %v", p.Poll, MinPoll)
		}
		if p.PIN != "" && strings.Trim(p.PIN, "0123456789") != "" {
			d.errorf(at("pin"), "want digits only")
		}
		switch p.Transport {
		case TransportLocal:
		case TransportCloud, TransportAuto:
			if p.Notifications != NotifyCloud && p.Notifications != NotifyChained {
				d.errorf(at("transport"), "%s needs notifications: cloud or chained (the panel's connection to our cloud server)", p.Transport)
			}
			if p.GUID == "" {
				d.errorf(at("transport"), "%s needs guid: the panel's GUID, which it cannot be asked for over UDP", p.Transport)
			}
		default:
			d.errorf(at("transport"), "%q: want local, cloud or auto", p.Transport)
		}
		if p.GUID != "" {
			if err := checkGUID(p.GUID); err != nil {
				d.errorf(at("guid"), "%v", err)
			} else if j, dup := guids[p.GUID]; dup {
				d.errorf(at("guid"), "%s is also panels[%d]'s", p.GUID, j)
			} else {
				guids[p.GUID] = i
			}
			if p.Notifications != NotifyCloud && p.Notifications != NotifyChained {
				d.errorf(at("guid"), "set, but notifications is %s: the GUID is for the cloud server (cloud or chained)", p.Notifications)
			}
		}
	}
	if c.Cloud.Listen != "" {
		d.checkAddr("cloud.listen", c.Cloud.Listen, false)
	}
	if u := c.Cloud.Upstream; u != "" {
		if _, _, err := net.SplitHostPort(u); err != nil {
			c.Cloud.Upstream = net.JoinHostPort(u, strconv.Itoa(DefaultCloudPort))
		}
		d.checkAddr("cloud.upstream", c.Cloud.Upstream, true)
	}
	if _, err := c.Cloud.AdvertiseAddr(); err != nil {
		d.errorf("cloud.advertise", "%v", err)
	}
	if _, err := c.Cloud.AllowNets(); err != nil {
		d.errorf("cloud.allow", "%v", err)
	}
	if c.Cloud.MaxConnections < 1 {
		d.errorf("cloud.max_connections", "%d: want at least 1", c.Cloud.MaxConnections)
	}
	if c.Cloud.MaxPerAddress < 1 {
		d.errorf("cloud.max_per_address", "%d: want at least 1", c.Cloud.MaxPerAddress)
	}
	if c.Cloud.ReplayBuffer < -1 || c.Cloud.ReplayBuffer == 0 {
		d.errorf("cloud.replay_buffer", "%d: want at least 1, or -1 to keep none", c.Cloud.ReplayBuffer)
	}
	d.checkAddr("web.listen", c.Web.Listen, false)
	if c.HomeKit.Enabled {
		d.checkAddr("homekit.listen", c.HomeKit.Listen, false)
		if c.HomeKit.Pin != "" {
			if _, err := homekit.ParsePin(c.HomeKit.Pin); err != nil {
				d.errorf("homekit.pin", "%v", err)
			}
		}
		if strings.TrimSpace(c.HomeKit.Name) == "" {
			d.errorf("homekit.name", "empty")
		}
	}
	for i, h := range c.Web.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ \t") {
			d.errorf(fmt.Sprintf("web.hosts[%d]", i), "%q: want a host name without port, or *", h)
		}
	}
	d.webLogin(&c.Web)
	if c.Journal.MaxAge < 0 {
		d.errorf("journal.max_age", "negative")
	}
	if c.Journal.MaxEvents < 0 {
		d.errorf("journal.max_events", "negative")
	}
	if c.Journal.MaxBytes < 0 {
		d.errorf("journal.max_bytes", "negative")
	}
	if c.Journal.FloodBurst == 0 {
		d.errorf("journal.flood_burst", "0 would store nothing: want at least 1, or -1 to store everything")
	}
	if !(c.Journal.FloodRate > 0) || math.IsInf(c.Journal.FloodRate, 0) {
		d.errorf("journal.flood_rate", "%v: want events per second, more than 0", c.Journal.FloodRate)
	}
	d.stateDir(c)
}

// webLogin checks the web UI's password and certificate: a UI that
// more than this machine can reach requires a login.
func (d *decoder) webLogin(w *WebConfig) {
	if w.PasswordHash != "" {
		// The error never quotes the value: it may be a password
		// pasted in the wrong place.
		if _, err := web.ParsePasswordHash(w.PasswordHash); err != nil {
			d.errorf("web.password_hash", "%v", strings.TrimPrefix(err.Error(), "web: password hash: "))
		}
	} else if _, _, err := net.SplitHostPort(w.Listen); err == nil && !w.Loopback() {
		d.errorf("web.password_hash", "not set, but web.listen %q is not a loopback address: anyone on the network could disarm; set a password (g90 hash-password prints its hash), or listen on 127.0.0.1", w.Listen)
	}
	for _, p := range []*string{&w.TLSCert, &w.TLSKey} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(d.file), *p)
		}
	}
	if _, err := w.TLSConfig(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			d.errorf(ce.Field, "%v", ce.Err)
		}
	}
}

// checkAddr checks a host:port; needHost requires the host.
func (d *decoder) checkAddr(key, addr string, needHost bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		d.errorf(key, "%q: want host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || needHost && n == 0 {
		d.errorf(key, "%q: bad port %q", addr, port)
	}
	if needHost && host == "" {
		d.errorf(key, "%q names no host", addr)
	}
}

// checkTopic checks an MQTT topic prefix.
func (d *decoder) checkTopic(key, t string) {
	switch {
	case t == "":
		d.errorf(key, "empty")
	case strings.ContainsAny(t, "+#\x00"):
		d.errorf(key, "%q: no MQTT wildcards (+ #) in a topic", t)
	case strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/"):
		d.errorf(key, "%q: no leading or trailing /", t)
	}
}

// stateDir resolves state_dir: the default, "~/", or relative to the
// config file.
func (d *decoder) stateDir(c *Config) {
	dir := c.StateDir
	switch {
	case dir == "":
		def, err := DefaultStateDir()
		if err != nil {
			d.errorf("state_dir", "not set, and %v", err)
			return
		}
		dir = def
	case dir == "~" || strings.HasPrefix(dir, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			d.errorf("state_dir", "%q: %v", dir, err)
			return
		}
		dir = filepath.Join(home, dir[1:])
	case !filepath.IsAbs(dir):
		dir = filepath.Join(filepath.Dir(d.file), dir)
	}
	c.StateDir = filepath.Clean(dir)
}
