package sim

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/g90alarm/g90/notify"
	defs "github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// Every change to the panel's state is an event, applied by Panel.apply.
// That one method records history and saves the state file; it is also
// where panel notifications (spec: notifications-and-cloud.md A) are to
// be sent from, so that commands, the control API and event injection all
// produce them the same way.

// event is one change to the simulated panel.
type event interface {
	// apply checks the event against st and, if it is acceptable, changes
	// st. It must not change st when it returns an error.
	apply(st *State, now time.Time) (outcome, error)
}

// outcome is what the panel reports about an applied event.
type outcome struct {
	// alerts are alert records (spec: local-protocol.md 3.15.1). Panel.apply
	// adds each to history when its alert flag is set (spec:
	// local-protocol.md 3.18); the same rule gates 208 alert datagrams
	// (spec: notifications-and-cloud.md A.4). UnixTime 0 means now.
	alerts []protocol.HistoryEntry
	// notes are notification payloads [kind,[fields…]], sent as
	// [170,payload] whatever the alert flags say (spec:
	// notifications-and-cloud.md A.1, A.3).
	notes []notify.Notification
	// lateNotes are notes sent after the alerts: what the arming itself
	// (its notification and its alert) must not clear.
	lateNotes []notify.Notification
	// index is the index the event stored a sensor or device at.
	index int
	// stored reports that index is meaningful.
	stored bool
	// sent are the datagrams apply sent for the event, in order.
	sent [][]byte
}

// Errors events return. The command handler answers all of them with
// "fail" (spec: local-protocol.md 1.4).
var (
	ErrNotLearning = errors.New("sim: no sensor is being learned")
	errNoSuchIndex = errors.New("sim: no such index")
	errBadValue    = errors.New("sim: value out of range")
	errFull        = errors.New("sim: list full")
)

// apply applies ev under the state lock, records its alerts in history,
// sends its notifications and alerts, and saves the state. Datagrams leave
// in the order the state changed: the send lock is taken before the state
// lock is released.
func (p *Panel) apply(ev event) (outcome, error) {
	p.mu.Lock()
	now := p.now()
	server, guid := p.state.CloudServer, p.state.Host.GUID
	out, err := ev.apply(&p.state, now)
	var datagrams, cloud [][]byte
	if err == nil {
		for _, n := range out.notes {
			d := notification(n)
			datagrams = append(datagrams, d)
			if p.cloud != nil {
				cloud = append(cloud, p.wrapNotification(d))
			}
		}
		for i := range out.alerts {
			a := &out.alerts[i]
			if a.UnixTime == 0 {
				a.UnixTime = int(now.Unix())
			}
			if a.Other.Kind == protocol.Invalid {
				a.Other = protocol.StringValue("") // spec: local-protocol.md 3.15.1
			}
			// The same flag gates the history record and the alert
			// datagram (spec: local-protocol.md 3.18, notifications-and-cloud.md A.6.9).
			if f := alertFlag(*a); f == 0 || p.state.AlertFlags&f != 0 {
				p.state.History = slices.Insert(p.state.History, 0, *a)
				datagrams = append(datagrams, alertDatagram(*a, p.state.Host.GUID))
				if p.cloud != nil {
					cloud = append(cloud, p.statusChange(*a))
				}
			}
		}
		for _, n := range out.lateNotes {
			d := notification(n)
			datagrams = append(datagrams, d)
			if p.cloud != nil {
				cloud = append(cloud, p.wrapNotification(d))
			}
		}
		if len(p.state.History) > maxHistory {
			p.state.History = p.state.History[:maxHistory]
		}
	}
	out.sent = datagrams
	moved := p.state.CloudServer != server
	server, renamed := p.state.CloudServer, p.state.Host.GUID != guid
	guid = p.state.Host.GUID
	p.notifyMu.Lock()
	p.mu.Unlock()
	p.sendNotifications(datagrams)
	if p.cloud != nil {
		p.cloud.Send(cloud...)
	}
	p.notifyMu.Unlock()
	if err != nil {
		return out, err
	}
	if p.cloud != nil && renamed {
		p.cloud.SetGUID(guid)
	}
	if p.cloud != nil && moved {
		// The 1,78 system command points the panel elsewhere (spec:
		// notifications-and-cloud.md E.2); the secondary is unused.
		p.cloud.SetAddr(net.JoinHostPort(server.Primary, strconv.Itoa(server.Port)))
	}
	p.logger.Debug("sim: state changed", "event", fmt.Sprintf("%T", ev))
	p.save()
	return out, nil
}

// alertFlag returns the alert configuration bit that must be set for the
// panel to record e, or 0 when e is always recorded (alarms, SOS, remote
// buttons and keypad actions have no bit; spec: local-protocol.md 3.18,
// notifications-and-cloud.md A.6.9).
func alertFlag(e protocol.HistoryEntry) protocol.AlertFlags {
	switch e.Type {
	case protocol.TypeStateChange:
		switch e.EventID {
		case scACFailure:
			return protocol.AlertACPowerFailure
		case scACRecover:
			return protocol.AlertACPowerRecover
		case scDisarm, scArmAway, scArmHome:
			return protocol.AlertArmDisarm
		case scHostBatt:
			return protocol.AlertHostLowVoltage
		case scWiFiUp:
			return protocol.AlertWiFiAvailable
		case scWiFiDown:
			return protocol.AlertWiFiUnavailable
		}
	case protocol.TypeSensorActivity:
		switch e.Source {
		case protocol.SourceRemote:
		case protocol.SourceRFID:
			if e.State == rfidLowBatt {
				return protocol.AlertSensorLowVoltage
			}
		case protocol.SourceInfrared:
			if e.State == irLowBatt {
				return protocol.AlertSensorLowVoltage
			}
		default:
			switch e.State {
			case stDoorOpen:
				return protocol.AlertDoorOpen
			case stDoorClose:
				return protocol.AlertDoorClose
			case stLowBatt:
				return protocol.AlertSensorLowVoltage
			}
		}
	}
	return 0
}

// armEvent is SETHOSTSTATUS (spec: local-protocol.md 3.2).
type armEvent struct{ state protocol.ArmState }

func (e armEvent) apply(st *State, _ time.Time) (outcome, error) {
	code, ok := map[protocol.ArmState]int{protocol.ArmAway: scArmAway, protocol.ArmHome: scArmHome, protocol.Disarmed: scDisarm}[e.state]
	if !ok {
		return outcome{}, fmt.Errorf("%w: arm state %d", errBadValue, e.state)
	}
	st.Arm = e.state
	// spec: local-protocol.md 3.15.3, 9.11 alert.state_change_arm_away;
	// notifications-and-cloud.md A.3 kind 1
	out := outcome{
		notes:  []notify.Notification{armNote(e.state)},
		alerts: []protocol.HistoryEntry{stateChange(code)},
	}
	if e.state != protocol.Disarmed {
		// A sensor left open whose door check is on is reported after the
		// arm state's notification and alert: the tracker clears the flag
		// on every arm/disarm (spec: peripherals.md 8,
		// notifications-and-cloud.md A.3 kind 6; the order on a real
		// panel is [uncertain]).
		const checked = int(defs.FlagEnabled | defs.FlagDetectDoor)
		for _, i := range st.OpenDoors {
			if j := find(st.Sensors, i); j >= 0 && st.Sensors[j].UserFlags&checked == checked {
				out.lateNotes = append(out.lateNotes, notify.Notification{Kind: notify.KindDoorOpenWhenArming, Index: i, Name: st.Sensors[j].Name})
			}
		}
	}
	return out, nil
}

// listKind says which list a peripheral event is about.
type listKind bool

const (
	sensorList listKind = false
	deviceList listKind = true
)

func (k listKind) list(st *State) *[]protocol.PeripheralRecord {
	if k == deviceList {
		return &st.Devices
	}
	return &st.Sensors
}

func (k listKind) String() string {
	if k == deviceList {
		return "device"
	}
	return "sensor"
}

// writeEvent is SETSINGLESENSOR / SETSINGLEDEVICE: the record with the
// same index is replaced in place (spec: local-protocol.md 3.7, 3.12).
type writeEvent struct {
	kind listKind
	rec  protocol.PeripheralRecord
}

func (e writeEvent) apply(st *State, _ time.Time) (outcome, error) {
	list := e.kind.list(st)
	i := find(*list, e.rec.Index)
	if i < 0 {
		return outcome{}, fmt.Errorf("%w: %v %d", errNoSuchIndex, e.kind, e.rec.Index)
	}
	(*list)[i] = e.rec
	if e.kind == deviceList {
		resizeRelay(st, e.rec)
	}
	return outcome{}, nil
}

// resizeRelay keeps the node states of d as far as they still exist.
func resizeRelay(st *State, d protocol.PeripheralRecord) {
	nodes := make([]bool, nodeCount(d))
	copy(nodes, st.Relays[d.Index])
	if st.Relays == nil {
		st.Relays = map[int][]bool{}
	}
	st.Relays[d.Index] = nodes
}

// deleteEvent is DELSENSOR / DELDEVICE (spec: local-protocol.md 3.8, 3.14).
type deleteEvent struct {
	kind  listKind
	index int
}

func (e deleteEvent) apply(st *State, _ time.Time) (outcome, error) {
	list := e.kind.list(st)
	i := find(*list, e.index)
	if i < 0 {
		return outcome{}, fmt.Errorf("%w: %v %d", errNoSuchIndex, e.kind, e.index)
	}
	*list = slices.Delete(*list, i, i+1)
	if e.kind == deviceList {
		delete(st.Relays, e.index)
	} else {
		st.OpenDoors = slices.DeleteFunc(st.OpenDoors, func(j int) bool { return j == e.index })
	}
	return outcome{}, nil
}

// learnEvent is ADDSENSOR: the panel enters learning mode and waits for
// the sensor to transmit (spec: local-protocol.md 3.9). A second ADDSENSOR
// replaces the pending one.
type learnEvent struct{ rec protocol.PeripheralRecord }

func (e learnEvent) apply(st *State, _ time.Time) (outcome, error) {
	st.PendingSensor = &e.rec
	return outcome{}, nil
}

// learnedEvent is the pending sensor transmitting: the panel stores it at
// an index of its own choosing. Like the panel in the capture of spec:
// local-protocol.md 3.9 (two sensors, index 0 proposed, index 3 stored),
// the simulator ignores the proposed index and takes the first free index
// above the list length, so clients must use the index the panel reports.
type learnedEvent struct{}

func (learnedEvent) apply(st *State, _ time.Time) (outcome, error) {
	if st.PendingSensor == nil {
		return outcome{}, ErrNotLearning
	}
	if len(st.Sensors) >= maxPeripherals {
		return outcome{}, errFull
	}
	rec := *st.PendingSensor
	used := indexes(st.Sensors)
	rec.Index = len(st.Sensors) + 1
	for used[rec.Index] {
		rec.Index++
	}
	st.Sensors = append(st.Sensors, rec)
	st.PendingSensor = nil
	// The sensor-change notification completes registration (spec:
	// local-protocol.md 3.9 step 3, notifications-and-cloud.md A.3).
	note := notify.Notification{Kind: notify.KindSensorChange, Index: rec.Index, Name: rec.Name, Action: sensorAdded}
	return outcome{notes: []notify.Notification{note}, index: rec.Index, stored: true}, nil
}

// announceEvent is ADDDEVICE: the panel remembers the device until
// SENDREGDEVICERESULT confirms or cancels it (spec: local-protocol.md 3.13).
type announceEvent struct{ rec protocol.PeripheralRecord }

func (e announceEvent) apply(st *State, _ time.Time) (outcome, error) {
	st.PendingDevice = &e.rec
	return outcome{}, nil
}

// registerEvent is SENDREGDEVICERESULT. On confirm the device is stored at
// the proposed index when it is free, else at the lowest free index; the
// capture in spec: local-protocol.md 9.5 devices.register shows the
// proposed free index 0 kept. Without a pending device nothing is stored
// and the reply is empty, which clients treat as failure.
type registerEvent struct{ confirm bool }

func (e registerEvent) apply(st *State, _ time.Time) (outcome, error) {
	if st.PendingDevice == nil {
		return outcome{}, nil
	}
	if e.confirm && len(st.Devices) >= maxPeripherals {
		return outcome{}, errFull
	}
	rec := *st.PendingDevice
	st.PendingDevice = nil
	if !e.confirm {
		return outcome{}, nil
	}
	used := indexes(st.Devices)
	if rec.Index < 0 || used[rec.Index] {
		rec.Index = 0
		for used[rec.Index] {
			rec.Index++
		}
	}
	st.Devices = append(st.Devices, rec)
	resizeRelay(st, rec)
	return outcome{index: rec.Index, stored: true}, nil
}

// relayEvent is CONTROLDEVICE (spec: local-protocol.md 3.11).
type relayEvent struct {
	index, node int
	on          bool
}

func (e relayEvent) apply(st *State, _ time.Time) (outcome, error) {
	i := find(st.Devices, e.index)
	if i < 0 {
		return outcome{}, fmt.Errorf("%w: device %d", errNoSuchIndex, e.index)
	}
	if e.node < 0 || e.node >= nodeCount(st.Devices[i]) {
		return outcome{}, fmt.Errorf("%w: device %d has no node %d", errBadValue, e.index, e.node)
	}
	if len(st.Relays[e.index]) != nodeCount(st.Devices[i]) {
		resizeRelay(st, st.Devices[i])
	}
	st.Relays[e.index][e.node] = e.on
	return outcome{}, nil
}

// configEvent stores a configuration object a SET command sent.
// set must leave st alone when it fails.
type configEvent struct {
	name string
	set  func(st *State) error
}

func (e configEvent) apply(st *State, _ time.Time) (outcome, error) {
	if err := e.set(st); err != nil {
		return outcome{}, fmt.Errorf("set %s: %w", e.name, err)
	}
	return outcome{}, nil
}

// Modules a reboot system command can restart (spec: local-protocol.md 5.2).
const (
	moduleMCU  = "mcu"
	moduleGSM  = "gsm"
	moduleWiFi = "wifi"
)

// rebootEvent counts a module reboot. The simulated panel does not go
// away while "rebooting".
type rebootEvent struct{ module string }

func (e rebootEvent) apply(st *State, _ time.Time) (outcome, error) {
	switch e.module {
	case moduleMCU:
		st.Reboots.MCU++
	case moduleGSM:
		st.Reboots.GSM++
	case moduleWiFi:
		st.Reboots.WiFi++
	default:
		return outcome{}, fmt.Errorf("%w: module %q", errBadValue, e.module)
	}
	return outcome{}, nil
}

// serverEvent is the 1,78 system command (spec: local-protocol.md 5.3).
type serverEvent struct{ server CloudServer }

func (e serverEvent) apply(st *State, _ time.Time) (outcome, error) {
	st.CloudServer = e.server
	return outcome{}, nil
}

// replaceEvent replaces the whole state (POST /state).
type replaceEvent struct{ state State }

func (e replaceEvent) apply(st *State, _ time.Time) (outcome, error) {
	n := e.state.Clone()
	if err := n.normalize(); err != nil {
		return outcome{}, err
	}
	*st = n
	return outcome{}, nil
}
