package g90

import (
	"math/bits"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
)

// One happening, several reports (issue 16.1). The panel reports one
// arming as a notification (kind 1) and, with its alert flag set, as an
// alert (type 2); a door opening as a notification (kind 5) and an alert
// (type 4); with a cloud connection it sends both again over TCP
// (spec: B.10, D.10.3); and history polling replays the alerts it already
// sent (spec: C). The reference delivers every report (B.10 [REF]); the
// Monitor delivers the first at once and merges the later ones into it.
//
// A report merges into an earlier event when:
//
//   - it is the same happening: the same type and the same values
//     (sensor index, arm state, occupied, tamper, host, button, keypad,
//     card);
//   - it comes through a channel that has not reported that event yet.
//     A channel is a source and a message form: local notification,
//     local alert, cloud notification, cloud alert, history entry. One
//     happening gives at most one message per channel (spec: B.10 lists
//     one of each), so two reports through the same channel are two
//     happenings: door open, closed, open stays three events however fast;
//   - it is recent: live reports (local, cloud) within mergeWindow of the
//     first, by the time they were received; a history entry within
//     historyWindow and with the panel's own timestamp equal (± 1 s) to an
//     alert's already merged into the event, as history holds only
//     alerts (spec: C).
//
// mergeWindow: no capture gives the delay between the reports of one
// happening (spec: G.10 — there are no timed captures); the panel sends
// them from one processing step (B.10), so they arrive milliseconds
// apart locally and after one TCP send over the cloud link. The panel's
// timestamps have one-second resolution (A.4 unix_time). Two seconds
// covers both, while a report lost from one channel can only swallow a
// repeat of the same happening that comes within two seconds.
//
// historyWindow: the poller reads every few seconds (C.3, 5 s by default)
// and replays only entries newer than the last one it saw; two minutes
// covers a slow panel and a retried read, and the panel timestamp must
// match anyway.
const (
	mergeWindow   = 2 * time.Second
	historyWindow = 2 * time.Minute
	// mergeMemory bounds the recent events kept for merging: 64, one
	// bit per slot in merger.has.
	mergeMemory = 64
)

// channel is one way a report reaches the Monitor.
type channel uint8

const (
	chLocalNotification channel = 1 << iota
	chLocalAlert
	chCloudNotification
	chCloudAlert
	chHistory
	channels = iota // how many there are
)

// channelOf returns the channel of a message from src with code, or 0 for
// reports that are never merged (poll, command).
func channelOf(src event.Source, code protocol.Code) channel {
	alert := code == protocol.CodeAlert
	switch src {
	case event.SourceLocal:
		if alert {
			return chLocalAlert
		}
		return chLocalNotification
	case event.SourceCloud:
		if alert {
			return chCloudAlert
		}
		return chCloudNotification
	case event.SourceHistory:
		return chHistory
	}
	return 0
}

// mergeKey is what makes two reports the same happening.
type mergeKey struct {
	typ      event.Type
	sensor   bool
	index    int
	state    event.ArmState
	occupied bool
	tamper   bool
	host     bool
	button   event.Button
	keypad   event.Keypad
	card     int
}

func keyOfEvent(ev *event.Event) mergeKey {
	return mergeKey{ev.Type, ev.Sensor, ev.Index, ev.State, ev.Occupied, ev.Tamper, ev.Host, ev.Button, ev.Keypad, ev.Card}
}

// recentEvent is an event delivered lately, for merging.
type recentEvent struct {
	key      mergeKey
	channels channel
	slot     uint8 // its index in the ring
	received int64 // when its first report arrived, unix nanoseconds; 0: a free slot
	// panelTime is the panel's timestamp (unix seconds) of an alert
	// merged into it, for matching history entries; 0 for none.
	panelTime int64
	// ev is the event as delivered, with its Seq and Sources (filled in
	// by publish).
	ev event.Event
	// pending is 1 + the event's index in Monitor.pending while it waits
	// for publish (a batch), 0 once published.
	pending int
}

// merger remembers recent events in a ring. The tracker's goroutine uses
// it, with m.mu held.
type merger struct {
	ring [mergeMemory]recentEvent
	// has[k] has bit i set when slot i was reported through the channel
	// 1<<k: a match scans only the slots a channel has not reported,
	// not the whole ring (under a stream of one kind, that is none).
	has    [channels]uint64
	next   int                  // the slot add fills next
	merged [len(sources)]uint64 // per sourceIndex
}

// match returns the recent event that ev, a report through ch received at
// now, repeats, or nil. panelTime is the report's panel timestamp (an
// alert's or history entry's), or 0.
func (g *merger) match(ev *event.Event, ch channel, now time.Time, panelTime int64) *recentEvent {
	if ch == 0 {
		return nil
	}
	// The key is made at the first candidate: under a stream of one
	// kind there is none (issue 20.3).
	var key mergeKey
	keyed := false
	at := now.UnixNano()
	// Newest first, among the slots ch has not reported: rotated so
	// that the newest slot (next-1) is bit 63 and the oldest bit 0.
	cand := bits.RotateLeft64(^g.has[chIndex(ch)], mergeMemory-g.next)
	for cand != 0 {
		b := bits.Len64(cand) - 1
		cand &^= 1 << b
		r := &g.ring[(b+g.next)&(mergeMemory-1)]
		if r.received == 0 {
			break
		}
		age := time.Duration(at - r.received)
		// The ring is in arrival order: nothing older can match.
		if age > historyWindow || (ch != chHistory && age > mergeWindow) {
			break
		}
		if !keyed {
			key, keyed = keyOfEvent(ev), true
		}
		if r.key != key {
			continue
		}
		if ch == chHistory {
			if r.panelTime == 0 || !within1s(r.panelTime, panelTime) {
				continue
			}
		} else if panelTime != 0 && r.panelTime != 0 && !within1s(r.panelTime, panelTime) {
			// Two alerts of one happening carry the same panel time.
			continue
		}
		return r
	}
	return nil
}

func within1s(a, b int64) bool { return a-b <= 1 && b-a <= 1 }

// add remembers an event delivered now from its first report through ch
// and returns its slot, valid until mergeMemory more are added; publish
// stores the event as delivered in it.
func (g *merger) add(ev *event.Event, ch channel, now time.Time, panelTime int64) *recentEvent {
	i := g.next
	r := &g.ring[i]
	g.next = (g.next + 1) % mergeMemory
	// Field by field: the event slot, some 200 bytes, is publish's to
	// fill (issue 20.3: clearing it cost a tenth of the alert path);
	// until then Seq 0 says it holds none (Monitor.merged).
	r.key, r.channels, r.slot, r.received, r.panelTime, r.pending = keyOfEvent(ev), 0, uint8(i), now.UnixNano(), panelTime, 0
	r.ev.Seq = 0
	for k := range g.has {
		g.has[k] &^= 1 << i
	}
	g.join(r, ch)
	return r
}

// join records that r was reported through ch.
func (g *merger) join(r *recentEvent, ch channel) {
	r.channels |= ch
	if ch != 0 {
		g.has[chIndex(ch)] |= 1 << r.slot
	}
}

// chIndex is the index of channel ch (one bit) in merger.has.
func chIndex(ch channel) int { return bits.TrailingZeros8(uint8(ch)) }

// count counts a merged report from src.
func (g *merger) count(src event.Source) {
	if i := sourceIndex(src); i >= 0 {
		g.merged[i]++
	}
}
