package bridge

import (
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
)

// regStatus is the state of the last registration, shown by the
// registration sensor and its attributes.
type regStatus struct {
	state string
	attrs map[string]any
}

// register starts registering a sensor or relay of the type and name the
// panel's "new sensor/relay" entities hold (spec: home-assistant.md §2a),
// and returns at once: the panel then waits for the peripheral to
// transmit, up to g90.DefaultRegistrationTimeout. The registration sensor
// shows the progress and the result; a success resets the type and name
// entities.
func (p *panel) register(kind peripheral.Kind) error {
	p.mu.Lock()
	if p.vals.reg.state == regRegistering {
		p.mu.Unlock()
		return reject("a registration is already running")
	}
	reg := g90.Registration{Definition: p.vals.newType[kind], Name: p.vals.newName[kind]}
	what := map[peripheral.Kind]string{peripheral.KindSensor: "sensor", peripheral.KindDevice: "relay"}[kind]
	p.vals.reg = regStatus{state: regRegistering, attrs: map[string]any{
		"kind": what, "definition": reg.Definition, "name": reg.Name, "started": time.Now().UTC().Format(time.RFC3339),
	}}
	p.entityStatesLocked(false)
	p.mu.Unlock()
	p.b.log.Info("registering a new peripheral; make it transmit now", "panel", p.t.guid, "kind", what, "definition", reg.Definition, "name", reg.Name)
	ctx := p.life
	p.bg.Go(func() {
		var (
			index int
			name  string
			err   error
		)
		if kind == peripheral.KindSensor {
			var s *peripheral.Sensor
			if s, err = p.mon.Panel().AddSensor(ctx, reg); err == nil {
				index, name = s.Index(), s.Name()
				p.keepPeripheral(target{scope: ScopeSensor, index: index}, s, nil)
			}
		} else {
			var d *peripheral.Device
			if d, err = p.mon.Panel().AddDevice(ctx, reg); err == nil {
				index, name = d.Index(), d.ParentName()
				p.keepPeripheral(target{scope: ScopeRelay, index: index}, nil, d)
			}
		}
		p.mu.Lock()
		attrs := p.vals.reg.attrs
		attrs["finished"] = time.Now().UTC().Format(time.RFC3339)
		if err != nil {
			p.vals.reg = regStatus{state: regFailed, attrs: attrs}
			attrs["error"] = err.Error()
		} else {
			p.vals.reg = regStatus{state: regRegistered, attrs: attrs}
			attrs["index"], attrs["name"] = index, name
			delete(p.vals.deleted, target{scope: map[peripheral.Kind]Scope{peripheral.KindSensor: ScopeSensor, peripheral.KindDevice: ScopeRelay}[kind], index: index})
			p.vals.resetNew(kind)
		}
		p.entityStatesLocked(false)
		p.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				p.b.commandErrors.Add(1)
				p.b.log.Error("registration failed", "panel", p.t.guid, "kind", what, "definition", reg.Definition, "err", err)
			}
			return
		}
		p.b.log.Info("registered a new peripheral", "panel", p.t.guid, "kind", what, "index", index, "name", name)
		// Its list only: the Monitor delivers the addition with the
		// new records.
		if kind == peripheral.KindDevice {
			p.mon.Reread(g90.ReadDevices)
		} else {
			p.mon.Reread(g90.ReadSensors)
		}
	})
	return nil
}
