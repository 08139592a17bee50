// Package bridge is the Home Assistant model of the panels: discovery,
// entity states, commands, availability, and the stream of every event on
// <topic prefix>/<panel GUID>/event. It publishes through an MQTT link
// (package mqttlink, the transport), whose durable queue delivers what
// happens while the broker is away, in order, when it returns. The Home
// Assistant entities, for the panel, each sensor and each relay, are those of the table Entities returns (spec:
// home-assistant.md §2); CheckDiscovery checks a discovery payload against
// it.
//
//	b, err := bridge.New(bridge.Config{
//		MQTT:   mqttlink.Config{URL: "mqtt://127.0.0.1:1883", QueueDir: "/var/lib/g90/mqtt-queue"},
//		Panels: []*g90.Monitor{p.NewMonitor(g90.MonitorConfig{Name: "Home", Config: true})},
//	})
//	err = b.Run(ctx) // until ctx ends
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/mqttlink"
)

// Config configures a Bridge. The zero value of every field but
// MQTT.URL and Panels means its default.
type Config struct {
	// MQTT is the connection to the broker. The bridge sets its Will and
	// Birth (the bridge's status, offline and online), Subscribe and
	// OnMessage (Home Assistant's status and the command topics), and
	// its Logger when nil (Logger below); "" for ClientID means
	// "g90-bridge".
	MQTT mqttlink.Config
	// DiscoveryPrefix is Home Assistant's discovery prefix; "" means
	// "homeassistant".
	DiscoveryPrefix string
	// TopicPrefix starts every other topic; "" means "g90".
	TopicPrefix string
	// Panels are the Monitors of the panels to bridge. Each Monitor
	// knows its Panel (for commands), its name in Home Assistant, its PIN
	// guard and its history source (the "simulate alerts from history"
	// switch pauses and resumes it); it must read the configuration
	// (g90.MonitorConfig.Config), which the configuration entities show.
	Panels []*g90.Monitor
	// AvailabilityCheck is how often a panel's reachability is looked
	// at; 0 means 1 s.
	AvailabilityCheck time.Duration
	// StateFile keeps the bridge's own switches (SMS alert when armed,
	// simulate alerts from history) across restarts; "" keeps them in
	// memory.
	StateFile string
	// PublishSecrets publishes the panel's secrets (the panel, access
	// point and APN passwords, the SIA key) as retained states on the
	// broker. Without it their text entities still set them, but no
	// value leaves the bridge, and a retained one is removed.
	PublishSecrets bool
	// AllowConfigChanges lets MQTT change a panel that has a PIN: its
	// configuration entities (alert flags, sensors' switches, deleting,
	// registering, passwords, SIA and CID…) and Reboot. Home Assistant
	// sends no code with those, so without it they are refused on such a
	// panel, and only arming, disarming (with the PIN), relays and
	// Refresh work. A panel without a PIN takes them all.
	AllowConfigChanges bool
	// ConfigurationURL is where Home Assistant's device page of each
	// panel links to, the web UI; "" is no link.
	ConfigurationURL string
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
}

// Stats counts what a Bridge has done.
type Stats struct {
	Published       uint64 // messages handed to the outbound queue
	Events          uint64 // events published on the event topics
	Commands        uint64 // commands sent on to the panel, the failed ones too
	RejectedCommand uint64 // commands ignored: bad payload, wrong PIN, unknown panel
	CommandErrors   uint64 // commands the panel did not carry out
	RetainedCommand uint64 // retained commands ignored (and cleared)
	QueueErrors     uint64 // messages the outbound queue could not store (lost)
	// QueueDamagedBytes were no valid record of the disk queue when it
	// was opened, and were set aside (the messages after them kept).
	QueueDamagedBytes int
	Connects          uint64 // connections made to the broker
}

// Bridge is the MQTT side of the daemon.
type Bridge struct {
	cfg    Config
	log    *slog.Logger
	link   *mqttlink.Link
	panels []*panel
	byGUID sync.Map // GUID → *panel
	saved  *savedSwitches

	// counters of Stats
	published, events, commands, rejected, commandErrors, retained, queueErrors atomic.Uint64
	// retainedSeen are the command topics whose retained message was
	// logged: once each, however often the broker sends it again.
	retainedSeen sync.Map
	// echoes are the bridge's clearings of command topics that the
	// broker has not sent back yet; only received uses it.
	echoes echoes
}

// echoWait is how long a clearing is expected back from the broker. One
// that does not come (lost with a connection) is forgotten after it, so
// that an empty command, the clearing of a text, is not taken for it.
const echoWait = 30 * time.Second

// echoes counts, per topic, the clearings expected back, until when.
type echoes map[string]echo

type echo struct {
	n     int
	until time.Time
}

// expect notes one more clearing sent on topic at now.
func (e *echoes) expect(topic string, now time.Time) {
	if *e == nil {
		*e = echoes{}
	}
	c := (*e)[topic]
	if now.After(c.until) {
		c.n = 0
	}
	(*e)[topic] = echo{c.n + 1, now.Add(echoWait)}
	if len(*e) > 256 {
		for t, c := range *e {
			if now.After(c.until) {
				delete(*e, t)
			}
		}
	}
}

// take reports whether an empty message on topic at now is a clearing
// coming back, and counts it.
func (e echoes) take(topic string, now time.Time) bool {
	c, ok := e[topic]
	if !ok || now.After(c.until) {
		delete(e, topic)
		return false
	}
	if c.n--; c.n == 0 {
		delete(e, topic)
	} else {
		e[topic] = c
	}
	return true
}

// panel is the bridge of one panel. Its run goroutine publishes events
// and states; its worker goroutine does the panel I/O the bridge starts:
// commands, and the reads behind the config and diagnostic entities.
type panel struct {
	b        *Bridge
	mon      *g90.Monitor
	sub      *g90.Subscription
	cmds     chan command
	republic chan struct{} // republish everything (Home Assistant restarted)
	smsSync  chan struct{} // make the SMS push flag follow the arm state
	// life is the worker's context, for what outlives a command (a
	// registration); bg holds those goroutines, which the worker waits
	// for.
	life context.Context
	bg   sync.WaitGroup

	mu   sync.Mutex // guards everything below
	t    topics     // set once, before the worker starts
	st   g90.State  // the monitor's state as last looked at
	pub  map[string]string
	vals values
	// published discovery: payload, component platforms and target per
	// discovery topic
	disc       map[string]string
	comps      map[string]map[string]string
	discTarget map[string]target
}

type command struct {
	topic   string
	payload []byte
}

// New checks cfg and subscribes to the panels' events, so that none is
// missed before Run.
func New(cfg Config) (*Bridge, error) {
	if len(cfg.Panels) == 0 {
		return nil, errors.New("bridge: no panels")
	}
	if cfg.MQTT.ClientID == "" {
		cfg.MQTT.ClientID = "g90-bridge"
	}
	if cfg.DiscoveryPrefix == "" {
		cfg.DiscoveryPrefix = "homeassistant"
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = "g90"
	}
	if cfg.AvailabilityCheck <= 0 {
		cfg.AvailabilityCheck = time.Second
	}
	b := &Bridge{cfg: cfg, log: cfg.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	lc := cfg.MQTT
	lc.Will = &mqttlink.Message{Topic: b.bridgeStatus(), Payload: []byte("offline"), QoS: 1, Retain: true}
	lc.Birth = &mqttlink.Message{Topic: b.bridgeStatus(), Payload: []byte("online"), QoS: 1, Retain: true}
	lc.Subscribe = b.subscriptions()
	lc.OnMessage = b.received
	if lc.Logger == nil {
		lc.Logger = b.log
	}
	var err error
	if b.saved, err = loadSwitches(cfg.StateFile); err != nil {
		// Two switches are not worth refusing to start for; the next
		// change writes the file anew.
		b.log.Error("the bridge's switches start from their defaults", "err", err)
		b.saved, _ = loadSwitches("")
		b.saved.file = cfg.StateFile
	}
	for i, mon := range cfg.Panels {
		if mon == nil {
			return nil, fmt.Errorf("bridge: panels[%d]: no Monitor", i)
		}
	}
	// Last: it opens the queue, which only Run closes.
	if b.link, err = mqttlink.New(lc); err != nil {
		return nil, err
	}
	for i, mon := range cfg.Panels {
		if !mon.ReadsConfig() {
			return nil, fmt.Errorf("bridge: panels[%d]: its Monitor must read the configuration (g90.MonitorConfig.Config), which the configuration entities show", i)
		}
		b.panels = append(b.panels, &panel{
			b: b, mon: mon, sub: mon.SubscribeState("mqtt", 1<<14),
			cmds: make(chan command, 64), republic: make(chan struct{}, 1),
			smsSync: make(chan struct{}, 1),
			pub:     map[string]string{}, vals: newValues(),
			disc: map[string]string{}, comps: map[string]map[string]string{}, discTarget: map[string]target{},
		})
	}
	return b, nil
}

// Connected reports whether the bridge is connected to the broker.
func (b *Bridge) Connected() bool { return b.link.Connected() }

// QueueDepth returns how many messages wait in the outbound queue for the
// broker.
func (b *Bridge) QueueDepth() int { return b.link.Stats().Queued }

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	ls := b.link.Stats()
	damaged := 0
	for _, d := range ls.Damaged {
		damaged += d.Bytes
	}
	return Stats{
		Published: b.published.Load(), Events: b.events.Load(), Commands: b.commands.Load(),
		RejectedCommand: b.rejected.Load(), CommandErrors: b.commandErrors.Load(), RetainedCommand: b.retained.Load(),
		QueueErrors: b.queueErrors.Load(), Connects: ls.Connects, QueueDamagedBytes: damaged,
	}
}

// bridgeStatus is the topic of the bridge's own availability.
func (b *Bridge) bridgeStatus() string { return b.cfg.TopicPrefix + "/bridge/status" }

// Run connects to the broker, keeps reconnecting, and bridges the panels
// until ctx ends. On the way out it marks the bridge offline.
func (b *Bridge) Run(ctx context.Context) error {
	// The connection outlives the panels: it says goodbye once they have
	// stopped.
	cctx, stopConn := context.WithCancel(context.Background())
	defer stopConn()
	connDone := make(chan error, 1)
	go func() { connDone <- b.link.Run(cctx) }()
	var wg sync.WaitGroup
	pctx, pcancel := context.WithCancel(ctx)
	for _, p := range b.panels {
		wg.Go(func() { p.run(pctx) })
	}
	var err error
	select {
	case <-ctx.Done():
		pcancel()
		wg.Wait()
		stopConn()
		err = <-connDone
	case err = <-connDone: // it cannot start
		pcancel()
		wg.Wait()
	}
	for _, p := range b.panels {
		p.sub.Close()
	}
	return errors.Join(err, b.link.Close())
}

// publish queues one message, QoS 1; the link sends the queue in order
// whenever it is connected.
//
// A message the queue cannot take (a full disk) is not counted as
// published: it is counted in QueueErrors and logged (rate-limited by
// the daemon's logger).
func (b *Bridge) publish(topic string, payload []byte, retain bool) {
	if err := b.link.Publish(mqttlink.Message{Topic: topic, Payload: payload, QoS: 1, Retain: retain}); err != nil {
		b.queueErrors.Add(1)
		b.log.Error("cannot queue an MQTT message: it is lost", "topic", topic, "err", err)
		return
	}
	b.published.Add(1)
}

// clear removes a retained message on a command topic, if there is one,
// and expects the broker to send the clearing back.
func (b *Bridge) clear(topic string) {
	b.echoes.expect(topic, time.Now())
	b.publish(topic, nil, true)
}

// received routes a message from the broker. The link calls it from one
// goroutine, one message at a time.
//
// A command is carried out only when it comes as it is sent. A retained
// one (mosquitto_pub -r) is not: the broker would hand it over again at
// every reconnect and start, perhaps long after (re-arming after a
// disarm), and it keeps the PIN in the broker. It is cleared with an
// empty retained message, and so is the topic after every command, in
// case one was sent retained while the bridge was there (it then comes
// unmarked, MQTT 3.1.1 §3.3.1.3). The broker sends each clearing back,
// as an empty message: it is not a command (an empty text is, it clears
// a phone number).
func (b *Bridge) received(topic string, payload []byte, retained bool) {
	if topic == b.cfg.DiscoveryPrefix+"/status" {
		// Home Assistant (re)started: it has forgotten non-retained
		// state; send everything again (spec: home-assistant.md §3).
		if strings.TrimSpace(string(payload)) == "online" {
			for _, p := range b.panels {
				select {
				case p.republic <- struct{}{}:
				default:
				}
			}
		}
		return
	}
	if len(payload) == 0 && b.echoes.take(topic, time.Now()) {
		return
	}
	if retained {
		if len(payload) == 0 {
			return // not a message: a broker may hand over an empty one
		}
		b.retained.Add(1)
		if _, seen := b.retainedSeen.LoadOrStore(topic, true); !seen {
			b.log.Warn("retained MQTT command ignored and cleared: publish commands without the retain flag", "topic", topic)
		}
		b.clear(topic)
		return
	}
	b.clear(topic)
	rest, ok := strings.CutPrefix(topic, b.cfg.TopicPrefix+"/")
	guid, _, ok2 := strings.Cut(rest, "/")
	v, found := b.byGUID.Load(guid)
	if !ok || !ok2 || !found {
		b.rejected.Add(1)
		b.log.Warn("MQTT command for no known panel ignored", "topic", topic)
		return
	}
	p := v.(*panel)
	select {
	case p.cmds <- command{topic, slices.Clone(payload)}:
	default:
		b.rejected.Add(1)
		b.log.Warn("MQTT command ignored: too many waiting", "topic", topic)
	}
}

// run publishes the panel's discovery, states and events, and runs its
// worker.
func (p *panel) run(ctx context.Context) {
	// The GUID names the topics: wait for a delivery of the Monitor
	// that has it (the first read of the panel delivers one). What comes
	// before goes out after.
	var early, batch []g90.Delivery
	var st g90.State
	// The configuration too, so that the first discovery has every
	// entity: one without some would remove them from Home Assistant.
	for st.GUID == "" || st.LastRead.IsZero() || st.Config == nil {
		select {
		case <-ctx.Done():
			return
		case <-p.sub.Ready():
		}
		var ok bool
		batch, ok = p.sub.Take(batch)
		for _, d := range batch {
			if d.Event.Type != "" {
				early = append(early, d)
			}
			st = *d.State
		}
		if !ok {
			return
		}
	}
	p.mu.Lock()
	p.t = topics{prefix: p.b.cfg.TopicPrefix, discovery: p.b.cfg.DiscoveryPrefix, guid: st.GUID}
	p.st = st
	p.fromState(&st)
	p.mu.Unlock()
	p.b.byGUID.Store(st.GUID, p)
	if p.mon.PIN().Required() && !p.b.cfg.AllowConfigChanges {
		p.b.log.Info("the panel has a PIN: its configuration entities and Reboot take no commands from MQTT (mqtt.allow_config_changes: true allows them)", "panel", p.mon.Name())
	}
	p.restore()
	p.publishAll(st, false)
	for i := range early {
		p.event(&early[i])
	}
	// A restored "SMS alert when armed" applies to the present state.
	p.requestSMSSync()

	var wg sync.WaitGroup
	wctx, cancel := context.WithCancel(ctx)
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { p.worker(wctx) })

	avail := time.NewTicker(p.b.cfg.AvailabilityCheck)
	defer avail.Stop()
	for {
		select {
		case <-ctx.Done():
			p.drain()
			return
		case <-p.sub.Ready():
			var ok bool
			batch, ok = p.sub.Take(batch)
			for i := range batch {
				p.event(&batch[i])
			}
			if !ok {
				return
			}
		case <-p.republic:
			p.publishAll(p.lastState(), true)
		case <-avail.C:
			// The entities that change with time alone (a conflict
			// that is over), from the last state delivered.
			p.publishStates(p.lastState(), noSensor)
		}
	}
}

// drain publishes the events already in the subscription, without
// waiting for more: the daemon stops the Monitors before the bridge, and
// what they handed over belongs in the durable queue (the journal has it
// too), not lost with the process.
func (p *panel) drain() {
	batch, _ := p.sub.Take(nil)
	for i := range batch {
		p.event(&batch[i])
	}
}

// event publishes one delivery of the Monitor: the event on the event
// topic, with the Monitor's seq, and the states it changed, from the
// state delivered with it. An update of a merged event (its Sources
// grew) is not an event again; a state-only delivery (a read of the
// panel) publishes every state that changed.
func (p *panel) event(d *g90.Delivery) {
	st := *d.State
	ev := &d.Event
	if d.Update {
		return
	}
	p.mu.Lock()
	if p.fromState(&st) {
		// A new read: its records are behind the config and diagnostic
		// entities.
		p.st = st
		p.discoveryLocked(&st, false)
		p.entityStatesLocked(false)
	}
	p.mu.Unlock()
	if ev.Type == "" {
		p.publishStates(st, allSensors)
		return
	}
	b := ev.AppendJSON(make([]byte, 0, 256))
	p.b.events.Add(1)
	p.b.publish(p.t.event(), b, false)
	p.press(ev)
	switch ev.Type {
	case event.SensorAdded, event.SensorRemoved, event.DeviceAdded, event.DeviceRemoved:
		// The state has the lists with the change and their records.
		p.mu.Lock()
		p.discoveryLocked(&st, false)
		p.states(st, allSensors)
		p.entityStatesLocked(false)
		p.mu.Unlock()
	case event.ArmDisarm:
		// Disarming clears every sensor's tamper and open-when-arming.
		p.publishStates(st, allSensors)
		p.requestSMSSync()
	default:
		// Only the event's sensor can have changed (and the alarm).
		only := noSensor
		if ev.Sensor {
			only = ev.Index
		}
		p.publishStates(st, only)
	}
}

// lastState returns the state the Monitor delivered last.
func (p *panel) lastState() g90.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// fromState takes the host info and the peripheral records of a state
// the Monitor delivered, when they are a new read, and reports whether
// they were. The Monitor reads them; the bridge does not (issue 16.3).
// p.mu is held.
func (p *panel) fromState(st *g90.State) bool {
	changed := false
	if st.Info != nil && st.Info != p.vals.info {
		p.vals.info = st.Info
		p.vals.recs[sectionInfo] = st.Info
		changed = true
	}
	if c := st.Config; c != nil && c != p.vals.config {
		p.vals.config = c
		for s, r := range c.Sections {
			// A read that began before this bridge's last write of the
			// section does not have the write.
			if w, wrote := p.vals.wroteAt[s]; wrote && !c.ReadAt[s].After(w) {
				continue
			}
			p.vals.recs[s] = r
			delete(p.vals.failed, s)
		}
		for s := range c.Missing {
			if p.vals.recs[s] == nil {
				p.vals.failed[s] = true
			}
		}
		changed = true
	}
	changed = takeList(st.SensorRecords, &p.vals.sensorList, p.vals.sensors) || changed
	changed = takeList(st.DeviceRecords, &p.vals.deviceList, p.vals.devices) || changed
	return changed
}

// takeList takes a list the Monitor read into byIndex, when it is a new
// read: the Monitor's lists are shared and never changed, so a new read
// is a new slice. It reports whether it was.
func takeList[T interface{ Index() int }](list []T, last *[]T, byIndex map[int]T) bool {
	if list == nil || len(list) == len(*last) && (len(list) == 0 || &list[0] == &(*last)[0]) {
		return false
	}
	*last = list
	clear(byIndex)
	for _, x := range list {
		byIndex[x.Index()] = x
	}
	return true
}

// Sensor selections of publishStates.
const (
	allSensors = -1
	noSensor   = -2
)

// publishAll publishes the discovery payloads, removes those of sensors
// and relays that are gone, and then every state: what changed, or
// everything again with force.
func (p *panel) publishAll(st g90.State, force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if force {
		clear(p.pub) // states go out again after discovery
	}
	p.discoveryLocked(&st, force)
	p.states(st, allSensors)
	p.entityStatesLocked(false)
}

// publishStates publishes the panel's states that changed, and of the
// sensors only the one with index only, or all, or none.
func (p *panel) publishStates(st g90.State, only int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states(st, only)
}

// states is publishStates with p.mu held: the states the monitor's state
// drives.
func (p *panel) states(st g90.State, only int) {
	t := p.t
	p.st = st
	p.retain(t.availability(), map[bool]string{true: "online", false: "offline"}[st.Reachable], false)
	p.retain(t.alarm(), alarmState(st), false)
	p.retain(t.panelState(), string(mustJSON(map[string]any{
		"arm": st.Arm, "alarm": st.Alarm, "alarm_sensor": st.AlarmSensor, "reachable": st.Reachable,
	})), false)
	for _, s := range st.Sensors {
		if only != allSensors && s.Index != only || p.vals.deleted[target{scope: ScopeSensor, index: s.Index}] {
			continue
		}
		m := map[string]any{
			"index": s.Index, "name": s.Name, "type": s.Type, "enabled": s.Enabled,
			"occupied": s.Occupied, "tamper": s.Tamper, "low_battery": s.LowBattery,
			"door_open_when_arming": s.DoorOpenWhenArming,
		}
		// The record's fields, once read, as the existing integration
		// has them as attributes (issue 15.8).
		if rec := p.vals.sensors[s.Index]; rec != nil {
			info := rec.Info()
			m["definition"], m["subtype"], m["protocol"] = info.Type, info.Subtype, info.Protocol
			m["wireless"], m["flags"], m["alert_mode"] = info.Wireless, info.Flags, info.AlertMode
		}
		p.retain(t.sensor(s.Index), string(mustJSON(m)), false)
	}
	// A relay's state is its last switch, whoever switched it (the
	// monitor's, issue 15.4); unknown until the first.
	for _, d := range st.Devices {
		if d.On != nil && !p.vals.deleted[target{scope: ScopeRelay, index: d.Index}] {
			p.retain(t.relay(d.Index, d.Node), map[bool]string{true: "ON", false: "OFF"}[*d.On], false)
		}
	}
	v := p.panelView(&p.st)
	for i := range panelTable {
		if _, ok := panelTable[i].src.(ticking); ok {
			p.entityState(&panelTable[i], v, false)
		}
	}
}

// retain publishes a retained state if it differs from the last one, or
// with force. p.mu is held.
func (p *panel) retain(topic, payload string, force bool) {
	if old, ok := p.pub[topic]; ok && old == payload && !force {
		return
	}
	p.pub[topic] = payload
	p.b.publish(topic, []byte(payload), true)
}

// worker carries out the panel's MQTT commands one at a time, and the
// reads of settings and diagnostics between them.
func (p *panel) worker(ctx context.Context) {
	p.life = ctx
	defer p.bg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-p.cmds:
			p.command(ctx, c)
		case <-p.smsSync:
			if err := p.syncSMS(ctx); err != nil && ctx.Err() == nil {
				p.b.log.Error("cannot set the SMS push alert flag to follow the arm state", "panel", p.t.guid, "err", err)
			}
		}
	}
}

// subscriptions are the topic filters of every connection: Home
// Assistant's status, and the commands of panel entities (the alarm
// panel, buttons, settings), sensor and relay entities (relay nodes
// included).
func (b *Bridge) subscriptions() []string {
	subs := []string{b.cfg.DiscoveryPrefix + "/status"}
	for _, t := range []string{"/+/+/set", "/+/sensor/+/+/set", "/+/relay/+/+/set"} {
		subs = append(subs, b.cfg.TopicPrefix+t)
	}
	return subs
}
