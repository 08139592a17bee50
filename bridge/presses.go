package bridge

import (
	"slices"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
)

// A key fob's or keypad's presses (spec: home-assistant.md §2e): its
// main entity is an event entity, and each of its buttons an MQTT device
// trigger. Both read one topic, <sensor topic>/press, on which every
// press is one message {"event_type": "<button>"}, not retained: a press
// is no state, and a retained one would fire again whenever Home
// Assistant subscribes. The event entity takes the JSON as it is; a
// trigger fires on its button's payload, byte for byte.

// Keys of the press rows in the sensor table.
const (
	keyPress   = "press"
	keyTrigger = "trigger"
)

func (t topics) press(index int) string { return t.sensor(index) + "/" + keyPress }

// pressPayload is the message of a press of button typ.
func pressPayload(typ string) []byte { return mustJSON(map[string]string{"event_type": typ}) }

// pressSrc is a fob's or keypad's event entity.
type pressSrc struct{}

func (s pressSrc) present(v *view) bool                { return s.offered(v.kind()) }
func (pressSrc) offered(k *PeripheralKind) bool        { return len(k.EventTypes) > 0 }
func (pressSrc) stateTopic(t topics, tg target) string { return t.press(tg.index) }
func (pressSrc) discover(c component, t topics, v *view) {
	k := v.kind()
	c["event_types"] = k.EventTypes
	if k.DeviceClass != "" {
		c["device_class"] = k.DeviceClass
	}
	// The sensor's attributes, as its binary sensor would have them.
	c["json_attributes_topic"] = t.sensor(v.tg.index)
}

// triggerSrc is the row of a fob's or keypad's device triggers, one
// component per event type (see topics.triggers).
type triggerSrc struct{}

func (s triggerSrc) present(v *view) bool         { return s.offered(v.kind()) }
func (triggerSrc) offered(k *PeripheralKind) bool { return len(k.EventTypes) > 0 }

// triggerID is the component id of v's device trigger for typ.
func (t topics) triggerID(v *view, typ string) string {
	return t.deviceObjectID(v.tg) + "_" + keyTrigger + "_" + slug(typ)
}

// triggers are the device trigger components of v's sensor: a device
// trigger is no entity, so they have none of an entity's name, unique id
// or state topic (spec: home-assistant.md §3).
func (t topics) triggers(v *view) map[string]component {
	out := map[string]component{}
	for _, typ := range v.kind().EventTypes {
		out[t.triggerID(v, typ)] = component{
			"platform": "device_automation", "automation_type": "trigger",
			"type": "button_short_press", "subtype": typ,
			"topic": t.press(v.tg.index), "payload": string(pressPayload(typ)),
		}
	}
	return out
}

// press publishes the press of a fob's or keypad's event to its event
// entity and device triggers, if its kind has that event type.
func (p *panel) press(ev *event.Event) {
	typ := PressType(ev)
	if typ == "" || !ev.Sensor {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tg := target{scope: ScopeSensor, index: ev.Index}
	i := slices.IndexFunc(p.st.Sensors, func(s g90.SensorState) bool { return s.Index == ev.Index })
	if i < 0 || p.vals.deleted[tg] {
		return
	}
	v := p.panelView(&p.st)
	v.tg, v.sensor, v.srec = tg, &p.st.Sensors[i], p.vals.sensors[ev.Index]
	if slices.Contains(v.kind().EventTypes, typ) {
		p.b.publish(p.t.press(ev.Index), pressPayload(typ), false)
	}
}
