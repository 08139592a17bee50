package bridge

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
)

// Home Assistant MQTT discovery (spec: home-assistant.md §3): one
// device-based discovery payload per panel, per sensor and per relay,
// retained, on <discovery prefix>/device/<object id>/config. Every entity
// is available only while both the bridge and its panel are (the
// bridge's last will and the panel's availability topic, mode "all").

// origin names the publishing software in Home Assistant's logs.
var origin = map[string]any{"name": "g90", "sw_version": Version, "support_url": "https://github.com/g90alarm/g90"}

// Version is the bridge's version in the discovery payloads' origin.
var Version = "dev"

// component is one entity of a device payload.
type component map[string]any

// devicePayload is a device-based discovery payload.
type devicePayload struct {
	Device       map[string]any       `json:"device"`
	Origin       map[string]any       `json:"origin"`
	Availability []map[string]string  `json:"availability"`
	AvailMode    string               `json:"availability_mode"`
	Components   map[string]component `json:"components"`
}

// topics of one panel.
type topics struct {
	prefix, discovery, guid string
}

func (t topics) base() string            { return t.prefix + "/" + t.guid }
func (t topics) bridgeStatus() string    { return t.prefix + "/bridge/status" }
func (t topics) availability() string    { return t.base() + "/availability" }
func (t topics) alarm() string           { return t.base() + "/alarm" }
func (t topics) event() string           { return t.base() + "/event" }
func (t topics) panelState() string      { return t.base() + "/state" }
func (t topics) sensor(index int) string { return t.base() + "/sensor/" + strconv.Itoa(index) }
func (t topics) relay(index, node int) string {
	return t.base() + "/relay/" + strconv.Itoa(index) + "/" + strconv.Itoa(node)
}

// objectID is the id of a panel-level thing in topics and unique ids.
func (t topics) objectID(parts ...string) string {
	return slug(strings.Join(append([]string{"g90", t.guid}, parts...), "_"))
}

func (t topics) deviceConfig(objectID string) string {
	return t.discovery + "/device/" + objectID + "/config"
}

func (t topics) availabilityList() []map[string]string {
	return []map[string]string{{"topic": t.bridgeStatus()}, {"topic": t.availability()}}
}

// entityTopic is the default state topic of an entity: under the panel,
// the sensor or the relay.
func (t topics) entityTopic(tg target, key string) string {
	switch tg.scope {
	case ScopeSensor:
		return t.sensor(tg.index) + "/" + key
	case ScopeRelay:
		return t.base() + "/relay/" + strconv.Itoa(tg.index) + "/" + key
	}
	return t.base() + "/" + key
}

// stateTopic is the state topic of row e for tg.
func (t topics) stateTopic(e *entity, tg target) string {
	if s, ok := e.src.(topicer); ok {
		return s.stateTopic(t, tg)
	}
	return t.entityTopic(tg, e.Key)
}

// commandTopic is the command topic of row e for tg.
func (t topics) commandTopic(e *entity, tg target) string {
	if e.Platform == "button" {
		return t.entityTopic(tg, e.Key) + "/set"
	}
	return t.stateTopic(e, tg) + "/set"
}

// deviceObjectID is the object id of the HA device of tg.
func (t topics) deviceObjectID(tg target) string {
	switch tg.scope {
	case ScopeSensor:
		return t.objectID("sensor", strconv.Itoa(tg.index))
	case ScopeRelay:
		// One per relay, its nodes share it (spec: home-assistant.md §2c).
		return t.objectID("relay", strconv.Itoa(tg.index))
	}
	return t.objectID()
}

// component is row e's discovery component for v's target: the row's
// options, the topics and what its platform and source add.
func (t topics) component(e *entity, v *view) (string, component) {
	id := t.componentID(e, v)
	c := component{"platform": e.Platform, "name": nil, "unique_id": id, "default_entity_id": e.Platform + "." + id}
	if e.Name != "" {
		c["name"] = e.Name
	}
	if e.Category != "" {
		c["entity_category"] = e.Category
	}
	maps.Copy(c, e.disc)
	if e.State && (!e.Secret || v.secrets) {
		c["state_topic"] = t.stateTopic(e, v.tg)
	}
	if e.Command {
		c["command_topic"] = t.commandTopic(e, v.tg)
	}
	switch e.Platform {
	case "number":
		c["min"], c["max"], c["step"] = e.Min, e.Max, 1
		if c["mode"] == nil {
			c["mode"] = "box"
		}
	case "text":
		c["min"], c["max"] = e.Min, e.Max
	case "select":
		c["options"] = e.Options
	}
	if _, ok := e.src.(attributer); ok {
		c["json_attributes_topic"] = t.stateTopic(e, v.tg) + "/attributes"
	}
	if s, ok := e.src.(discoverer); ok {
		s.discover(c, t, v)
	}
	return id, c
}

// componentID is the id of row e's component for v's target.
func (t topics) componentID(e *entity, v *view) string {
	id := t.deviceObjectID(v.tg)
	switch e.Key {
	case "":
	case "node":
		id += "_" + strconv.Itoa(v.tg.node)
	default:
		id += "_" + e.Key
	}
	return id
}

// components are the discovery components of v's target: every row of
// its scope whose entity it has, and as its platform alone every row its
// kind does not offer (kinds.go): that removes an entity an earlier
// version published, which Home Assistant keeps when a device payload
// just lacks it.
func (t topics) components(v *view) map[string]component {
	out := map[string]component{}
	for i := range tables[v.tg.scope] {
		e := &tables[v.tg.scope][i]
		if o, ok := e.src.(offerer); ok && !o.offered(v.kind()) {
			if e.Key != keyTrigger {
				out[t.componentID(e, v)] = component{"platform": e.Platform}
			}
			continue
		}
		if e.Key == keyTrigger {
			maps.Copy(out, t.triggers(v))
			continue
		}
		if e.Key == "node" {
			for _, n := range v.nodes {
				nv := *v
				nv.tg.node = n.Node
				id, c := t.component(e, &nv)
				if len(v.nodes) > 1 {
					c["name"] = fmt.Sprintf("Channel %d", n.Node+1)
				}
				out[id] = c
			}
			continue
		}
		if e.src.present(v) {
			id, c := t.component(e, v)
			out[id] = c
		}
	}
	return out
}

// panelDevice is the device block of the panel (spec: home-assistant.md
// §2a).
func panelDevice(t topics, name, url string, info *protocol.HostInfo) map[string]any {
	dev := map[string]any{
		"identifiers": []string{t.objectID()}, "name": name, "manufacturer": "Golden Security",
		"serial_number": t.guid,
	}
	if url != "" {
		dev["configuration_url"] = url
	}
	if info != nil {
		dev["model"] = info.ProductName
		dev["sw_version"] = fmt.Sprintf("MCU: %s, WiFi: %s", info.MCUHWVersion, info.WiFiHWVersion)
	}
	return dev
}

// peripheralDevice is the device block of a sensor or relay, via the
// panel (spec: home-assistant.md §2b, §2c).
func peripheralDevice(t topics, tg target, name, model string) map[string]any {
	return map[string]any{
		"identifiers": []string{t.deviceObjectID(tg)}, "name": name, "model": model,
		"manufacturer": "Golden Security", "via_device": t.objectID(),
	}
}

// device is the device block of v's target.
func (p *panel) device(v *view) map[string]any {
	t := p.t
	switch v.tg.scope {
	case ScopeSensor:
		name := v.sensor.Name
		if v.srec != nil {
			name = v.srec.Name()
		}
		return peripheralDevice(t, v.tg, name, v.sensor.Type)
	case ScopeRelay:
		name := v.nodes[0].Name
		if len(v.nodes) > 1 {
			name = strings.TrimSuffix(name, "#1")
		}
		if v.drec != nil {
			name = v.drec.ParentName()
		}
		return peripheralDevice(t, v.tg, name, v.nodes[0].Type)
	}
	info, _ := v.vals.recs[sectionInfo].(*protocol.HostInfo)
	return panelDevice(t, p.mon.Name(), p.b.cfg.ConfigurationURL, info)
}

// views returns the view of the panel and of each of its sensors and
// relays the monitor lists and the bridge did not delete. p.mu is held.
func (p *panel) views(st *g90.State) []*view {
	base := p.panelView(st)
	out := []*view{base}
	for i := range st.Sensors {
		s := &st.Sensors[i]
		tg := target{scope: ScopeSensor, index: s.Index}
		if p.vals.deleted[tg] {
			continue
		}
		v := *base
		v.tg, v.sensor, v.srec = tg, s, p.vals.sensors[s.Index]
		out = append(out, &v)
	}
	var relay *view
	for _, n := range st.Devices {
		tg := target{scope: ScopeRelay, index: n.Index}
		if p.vals.deleted[tg] {
			continue
		}
		if relay == nil || relay.tg != tg {
			v := *base
			v.tg, v.drec = tg, p.vals.devices[n.Index]
			relay = &v
			out = append(out, relay)
		}
		relay.nodes = append(relay.nodes, n)
	}
	return out
}

// panelView is the view of the panel itself. p.mu is held.
func (p *panel) panelView(st *g90.State) *view {
	return &view{
		st: st, vals: &p.vals, now: time.Now(), pin: p.mon.PIN().Required(), secrets: p.b.cfg.PublishSecrets,
		history: p.mon.History(), tg: target{scope: ScopePanel},
	}
}

// forgetDeleted stops hiding the deleted sensors and relays the monitor
// no longer lists. p.mu is held.
func (p *panel) forgetDeleted(st *g90.State) {
	for tg := range p.vals.deleted {
		listed := false
		for _, s := range st.Sensors {
			listed = listed || tg.scope == ScopeSensor && s.Index == tg.index
		}
		for _, d := range st.Devices {
			listed = listed || tg.scope == ScopeRelay && d.Index == tg.index
		}
		if !listed {
			delete(p.vals.deleted, tg)
		}
	}
}

// discoveryLocked publishes the discovery payload of the panel and of
// each sensor and relay that changed, or of all with force; removes the
// devices that are gone (an empty retained payload) and clears their
// retained states. A component that left a device is sent once as its
// platform alone, which removes the entity. p.mu is held.
func (p *panel) discoveryLocked(st *g90.State, force bool) {
	t := p.t
	p.st = *st
	p.forgetDeleted(st)
	seen := map[string]bool{}
	for _, v := range p.views(st) {
		topic := t.deviceConfig(t.deviceObjectID(v.tg))
		seen[topic] = true
		p.discTarget[topic] = v.tg
		comps := t.components(v)
		platforms := map[string]string{}
		for id, c := range comps {
			platforms[id] = c["platform"].(string)
		}
		for id, platform := range p.comps[topic] {
			if _, ok := comps[id]; !ok {
				comps[id] = component{"platform": platform}
			}
		}
		payload := string(mustJSON(devicePayload{
			Device: p.device(v), Origin: origin, Availability: t.availabilityList(), AvailMode: "all", Components: comps,
		}))
		if force || p.disc[topic] != payload {
			p.disc[topic] = payload
			p.b.publish(topic, []byte(payload), true)
		}
		p.comps[topic] = platforms
	}
	for topic := range p.disc {
		if !seen[topic] {
			p.b.publish(topic, nil, true)
			delete(p.disc, topic)
			delete(p.comps, topic)
			p.clearStates(p.discTarget[topic])
			delete(p.discTarget, topic)
		}
	}
}

// clearStates removes the retained states of a sensor or relay that is
// gone. p.mu is held.
func (p *panel) clearStates(tg target) {
	if tg.scope == ScopePanel {
		return
	}
	base := p.t.sensor(tg.index)
	if tg.scope == ScopeRelay {
		base = p.t.base() + "/relay/" + strconv.Itoa(tg.index)
	}
	for topic := range p.pub {
		if topic == base || strings.HasPrefix(topic, base+"/") {
			p.b.publish(topic, nil, true)
			delete(p.pub, topic)
		}
	}
}

// entityStatesLocked publishes the state of every entity with a value of
// its own that changed, or of all with force. p.mu is held.
func (p *panel) entityStatesLocked(force bool) {
	for _, v := range p.views(&p.st) {
		for i := range tables[v.tg.scope] {
			p.entityState(&tables[v.tg.scope][i], v, force)
		}
	}
}

// entityState publishes row e's state for v's target, and its
// attributes. p.mu is held.
func (p *panel) entityState(e *entity, v *view, force bool) {
	g, ok := e.src.(getter)
	if !ok {
		return
	}
	topic := p.t.stateTopic(e, v.tg)
	if o, typed := e.src.(offerer); typed && !o.offered(v.kind()) {
		if _, shared := e.src.(topicer); !shared {
			// Once a run, an empty retained message: it removes a
			// state an earlier version published for an entity this
			// kind lacks.
			p.retain(topic, "", false)
		}
		return
	}
	if !e.src.present(v) {
		return
	}
	if e.Secret && !v.secrets {
		// Nothing, and once, an empty retained message: it removes a
		// value an earlier run published.
		p.retain(topic, "", force)
		return
	}
	val, known := g.get(v)
	if !known && e.Platform == "text" {
		return // a text has no unknown: it would show "None"
	}
	p.retain(topic, e.encode(val, known), force)
	if a, ok := e.src.(attributer); ok {
		if attrs, ok := a.attributes(v); ok {
			p.retain(topic+"/attributes", attrs, force)
		}
	}
}

// eventTypes are the event entity's types: every event name.
var eventTypes = []string{
	string(event.ArmDisarm), string(event.SensorActivity), string(event.DoorOpen),
	string(event.DoorClose), string(event.DoorOpenWhenArming), string(event.Alarm),
	string(event.Tamper), string(event.LowBattery), string(event.SOS),
	string(event.RemoteButton), string(event.RFIDKeypad), string(event.SensorAdded),
	string(event.SensorRemoved), string(event.DeviceAdded), string(event.DeviceRemoved), string(event.RelaySwitched),
	string(event.ACPowerFailure), string(event.ACPowerRecover), string(event.WiFiConnected),
	string(event.WiFiDisconnected), string(event.HostLowBattery), string(event.FirmwareUpdating),
}

// alarmState is Home Assistant's alarm_control_panel state for a panel.
// An unknown one is "None", which resets the entity to unknown: Home
// Assistant refuses "unknown" with a warning and keeps the old state
// (issue 15.5).
func alarmState(st g90.State) string {
	if st.Alarm {
		return "triggered"
	}
	switch st.Arm {
	case event.ArmAway:
		return "armed_away"
	case event.ArmHome:
		return "armed_home"
	case event.Disarmed:
		return "disarmed"
	case event.Alarmed:
		return "triggered"
	}
	return "None"
}

// slug lower-cases s and keeps letters, digits and underscores, for ids
// Home Assistant accepts.
func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}
