package bridge

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// values is what the bridge read from a panel for its entities, besides
// the monitor's state, and what it keeps itself. Guarded by panel.mu.
type values struct {
	// recs holds the configuration sections and the host info as the
	// Monitor last read them or this bridge wrote them; a section never
	// read is missing.
	recs map[g90.Section]protocol.Record
	// failed marks the SIA and CID sections whose read failed: not
	// tried again until the refresh button, as repeated reads break some
	// firmware (spec: local-protocol.md 7.1).
	failed map[g90.Section]bool
	// sensors and devices are the records by index, as last read or
	// written.
	sensors map[int]*peripheral.Sensor
	devices map[int]*peripheral.Device
	// deleted holds the sensors and relays this bridge deleted, hidden
	// until the monitor's lists no longer have them.
	deleted map[target]bool
	// newType and newName are the next registration's definition and
	// name, per kind; reg is the state of the last registration.
	newType, newName map[peripheral.Kind]string
	reg              regStatus
	// own holds the bridge's own switches by key (own.go).
	own map[string]bool
	// info, config, sensorList and deviceList are the Monitor's reads
	// last taken (panel.fromState); wroteAt is when this bridge last
	// wrote each section.
	info       *protocol.HostInfo
	config     *g90.ConfigState
	wroteAt    map[g90.Section]time.Time
	sensorList []*peripheral.Sensor
	deviceList []*peripheral.Device
}

func newValues() values {
	v := values{
		recs: map[g90.Section]protocol.Record{}, failed: map[g90.Section]bool{},
		sensors: map[int]*peripheral.Sensor{}, devices: map[int]*peripheral.Device{},
		deleted: map[target]bool{}, wroteAt: map[g90.Section]time.Time{},
		newType: map[peripheral.Kind]string{}, newName: map[peripheral.Kind]string{},
		reg: regStatus{state: regIdle, attrs: map[string]any{}},
		own: map[string]bool{},
	}
	v.resetNew(peripheral.KindSensor)
	v.resetNew(peripheral.KindDevice)
	return v
}

// resetNew sets the next registration of kind back to the first
// definition and no name (spec: home-assistant.md §2a: reset after
// registration).
func (v *values) resetNew(k peripheral.Kind) {
	v.newType[k] = peripheral.Definitions(k)[0].Name
	v.newName[k] = ""
}

// stored keeps a section the panel now holds and publishes the states;
// the Monitor reads it again for its state (the Panel's cache has it).
// A read of the Monitor's that began before now does not have it, and
// does not replace it (fromState).
func (p *panel) stored(s g90.Section, r protocol.Record) {
	p.mu.Lock()
	p.vals.recs[s] = r
	p.vals.wroteAt[s] = time.Now()
	delete(p.vals.failed, s)
	p.entityStatesLocked(false)
	p.mu.Unlock()
	p.mon.ConfigWritten(s)
}

// peripheral returns the record of the target sensor or relay as last
// read, or reads the list when there is none.
func (p *panel) peripheralRecord(ctx context.Context, tg target) (*peripheral.Sensor, *peripheral.Device, error) {
	p.mu.Lock()
	s, d := p.vals.sensors[tg.index], p.vals.devices[tg.index]
	p.mu.Unlock()
	if tg.scope == ScopeSensor && s == nil || tg.scope == ScopeRelay && d == nil {
		return p.findPeripheral(ctx, tg)
	}
	return s, d, nil
}

// findPeripheral reads the target's record from the panel.
func (p *panel) findPeripheral(ctx context.Context, tg target) (*peripheral.Sensor, *peripheral.Device, error) {
	key := strconv.Itoa(tg.index)
	if tg.scope == ScopeRelay {
		n, err := p.mon.Panel().FindDevice(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		return nil, n.Device, nil
	}
	s, err := p.mon.Panel().FindSensor(ctx, key)
	return s, nil, err
}

// updatePeripheral changes the target sensor or relay by the spec's
// read-modify-write (Panel.UpdateSensor, UpdateDevice), from the record
// last read; if the panel's record changed since, from a fresh read.
// Then it publishes the new states and discovery (a name is the HA
// device's name).
func (p *panel) updatePeripheral(ctx context.Context, tg target, c g90.PeripheralChange) error {
	err := p.withRecord(ctx, tg, func(s *peripheral.Sensor, d *peripheral.Device) (err error) {
		if tg.scope == ScopeRelay {
			if d, err = p.mon.Panel().UpdateDevice(ctx, d, c); err == nil {
				p.keepPeripheral(tg, nil, d)
			}
		} else if s, err = p.mon.Panel().UpdateSensor(ctx, s, c); err == nil {
			p.keepPeripheral(tg, s, nil)
		}
		return err
	})
	if err == nil {
		// Its names and enabled flags: only the list the change is in.
		p.mon.Reread(rereadOf(tg))
	}
	return err
}

// withRecord runs op on the target's record last read and, when the
// panel's record changed since (g90.ErrChanged), once more on a fresh
// read.
func (p *panel) withRecord(ctx context.Context, tg target, op func(*peripheral.Sensor, *peripheral.Device) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var s *peripheral.Sensor
		var d *peripheral.Device
		if attempt == 0 {
			s, d, err = p.peripheralRecord(ctx, tg)
		} else {
			s, d, err = p.findPeripheral(ctx, tg)
		}
		if err != nil {
			return err
		}
		if err = op(s, d); !errors.Is(err, g90.ErrChanged) {
			break
		}
	}
	return err
}

// keepPeripheral stores a record the panel now holds, or forgets the
// target's when both are nil, and publishes what changed.
func (p *panel) keepPeripheral(tg target, s *peripheral.Sensor, d *peripheral.Device) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	switch {
	case s != nil:
		p.vals.sensors[tg.index] = s
	case d != nil:
		p.vals.devices[tg.index] = d
	case tg.scope == ScopeSensor:
		delete(p.vals.sensors, tg.index)
	default:
		delete(p.vals.devices, tg.index)
	}
	p.discoveryLocked(&st, false)
	p.entityStatesLocked(false)
}

// delete deletes the target sensor or relay on the panel, and its Home
// Assistant device at once: an empty retained discovery payload.
func (p *panel) delete(ctx context.Context, tg target) error {
	err := p.withRecord(ctx, tg, func(s *peripheral.Sensor, d *peripheral.Device) error {
		if tg.scope == ScopeRelay {
			return p.mon.Panel().DeleteDevice(ctx, d)
		}
		return p.mon.Panel().DeleteSensor(ctx, s)
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	st := p.st
	p.vals.deleted[target{scope: tg.scope, index: tg.index}] = true
	if tg.scope == ScopeRelay {
		delete(p.vals.devices, tg.index)
	} else {
		delete(p.vals.sensors, tg.index)
	}
	p.discoveryLocked(&st, false)
	p.mu.Unlock()
	p.mon.Reread(rereadOf(tg))
	return nil
}

// rereadOf is what the Monitor reads again after a change to tg: its
// list only.
func rereadOf(tg target) g90.ReadSet {
	if tg.scope == ScopeRelay {
		return g90.ReadDevices
	}
	return g90.ReadSensors
}
