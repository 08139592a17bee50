package daemon

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/buildinfo"
	"github.com/g90alarm/g90/journal"
	"github.com/g90alarm/g90/notify"
)

// Metrics is the daemon's Prometheus registry: one collector per panel
// that reads the counters of its client, monitor and listener when
// scraped (they count; Metrics only reports, so nothing is counted
// twice), the events by type and source, the journal, the Go runtime and
// the process, and the MQTT bridge's state, which the bridge sets. It is
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	// journalCommit times the journal writer's commits; nil until
	// WatchJournal.
	journalCommit prometheus.Histogram

	mu     sync.Mutex
	panels map[string]*PanelMetrics
}

// NewMetrics returns a registry with the process, Go and MQTT metrics and
// no panel.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		now:    time.Now,
		panels: map[string]*PanelMetrics{},
	}
	info := buildinfo.Read()
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "g90_build_info",
			Help: "Always 1; the labels say which g90 is running (g90 version).",
			ConstLabels: prometheus.Labels{
				"version": info.Version, "revision": info.ShortRevision(),
				"goversion": info.GoVersion, "goos": info.OS, "goarch": info.Arch,
			},
		}, func() float64 { return 1 }),
	)
	return m
}

// Handler serves the metrics in Prometheus's formats, for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry, for metrics of parts added later.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// BridgeSource is what the metrics read of the MQTT bridge
// (*bridge.Bridge).
type BridgeSource interface {
	Connected() bool
	QueueDepth() int
	Stats() bridge.Stats
}

// WatchBridge reports the MQTT bridge's state and counters at every
// scrape. Call it once.
func (m *Metrics) WatchBridge(b BridgeSource) error {
	return m.reg.Register(bridgeCollector{b})
}

// bridgeCollector reports the bridge's state and counters.
type bridgeCollector struct{ b BridgeSource }

var (
	mqttConnected   = prometheus.NewDesc("g90_mqtt_connected", "1 while the MQTT bridge is connected to the broker, else 0.", nil, nil)
	mqttConnections = prometheus.NewDesc("g90_mqtt_connections_total", "Connections of the MQTT bridge to the broker (the first and every reconnection).", nil, nil)
	mqttQueue       = prometheus.NewDesc("g90_mqtt_queue_depth", "Messages in the MQTT bridge's outbound queue, waiting for the broker.", nil, nil)
	mqttPublished   = prometheus.NewDesc("g90_mqtt_published_total", "Messages the MQTT bridge queued for the broker.", nil, nil)
	mqttQueueErrors = prometheus.NewDesc("g90_mqtt_queue_write_errors_total", "MQTT messages the outbound queue could not store (a full disk): lost, each also logged.", nil, nil)
	mqttQueueDamage = prometheus.NewDesc("g90_mqtt_queue_damaged_bytes", "Bytes of the MQTT disk queue that were damaged when the daemon opened it, set aside in damaged-*.mqtt (the messages after them were kept).", nil, nil)
	mqttCommands    = prometheus.NewDesc("g90_mqtt_commands_total", "Commands from MQTT: done, rejected (bad payload, wrong PIN, unknown entity), failed (the panel did not carry it out) or retained (sent with the retain flag: ignored and cleared).", []string{"result"}, nil)
)

func (c bridgeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mqttConnected, mqttConnections, mqttQueue, mqttPublished, mqttCommands, mqttQueueErrors, mqttQueueDamage} {
		ch <- d
	}
}

func (c bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	up := 0.0
	if c.b.Connected() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(mqttConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(mqttConnections, prometheus.CounterValue, float64(s.Connects))
	ch <- prometheus.MustNewConstMetric(mqttQueue, prometheus.GaugeValue, float64(c.b.QueueDepth()))
	ch <- prometheus.MustNewConstMetric(mqttPublished, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(mqttQueueErrors, prometheus.CounterValue, float64(s.QueueErrors))
	ch <- prometheus.MustNewConstMetric(mqttQueueDamage, prometheus.GaugeValue, float64(s.QueueDamagedBytes))
	// Stats.Commands counts the commands carried out or tried on the
	// panel, the failed ones included.
	ch <- prometheus.MustNewConstMetric(mqttCommands, prometheus.CounterValue, float64(s.Commands-s.CommandErrors), "done")
	ch <- prometheus.MustNewConstMetric(mqttCommands, prometheus.CounterValue, float64(s.RejectedCommand), "rejected")
	ch <- prometheus.MustNewConstMetric(mqttCommands, prometheus.CounterValue, float64(s.CommandErrors), "failed")
	ch <- prometheus.MustNewConstMetric(mqttCommands, prometheus.CounterValue, float64(s.RetainedCommand), "retained")
}

// WatchJournal reports j's counts at every scrape, and the commits
// ObserveJournalCommit times. Call it once.
func (m *Metrics) WatchJournal(j *journal.Journal, aside string) error {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "g90_journal_commit_seconds",
		Help: "Time of one journal commit (one transaction and one fsync for every event the panels queued meanwhile), from the call to the event being on disk; _count is the commits, so g90_journal_appends_total / _count is the events per commit.",
		// 100 µs (a commit of a few events on an SSD) to 1 s (a
		// slow disk).
		Buckets: prometheus.ExponentialBucketsRange(0.0001, 1, 15),
	})
	if err := m.reg.Register(h); err != nil {
		return err
	}
	m.journalCommit = h
	return m.reg.Register(journalCollector{j, aside})
}

// ObserveJournalCommit records one journal commit that took d.
func (m *Metrics) ObserveJournalCommit(d time.Duration) {
	if m.journalCommit != nil {
		m.journalCommit.Observe(d.Seconds())
	}
}

// PanelSources are the parts of one panel whose counters are reported.
// Only Name and Monitor are required.
type PanelSources struct {
	// Name is the panel's label value, the config's panels[].name.
	Name     string
	Monitor  *g90.Monitor
	Client   *client.Client   // usually Panel.Client()
	Listener *notify.Listener // local notifications, or nil
	// QueueSize is the size of the subscription that counts events; 0
	// means 1024.
	QueueSize int
}

// PanelMetrics is one panel's collector. Its Run counts the monitor's
// events.
type PanelMetrics struct {
	src  PanelSources
	now  func() time.Time
	sub  *g90.Subscription
	desc map[string]*prometheus.Desc

	mu     sync.Mutex
	events map[eventKey]uint64
}

type eventKey struct {
	typ event.Type
	src event.Source
}

// AddPanel registers a collector for a panel and subscribes to its
// monitor, so call it before Monitor.Run to count every event; PanelMetrics.Run
// does the counting. A name already added is an error.
func (m *Metrics) AddPanel(src PanelSources) (*PanelMetrics, error) {
	if src.Name == "" || src.Monitor == nil {
		return nil, fmt.Errorf("daemon: AddPanel needs a Name and a Monitor")
	}
	if src.QueueSize <= 0 {
		src.QueueSize = 1024
	}
	p := &PanelMetrics{src: src, now: m.now, events: map[eventKey]uint64{}, desc: map[string]*prometheus.Desc{}}
	labels := prometheus.Labels{"panel": src.Name}
	for _, d := range panelDescs {
		p.desc[d.name] = prometheus.NewDesc(d.name, d.help, d.labels, labels)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.panels[src.Name]; dup {
		return nil, fmt.Errorf("daemon: metrics of panel %q added twice", src.Name)
	}
	if err := m.reg.Register(p); err != nil {
		return nil, fmt.Errorf("daemon: metrics of panel %q: %w", src.Name, err)
	}
	p.sub = src.Monitor.Subscribe("metrics", src.QueueSize)
	m.panels[src.Name] = p
	return p, nil
}

// RemovePanel drops a panel's metrics, e.g. when a reloaded config no
// longer has it, and ends its subscription.
func (m *Metrics) RemovePanel(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.panels[name]
	if !ok {
		return
	}
	delete(m.panels, name)
	m.reg.Unregister(p)
	p.sub.Close()
}

// Run counts the monitor's events by type and source until ctx ends, the
// monitor stops or the panel is removed.
func (p *PanelMetrics) Run(ctx context.Context) error {
	defer p.sub.Close()
	var batch []g90.Delivery
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.sub.Ready():
		}
		var ok bool
		batch, ok = p.sub.Take(batch)
		p.mu.Lock()
		for i := range batch {
			p.events[eventKey{batch[i].Event.Type, batch[i].Event.Source}]++
		}
		p.mu.Unlock()
		if !ok {
			return nil
		}
	}
}

// desc is one metric family of a panel.
type desc struct {
	name, help string
	labels     []string
}

// panelDescs are the per-panel families; every one also has the label
// panel.
var panelDescs = []desc{
	{"g90_panel_info", "1 for each panel; guid is its GUID once read, host its address.", []string{"guid", "host"}},
	{"g90_panel_transport", "1 for each panel, with how its commands travel: local (UDP) or cloud (its cloud connection).", []string{"transport"}},
	{"g90_commands_total", "Commands sent to the panel (exchanges started).", nil},
	{"g90_command_attempts_total", "Command datagrams sent, first attempts and retries.", nil},
	{"g90_command_retries_total", "Command attempts after the first.", nil},
	{"g90_command_timeouts_total", "Commands that got no reply after every attempt.", nil},
	{"g90_stray_datagrams_total", "Datagrams from another address or port, discarded while waiting for a reply.", nil},
	{"g90_decode_errors_total", "Datagrams from the panel that failed to decode: source local for notifications, command for replies.", []string{"source"}},
	{"g90_notify_datagrams_total", "Notification datagrams received.", nil},
	{"g90_notify_wrong_host_total", "Notification datagrams from another host, rejected.", nil},
	{"g90_notify_wrong_interface_total", "Notification datagrams from the panel's address on an interface that does not lead to the panel (forged), rejected.", nil},
	{"g90_monitor_messages_total", "Messages taken from the event sources.", nil},
	{"g90_monitor_dropped_total", "Messages lost because the monitor's queue was full.", nil},
	{"g90_monitor_wrong_device_total", "Alerts carrying another panel's GUID, dropped.", nil},
	{"g90_monitor_unknown_total", "Messages decoded but not mapped to an event (unknown codes).", nil},
	{"g90_monitor_queue_depth", "Messages waiting for the monitor's state tracker.", nil},
	{"g90_monitor_queue_capacity", "Capacity of the monitor's queue.", nil},
	{"g90_panel_reads_total", "Reads of the panel's state and lists (start, polls, refreshes).", nil},
	{"g90_panel_read_errors_total", "Reads of the panel's state and lists that failed.", nil},
	{"g90_events_total", "Events delivered, by type and source.", []string{"type", "source"}},
	{"g90_events_merged_total", "Reports of a happening merged into the event an earlier report gave (a notification and its alert, the cloud beside the local link, history of an alert seen live), by the source of the merged report.", []string{"source"}},
	{"g90_subscriber_queue_depth", "Events waiting in a consumer's queue.", []string{"consumer"}},
	{"g90_subscriber_queue_capacity", "Capacity of a consumer's queue.", []string{"consumer"}},
	{"g90_subscriber_dropped_total", "Events a consumer lost while it was stalled (took nothing from its full queue for the stall timeout).", []string{"consumer"}},
	{"g90_subscriber_stalled", "1 while a consumer is stalled and its events are dropped, else 0.", []string{"consumer"}},
	{"g90_last_packet_age_seconds", "Seconds since the last packet from the panel, by source; absent before the first.", []string{"source"}},
	{"g90_cloud_panel_conflicts_total", "Hellos naming this panel from a second address while it was connected (cloud panels only).", nil},
	{"g90_cloud_panel_conflict", "1 for an hour after a second address claimed this panel, else 0 (cloud panels only).", nil},
}

// Describe implements prometheus.Collector.
func (p *PanelMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range p.desc {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters now.
func (p *PanelMetrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(name string, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(p.desc[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(p.desc[name], prometheus.GaugeValue, v, labels...)
	}
	mon := p.src.Monitor
	st := mon.State()
	host := ""
	if c := p.src.Client; c != nil {
		host = c.Panel()
		cs := c.Stats()
		counter("g90_commands_total", cs.Commands)
		counter("g90_command_attempts_total", cs.Attempts)
		counter("g90_command_retries_total", cs.Retries)
		counter("g90_command_timeouts_total", cs.Timeouts)
		counter("g90_stray_datagrams_total", cs.Strays)
		counter("g90_decode_errors_total", cs.Malformed, "command")
	}
	gauge("g90_panel_info", 1, st.GUID, host)
	gauge("g90_panel_transport", 1, st.Transport)
	if l := p.src.Listener; l != nil {
		ls := l.Stats()
		counter("g90_notify_datagrams_total", ls.Datagrams)
		counter("g90_notify_wrong_host_total", ls.WrongHost)
		counter("g90_notify_wrong_interface_total", ls.WrongInterface)
		counter("g90_decode_errors_total", ls.Malformed, string(event.SourceLocal))
	}
	ms := mon.Stats()
	counter("g90_monitor_messages_total", ms.Messages)
	counter("g90_monitor_dropped_total", ms.Dropped)
	counter("g90_monitor_wrong_device_total", ms.WrongDevice)
	counter("g90_monitor_unknown_total", ms.Unknown)
	for _, src := range []event.Source{event.SourceLocal, event.SourceCloud, event.SourceHistory} {
		counter("g90_events_merged_total", ms.Merged[src], string(src))
	}
	counter("g90_panel_reads_total", ms.Refreshes)
	counter("g90_panel_read_errors_total", ms.RefreshErrors)
	n, capacity := mon.QueueDepth()
	gauge("g90_monitor_queue_depth", float64(n))
	gauge("g90_monitor_queue_capacity", float64(capacity))

	if cs := st.Cloud; cs != nil {
		counter("g90_cloud_panel_conflicts_total", cs.Conflicts)
		gauge("g90_cloud_panel_conflict", map[bool]float64{true: 1}[cs.Conflict])
	}

	now := p.now()
	for src, at := range st.LastPacket {
		gauge("g90_last_packet_age_seconds", max(now.Sub(at).Seconds(), 0), string(src))
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]eventKey, 0, len(p.events))
	for k := range p.events {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b eventKey) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.src, b.src))
	})
	for _, k := range keys {
		counter("g90_events_total", p.events[k], string(k.typ), string(k.src))
	}
	for _, c := range mon.Consumers() {
		gauge("g90_subscriber_queue_depth", float64(c.Queued), c.Consumer)
		gauge("g90_subscriber_queue_capacity", float64(c.Capacity), c.Consumer)
		counter("g90_subscriber_dropped_total", c.Dropped, c.Consumer)
		gauge("g90_subscriber_stalled", map[bool]float64{true: 1}[c.Stalled], c.Consumer)
	}
}

// journalCollector reports a journal's Stats.
type journalCollector struct {
	j     *journal.Journal
	aside string // where a damaged journal was moved at start, or ""
}

var (
	journalEvents  = prometheus.NewDesc("g90_journal_events", "Events stored in the journal.", nil, nil)
	journalBytes   = prometheus.NewDesc("g90_journal_bytes", "Bytes of the events stored in the journal (keys and values).", nil, nil)
	journalAppends = prometheus.NewDesc("g90_journal_appends_total", "Events appended to the journal since the daemon started.", nil, nil)
	journalRemoved = prometheus.NewDesc("g90_journal_removed_total", "Events the journal's retention removed since the daemon started.", nil, nil)
	journalFailed  = prometheus.NewDesc("g90_journal_write_errors_total", "Events the journal could not store (a full disk, a damaged file) since the daemon started.", nil, nil)
	journalFlood   = prometheus.NewDesc("g90_journal_suppressed_total", "Events not stored because their kind (panel, type, sensor, source) flooded past the journal's flood limit, since the daemon started.", nil, nil)
	journalDamaged = prometheus.NewDesc("g90_journal_damaged", "1 when the journal file was damaged at start and moved aside (label moved_to), else 0.", []string{"moved_to"}, nil)
)

func (c journalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- journalEvents
	ch <- journalBytes
	ch <- journalAppends
	ch <- journalRemoved
	ch <- journalFailed
	ch <- journalFlood
	ch <- journalDamaged
}

func (c journalCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.j.Stats()
	ch <- prometheus.MustNewConstMetric(journalEvents, prometheus.GaugeValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(journalBytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(journalAppends, prometheus.CounterValue, float64(s.Appends))
	ch <- prometheus.MustNewConstMetric(journalRemoved, prometheus.CounterValue, float64(s.Removed))
	ch <- prometheus.MustNewConstMetric(journalFailed, prometheus.CounterValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(journalFlood, prometheus.CounterValue, float64(s.Suppressed))
	damaged := 0.0
	if c.aside != "" {
		damaged = 1
	}
	ch <- prometheus.MustNewConstMetric(journalDamaged, prometheus.GaugeValue, damaged, c.aside)
}

// WatchCloud reports the cloud server's counters at every scrape. Call it
// once.
func (m *Metrics) WatchCloud(h *cloud.Hub) error {
	return m.reg.Register(cloudCollector{h})
}

// cloudCollector reports a cloud hub's and its server's counters.
type cloudCollector struct{ h *cloud.Hub }

// cloudMetric is one cloud server counter or gauge.
type cloudMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(cloud.Stats) int64
}

func cloudDesc(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }

var (
	cloudMetrics = []cloudMetric{
		{cloudDesc("g90_cloud_connections_open", "Panel connections open to the cloud server."), prometheus.GaugeValue, func(s cloud.Stats) int64 { return s.Open }},
		{cloudDesc("g90_cloud_connections_total", "Panel connections accepted by the cloud server."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.Accepted }},
		{cloudDesc("g90_cloud_connections_rejected_total", "Connections closed by an allow-list, a connection limit, the hello or idle timeout, a reconnect of the same panel or a GUID conflict."), prometheus.CounterValue, func(s cloud.Stats) int64 {
			return s.Rejected + s.OverLimit + s.IdleClosed + s.HelloTimeouts + s.Replaced + s.Conflicts - s.Takeovers
		}},
		{cloudDesc("g90_cloud_over_limit_total", "Connections closed at accept by cloud.max_connections or cloud.max_per_address."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.OverLimit }},
		{cloudDesc("g90_cloud_hello_timeouts_total", "Connections closed for not naming a served panel within the hello timeout."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.HelloTimeouts }},
		{cloudDesc("g90_cloud_guid_conflicts_total", "Hellos naming a panel already connected from another address (refused, or taking over a silent connection)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.Conflicts }},
		{cloudDesc("g90_cloud_messages_total", "Messages framed and decoded by the cloud server."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.Messages }},
		{cloudDesc("g90_cloud_dropped_total", "Panel reads not relayed to the vendor's cloud because the server stopped while they waited (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.UpstreamDropped }},
		{cloudDesc("g90_cloud_decode_errors_total", "Cloud framing errors, undecodable and invalid messages."), prometheus.CounterValue, func(s cloud.Stats) int64 {
			return s.FramingErrors + s.DecodeErrors + s.Invalid
		}},
		{cloudDesc("g90_cloud_upstream_connects_total", "Connections made to the vendor's cloud (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.UpstreamConnects }},
		{cloudDesc("g90_cloud_upstream_failures_total", "Connects to the vendor's cloud that failed, and connections dropped for leaving a request unanswered (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.UpstreamFailures + s.UpstreamStalls }},
		{cloudDesc("g90_cloud_local_replies_total", "Panel messages answered by us while the vendor's cloud was down (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.LocalReplies }},
		{cloudDesc("g90_cloud_framing_bytes_total", "Bytes the framer skipped to find the next valid message header."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.FramingBytes }},
		{cloudDesc("g90_cloud_upstream_reconnects_total", "Connects to the vendor's cloud after a failure or a reset, each after its backoff (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.UpstreamReconnects }},
		{cloudDesc("g90_cloud_replay_buffered_total", "Status changes and notifications kept to be sent to the vendor's cloud once it is back (chained mode)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.ReplayBuffered }},
		{cloudDesc("g90_cloud_replayed_total", "Of those, sent to the vendor's cloud once it was back."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.Replayed }},
		{cloudDesc("g90_cloud_replay_dropped_total", "Of those, dropped, oldest first, because a panel's replay buffer was full (cloud.replay_buffer)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.ReplayDropped }},
		{cloudDesc("g90_cloud_replay_lost_total", "Of those, discarded because the server stopped or the panel left before naming itself."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.ReplayLost }},
		{cloudDesc("g90_cloud_replay_pending", "Status changes and notifications waiting for the vendor's cloud now."), prometheus.GaugeValue, func(s cloud.Stats) int64 { return s.ReplayPending }},
		{cloudDesc("g90_cloud_commands_total", "Commands sent to panels over their cloud connection (M12)."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.Commands }},
		{cloudDesc("g90_cloud_command_answers_total", "Panel answers (M6) to those commands."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.CommandAnswers }},
		{cloudDesc("g90_cloud_command_timeouts_total", "Commands over the cloud connection whose caller gave up waiting for the answer."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.CommandTimeouts }},
		{cloudDesc("g90_cloud_command_unmatched_total", "Panel answers (M6) that no command waited for: late, or not ours."), prometheus.CounterValue, func(s cloud.Stats) int64 { return s.CommandUnmatched }},
	}
	cloudUnrouted = cloudDesc("g90_cloud_unrouted_total", "Cloud messages from a panel no configured panel's GUID matches, dropped.")
)

func (c cloudCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range cloudMetrics {
		ch <- m.desc
	}
	ch <- cloudUnrouted
}

func (c cloudCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Server().Stats()
	for _, m := range cloudMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(s)))
	}
	ch <- prometheus.MustNewConstMetric(cloudUnrouted, prometheus.CounterValue, float64(c.h.Unrouted()))
}
