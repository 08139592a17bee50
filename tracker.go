package g90

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// State is what a Monitor knows about its panel: a snapshot, safe to keep.
type State struct {
	// GUID is the panel's GUID from its host info; "" until read.
	GUID string `json:"guid"`
	// Arm is the arm state: from the last arm/disarm event, or from the
	// status read at start and at each poll; "" while unknown. The
	// reference keeps none (spec: B.5 [REC]).
	Arm event.ArmState `json:"arm"`
	// Alarm is true from an alarm (or an arm state "alarmed") until the
	// next arm/disarm event to another state.
	Alarm bool `json:"alarm"`
	// AlarmSensor is the sensor that raised the alarm, when a sensor did.
	AlarmSensor *SensorRef `json:"alarm_sensor,omitempty"`
	// AlertFlags are the panel's alert configuration flags (command 117),
	// read at start and at each refresh; nil while never read.
	AlertFlags *protocol.AlertFlags `json:"alert_flags,omitempty"`
	// Info is the panel's host info (command 206: versions, signal
	// levels, network), from the last read; nil while never read. Shared
	// by the snapshots of one read: read-only.
	Info *protocol.HostInfo `json:"info,omitempty"`
	// Sensors are the panel's sensors with the state events gave them.
	Sensors []SensorState `json:"sensors"`
	// SensorRecords and DeviceRecords are the lists as last read from
	// the panel (flags, alert modes, protocols: what a consumer needs to
	// change a peripheral), shared by every snapshot: read-only.
	SensorRecords []*peripheral.Sensor `json:"-"`
	DeviceRecords []*peripheral.Device `json:"-"`
	// Config is the panel's configuration as last read
	// (MonitorConfig.Config); nil while never read. Shared: read-only.
	Config *ConfigState `json:"-"`
	// Devices are the panel's relays, sockets and sirens, one entry per
	// node.
	Devices []DeviceRef `json:"devices"`
	// Reachable reports whether the last read of the panel (at start, at
	// each Poll and each refresh) got an answer; LastRead is when that
	// answer came.
	Reachable bool      `json:"reachable"`
	LastRead  time.Time `json:"last_read"`
	// LastPacket is when a packet last came from the panel, per source
	// (spec: A.8): "local", "cloud", "history".
	LastPacket map[event.Source]time.Time `json:"last_packet"`
	// Transport is how commands reach the panel: "local" (UDP) or
	// "cloud" (its cloud connection, g90.Config.Carrier).
	Transport string `json:"transport"`
	// Cloud is what the cloud server knows of the panel's connection:
	// its address and any conflict (two addresses naming the panel);
	// nil unless a source reports it (CloudStater).
	Cloud *CloudState `json:"cloud,omitempty"`
}

// ConfigState is the configuration the Monitor read (MonitorConfig.Config).
// A new read makes a new one; it is never changed.
type ConfigState struct {
	// Sections are the records as last read; a section never read is
	// missing.
	Sections map[Section]protocol.Record
	// ReadAt is when the read of each section began: a write finished
	// after it is not in it.
	ReadAt map[Section]time.Time
	// Missing are the optional sections (SIA, CID) the panel did not
	// answer for: not read again until Reread(ReadConfigFresh).
	Missing map[Section]bool
}

// SensorRef names a sensor in an event or state.
type SensorRef struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Type  string `json:"type"`
}

// SensorState is one sensor and the per-sensor state of spec: B.5.
type SensorState struct {
	SensorRef
	// TypeID is the sensor's type (door, infrared, remote…); Enabled is
	// false for a sensor disabled on the panel, which reports nothing.
	TypeID             peripheral.Type `json:"type_id"`
	Enabled            bool            `json:"enabled"`
	Occupied           bool            `json:"occupied"`
	Tamper             bool            `json:"tamper"`
	LowBattery         bool            `json:"low_battery"`
	DoorOpenWhenArming bool            `json:"door_open_when_arming"`
	// Changed is when the sensor last reported (an activity, its reset,
	// a tamper, an alarm, a low battery, open when arming), kept across
	// restarts; zero while it never did since it was first read.
	Changed time.Time `json:"changed,omitzero"`

	key       peripheral.Key
	panelName string    // the record's name; Name may carry a #1 suffix
	door      bool      // type 1: the panel reports closing (spec: B.6.1)
	resetAt   time.Time // pending occupancy auto-reset, or zero
}

// DeviceRef is one node of a device.
type DeviceRef struct {
	Index int    `json:"index"`
	Node  int    `json:"node"` // 0-based node (subindex)
	Name  string `json:"name"`
	Type  string `json:"type"`
	// On is the node's last switched state (a relay_switched event),
	// kept across restarts; nil while it was never switched through g90.
	// The panel cannot report it (spec: peripherals.md).
	On *bool `json:"on,omitempty"`
	// Changed is when it was last switched (with On).
	Changed time.Time `json:"changed,omitzero"`

	key peripheral.Key
}

// tracker is the state machine of spec: B.3–B.6. It does no I/O and is
// used by one goroutine.
type tracker struct {
	st    State
	reset time.Duration // occupancy auto-reset interval; ≤ 0 never
	// alarmEvent: an alarm event of the current alarm was seen, so
	// AlarmSensor is settled (nil for a host SOS).
	alarmEvent bool
	// miss is called when a lookup fails so that the lists get
	// refreshed (spec: B.4).
	miss func(index int, name string)
	// resets counts the sensors with a pending occupancy reset.
	resets int
}

// lookup finds the sensor an event names: the index must match and the
// name must be the panel's (spec: B.4). The reference compares the
// display name, which carries "#1" for sensors whose node_count is not 1
// and so never matches; we accept the panel's name too.
func (t *tracker) lookup(index int, name string) *SensorState {
	for i := range t.st.Sensors {
		s := &t.st.Sensors[i]
		if s.Index == index {
			if s.Name == name || s.panelName == name {
				return s
			}
			break
		}
	}
	if t.miss != nil {
		t.miss(index, name)
	}
	return nil
}

// apply updates the state for one event and appends to out what the
// consumers get: the event itself, preceded by the sensor activity an
// alarm implies for an unoccupied sensor (spec: B.3 Alarm step 2.2).
func (t *tracker) apply(out []event.Event, ev *event.Event, now time.Time) []event.Event {
	if ev.GUID == "" {
		ev.GUID = t.st.GUID
	}
	var s *SensorState
	if ev.Sensor {
		if s = t.lookup(ev.Index, ev.Name); s != nil {
			ev.SensorType = s.Type
		}
	}
	switch ev.Type {
	case event.ArmDisarm:
		t.armDisarm(ev.State)
	case event.SensorActivity:
		t.activity(s, ev.Occupied, now)
	case event.Tamper, event.Alarm:
		if s != nil && !s.Occupied {
			act := *ev
			act.Type, act.Occupied, act.Tamper = event.SensorActivity, true, false
			t.activity(s, true, now)
			out = append(out, act)
		}
		if ev.Type == event.Tamper && s != nil {
			s.Tamper = true
		}
		if ev.Type == event.Alarm {
			// The first sensor is the one that raised it; an arm state
			// "alarmed" may have come first.
			t.st.Alarm = true
			if !t.alarmEvent && ev.Sensor {
				t.st.AlarmSensor = &SensorRef{Index: ev.Index, Name: ev.Name, Type: ev.SensorType}
			}
			t.alarmEvent = true
		}
	case event.LowBattery:
		if s != nil {
			s.LowBattery = true
		}
	case event.DoorOpenWhenArming:
		if s != nil {
			s.DoorOpenWhenArming = true
		}
	case event.RelaySwitched:
		t.relaySwitched(ev, now)
	}
	if s != nil {
		switch ev.Type {
		case event.SensorActivity, event.Tamper, event.Alarm, event.LowBattery, event.DoorOpenWhenArming:
			s.Changed = ev.Time
			if s.Changed.IsZero() {
				s.Changed = now
			}
		}
	}
	return append(out, *ev)
}

// relaySwitched records a relay node's new state and names the node in
// the event as the device list does.
func (t *tracker) relaySwitched(ev *event.Event, now time.Time) {
	if ev.Device == nil {
		return
	}
	for i := range t.st.Devices {
		d := &t.st.Devices[i]
		if d.Index == ev.Device.Index && d.Node == ev.Device.Node {
			on := ev.On
			d.On, d.Changed = &on, cmp.Or(ev.Time, now)
			ev.Device = &event.DeviceRef{Index: d.Index, Node: d.Node, Name: d.Name, Type: d.Type}
			return
		}
	}
}

// armDisarm clears the flags an arm state change clears (spec: B.6.2) and
// tracks the alarm.
func (t *tracker) armDisarm(state event.ArmState) {
	for i := range t.st.Sensors {
		t.st.Sensors[i].Tamper = false
		t.st.Sensors[i].DoorOpenWhenArming = false
	}
	t.setArm(state)
}

func (t *tracker) setArm(state event.ArmState) {
	t.st.Arm = state
	if state == event.Alarmed {
		t.st.Alarm = true
	} else {
		t.st.Alarm, t.st.AlarmSensor, t.alarmEvent = false, nil, false
	}
}

// activity is spec: B.3 SensorActivity for a found sensor: it clears low
// battery (spec: B.6.3), sets occupancy and schedules the auto-reset,
// except for a door sensor while the panel reports door closing (spec:
// B.6.1). A new activation moves a pending reset ([REC] debounce).
func (t *tracker) activity(s *SensorState, occupied bool, now time.Time) {
	if s == nil {
		return
	}
	s.LowBattery = false
	s.Occupied = occupied
	doorCloseAlerts := t.st.AlertFlags != nil && *t.st.AlertFlags&protocol.AlertDoorClose != 0
	if t.reset > 0 && !(s.door && doorCloseAlerts) {
		if s.resetAt.IsZero() {
			t.resets++
		}
		s.resetAt = now.Add(t.reset)
	}
}

// nextReset returns the earliest pending auto-reset, or zero.
func (t *tracker) nextReset() time.Time {
	var next time.Time
	if t.resets == 0 { // every event asks: most change no occupancy
		return next
	}
	for i := range t.st.Sensors {
		if r := t.st.Sensors[i].resetAt; !r.IsZero() && (next.IsZero() || r.Before(next)) {
			next = r
		}
	}
	return next
}

// resetDue clears the occupancy of every sensor whose reset is due and
// appends a sensor_activity event with Reset set for each that was
// occupied.
func (t *tracker) resetDue(out []event.Event, now time.Time) []event.Event {
	for i := range t.st.Sensors {
		s := &t.st.Sensors[i]
		if s.resetAt.IsZero() || s.resetAt.After(now) {
			continue
		}
		s.resetAt = time.Time{}
		t.resets--
		if !s.Occupied {
			continue
		}
		s.Occupied, s.Changed = false, now
		out = append(out, event.Event{
			Type: event.SensorActivity, Time: now, GUID: t.st.GUID,
			Sensor: true, Index: s.Index, Name: s.Name, SensorType: s.Type, Reset: true,
		})
	}
	return out
}

// setSensors replaces the sensor list with a fresh read, keeping the state
// of the sensors that stayed, and appends sensor_added and sensor_removed
// events for the differences (spec: B.8; unlike the reference, a refresh
// reports only changes). The first list sets the baseline silently.
func (t *tracker) setSensors(out []event.Event, list []*peripheral.Sensor, first bool, now time.Time) []event.Event {
	old := t.st.Sensors
	next := make([]SensorState, 0, len(list))
	for _, s := range list {
		ns := SensorState{
			SensorRef: SensorRef{Index: s.Index(), Name: s.Name(), Type: s.TypeName()},
			TypeID:    s.Type(), Enabled: s.Enabled(),
			key: s.Key(), panelName: s.Record.Name, door: s.Type() == peripheral.TypeDoor,
		}
		if i := slices.IndexFunc(old, func(o SensorState) bool { return o.key == ns.key }); i >= 0 {
			o := old[i]
			ns.Occupied, ns.Tamper, ns.LowBattery, ns.DoorOpenWhenArming, ns.Changed, ns.resetAt = o.Occupied, o.Tamper, o.LowBattery, o.DoorOpenWhenArming, o.Changed, o.resetAt
		} else if !first {
			out = append(out, t.listEvent(event.SensorAdded, ns.SensorRef, now))
		}
		next = append(next, ns)
	}
	if !first {
		for _, o := range old {
			if !slices.ContainsFunc(next, func(n SensorState) bool { return n.key == o.key }) {
				out = append(out, t.listEvent(event.SensorRemoved, o.SensorRef, now))
			}
		}
	}
	t.st.Sensors, t.st.SensorRecords = next, slices.Clip(list)
	t.resets = 0
	for i := range next {
		if !next[i].resetAt.IsZero() {
			t.resets++
		}
	}
	return out
}

// setDevices is setSensors for the device list, one entity per node
// (spec: B.8).
func (t *tracker) setDevices(out []event.Event, list []*peripheral.Device, first bool, now time.Time) []event.Event {
	old := t.st.Devices
	var next []DeviceRef
	for _, d := range list {
		for _, n := range d.Nodes() {
			nd := DeviceRef{Index: n.Record.Index, Node: n.Subindex, Name: n.Name(), Type: n.TypeName(), key: n.Key()}
			if i := slices.IndexFunc(old, func(o DeviceRef) bool { return o.key == nd.key }); i >= 0 {
				nd.On, nd.Changed = old[i].On, old[i].Changed
			} else if !first {
				out = append(out, t.deviceEvent(event.DeviceAdded, nd, now))
			}
			next = append(next, nd)
		}
	}
	if !first {
		for _, o := range old {
			if !slices.ContainsFunc(next, func(n DeviceRef) bool { return n.key == o.key }) {
				out = append(out, t.deviceEvent(event.DeviceRemoved, o, now))
			}
		}
	}
	t.st.Devices, t.st.DeviceRecords = next, slices.Clip(list)
	return out
}

func (t *tracker) listEvent(typ event.Type, s SensorRef, now time.Time) event.Event {
	return event.Event{Type: typ, Time: now, GUID: t.st.GUID, Sensor: true, Index: s.Index, Name: s.Name, SensorType: s.Type}
}

func (t *tracker) deviceEvent(typ event.Type, d DeviceRef, now time.Time) event.Event {
	return event.Event{Type: typ, Time: now, GUID: t.st.GUID, Device: &event.DeviceRef{Index: d.Index, Node: d.Node, Name: d.Name, Type: d.Type}}
}

// snapshot returns a copy of the state that shares nothing with t.
func (t *tracker) snapshot() State {
	s := t.st
	s.Sensors = slices.Clone(s.Sensors)
	s.Devices = slices.Clone(s.Devices)
	if s.AlarmSensor != nil {
		a := *s.AlarmSensor
		s.AlarmSensor = &a
	}
	if s.AlertFlags != nil {
		f := *s.AlertFlags
		s.AlertFlags = &f
	}
	return s
}

// String describes a sensor reference for logs.
func (r SensorRef) String() string { return fmt.Sprintf("%d %q", r.Index, r.Name) }
