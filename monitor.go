package g90

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"math/bits"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/pinguard"
	"github.com/g90alarm/g90/protocol"
)

// Source is an event source: local notifications (notify.Listener), the
// cloud server, or history polling (HistoryPoller). Run hands every
// message to sink, from one goroutine and in wire order, until ctx ends.
type Source interface {
	Run(ctx context.Context, sink notify.Sink) error
}

// MonitorConfig configures a Monitor. The zero value of every field means
// its default.
type MonitorConfig struct {
	// Name is what users call the panel in the consumers that show or
	// control it (MQTT, Home Assistant, the web UI); "" means the
	// panel's address.
	Name string
	// PIN, when set, checks the code that must come with every arm and
	// disarm command a consumer takes from a user (the panel has no user
	// codes of its own); nil needs none. Every consumer checks the same
	// Guard, so guesses through any of them count together.
	PIN *pinguard.Guard
	// Sources feed the monitor; Run runs them.
	Sources []Source
	// ResetInterval is how long a sensor that never reports "inactive"
	// stays occupied (spec: B.6.1); 0 means 3 s, negative never resets.
	ResetInterval time.Duration
	// Poll re-reads the arm state, alert flags and the sensor and device
	// lists this often, so that changes made elsewhere (the vendor app,
	// a missed notification) show up; 0 reads them only at start, after
	// a lookup miss and when the panel reports a sensor change.
	Poll time.Duration
	// RefreshGap is the least time between two list refreshes caused by
	// events naming a sensor the list does not have (spec: B.4); 0 means
	// 30 s.
	RefreshGap time.Duration
	// QueueSize bounds the messages waiting for the state tracker; 0
	// means 4096. A local notification that finds the queue full is
	// dropped and counted; a cloud message or history entry waits for
	// room (see Message).
	QueueSize int
	// StallTimeout is how long the monitor waits for a subscriber whose
	// queue is full before it drops that subscriber's events (counted)
	// until it catches up; 0 means 5 s. See Subscribe.
	StallTimeout time.Duration
	// NextSeq returns the number of the next event of the panel with the
	// given GUID ("" before the GUID is known), for event.Event.Seq; it
	// must never return a number twice for a GUID. The daemon persists
	// it, so that numbers go on across restarts. nil numbers from 1 in
	// memory.
	NextSeq func(guid string) uint64
	// StateFile keeps what no read of the panel reports across restarts:
	// the sensors' tamper, low battery, open-when-arming and door-open
	// flags and the relays' last switched states. It is written (at most
	// once a second) when they change and read at start; "" keeps them
	// in memory only.
	StateFile string
	// Config makes the monitor read the configuration sections too
	// (Sections), for State.Config: right after the first read, every
	// ConfigPoll and on Reread(ReadConfig). SIA and CID are optional: a
	// panel that does not answer for them is not asked again until
	// Reread(ReadConfigFresh), as repeated reads break some firmware
	// (spec: local-protocol.md 7.1).
	Config bool
	// ConfigPoll is how often the configuration is read again with
	// Config; 0 means 10 min. The Panel serves the sections from its
	// cache while they are fresh (spec: local-protocol.md 7.4).
	ConfigPoll time.Duration
	// Raw delivers every report of a happening as its own event, as the
	// reference does (spec: B.10 [REF]): a notification and its alert,
	// the local and the cloud link, a history entry of an alert seen
	// live. By default they are merged into one event whose Sources
	// names every source that reported it (see merge.go). For
	// debugging and `g90 listen --raw`.
	Raw bool
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MonitorStats counts what a Monitor has done.
type MonitorStats struct {
	Messages    uint64 // taken from the sources
	Dropped     uint64 // lost because the tracker's queue was full (local notifications), or the monitor stopped (cloud, history)
	WrongDevice uint64 // alerts with another panel's GUID (spec: A.7.2)
	Unknown     uint64 // decoded but not routable (spec: A.7.3)
	Events      uint64 // events produced, before any consumer's queue
	// Merged counts the reports merged into an earlier event of the
	// same happening (one per source), instead of being delivered again.
	Merged        map[event.Source]uint64
	Refreshes     uint64 // reads of the panel's state and lists
	RefreshErrors uint64 // reads that failed
}

// Monitor turns the messages of its sources into events for one panel:
// it checks them, maps them to events, keeps the panel's state (spec:
// B.3–B.6), numbers each event (Seq) and delivers it to every
// subscriber, serially and in wire order. The state tracker never waits
// on the network: reading the panel's lists happens on a goroutine of its
// own, and events for a sensor the lists do not know yet go out with the
// wire's index and name. It waits for a subscriber that falls behind
// (see Subscribe), and so do the cloud and history sources for it: a TCP
// connection's reader then waits and TCP slows the panel down, so that
// only UDP notifications are ever dropped, at the queue, and counted.
type Monitor struct {
	p   *Panel
	cfg MonitorConfig
	log *slog.Logger

	in      *inbox
	inbuf   []item          // the tracker's last batch, for reuse
	flushes []chan struct{} // Flushes handled, closed after the next publish
	stopped chan struct{}   // closed when the tracker's loop has ended
	ready   chan struct{}   // closed when the first read is applied
	refresh chan struct{}   // capacity 1: requests coalesce
	rereads atomic.Uint32   // what the pending refresh reads (ReadSet)
	loaded  chan loadResult
	running atomic.Bool

	mu        sync.Mutex // guards everything below
	t         tracker
	subs      []*Subscription
	ended     bool
	loadedAny bool         // sensors have been read once
	devsAny   bool         // devices have been read once
	announced map[int]bool // sensor_added sent from a notification
	lastMiss  time.Time
	evbuf     []event.Event
	// pending are the events delivered under mu since the last publish,
	// which sends them (the tracker's goroutine only); marks are the
	// states they produced, for the state subscribers, when a batch
	// handled several messages.
	pending []event.Event
	marks   []stateMark
	merge   merger
	// recents are the merger's slots of the pending events (index into
	// pending), filled in by publish; updates are the events whose
	// Sources a merged report grew, for the subscribers that take them.
	recents      []pendingRecent
	updates      []pendingUpdate
	stateChanged bool // a read was applied: a state-only delivery is due
	timer        *time.Timer
	armedAt      time.Time // when timer fires, or zero

	pubSubs []*Subscription // publish's copy of subs
	// deliveries are publish's, per subscription kind.
	deliveries [kindState + 1][]Delivery
	seqs       map[string]*uint64 // when cfg.NextSeq is nil
	// seqGUID and seq are the last GUID nextSeq numbered and its
	// counter: one panel's GUID, nearly always.
	seqGUID string
	seq     *uint64
	stall   *time.Timer // publish's stall timer

	saved *savedState // read from StateFile at start, until applied
	// sensorsRestored, devicesRestored: saved was applied to that list.
	sensorsRestored, devicesRestored bool
	dirty                            bool // events since the last save
	lastSaved                        []byte
	saveErrors                       atomic.Uint64

	lastPacket [3]atomic.Int64 // unix nanoseconds per source

	// counters of MonitorStats
	messages, dropped, wrongDevice, unknown, events, refreshes, refreshErrors atomic.Uint64
}

// stateMark is the state after the first events pending events and
// updates pending updates.
type stateMark struct {
	events, updates int
	st              *State
}

// pendingUpdate is an update of a published event, due before the pending
// event at (the events pending when it was made come first).
type pendingUpdate struct {
	at int
	ev event.Event
}

// pendingRecent ties a pending event to its merger slot.
type pendingRecent struct {
	i int
	r *recentEvent
}

type item struct {
	// flush, instead of m, is Flush's: closed once everything queued
	// before it was published.
	flush chan struct{}
	ev    *event.Event // instead of m: what a command did (SetRelay)
	src   event.Source
	at    time.Time
	m     notify.Message
}

// NewMonitor returns a Monitor for p. Run starts it.
func (p *Panel) NewMonitor(cfg MonitorConfig) *Monitor {
	if cfg.ResetInterval == 0 {
		cfg.ResetInterval = 3 * time.Second // spec: B.6.1
	}
	if cfg.RefreshGap == 0 {
		cfg.RefreshGap = 30 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.ConfigPoll <= 0 {
		cfg.ConfigPoll = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{
		p: p, cfg: cfg, log: log.With("panel", p.Addr()),
		in: newInbox(cfg.QueueSize), stopped: make(chan struct{}), ready: make(chan struct{}), refresh: make(chan struct{}, 1), loaded: make(chan loadResult),
		announced: map[int]bool{}, seqs: map[string]*uint64{}, stall: time.NewTimer(time.Hour),
	}
	m.stall.Stop()
	m.t = tracker{reset: cfg.ResetInterval, miss: m.missed}
	return m
}

// Panel returns the panel the Monitor watches: consumers send their
// commands through it.
func (m *Monitor) Panel() *Panel { return m.p }

// Name returns MonitorConfig.Name, or the panel's address when it is "".
func (m *Monitor) Name() string {
	if m.cfg.Name == "" {
		return m.p.Addr()
	}
	return m.cfg.Name
}

// PIN returns MonitorConfig.PIN: nil when commands need no PIN.
func (m *Monitor) PIN() *pinguard.Guard { return m.cfg.PIN }

// History returns the Monitor's history source (the first
// HistoryPoller in MonitorConfig.Sources), or nil: consumers pause and
// resume it ("simulate alerts from history").
func (m *Monitor) History() *HistoryPoller {
	for _, s := range m.cfg.Sources {
		if h, ok := s.(*HistoryPoller); ok {
			return h
		}
	}
	return nil
}

// ErrRunning is returned by Run on a Monitor that runs or has run.
var ErrRunning = errors.New("g90: monitor already started")

// Run runs the sources, the state tracker and the list reader until ctx
// ends or a source fails, and returns after all of them have stopped. The
// messages still queued are processed, then every subscription is
// closed. A Monitor runs once.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sources, loader sync.WaitGroup
	errs := make(chan error, len(m.cfg.Sources))
	for _, src := range m.cfg.Sources {
		sources.Go(func() {
			if err := src.Run(ctx, m); err != nil {
				errs <- err
				cancel()
			}
		})
	}
	loader.Go(func() { m.load(ctx) })

	m.timer = time.NewTimer(time.Hour)
	m.timer.Stop()
	m.saved = m.loadSaved()
	m.work(ctx)
	close(m.stopped)
	sources.Wait()
	loader.Wait()
	m.drain()
	if m.cfg.StateFile != "" {
		m.save()
	}
	m.close()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// firstReadWait is how long messages wait for the first read of the
// panel, so that the first events already carry its GUID and the
// sensors' types; a panel slower than that gets its events without.
const firstReadWait = 5 * time.Second

// work is the tracker's loop.
func (m *Monitor) work(ctx context.Context) {
	var queued <-chan struct{} // nil until the first read or firstReadWait
	wait := time.NewTimer(firstReadWait)
	defer wait.Stop()
	var saveTick <-chan time.Time
	if m.cfg.StateFile != "" {
		t := time.NewTicker(saveEvery)
		defer t.Stop()
		saveTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-saveTick:
			if m.dirty {
				m.dirty = false
				m.save()
			}
		case <-wait.C:
			queued = m.in.ready
		case <-queued:
			m.handleQueued()
		case r := <-m.loaded:
			m.apply(r)
			queued = m.in.ready
		case <-m.timer.C:
			m.mu.Lock()
			m.armedAt = time.Time{}
			m.deliver(m.t.resetDue(m.pending, m.cfg.Now()))
			m.armTimer()
			m.mu.Unlock()
		}
		m.publish()
		m.flushed()
	}
}

// flushed tells the Flushes waiting that what came before them was
// published.
func (m *Monitor) flushed() {
	for _, f := range m.flushes {
		close(f)
	}
	clear(m.flushes)
	m.flushes = m.flushes[:0]
}

// ErrMonitorStopped is Flush's error once Run has returned.
var ErrMonitorStopped = errors.New("g90: monitor stopped")

// Flush returns once every message the Monitor was handed before the
// call (notifications, history entries, a command's event) has been
// handled and its events delivered to every subscription's queue, or
// when ctx ends. A consumer's own storage is the consumer's to wait for
// (the daemon waits for its journal): the history poller saves its
// cursor only after both (HistoryConfig.Durable).
func (m *Monitor) Flush(ctx context.Context) error {
	done := make(chan struct{})
	if !m.enqueue(&item{flush: done}, true, ctx.Done()) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrMonitorStopped
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return ErrMonitorStopped
	}
}

// maxBatch bounds the messages handled before one publish.
const maxBatch = 256

// handleQueued handles what is queued, publishing after each maxBatch
// messages (and freeing their room in the queue); the work loop
// publishes the rest. A burst costs each
// subscriber one hand-over per batch, not one per message (issue 20.3),
// and a lone message is published at once, as before. It reports
// whether there was anything.
func (m *Monitor) handleQueued() bool {
	batch := m.in.take(m.inbuf)
	// m.mu once per batch, not per message (issue 20.3); publish takes
	// it itself.
	m.mu.Lock()
	for i := range batch {
		m.handleLocked(&batch[i])
		if n := i + 1; n%maxBatch == 0 && n < len(batch) {
			m.armTimer()
			m.mu.Unlock()
			m.publish()
			m.in.handled(maxBatch)
			m.mu.Lock()
		}
	}
	m.armTimer()
	m.mu.Unlock()
	if n := len(batch) % maxBatch; n > 0 {
		m.in.handled(n)
	} else if len(batch) > 0 {
		m.in.handled(maxBatch)
	}
	m.inbuf = batch
	return len(batch) > 0
}

// drain handles what is left in the queue once the sources have stopped.
func (m *Monitor) drain() {
	for m.handleQueued() {
		m.publish()
	}
	m.flushed()
}

// Packet implements notify.Sink.
func (m *Monitor) Packet(src event.Source, t time.Time) {
	if i := sourceIndex(src); i >= 0 {
		m.lastPacket[i].Store(t.UnixNano())
	}
}

// Message implements notify.Sink. When the queue is full, a local
// notification is dropped, counted and logged: a UDP datagram cannot be
// held back, and the listener must read the next one. A cloud message
// waits for room instead, until the monitor stops: its source is a TCP
// connection, whose reader then waits too, and TCP flow control slows
// the panel down, so nothing is lost (see cloud.Handler). A
// history entry waits too: the poller then reads the panel later.
func (m *Monitor) Message(msg notify.Message, src event.Source, t time.Time) {
	if m.enqueue(&item{m: msg, src: src, at: t}, src != event.SourceLocal, nil) {
		return
	}
	if n := m.dropped.Add(1); isPowerOfTwo(n) {
		m.log.Warn("event queue full: message dropped", "source", src, "dropped", n, "bytes", hex.EncodeToString(msg.Append(nil)))
	}
}

// enqueue queues it for the tracker and counts it; when the queue is
// full and wait is set, it waits for room until the monitor stops or done
// is closed. It reports whether it was queued.
func (m *Monitor) enqueue(it *item, wait bool, done <-chan struct{}) bool {
	for {
		queued, room := m.in.put(it)
		if queued {
			if it.flush == nil {
				m.messages.Add(1)
			}
			return true
		}
		if !wait {
			return false
		}
		select {
		case <-room:
		case <-m.stopped:
			return false
		case <-done:
			return false
		}
	}
}

// handle turns one message into events (spec: A.7.2, B.2, B.3).
func (m *Monitor) handle(it *item) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handleLocked(it)
	m.armTimer()
}

// handleLocked is handle with m.mu held, for a batch of messages; the
// caller arms the reset timer after the batch.
func (m *Monitor) handleLocked(it *item) {
	if it.flush != nil {
		m.flushes = append(m.flushes, it.flush) // closed after the publish
		return
	}
	m.markState()
	if it.ev != nil {
		m.deliver(m.t.apply(m.pending, it.ev, it.at))
		return
	}
	msg := &it.m
	// History entries carry no GUID (spec: C.2, A.7.2).
	if it.src != event.SourceHistory {
		if err := msg.CheckGUID(m.t.st.GUID); err != nil {
			m.wrongDevice.Add(1)
			m.log.Warn("dropped alert", "source", it.src, "err", err, "bytes", hex.EncodeToString(msg.Append(nil)))
			return
		}
	}
	evs, err := msg.Events(m.evbuf[:0])
	m.evbuf = evs[:0]
	if err != nil {
		m.unknown.Add(1)
		m.log.Warn("skipped message", "source", it.src, "err", err, "bytes", hex.EncodeToString(msg.Append(nil)))
	}
	if msg.Code == protocol.CodeNotification && msg.Notification.Kind == notify.KindSensorChange {
		// The panel added or changed a sensor: read the list again
		// (spec: B.8), only it.
		m.Reread(ReadSensors)
	}
	// The receive time of a live message is now; a history entry's is
	// the panel's time of the entry, in the past.
	now := it.at
	if it.src == event.SourceHistory {
		now = m.cfg.Now()
	}
	ch := channelOf(it.src, msg.Code)
	var panelTime int64
	if msg.Code == protocol.CodeAlert {
		panelTime = msg.Alert.UnixTime
	}
	out := m.pending
	srcs := event.SourcesOf(it.src)
	for i := range evs {
		ev := &evs[i]
		ev.Source, ev.Sources = it.src, srcs
		if ev.Time.IsZero() {
			ev.Time = it.at
		}
		if !m.cfg.Raw && m.merged(ev, ch, now, panelTime, it.src) {
			continue
		}
		if ev.Type == event.SensorAdded {
			m.announced[ev.Index] = true
		}
		out = m.t.apply(out, ev, now)
		if !m.cfg.Raw && ch != 0 {
			// The tracker appends the event last.
			r := m.merge.add(ev, ch, now, panelTime)
			r.pending = len(out)
			m.recents = append(m.recents, pendingRecent{len(out) - 1, r})
		}
	}
	m.deliver(out)
}

// merged reports whether ev, a report through ch, repeats a recent event;
// it then merges into that one (issue 16.1, merge.go): its channel and,
// when new, its source are added, and the event with its grown Sources
// goes to the subscribers that take updates. m.mu is held.
func (m *Monitor) merged(ev *event.Event, ch channel, now time.Time, panelTime int64, src event.Source) bool {
	r := m.merge.match(ev, ch, now, panelTime)
	if r == nil {
		return false
	}
	m.merge.join(r, ch)
	if r.panelTime == 0 {
		r.panelTime = panelTime
	}
	m.merge.count(src)
	if r.pending > 0 && r.pending <= len(m.pending) {
		// Not yet published (the same batch): the event goes out with
		// the source, and no update is needed.
		p := &m.pending[r.pending-1]
		p.Sources = p.Sources.With(src)
		return true
	}
	if !r.ev.Sources.Has(src) && r.ev.Seq != 0 {
		r.ev.Sources = r.ev.Sources.With(src)
		m.updates = append(m.updates, pendingUpdate{len(m.pending), r.ev})
	}
	return true
}

// deliver hands evs, the changes the tracker made, to publish, which
// sends them once m.mu is released: a subscriber may call State while
// the monitor waits for it. m.mu is held.
func (m *Monitor) deliver(evs []event.Event) {
	m.events.Add(uint64(len(evs) - len(m.pending)))
	m.pending = evs
}

// markState records, when a message is handled after others whose events
// wait to be published, the state those events produced, for the state
// subscribers: every event is delivered with the state its message
// produced, however many a batch holds. m.mu is held.
func (m *Monitor) markState() {
	n, u := len(m.pending), len(m.updates)
	if n+u == 0 {
		return
	}
	if k := len(m.marks); k > 0 && m.marks[k-1].events == n && m.marks[k-1].updates == u {
		return
	}
	for _, s := range m.subs {
		if s.kind == kindState {
			st := m.stateLocked()
			m.marks = append(m.marks, stateMark{n, u, &st})
			return
		}
	}
}

// publish numbers the delivered events and sends them to every
// subscriber, then keeps the buffer for reuse; a state subscriber gets
// each with the state they produced, the updates of merged events and,
// after a read that gave no event, the state alone. The tracker's
// goroutine calls it after each step.
func (m *Monitor) publish() {
	evs, updates, marks := m.pending, m.updates, m.marks
	m.updates = m.updates[:0]
	stateOnly := m.stateChanged && len(evs) == 0
	m.stateChanged = false
	if len(evs) == 0 && len(updates) == 0 && !stateOnly {
		return
	}
	defer func() {
		m.pending = evs[:0]
		clear(marks)
		m.marks = marks[:0]
	}()
	if len(evs) > 0 {
		m.dirty = true
	}
	for i := range evs {
		evs[i].Seq = m.nextSeq(evs[i].GUID)
	}
	for _, pr := range m.recents {
		pr.r.ev, pr.r.pending = evs[pr.i], 0
	}
	clear(m.recents)
	m.recents = m.recents[:0]
	m.mu.Lock()
	subs := append(m.pubSubs[:0], m.subs...)
	var st *State
	for _, s := range subs {
		if s.kind == kindState {
			snap := m.stateLocked()
			st = &snap
			break
		}
	}
	m.mu.Unlock()
	// Each kind's deliveries are made once, for every subscriber of
	// that kind.
	var made [kindState + 1]bool
	for _, s := range subs {
		if s.kind == kindEvents {
			s.putEvents(evs)
			continue
		}
		if !made[s.kind] {
			m.deliveries[s.kind] = appendDeliveries(m.deliveries[s.kind][:0], s.kind, evs, updates, marks, st, stateOnly)
			made[s.kind] = true
		}
		s.put(m.deliveries[s.kind])
	}
	for k := range m.deliveries {
		clear(m.deliveries[k])
	}
	clear(subs)
	m.pubSubs = subs[:0]
}

// appendDeliveries appends to dst what a subscription of kind receives of a
// publish, in the order the messages were handled: the events and the
// updates of merged ones, each with the state its message produced
// (marks, then st, the state now), and the state alone when a read gave
// no event.
func appendDeliveries(dst []Delivery, kind subKind, evs []event.Event, updates []pendingUpdate, marks []stateMark, st *State, stateOnly bool) []Delivery {
	withState := kind == kindState
	// me and mu are the first marks after event i and after update u.
	me, mu := 0, 0
	stateOf := func(i int, ms []stateMark, count func(stateMark) int, k *int) *State {
		if !withState {
			return nil
		}
		for *k < len(ms) && count(ms[*k]) <= i {
			*k++
		}
		if *k < len(ms) {
			return ms[*k].st
		}
		return st
	}
	eventsOf := func(m stateMark) int { return m.events }
	updatesOf := func(m stateMark) int { return m.updates }
	u := 0
	for i := range evs {
		for ; u < len(updates) && updates[u].at <= i; u++ {
			dst = append(dst, Delivery{Event: updates[u].ev, State: stateOf(u, marks, updatesOf, &mu), Update: true})
		}
		dst = append(dst, Delivery{Event: evs[i], State: stateOf(i, marks, eventsOf, &me)})
	}
	for ; u < len(updates); u++ {
		dst = append(dst, Delivery{Event: updates[u].ev, State: stateOf(u, marks, updatesOf, &mu), Update: true})
	}
	if stateOnly && withState {
		dst = append(dst, Delivery{State: st})
	}
	return dst
}

// nextSeq numbers the next event of the panel guid.
func (m *Monitor) nextSeq(guid string) uint64 {
	if m.cfg.NextSeq != nil {
		return m.cfg.NextSeq(guid)
	}
	if m.seq == nil || guid != m.seqGUID {
		if m.seq = m.seqs[guid]; m.seq == nil {
			m.seq = new(uint64)
			m.seqs[guid] = m.seq
		}
		m.seqGUID = guid
	}
	*m.seq++
	return *m.seq
}

// armTimer points the timer at the earliest pending occupancy reset.
// m.mu is held.
func (m *Monitor) armTimer() {
	next := m.t.nextReset()
	if next.Equal(m.armedAt) {
		return
	}
	m.armedAt = next
	if next.IsZero() {
		m.timer.Stop()
		return
	}
	m.timer.Reset(max(0, next.Sub(m.cfg.Now())))
}

// missed is the tracker's lookup-miss callback: the lists are read again,
// at most once per RefreshGap (spec: B.4). m.mu is held.
func (m *Monitor) missed(index int, name string) {
	now := m.cfg.Now()
	if !m.lastMiss.IsZero() && now.Sub(m.lastMiss) < m.cfg.RefreshGap {
		return
	}
	m.lastMiss = now
	m.log.Info("event for a sensor not in the list; reading the list again", "index", index, "name", name)
	m.Reread(ReadSensors)
}

// Refresh asks the monitor to read the panel's state and lists again; it
// returns at once. Changes are reported as events. Reread reads less.
func (m *Monitor) Refresh() { m.Reread(ReadAll) }

// ReadSet says what a read of the panel reads (Monitor.Reread).
type ReadSet uint32

// What Reread can read.
const (
	ReadInfo    ReadSet = 1 << iota // host info (GUID, versions, signal)
	ReadStatus                      // arm state; reachability
	ReadAlerts                      // alert flags
	ReadSensors                     // the sensor list
	ReadDevices                     // the device list
	// ReadConfig reads the configuration sections (MonitorConfig.Config;
	// the Panel's cache serves the fresh ones); ReadConfigFresh drops
	// the cache first and asks for SIA and CID again.
	ReadConfig
	ReadConfigFresh
	// ReadAll is what a poll reads: everything but the configuration.
	ReadAll = ReadInfo | ReadStatus | ReadAlerts | ReadSensors | ReadDevices
)

// Reread asks the monitor to read what is in set again, and returns at
// once: after a command, what the command can change (a sensor's
// update: ReadSensors), not everything. Requests made before the read
// starts coalesce. Changes are reported as events and in the state.
func (m *Monitor) Reread(set ReadSet) {
	for {
		old := m.rereads.Load()
		if m.rereads.CompareAndSwap(old, old|uint32(set)) {
			break
		}
	}
	select {
	case m.refresh <- struct{}{}:
	default: // one is pending already
	}
}

// ConfigWritten tells the monitor that section s was written (through
// any Panel): it drops s from its Panel's cache and reads the
// configuration again, so that State.Config follows (MonitorConfig.Config).
func (m *Monitor) ConfigWritten(s Section) {
	m.p.InvalidateConfig(s)
	m.Reread(ReadConfig)
}

// ReadsConfig reports whether the monitor reads the configuration
// (MonitorConfig.Config).
func (m *Monitor) ReadsConfig() bool { return m.cfg.Config }

// errNotRead marks a list a partial read (Reread) left out.
var errNotRead = errors.New("g90: not read")

// loadResult is one read of the panel's state; nil fields failed or
// were not read (set).
type loadResult struct {
	set     ReadSet
	readAt  time.Time // when the read began
	info    *protocol.HostInfo
	alerts  *protocol.AlertConfig
	config  map[Section]protocol.Record // the sections read
	missing map[Section]bool            // optional sections not answered
	guid    *string
	status  *protocol.HostStatus
	flags   *protocol.AlertFlags
	sensors []*peripheral.Sensor
	devices []*peripheral.Device
	sensErr error
	devErr  error
}

// load reads the panel at start, on request and every Poll.
func (m *Monitor) load(ctx context.Context) {
	var tick <-chan time.Time
	if m.cfg.Poll > 0 {
		t := time.NewTicker(m.cfg.Poll)
		defer t.Stop()
		tick = t.C
	}
	var confTick <-chan time.Time
	if m.cfg.Config {
		t := time.NewTicker(m.cfg.ConfigPoll)
		defer t.Stop()
		confTick = t.C
		// The configuration right after the first read, which stays
		// quick: events wait for it (firstReadWait).
		m.Reread(ReadConfig)
	}
	set := ReadAll
	for {
		r := m.read(ctx, set)
		select {
		case m.loaded <- r:
		case <-ctx.Done():
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-m.refresh:
			set = ReadSet(m.rereads.Swap(0))
			if set == 0 {
				set = ReadAll
			}
		case <-tick:
			set = ReadAll
		case <-confTick:
			set = ReadConfig
		}
	}
}

// read reads what the tracker needs from the panel; each failure is
// logged and leaves its field nil.
func (m *Monitor) read(ctx context.Context, set ReadSet) loadResult {
	m.refreshes.Add(1)
	r := loadResult{set: set, readAt: m.cfg.Now()}
	fail := func(what string, err error) {
		if ctx.Err() == nil {
			m.refreshErrors.Add(1)
			m.log.Warn("monitor: read failed", "what", what, "err", err)
		}
	}
	// The GUID names the panel's events: until it is known, every read
	// reads it.
	m.mu.Lock()
	noGUID := m.t.st.GUID == ""
	m.mu.Unlock()
	if set&ReadInfo != 0 || noGUID {
		if info, err := m.p.Info(ctx); err != nil {
			fail("host info", err)
		} else {
			r.info, r.guid = &info, &info.GUID
		}
	}
	if set&ReadStatus != 0 {
		if st, err := m.p.Status(ctx); err != nil {
			fail("host status", err)
		} else {
			r.status = &st
		}
	}
	if set&ReadAlerts != 0 {
		if ac, err := m.p.AlertConfig(ctx); err != nil {
			fail("alert flags", err)
		} else {
			r.flags, r.alerts = &ac.Flags, &ac
		}
	}
	if m.cfg.Config && set&(ReadConfig|ReadConfigFresh) != 0 {
		m.readConfig(ctx, &r, set&ReadConfigFresh != 0, fail)
	}
	r.sensErr, r.devErr = errNotRead, errNotRead
	if set&ReadSensors != 0 {
		r.sensors, r.sensErr = m.p.Sensors(ctx)
		if r.sensErr != nil {
			fail("sensors", r.sensErr)
		}
	}
	if set&ReadDevices != 0 {
		r.devices, r.devErr = m.p.Devices(ctx)
		if r.devErr != nil {
			fail("devices", r.devErr)
		}
	}
	return r
}

// readConfig reads the configuration sections into r; fresh drops the
// Panel's cache and asks for the optional sections the panel did not
// answer before.
func (m *Monitor) readConfig(ctx context.Context, r *loadResult, fresh bool, fail func(string, error)) {
	if fresh {
		m.p.InvalidateConfig()
	}
	m.mu.Lock()
	var missing map[Section]bool
	if c := m.t.st.Config; c != nil && !fresh {
		missing = c.Missing
	}
	m.mu.Unlock()
	r.config, r.missing = map[Section]protocol.Record{}, map[Section]bool{}
	for _, s := range Sections {
		optional := s == SectionSIA || s == SectionCID
		if optional && missing[s] {
			r.missing[s] = true
			continue
		}
		rec, err := m.p.ReadConfig(ctx, s)
		switch {
		case err == nil:
			r.config[s] = rec
		case optional:
			// Not every panel has SIA or CID reporting.
			if ctx.Err() == nil {
				r.missing[s] = true
				m.log.Info("the panel did not answer for an optional section: not read again until a fresh read", "section", s, "err", err)
			}
		default:
			fail("configuration "+string(s), err)
		}
	}
}

// applyConfig makes a new ConfigState when the sections r read (and
// the alert configuration a poll reads) differ from the last ones; the
// sections not read stay as they were. m.mu is held.
func (m *Monitor) applyConfig(r *loadResult) {
	old := m.t.st.Config
	// The first ConfigState is a whole read: a consumer waits for it.
	if !m.cfg.Config || r.config == nil && (r.alerts == nil || old == nil) {
		return
	}
	got := maps.Clone(r.config)
	if got == nil {
		got = map[Section]protocol.Record{}
	}
	if r.alerts != nil {
		got[SectionAlerts] = r.alerts
	}
	next := &ConfigState{Sections: map[Section]protocol.Record{}, ReadAt: map[Section]time.Time{}, Missing: r.missing}
	if old != nil {
		maps.Copy(next.Sections, old.Sections)
		maps.Copy(next.ReadAt, old.ReadAt)
		if r.config == nil {
			next.Missing = old.Missing
		}
	}
	changed := old == nil || !maps.Equal(next.Missing, old.Missing)
	for s, rec := range got {
		changed = changed || !reflect.DeepEqual(next.Sections[s], rec)
		next.Sections[s], next.ReadAt[s] = rec, r.readAt
	}
	if changed {
		m.t.st.Config = next
	}
}

// apply merges a read into the state and delivers the changes it finds.
func (m *Monitor) apply(r loadResult) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	st := &m.t.st
	// An empty or blank GUID leaves it unset (spec: A.7.2, U-EMPTY-GUID).
	if r.guid != nil && strings.TrimSpace(*r.guid) != "" {
		st.GUID = *r.guid
	}
	if r.info != nil {
		st.Info = r.info
	}
	m.applyConfig(&r)
	if r.flags != nil {
		f := *r.flags
		st.AlertFlags = &f
	}
	// Reachability is the status read's; a read without it is as
	// reachable as any answer says.
	if r.set&ReadStatus != 0 {
		st.Reachable = r.status != nil
	} else if r.info != nil || r.sensErr == nil || r.devErr == nil {
		st.Reachable = true
	}
	if r.status != nil || (r.set&ReadStatus == 0 && st.Reachable) {
		st.LastRead = now
	}
	out := m.pending
	start := len(out)
	if r.status != nil {
		if s, ok := armStateOf(r.status.State); ok && s != st.Arm {
			if st.Arm == "" {
				m.t.setArm(s) // the start: nothing changed
			} else {
				// A change no message reported (a lost datagram, or no
				// event source at all): the status read is the source.
				out = m.t.apply(out, &event.Event{Type: event.ArmDisarm, Time: now, Source: event.SourcePoll, State: s}, now)
			}
		}
	}
	if r.sensErr == nil {
		before := len(out)
		out = m.t.setSensors(out, r.sensors, !m.loadedAny, now)
		m.loadedAny = true
		// A sensor a notification announced is not announced twice.
		kept := out[:before]
		for _, ev := range out[before:] {
			if ev.Type == event.SensorAdded && m.announced[ev.Index] {
				continue
			}
			kept = append(kept, ev)
		}
		out = kept
		clear(m.announced)
	}
	if r.devErr == nil {
		out = m.t.setDevices(out, r.devices, !m.devsAny, now)
		m.devsAny = true
	}
	// The first lists read once the GUID is known get what the last run
	// saved (issue 15.9); until then nothing is saved over it.
	if m.saved != nil && st.GUID != "" {
		sensors, devices := r.sensErr == nil && !m.sensorsRestored, r.devErr == nil && !m.devicesRestored
		m.t.restore(m.saved, sensors, devices)
		m.sensorsRestored = m.sensorsRestored || sensors
		m.devicesRestored = m.devicesRestored || devices
		if m.sensorsRestored && m.devicesRestored {
			m.saved = nil
		}
	}
	for i := start; i < len(out); i++ {
		if out[i].Source == "" {
			out[i].Source = event.SourcePoll
		}
	}
	m.deliver(out)
	m.stateChanged = true
	m.armTimer()
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}
}

// Ready is closed once the first read of the panel is done, whether or
// not the panel answered, or when Run has ended before it; State then
// says what it found.
func (m *Monitor) Ready() <-chan struct{} { return m.ready }

// armStateOf maps the host status's arm state (spec: A.6.1).
func armStateOf(s protocol.ArmState) (event.ArmState, bool) {
	switch s {
	case protocol.ArmAway:
		return event.ArmAway, true
	case protocol.ArmHome:
		return event.ArmHome, true
	case protocol.Disarmed:
		return event.Disarmed, true
	case protocol.ArmAlarm:
		return event.Alarmed, true
	}
	return "", false
}

// State returns a snapshot of the panel's state. A consumer that takes
// events should not call it after each one: SubscribeState delivers
// every event with the state it produced.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stateLocked()
}

// stateLocked is State with m.mu held.
func (m *Monitor) stateLocked() State {
	s := m.t.snapshot()
	s.Transport = m.p.c.Transport()
	s.LastPacket = map[event.Source]time.Time{}
	for i, src := range sources {
		if ns := m.lastPacket[i].Load(); ns != 0 {
			s.LastPacket[src] = time.Unix(0, ns)
		}
	}
	for _, src := range m.cfg.Sources {
		if cs, ok := src.(CloudStater); ok {
			if st, ok := cs.CloudState(); ok {
				s.Cloud = &st
				break
			}
		}
	}
	return s
}

// QueueDepth returns how many messages wait for the state tracker and
// the queue's capacity (MonitorConfig.QueueSize), for metrics: a queue
// that stays near full is about to drop messages (MonitorStats.Dropped).
func (m *Monitor) QueueDepth() (n, capacity int) { return m.in.len(), m.in.size }

// Stats returns the monitor's counters.
func (m *Monitor) Stats() MonitorStats {
	return MonitorStats{
		Messages: m.messages.Load(), Dropped: m.dropped.Load(), WrongDevice: m.wrongDevice.Load(),
		Unknown: m.unknown.Load(), Events: m.events.Load(),
		Refreshes: m.refreshes.Load(), RefreshErrors: m.refreshErrors.Load(),
		Merged: m.mergedCounts(),
	}
}

// mergedCounts returns the merger's counters per source.
func (m *Monitor) mergedCounts() map[event.Source]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[event.Source]uint64, len(sources))
	for i, src := range sources {
		out[src] = m.merge.merged[i]
	}
	return out
}

var sources = [...]event.Source{event.SourceLocal, event.SourceCloud, event.SourceHistory}

func sourceIndex(src event.Source) int {
	for i, s := range sources {
		if s == src {
			return i
		}
	}
	return -1
}

func isPowerOfTwo(n uint64) bool { return bits.OnesCount64(n) == 1 }
