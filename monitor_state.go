package g90

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/atomicfile"
	"github.com/g90alarm/g90/peripheral"
)

// SetRelay switches a relay node as Panel.SetRelay does and, once the
// panel has taken the command, makes the new state part of the
// monitor's: a relay_switched event to every subscriber, the node's On in
// State, kept in the StateFile. The panel reports no relay state (spec:
// peripherals.md), so the last switch through g90 is all anyone knows;
// switch relays through the Monitor so that every consumer sees it.
func (m *Monitor) SetRelay(ctx context.Context, index, node int, on bool) error {
	if err := m.p.SetRelay(ctx, index, node, on); err != nil {
		return err
	}
	ev := &event.Event{
		Type: event.RelaySwitched, Time: m.cfg.Now(), Source: event.SourceCommand,
		Device: &event.DeviceRef{Index: index, Node: node}, On: on,
	}
	if m.enqueue(&item{ev: ev, src: event.SourceCommand, at: ev.Time}, true, ctx.Done()) {
		return nil
	}
	return fmt.Errorf("g90: relay %d:%d switched %s, but the monitor stopped before recording it", index, node, map[bool]string{true: "on", false: "off"}[on])
}

// savedState is the StateFile: what no read of the panel reports and a
// restart would otherwise forget (issue 15.9, spec B.5): each sensor's
// tamper, low battery, open-when-arming and, for door sensors, open;
// each relay node's last switched state.
type savedState struct {
	GUID    string        `json:"guid"`
	Sensors []savedSensor `json:"sensors"`
	Devices []savedDevice `json:"devices"`
}

// savedKey identifies a sensor or device node as peripheral.Key does.
type savedKey struct {
	Type     peripheral.Type     `json:"type"`
	Subtype  int                 `json:"subtype"`
	Protocol peripheral.Protocol `json:"protocol"`
	Index    int                 `json:"index"`
	Subindex int                 `json:"subindex"`
}

func (k savedKey) key() peripheral.Key {
	return peripheral.Key{Type: k.Type, Subtype: k.Subtype, Protocol: k.Protocol, Index: k.Index, Subindex: k.Subindex}
}

func keyOf(k peripheral.Key) savedKey {
	return savedKey{Type: k.Type, Subtype: k.Subtype, Protocol: k.Protocol, Index: k.Index, Subindex: k.Subindex}
}

type savedSensor struct {
	Key                savedKey  `json:"key"`
	Open               bool      `json:"open,omitempty"` // door sensors only
	Tamper             bool      `json:"tamper,omitempty"`
	LowBattery         bool      `json:"low_battery,omitempty"`
	DoorOpenWhenArming bool      `json:"door_open_when_arming,omitempty"`
	Changed            time.Time `json:"changed,omitzero"`
}

type savedDevice struct {
	Key     savedKey  `json:"key"`
	On      bool      `json:"on"`
	Changed time.Time `json:"changed,omitzero"`
}

// parseSaved reads a StateFile's content.
func parseSaved(b []byte) (*savedState, error) {
	var s savedState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.GUID == "" {
		return nil, errors.New("no guid")
	}
	return &s, nil
}

// loadSaved reads the StateFile; a missing one is no state, a damaged one
// is logged and ignored (it is rewritten at the next save).
func (m *Monitor) loadSaved() *savedState {
	if m.cfg.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(m.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var s *savedState
	if err == nil {
		s, err = parseSaved(b)
	}
	if err != nil {
		m.log.Warn("monitor: saved sensor and relay state not read; starting without it", "path", m.cfg.StateFile, "err", err)
		return nil
	}
	return s
}

// restore gives the sensors and devices of the first read (with the
// GUID known) the state saved for them, when the saved state is this
// panel's. A flag an event set since the start stays set. m.mu is held.
func (t *tracker) restore(s *savedState, sensors, devices bool) {
	if s == nil || s.GUID != t.st.GUID {
		return
	}
	if sensors {
		for _, ss := range s.Sensors {
			for i := range t.st.Sensors {
				st := &t.st.Sensors[i]
				if st.key == ss.Key.key() {
					st.Tamper, st.LowBattery = st.Tamper || ss.Tamper, st.LowBattery || ss.LowBattery
					st.DoorOpenWhenArming = st.DoorOpenWhenArming || ss.DoorOpenWhenArming
					st.Occupied = st.Occupied || st.door && ss.Open
					if st.Changed.IsZero() {
						st.Changed = ss.Changed
					}
				}
			}
		}
	}
	if devices {
		for _, sd := range s.Devices {
			for i := range t.st.Devices {
				if d := &t.st.Devices[i]; d.key == sd.Key.key() && d.On == nil {
					on := sd.On
					d.On, d.Changed = &on, sd.Changed
				}
			}
		}
	}
}

// saved is the state to save. m.mu is held.
func (t *tracker) saved() savedState {
	s := savedState{GUID: t.st.GUID, Sensors: []savedSensor{}, Devices: []savedDevice{}}
	for _, st := range t.st.Sensors {
		ss := savedSensor{Key: keyOf(st.key), Open: st.door && st.Occupied, Tamper: st.Tamper, LowBattery: st.LowBattery, DoorOpenWhenArming: st.DoorOpenWhenArming, Changed: st.Changed}
		if ss != (savedSensor{Key: ss.Key}) {
			s.Sensors = append(s.Sensors, ss)
		}
	}
	for _, d := range t.st.Devices {
		if d.On != nil {
			s.Devices = append(s.Devices, savedDevice{Key: keyOf(d.key), On: *d.On, Changed: d.Changed})
		}
	}
	return s
}

// saveEvery is how often a changed state is written to the StateFile.
const saveEvery = time.Second

// save writes the state to the StateFile when it changed since the last
// write, once the panel's lists have been read (so that a panel still
// unreachable at start does not wipe what was saved). The tracker's
// goroutine calls it.
func (m *Monitor) save() {
	m.mu.Lock()
	if !m.loadedAny || !m.devsAny || m.t.st.GUID == "" || m.saved != nil {
		m.mu.Unlock()
		return
	}
	s := m.t.saved()
	m.mu.Unlock()
	b, err := json.Marshal(s)
	if err != nil || string(b) == string(m.lastSaved) {
		return
	}
	if err := atomicfile.Write(m.cfg.StateFile, append(b, '\n')); err != nil {
		if n := m.saveErrors.Add(1); isPowerOfTwo(n) {
			m.log.Error("monitor: sensor and relay state not saved; a restart forgets it", "path", m.cfg.StateFile, "err", err, "failures", n)
		}
		return
	}
	m.lastSaved = b
}
