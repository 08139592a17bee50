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
}

// Missing returns the keys of the rows of d's scope that every device of
// it has (When is Always) but d lacks.
func (d Discovered) Missing() []string {
	var out []string
	for _, e := range tables[d.Scope] {
		if e.When != Always {
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
		e, err := checkComponent(d, id, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Entities[id] = e
	}
	return d, errors.Join(errs...)
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
		var opts []string
		raw, _ := c["options"].([]any)
		for _, o := range raw {
			s, _ := o.(string)
			opts = append(opts, s)
		}
		if !slices.Equal(opts, e.Options) {
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
