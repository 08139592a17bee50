//go:build !nohomekit

package homekit

import (
	"slices"

	"github.com/brutella/hap/accessory"
	"github.com/brutella/hap/characteristic"
	"github.com/brutella/hap/service"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/event"
)

// acc is a published accessory and the characteristics the bridge sets.
// Only the bridge's own goroutine (Bridge.Run) sets them, except what
// hap sets when a controller writes (target state, a relay's On).
type acc struct {
	spec
	a *accessory.A

	state   *characteristic.Int  // a sensor's detected state (Bool for motion)
	motion  *characteristic.Bool // svcMotion
	active  *characteristic.Bool // StatusActive: the sensor is enabled
	tamper  *characteristic.Int  // StatusTampered
	battery *characteristic.Int  // StatusLowBattery
	fault   *characteristic.Int  // the panel's StatusFault: unreachable, or arm state unknown

	current, target *characteristic.Int  // svcSecurity
	on              *characteristic.Bool // relays
	inUse           *characteristic.Bool // svcOutlet: OutletInUse, as On
	presses         []*characteristic.ProgrammableSwitchEvent
}

// handlers are what a controller's writes call (Bridge.setTarget,
// Bridge.setRelay); they run on hap's connection goroutines.
type handlers struct {
	target func(a *acc, v int) error
	relay  func(a *acc, on bool) error
}

// build makes the hap accessory of sp with id aid.
func build(sp spec, aid uint64, version string, h handlers) *acc {
	x := &acc{spec: sp}
	x.a = accessory.New(accessory.Info{
		Name: sp.name, SerialNumber: sp.serial, Manufacturer: "g90", Model: sp.model, Firmware: version,
	}, accessoryType(sp.svc))
	x.a.Id = aid
	sensor := func(s *service.S, state *characteristic.Int) {
		x.state = state
		x.active = characteristic.NewStatusActive().Bool
		x.tamper = characteristic.NewStatusTampered().Int
		x.battery = characteristic.NewStatusLowBattery().Int
		s.AddC(x.active.C)
		s.AddC(x.tamper.C)
		s.AddC(x.battery.C)
		x.a.AddS(s)
	}
	switch sp.svc {
	case svcSecurity:
		s := service.NewSecuritySystem()
		x.current, x.target = s.SecuritySystemCurrentState.Int, s.SecuritySystemTargetState.Int
		// Stay, Away and Disarm: the panel has no night mode, so HAP
		// refuses NightArm (-70410) before the bridge sees it.
		x.current.ValidVals = []int{hkStay, hkAway, hkDisarmed, hkAlarm}
		x.target.ValidVals = []int{hkStay, hkAway, hkDisarmed}
		x.current.SetValue(hkDisarmed)
		x.target.SetValue(hkDisarmed)
		x.target.OnSetRemoteValue(func(v int) error { return h.target(x, v) })
		x.tamper = characteristic.NewStatusTampered().Int
		x.fault = characteristic.NewStatusFault().Int
		s.AddC(x.tamper.C)
		s.AddC(x.fault.C)
		x.a.AddS(s.S)
	case svcContact:
		s := service.NewContactSensor()
		sensor(s.S, s.ContactSensorState.Int)
	case svcMotion:
		s := service.NewMotionSensor()
		x.motion = s.MotionDetected.Bool // a Bool, where the others' state is an Int
		sensor(s.S, nil)
	case svcSmoke:
		s := service.NewSmokeSensor()
		sensor(s.S, s.SmokeDetected.Int)
	case svcLeak:
		s := service.NewLeakSensor()
		sensor(s.S, s.LeakDetected.Int)
	case svcCO:
		s := service.NewCarbonMonoxideSensor()
		sensor(s.S, s.CarbonMonoxideDetected.Int)
	case svcOccupancy:
		s := service.NewOccupancySensor()
		sensor(s.S, s.OccupancyDetected.Int)
	case svcButtons:
		// One switch per button, labelled 1, 2, … in the order of the
		// kind table's event types, each named after its button.
		label := service.NewServiceLabel()
		label.ServiceLabelNamespace.SetValue(characteristic.ServiceLabelNamespaceArabicNumerals)
		x.a.AddS(label.S)
		for i, typ := range sp.buttons {
			s := service.NewStatelessProgrammableSwitch()
			s.ProgrammableSwitchEvent.ValidVals = []int{characteristic.ProgrammableSwitchEventSinglePress}
			idx := characteristic.NewServiceLabelIndex()
			idx.SetValue(i + 1)
			s.AddC(idx.C)
			n := characteristic.NewName()
			n.SetValue(typ)
			s.AddC(n.C)
			x.presses = append(x.presses, s.ProgrammableSwitchEvent)
			x.a.AddS(s.S)
		}
	case svcOutlet:
		s := service.NewOutlet()
		x.on, x.inUse = s.On.Bool, s.OutletInUse.Bool
		x.on.OnSetRemoteValue(func(on bool) error { return h.relay(x, on) })
		x.a.AddS(s.S)
	case svcSwitch:
		s := service.NewSwitch()
		x.on = s.On.Bool
		x.on.OnSetRemoteValue(func(on bool) error { return h.relay(x, on) })
		x.a.AddS(s.S)
	}
	return x
}

func accessoryType(s kind) byte {
	switch s {
	case svcSecurity:
		return accessory.TypeSecuritySystem
	case svcButtons:
		return accessory.TypeProgrammableSwitch
	case svcOutlet:
		return accessory.TypeOutlet
	case svcSwitch:
		return accessory.TypeSwitch
	}
	return accessory.TypeSensor
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// update sets x's characteristics from st, the state of its panel.
// hap sends an event to the controllers that subscribed to a value that
// changed, and nothing for one that did not.
func (x *acc) update(st *g90.State) {
	switch x.svc {
	case svcSecurity:
		x.current.SetValue(currentState(st))
		if t, ok := targetState(st); ok {
			x.target.SetValue(t)
		}
		x.fault.SetValue(b2i(faulted(st)))
		tampered := slices.ContainsFunc(st.Sensors, func(s g90.SensorState) bool { return s.Tamper })
		x.tamper.SetValue(b2i(tampered))
		return
	case svcOutlet, svcSwitch:
		for _, d := range st.Devices {
			if d.Index == x.index && d.Node == x.node {
				on := d.On != nil && *d.On
				x.on.SetValue(on)
				if x.inUse != nil {
					x.inUse.SetValue(on)
				}
			}
		}
		return
	}
	for _, s := range st.Sensors {
		if s.Index != x.index {
			continue
		}
		if x.state != nil {
			// Contact: 1 is open ("contact not detected"); the others: 1
			// is detected.
			x.state.SetValue(b2i(s.Occupied))
		}
		if x.motion != nil {
			x.motion.SetValue(s.Occupied)
		}
		if x.active != nil {
			x.active.SetValue(s.Enabled)
			x.tamper.SetValue(b2i(s.Tamper))
			x.battery.SetValue(b2i(s.LowBattery))
		}
	}
}

// press sends a single press of the button ev names, if x has it.
func (x *acc) press(ev *event.Event) bool {
	if x.svc != svcButtons || !ev.Sensor || ev.Index != x.index {
		return false
	}
	i := slices.Index(x.buttons, bridge.PressType(ev))
	if i < 0 {
		return false
	}
	x.presses[i].SetValue(characteristic.ProgrammableSwitchEventSinglePress)
	return true
}
