package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/g90alarm/g90/peripheral"
)

// Discovered is a device discovery payload as CheckDiscovery read it.
type Discovered struct {
	Scope Scope
	// ObjectID is the device's object id: g90_<guid>, or that plus
	// _sensor_<index> or _relay_<index>.
	ObjectID string
	// Entities are the table rows found, by component id. A relay's
	// node switches all are the row with Key "node".
	Entities map[string]Entity
	// Removed are the components sent as their platform alone, which
	// removes them from Home Assistant.
	Removed []string
	// Kind is the kind table's row for a sensor's or relay's model (the
	// device's model, its definition name); Triggers are a sensor's
	// device triggers, by component id, as their event types.
	Kind     PeripheralKind
	Triggers map[string]string
}

// Missing returns the keys of the rows of d's scope that every device of
// it has (When is Always) but d lacks.
func (d Discovered) Missing() []string {
	var out []string
	for _, e := range tables[d.Scope] {
		if e.When != Always {
			continue
		}
		if o, ok := e.src.(offerer); ok && d.Scope != ScopePanel && !o.offered(&d.Kind) {
			continue
		}
		if e.Key == keyTrigger {
			if len(d.Triggers) == 0 {
				out = append(out, e.Key)
			}
			continue
		}
		found := false
		for _, got := range d.Entities {
			found = found || got.Key == e.Key
		}
		if !found {
			out = append(out, e.Key)
		}
	}
	return out
}

var peripheralID = regexp.MustCompile(`_(sensor|relay)_[0-9]+$`)

// CheckDiscovery checks a device discovery payload against the entity
// table and the conventions of spec home-assistant.md §3: a device block
// with identifiers and a name (and via_device for sensors and relays), an
// origin, the availability list with mode all, and components each of
// which is a row of the table, with its platform, name, category, unique
// id, default_entity_id (never object_id), topics, options and limits. It
// is what an integration suite needs to validate what the bridge
// publishes, whatever the broker.
func CheckDiscovery(payload []byte) (Discovered, error) {
	var d Discovered
	var p struct {
		Device       map[string]any            `json:"device"`
		Origin       map[string]any            `json:"origin"`
		Availability []map[string]any          `json:"availability"`
		AvailMode    string                    `json:"availability_mode"`
		Components   map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return d, fmt.Errorf("bridge: discovery payload: %w", err)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	ids, _ := p.Device["identifiers"].([]any)
	if len(ids) == 0 {
		return d, errors.New("bridge: discovery payload: device without identifiers")
	}
	d.ObjectID, _ = ids[0].(string)
	d.Scope = ScopePanel
	if m := peripheralID.FindStringSubmatch(d.ObjectID); m != nil {
		d.Scope = Scope(m[1])
		via, _ := p.Device["via_device"].(string)
		if via == "" || !strings.HasPrefix(d.ObjectID, via+"_") {
			fail("device %s: via_device %q is not its panel", d.ObjectID, via)
		}
	}
	if name, _ := p.Device["name"].(string); name == "" {
		fail("device %s: no name", d.ObjectID)
	}
	model, _ := p.Device["model"].(string)
	switch d.Scope {
	case ScopeSensor:
		d.Kind = modelKind(peripheral.KindSensor, model)
	case ScopeRelay:
		d.Kind = modelKind(peripheral.KindDevice, model)
	}
	if name, _ := p.Origin["name"].(string); name == "" {
		fail("device %s: no origin name", d.ObjectID)
	}
	var avail []string
	for _, a := range p.Availability {
		if t, _ := a["topic"].(string); t != "" {
			avail = append(avail, t)
		}
	}
	if len(avail) != 2 || !strings.HasSuffix(avail[0], "/bridge/status") || !strings.HasSuffix(avail[1], "/availability") {
		fail("device %s: availability %v: want the bridge's and the panel's", d.ObjectID, avail)
	}
	if p.AvailMode != "all" {
		fail("device %s: availability_mode %q, want all", d.ObjectID, p.AvailMode)
	}
	if len(p.Components) == 0 {
		fail("device %s: no components", d.ObjectID)
	}
	d.Entities = map[string]Entity{}
	d.Triggers = map[string]string{}
	ids2 := make([]string, 0, len(p.Components))
	for id := range p.Components {
		ids2 = append(ids2, id)
	}
	sort.Strings(ids2)
	for _, id := range ids2 {
		c := p.Components[id]
		if len(c) == 1 && c["platform"] != nil {
			d.Removed = append(d.Removed, id)
			continue
		}
		if c["platform"] == "device_automation" {
			typ, err := checkTrigger(d, id, c)
			if err != nil {
				errs = append(errs, err)
			}
			d.Triggers[id] = typ
			continue
		}
		e, err := checkComponent(d, id, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Entities[id] = e
	}
	if d.Scope != ScopePanel {
		errs = append(errs, checkKind(d, p.Components))
	}
	return d, errors.Join(errs...)
}

// modelKind is the kind table's row for a device's model: a definition
// name, or for a peripheral without a definition the type, subtype and
// protocol as peripheral.Peripheral.TypeName gives them.
func modelKind(k peripheral.Kind, model string) PeripheralKind {
	var typ, sub, proto int
	if _, err := fmt.Sscanf(model, "unknown (type %d subtype %d protocol %d)", &typ, &sub, &proto); err == nil {
		kind, _ := KindOf(k, peripheral.Type(typ), sub)
		return kind
	}
	return *kindOfDefinition(k, model, 0)
}

// checkTrigger checks a device trigger of a sensor's payload and returns
// its event type.
func checkTrigger(d Discovered, id string, c map[string]any) (string, error) {
	str := func(k string) string { s, _ := c[k].(string); return s }
	typ := str("subtype")
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("trigger %s: "+format, append([]any{id}, args...)...))
	}
	if d.Scope != ScopeSensor || id != d.ObjectID+"_"+keyTrigger+"_"+slug(typ) {
		fail("not a sensor's trigger for %q", typ)
	}
	if str("automation_type") != "trigger" || str("type") != "button_short_press" {
		fail("automation_type %q, type %q", str("automation_type"), str("type"))
	}
	if !strings.HasSuffix(str("topic"), "/sensor/"+strings.TrimPrefix(peripheralID.FindString(d.ObjectID), "_sensor_")+"/"+keyPress) {
		fail("topic %q is not the sensor's press topic", str("topic"))
	}
	if str("payload") != string(pressPayload(typ)) {
		fail("payload %q", str("payload"))
	}
	for _, k := range []string{"name", "unique_id", "default_entity_id", "state_topic"} {
		if _, ok := c[k]; ok {
			fail("has an entity's %s", k)
		}
	}
	return typ, errors.Join(errs...)
}

// checkKind checks d's components against the kind table's row for its
// model: the main entity's platform and device class, the event types,
// one device trigger per event type, and the user flags offered (when
// the sensor has its switches at all).
func checkKind(d Discovered, comps map[string]map[string]any) error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("device %s (%s %d/%d): "+format, append([]any{d.ObjectID, d.Kind.Platform, d.Kind.Type, d.Kind.Subtype}, args...)...))
	}
	k := d.Kind
	class := func(c map[string]any) string { s, _ := c["device_class"].(string); return s }
	if d.Scope == ScopeRelay {
		for id, e := range d.Entities {
			if e.Key == "node" && class(comps[id]) != k.DeviceClass {
				fail("%s: device_class %q, want %q", id, class(comps[id]), k.DeviceClass)
			}
		}
		return errors.Join(errs...)
	}
	main := d.ObjectID
	if k.Platform == "event" {
		main += "_" + keyPress
	}
	switch c, ok := comps[main]; {
	case !ok || len(c) == 1:
		fail("no main entity %s", main)
	case c["platform"] != k.Platform:
		fail("main entity %s is a %v", main, c["platform"])
	case class(c) != k.DeviceClass:
		fail("main entity device_class %q, want %q", class(c), k.DeviceClass)
	case k.Platform == "event":
		if types := stringList(c["event_types"]); !slices.Equal(types, k.EventTypes) {
			fail("event_types %v, want %v", types, k.EventTypes)
		}
		if _, stub := comps[d.ObjectID]; !stub || !slices.Contains(d.Removed, d.ObjectID) {
			fail("the binary sensor %s of earlier versions is not removed", d.ObjectID)
		}
	}
	var triggers []string
	for _, typ := range d.Triggers {
		triggers = append(triggers, typ)
	}
	slices.Sort(triggers)
	if want := slices.Sorted(slices.Values(k.EventTypes)); !slices.Equal(triggers, want) {
		fail("device triggers %v, want %v", triggers, want)
	}
	updatable := false
	for _, e := range d.Entities {
		updatable = updatable || e.Key == "enabled"
	}
	for _, e := range sensorTable {
		o, ok := e.src.(offerer)
		if !ok || e.Key == keyTrigger {
			continue
		}
		id := d.ObjectID
		if e.Key != "" {
			id += "_" + e.Key
		}
		_, has := d.Entities[id]
		want := o.offered(&k)
		if has && !want || !has && want && (e.When != IfUpdatable || updatable) {
			fail("%s %q: present %v, the kind offers it %v", e.Platform, e.Key, has, want)
		}
	}
	return errors.Join(errs...)
}

// checkComponent checks one component of d's payload against its row.
func checkComponent(d Discovered, id string, c map[string]any) (Entity, error) {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("component %s: "+format, append([]any{id}, args...)...))
	}
	key, ok := strings.CutPrefix(id, d.ObjectID)
	if !ok {
		return Entity{}, fmt.Errorf("component %s: id does not start with the device's %s", id, d.ObjectID)
	}
	key = strings.TrimPrefix(key, "_")
	if _, err := strconv.Atoi(key); err == nil && d.Scope == ScopeRelay {
		key = "node"
	}
	if key == keyTrigger {
		return Entity{}, fmt.Errorf("component %s: a trigger that is not a device_automation", id)
	}
	row := lookup(d.Scope, key)
	if row == nil {
		return Entity{}, fmt.Errorf("component %s: no %s entity %q in the table", id, d.Scope, key)
	}
	e := row.Entity
	str := func(k string) string { s, _ := c[k].(string); return s }
	num := func(k string) int { f, _ := c[k].(float64); return int(f) }
	if str("platform") != e.Platform {
		fail("platform %q, want %q", str("platform"), e.Platform)
	}
	if str("unique_id") != id {
		fail("unique_id %q", str("unique_id"))
	}
	if want := e.Platform + "." + id; str("default_entity_id") != want {
		fail("default_entity_id %q, want %q", str("default_entity_id"), want)
	}
	if _, ok := c["object_id"]; ok {
		fail("has the deprecated object_id")
	}
	name, hasName := c["name"]
	switch {
	case !hasName:
		fail("no name")
	case e.Name == "" && name != nil && !(e.Key == "node" && strings.HasPrefix(str("name"), "Channel ")):
		fail("name %v, want null: the device's own entity", name)
	case e.Name != "" && name != e.Name:
		fail("name %v, want %q", name, e.Name)
	}
	if str("entity_category") != e.Category {
		fail("entity_category %q, want %q", str("entity_category"), e.Category)
	}
	if hasState := str("state_topic") != ""; hasState != e.State && !(e.Secret && !hasState) {
		fail("state_topic %q: the table says state %v", str("state_topic"), e.State)
	}
	if cmd := str("command_topic"); (cmd != "") != e.Command || (cmd != "" && !strings.HasSuffix(cmd, "/set")) {
		fail("command_topic %q: the table says command %v", cmd, e.Command)
	}
	switch e.Platform {
	case "select":
		if opts := stringList(c["options"]); !slices.Equal(opts, e.Options) {
			fail("options %v, want %v", opts, e.Options)
		}
	case "number", "text":
		if num("min") != e.Min || num("max") != e.Max {
			fail("range %d..%d, want %d..%d", num("min"), num("max"), e.Min, e.Max)
		}
	}
	e.Options = slices.Clone(e.Options)
	return e, errors.Join(errs...)
}

// stringList is a decoded JSON list of strings; what is not a string is
// "".
func stringList(v any) []string {
	raw, _ := v.([]any)
	var out []string
	for _, x := range raw {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
