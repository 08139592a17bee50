package g90

import (
	"iter"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/g90alarm/g90/event"
)

// Delivery is what a subscription receives.
type Delivery struct {
	// Event is the event; its Type is "" in a state-only delivery.
	Event event.Event
	// State is the panel's state once the message that brought the
	// event was applied (SubscribeState): consumers need not call
	// Monitor.State. It is shared by every subscriber and must not be
	// modified; nil for Subscribe and SubscribeUpdates.
	State *State
	// Update marks an event delivered before (the same Seq) whose
	// Sources grew: a later report of the same happening came through
	// another source and was merged into it (issue 16.1). A journal
	// stores the new Sources; a consumer that acts on events ignores it.
	// Only SubscribeState and SubscribeUpdates deliver updates.
	Update bool
}

// subKind is what a subscription receives.
type subKind uint8

const (
	kindEvents  subKind = iota // Subscribe: events
	kindUpdates                // SubscribeUpdates: events and updates
	kindState                  // SubscribeState: events, updates, state
)

// Subscribe returns a subscription that receives every event from now on,
// in order, through a queue of size events (0 means 256); consumer names
// it in ConsumerStats and in logs ("journal", "mqtt", …). The monitor
// waits for a subscriber whose queue is full, so nothing is lost to a
// consumer that is merely slow, and the sources wait in turn (see
// Monitor). A subscriber that takes nothing for StallTimeout is stalled:
// its events are dropped, counted (Subscription.Dropped) and logged
// until its queue is half empty again, and the others go on. The
// subscription ends with Close or when Run returns.
func (m *Monitor) Subscribe(consumer string, size int) *Subscription {
	return m.subscribe(consumer, size, kindEvents)
}

// SubscribeState is Subscribe for a consumer that keeps the panel's
// state: every Delivery carries the state its event produced, updates of
// merged events come too, and a read of the panel (at start, at each
// Poll, after Refresh) that gave no event delivers the state alone
// (Event.Type ""). The first delivery after the first read has the
// GUID, host info and lists (unless the panel did not answer).
func (m *Monitor) SubscribeState(consumer string, size int) *Subscription {
	return m.subscribe(consumer, size, kindState)
}

// SubscribeUpdates is SubscribeState without the state: every event and
// the updates of merged events (Update set), with State nil, for a
// consumer that stores events (the journal).
func (m *Monitor) SubscribeUpdates(consumer string, size int) *Subscription {
	return m.subscribe(consumer, size, kindUpdates)
}

func (m *Monitor) subscribe(consumer string, size int, kind subKind) *Subscription {
	if size <= 0 {
		size = 256
	}
	s := &Subscription{
		m: m, consumer: consumer, kind: kind, size: size,
		ready: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{}),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		s.end()
		return s
	}
	m.subs = append(m.subs, s)
	return s
}

// ConsumerStats describes one subscription.
type ConsumerStats struct {
	Consumer string
	Queued   int    // events waiting in its queue
	Capacity int    // the queue's size
	Dropped  uint64 // events lost while it was stalled
	Stalled  bool   // its events are being dropped now
}

// Consumers describes every open subscription, in the order they were
// made.
func (m *Monitor) Consumers() []ConsumerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ConsumerStats, len(m.subs))
	for i, s := range m.subs {
		out[i] = ConsumerStats{Consumer: s.consumer, Queued: s.Queued(), Capacity: s.size, Dropped: s.dropped.Load(), Stalled: s.stalled.Load()}
	}
	return out
}

// close ends every subscription once Run is over.
func (m *Monitor) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended = true
	for _, s := range m.subs {
		s.mu.Lock()
		s.end()
		s.mu.Unlock()
	}
	m.subs = nil
	m.timer.Stop()
	// Whoever waits for the first read must not wait for ever when Run
	// ended before it (a source that failed at once).
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}
}

// Subscription is one consumer's queue of deliveries. The Monitor
// appends to it; the consumer takes all that is queued at once (Take),
// so that a stream costs one hand-over per batch, not one per event
// (issue 20.3), and waits on Ready between batches:
//
//	var batch []g90.Delivery
//	for {
//		select {
//		case <-ctx.Done():
//			return
//		case <-sub.Ready():
//		}
//		batch, ok := sub.Take(batch)
//		for _, d := range batch { … }
//		if !ok {
//			return // the subscription ended
//		}
//	}
//
// All does the same for a consumer that only reads the subscription. One
// goroutine consumes a subscription; Close may be called from any.
type Subscription struct {
	m        *Monitor
	consumer string
	kind     subKind
	size     int
	ready    chan struct{} // capacity 1: something was queued; closed at the end
	room     chan struct{} // capacity 1: Take made room for the waiting sender
	done     chan struct{} // closed at the end: the sender stops waiting

	mu      sync.Mutex // guards q, waiting, closed
	q       []Delivery
	waiting bool // the sender waits for room
	closed  bool
	// caughtUp is set by admit, under mu, when a stalled consumer has
	// room again; admitted logs it.
	caughtUp bool
	stalled  atomic.Bool // written by the sender only
	dropped  atomic.Uint64
}

// Ready returns a channel that has a value when deliveries were queued
// since the last Take, and is closed when the subscription has ended;
// then Take returns them.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the deliveries queued since the last Take, oldest first,
// and ok false once the subscription has ended and nothing is left. buf
// is a slice Take may reuse: pass the previous batch back once done with
// it (nil is fine). Take does not wait; it returns no deliveries when
// none are queued.
func (s *Subscription) Take(buf []Delivery) (batch []Delivery, ok bool) {
	clear(buf) // no stale state pointers kept alive
	s.mu.Lock()
	defer s.mu.Unlock()
	batch, s.q = s.q, buf[:0]
	if s.waiting {
		s.waiting = false
		select {
		case s.room <- struct{}{}:
		default:
		}
	}
	return batch, !s.closed || len(batch) > 0
}

// All yields every delivery in order until the subscription ends (Close,
// or the Monitor's Run returned): for a consumer that waits for nothing
// else.
func (s *Subscription) All() iter.Seq[Delivery] {
	return func(yield func(Delivery) bool) {
		var batch []Delivery
		for {
			<-s.ready
			var ok bool
			batch, ok = s.Take(batch)
			for _, d := range batch {
				if !yield(d) {
					return
				}
			}
			if !ok {
				return
			}
		}
	}
}

// Queued returns how many deliveries wait to be taken.
func (s *Subscription) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}

// Dropped returns how many events this subscriber lost while stalled.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription: Take returns what is still queued, then
// ok false. It may be called while the monitor waits to queue, from any
// goroutine.
func (s *Subscription) Close() {
	m := s.m
	m.mu.Lock()
	for i, o := range m.subs {
		if o == s {
			m.subs = append(m.subs[:i], m.subs[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end()
}

// end marks s ended and wakes its consumer and a waiting sender; s.mu
// or, before s is shared, nothing is held.
func (s *Subscription) end() {
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	close(s.ready)
}

// put queues ds, waiting for room up to the stall timeout, or drops them
// while the subscriber is stalled. Only the tracker's goroutine calls it.
func (s *Subscription) put(ds []Delivery) {
	for len(ds) > 0 {
		n := s.admit(len(ds))
		if n < 0 {
			for i := range ds {
				s.drop(&ds[i].Event)
			}
			return
		}
		if n == 0 {
			return
		}
		s.q = append(s.q, ds[:n]...)
		ds = ds[n:]
		s.admitted()
	}
}

// putEvents is put for a subscription of events alone (Subscribe): each
// event becomes its Delivery in the queue itself, with no batch of
// deliveries copied in between (issue 20.3: a copy of some 240 bytes per
// event on the alert path).
func (s *Subscription) putEvents(evs []event.Event) {
	for len(evs) > 0 {
		n := s.admit(len(evs))
		if n < 0 {
			for i := range evs {
				s.drop(&evs[i])
			}
			return
		}
		if n == 0 {
			return
		}
		// Grown once, then each event copied into its delivery: a
		// Delivery{Event: e} literal is built and then copied again.
		k := len(s.q)
		s.q = slices.Grow(s.q, n)[:k+n]
		for i := range evs[:n] {
			d := &s.q[k+i]
			d.Event, d.State, d.Update = evs[i], nil, false
		}
		evs = evs[n:]
		s.admitted()
	}
}

// admit waits until s's queue has room for some of want deliveries, up to
// the stall timeout, and returns how many fit, with s.mu held for the
// caller to queue them and then call admitted. It returns 0 when s has
// ended and -1 when s is stalled: the caller drops them. Only the
// tracker's goroutine calls it.
func (s *Subscription) admit(want int) int {
	m := s.m
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0
		}
		// A stalled consumer that has taken half its queue reads again:
		// it is waited for again, before a batch larger than its room
		// is cut short.
		// (It then has room: the branch below is taken.)
		if s.stalled.Load() && len(s.q) <= s.size/2 {
			s.stalled.Store(false)
			s.caughtUp = true
		}
		if n := min(s.size-len(s.q), want); n > 0 {
			if len(s.q) == 0 {
				select {
				case s.ready <- struct{}{}:
				default:
				}
			}
			return n
		}
		if s.stalled.Load() {
			s.mu.Unlock()
			return -1
		}
		s.waiting = true
		s.mu.Unlock()
		m.stall.Reset(m.cfg.StallTimeout)
		select {
		case <-s.done:
		case <-s.room:
		case <-m.stall.C:
			s.stalled.Store(true)
			m.log.Error("consumer took no event for too long: its events are dropped (counted) until it catches up", "consumer", s.consumer, "waited", m.cfg.StallTimeout)
		}
		m.stall.Stop()
	}
}

// admitted releases s.mu after admit and logs, outside the lock (a slow
// log sink holds up no Take), that a stalled consumer caught up.
func (s *Subscription) admitted() {
	caughtUp := s.caughtUp
	s.caughtUp = false
	s.mu.Unlock()
	if caughtUp {
		s.m.log.Warn("consumer caught up: its events are delivered again", "consumer", s.consumer, "dropped", s.dropped.Load())
	}
}

// drop counts an event lost to a stalled subscriber.
func (s *Subscription) drop(ev *event.Event) {
	if n := s.dropped.Add(1); isPowerOfTwo(n) {
		s.m.log.Warn("stalled consumer: event dropped", "consumer", s.consumer, "event", ev.Type, "seq", ev.Seq, "dropped", n)
	}
}
