package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// A source is where an entity's value lives and how a command changes
// it. Every source says whether its entity exists for a panel, sensor or
// relay; the other abilities are optional.
type source interface {
	present(v *view) bool
}

// getter: the value for the entity's own state topic; ok false is
// unknown.
type getter interface {
	get(v *view) (val value, ok bool)
}

// setter carries out a command whose payload decode accepted. It returns
// a *rejection for a command that must not reach the panel.
type setter interface {
	set(ctx context.Context, p *panel, tg target, val value) error
}

// topicer: the entity's state topic is not the default one.
type topicer interface {
	stateTopic(t topics, tg target) string
}

// discoverer adds what its entity's discovery component needs beyond the
// row (value templates, device classes by type…).
type discoverer interface {
	discover(c component, t topics, v *view)
}

// attributer: the entity has JSON attributes, on its state topic plus
// /attributes.
type attributer interface {
	attributes(v *view) (string, bool)
}

// rereader has the Monitor read the value from the panel again after a
// command failed, so that the state shows what the panel holds: the
// bridge never reads the panel itself (issue 16.3); the new state comes
// with the Monitor's next delivery.
type rereader interface {
	reread(p *panel, tg target)
}

// offerer: whether the entity exists depends on the kind of the sensor
// or relay (the kind table, kinds.go). One its kind does not offer is
// sent as its platform alone, which removes what an earlier version
// published.
type offerer interface {
	offered(k *PeripheralKind) bool
}

// ticking: the entity's state depends on the clock; it is looked at on
// every availability check.
type ticking interface{ ticks() }

// value is an entity's value: an integer or a text.
type value struct {
	n      int
	text   string
	isText bool
}

func intValue(n int) value     { return value{n: n, text: strconv.Itoa(n)} }
func textValue(s string) value { return value{text: s, isText: true} }

// target is the device a command or state is for: the panel, or a
// sensor or relay by index (and node).
type target struct {
	scope       Scope
	index, node int
}

// view is what the sources read: the monitor's state and the values the
// bridge read, with the peripheral of the target. p.mu is held.
type view struct {
	st   *g90.State
	vals *values
	now  time.Time
	pin  bool
	// secrets: the secrets' values are published (Config.PublishSecrets).
	secrets bool
	history *g90.HistoryPoller
	tg      target
	// The target sensor or relay: its state from the monitor and its
	// record, nil until read.
	sensor *g90.SensorState
	srec   *peripheral.Sensor
	nodes  []g90.DeviceRef
	drec   *peripheral.Device
}

// rejection is a command ignored before anything is sent to the panel.
type rejection struct{ why string }

func (r *rejection) Error() string { return r.why }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// encode is the state payload of a value. "None" is unknown to Home
// Assistant's MQTT entities.
func (e *entity) encode(val value, ok bool) string {
	if !ok {
		return "None"
	}
	switch e.Platform {
	case "switch", "binary_sensor":
		on := e.on
		if on == 0 {
			on = 1
		}
		if !val.isText && val.n == on {
			return "ON"
		}
		return "OFF"
	case "select":
		if val.isText && slices.Contains(e.Options, val.text) {
			return val.text
		}
		if i := val.n - e.Min; !val.isText && i >= 0 && i < len(e.Options) {
			return e.Options[i]
		}
		if e.unknownAs != "" {
			return e.unknownAs
		}
		return "None"
	case "sensor":
		if _, numeric := e.disc["state_class"]; numeric && val.isText {
			if _, err := strconv.Atoi(val.text); err != nil {
				return "None" // e.g. a battery voltage that is not a number
			}
		}
	}
	return val.text
}

// decode checks a command payload against the entity's platform and
// limits, without the panel.
func (e *entity) decode(payload string) (value, error) {
	switch e.Platform {
	case "switch":
		switch payload {
		case "ON":
			return intValue(1), nil
		case "OFF":
			return intValue(0), nil
		}
		return value{}, reject("want ON or OFF")
	case "number":
		n, err := strconv.Atoi(payload)
		if err != nil {
			return value{}, reject("want an integer")
		}
		if n < e.Min || n > e.Max {
			return value{}, reject("%d is outside %d..%d", n, e.Min, e.Max)
		}
		return intValue(n), nil
	case "select":
		i := slices.Index(e.Options, payload)
		if i < 0 {
			return value{}, reject("not one of the options")
		}
		return value{n: e.Min + i, text: payload, isText: true}, nil
	case "text":
		if err := checkText(payload, e.Min, e.Max); err != nil {
			return value{}, err
		}
		return textValue(payload), nil
	case "button":
		if payload != "PRESS" {
			return value{}, reject("want PRESS")
		}
		return value{}, nil
	}
	return textValue(payload), nil // the alarm panel checks its own
}

// checkText refuses a text the panel cannot be trusted to store: invalid
// UTF-8, a length outside lo..hi characters, control characters, quotes
// and backslashes, which the panel would send back unescaped (spec:
// local-protocol.md 1.5 step 8; the rule of peripheral.ValidateName).
func checkText(s string, lo, hi int) error {
	if !utf8.ValidString(s) {
		return reject("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < lo || n > hi {
		return reject("length %d is outside %d..%d characters", n, lo, hi)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '"' || r == '\\' {
			return reject("%q cannot be stored", r)
		}
	}
	return nil
}

// sectionInfo is the host info (spec: local-protocol.md 3.3), kept with
// the configuration sections; it is not one.
const sectionInfo g90.Section = "info"

// fieldSrc is a field of a configuration section (or of the host info):
// read with the section, written with Panel.SetConfigFields, which
// reads, changes and verifies the section (spec: local-protocol.md 3.22).
type fieldSrc struct {
	sec      g90.Section
	field    string
	kind     protocol.FieldKind
	optional bool
}

func (f fieldSrc) present(v *view) bool {
	r := v.vals.recs[f.sec]
	switch {
	case f.optional:
		_, ok := fieldValue(r, f.field)
		return ok
	case f.sec == g90.SectionSIA || f.sec == g90.SectionCID:
		return r != nil
	}
	return true
}

func (f fieldSrc) get(v *view) (value, bool) { return fieldValue(v.vals.recs[f.sec], f.field) }

func (f fieldSrc) set(ctx context.Context, p *panel, _ target, val value) error {
	text := val.text
	if f.kind == protocol.FieldInt {
		text = strconv.Itoa(val.n)
	}
	r, err := p.mon.Panel().SetConfigFields(ctx, f.sec, f.field+"="+text)
	if err != nil {
		return err
	}
	p.stored(f.sec, r)
	return nil
}

func (f fieldSrc) reread(p *panel, _ target) { p.mon.ConfigWritten(f.sec) }

// fieldValue returns the named field of r; for the alert flags, a flag
// by its name as 0 or 1. ok is false when r is nil or the panel did not
// send the field.
func fieldValue(r protocol.Record, name string) (value, bool) {
	if r == nil {
		return value{}, false
	}
	if a, ok := r.(*protocol.AlertConfig); ok {
		for _, f := range protocol.AlertFlagNames {
			if f.Name == name {
				return intValue(int(a.Flags&f.Flag) / int(f.Flag)), true
			}
		}
		return value{}, false
	}
	vals := protocol.Encode(r)
	for i, f := range protocol.Fields(r) {
		if f.Name != name {
			continue
		}
		if i >= len(vals) {
			return value{}, false // an optional field the panel did not send
		}
		switch v := vals[i]; v.Kind {
		case protocol.Int:
			return intValue(int(v.Int)), true
		case protocol.String:
			return textValue(v.Str), true
		}
		return value{}, false
	}
	return value{}, false
}

// alarmSrc is the alarm panel: arm and disarm, with the PIN the bridge
// checks (the panel has none; spec: home-assistant.md §3).
type alarmSrc struct{}

func (alarmSrc) present(*view) bool                   { return true }
func (alarmSrc) stateTopic(t topics, _ target) string { return t.alarm() }

func (alarmSrc) discover(c component, t topics, v *view) {
	c["supported_features"] = []string{"arm_home", "arm_away"}
	c["json_attributes_topic"] = t.panelState()
	if v.pin {
		// The panel has no user code: the bridge checks it (spec:
		// home-assistant.md §3), so HA sends what the user typed.
		c["code"] = "REMOTE_CODE"
		c["command_template"] = `{"action":"{{ action }}","code":"{{ code }}"}`
	} else {
		c["code_arm_required"] = false
		c["code_disarm_required"] = false
	}
}

func (alarmSrc) set(ctx context.Context, p *panel, _ target, val value) error {
	action, code := val.text, ""
	if len(action) > 0 && action[0] == '{' {
		var m struct{ Action, Code string }
		if json.Unmarshal([]byte(val.text), &m) != nil {
			return reject("not JSON")
		}
		action, code = m.Action, m.Code
	}
	if err := p.mon.PIN().Check(code); err != nil {
		return reject("%v", err)
	}
	var (
		err   error
		state string
	)
	switch action {
	case "ARM_AWAY":
		err, state = p.mon.Panel().Arm(ctx, protocol.ArmAway), "armed_away"
	case "ARM_HOME":
		err, state = p.mon.Panel().Arm(ctx, protocol.ArmHome), "armed_home"
	case "DISARM":
		err, state = p.mon.Panel().Disarm(ctx), "disarmed"
	default:
		return reject("action must be ARM_AWAY, ARM_HOME or DISARM")
	}
	if err != nil {
		return err
	}
	// Shown at once; the panel's own report and a read follow.
	p.mu.Lock()
	p.retain(p.t.alarm(), state, false)
	p.mu.Unlock()
	p.mon.Reread(g90.ReadStatus)
	return nil
}

// eventSrc is the event entity: every event the panel reports.
type eventSrc struct{}

func (eventSrc) present(*view) bool                   { return true }
func (eventSrc) stateTopic(t topics, _ target) string { return t.event() }

func (eventSrc) discover(c component, _ topics, _ *view) {
	c["event_types"] = eventTypes
	c["value_template"] = `{"event_type": "{{ value_json.type }}"}`
}

// reachableSrc shows whether the panel answers, from the panel's state.
type reachableSrc struct{}

func (reachableSrc) present(*view) bool                   { return true }
func (reachableSrc) stateTopic(t topics, _ target) string { return t.panelState() }

func (reachableSrc) discover(c component, t topics, _ *view) {
	c["value_template"] = "{{ 'ON' if value_json.reachable else 'OFF' }}"
	// Shown even while the panel is away: that is its point.
	c["availability"] = []map[string]string{{"topic": t.bridgeStatus()}}
}

// notifyWindow is how recent the last packet must be for the
// notifications to count as working (spec: home-assistant.md §2a).
const notifyWindow = 2 * time.Minute

// notificationsSrc: are the panel's notifications arriving? On while a
// packet came from the panel, locally or through the cloud, in the last
// two minutes.
type notificationsSrc struct{}

func (notificationsSrc) present(*view) bool { return true }
func (notificationsSrc) ticks()             {}

func (notificationsSrc) get(v *view) (value, bool) {
	last := v.st.LastPacket[event.SourceLocal]
	if c := v.st.LastPacket[event.SourceCloud]; c.After(last) {
		last = c
	}
	return intValue(boolInt(!last.IsZero() && v.now.Sub(last) < notifyWindow)), true
}

func (notificationsSrc) attributes(v *view) (string, bool) {
	at := func(src event.Source) any {
		if t, ok := v.st.LastPacket[src]; ok {
			return t.UTC().Format(time.RFC3339)
		}
		return nil
	}
	// A chained panel's also has when the vendor's cloud last answered
	// for it (spec: E.4.5 last_upstream_packet_time; issue 15.8).
	var upstream any
	if c := v.st.Cloud; c != nil && !c.LastUpstream.IsZero() {
		upstream = c.LastUpstream.UTC().Format(time.RFC3339)
	}
	return string(mustJSON(map[string]any{
		"last_local_packet": at(event.SourceLocal), "last_cloud_packet": at(event.SourceCloud),
		"last_history_packet": at(event.SourceHistory), "last_upstream_packet": upstream,
	})), true
}

// cloudConflictSrc: a second address claimed the panel's GUID on the
// cloud server while it was connected (issue 13.1, 13.2): on for an
// hour after the last time (g90.CloudState.Conflict). Cloud and chained
// panels only.
type cloudConflictSrc struct{}

func (cloudConflictSrc) present(v *view) bool { return v.st != nil && v.st.Cloud != nil }
func (cloudConflictSrc) ticks()               {}

func (cloudConflictSrc) get(v *view) (value, bool) {
	return intValue(boolInt(v.st.Cloud.Conflict)), true
}

func (cloudConflictSrc) attributes(v *view) (string, bool) {
	c := v.st.Cloud
	at := func(a netip.AddrPort) any {
		if !a.IsValid() {
			return nil
		}
		return a.String()
	}
	var when any
	if !c.ConflictAt.IsZero() {
		when = c.ConflictAt.UTC().Format(time.RFC3339)
	}
	return string(mustJSON(map[string]any{
		"conflicts": c.Conflicts, "last_conflict": when, "connected_from": at(c.Remote),
		"live_address": at(c.ConflictLive), "other_address": at(c.ConflictFrom), "takeover": c.ConflictTakeover,
	})), true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Registration states, the options of the registration sensor.
const (
	regIdle        = "idle"
	regRegistering = "registering"
	regRegistered  = "registered"
	regFailed      = "failed"
)

var registrationStates = []string{regIdle, regRegistering, regRegistered, regFailed}

// registrationSrc shows the last registration of a sensor or relay.
type registrationSrc struct{}

func (registrationSrc) present(*view) bool        { return true }
func (registrationSrc) get(v *view) (value, bool) { return textValue(v.vals.reg.state), true }
func (registrationSrc) attributes(v *view) (string, bool) {
	return string(mustJSON(v.vals.reg.attrs)), true
}

// newTypeSrc is the definition the next registration of kind uses.
type newTypeSrc struct{ kind peripheral.Kind }

func (newTypeSrc) present(*view) bool          { return true }
func (s newTypeSrc) get(v *view) (value, bool) { return textValue(v.vals.newType[s.kind]), true }

func (s newTypeSrc) set(_ context.Context, p *panel, _ target, val value) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vals.newType[s.kind] = val.text
	p.entityStatesLocked(false)
	return nil
}

// newNameSrc is the name the next registration of kind gives; empty
// means the definition's.
type newNameSrc struct{ kind peripheral.Kind }

func (newNameSrc) present(*view) bool          { return true }
func (s newNameSrc) get(v *view) (value, bool) { return textValue(v.vals.newName[s.kind]), true }

func (s newNameSrc) set(_ context.Context, p *panel, _ target, val value) error {
	if val.text != "" {
		if err := peripheral.ValidateName(val.text); err != nil {
			return reject("%v", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vals.newName[s.kind] = val.text
	p.entityStatesLocked(false)
	return nil
}

// registerSrc starts the registration of a sensor or relay of the chosen
// type and name.
type registerSrc struct{ kind peripheral.Kind }

func (registerSrc) present(*view) bool { return true }

func (s registerSrc) set(_ context.Context, p *panel, _ target, _ value) error {
	return p.register(s.kind)
}

// Actions of buttons.
const (
	actionRefresh = iota
	actionReboot
	actionDelete
)

// actionSrc is a button.
type actionSrc struct{ action int }

func (actionSrc) present(*view) bool { return true }

func (s actionSrc) set(ctx context.Context, p *panel, tg target, _ value) error {
	switch s.action {
	case actionReboot:
		return p.mon.Panel().Reboot(ctx, g90.ModuleAll)
	case actionRefresh:
		// Everything again, the configuration without the cache and
		// SIA and CID even if they failed before.
		p.mon.Reread(g90.ReadAll | g90.ReadConfigFresh)
		return nil
	}
	return p.delete(ctx, tg)
}

// sensorJSONSrc is a field of a sensor's JSON state, which the monitor's
// state drives: the sensor itself and its diagnostics.
type sensorJSONSrc struct{ field string }

func (s sensorJSONSrc) present(v *view) bool                { return s.offered(v.kind()) }
func (sensorJSONSrc) stateTopic(t topics, tg target) string { return t.sensor(tg.index) }

// offered: the sensor's own binary sensor unless it is an event entity;
// open-when-arming where the open check when arming is offered.
func (s sensorJSONSrc) offered(k *PeripheralKind) bool {
	switch s.field {
	case "occupied":
		return k.Platform == "binary_sensor"
	case "door_open_when_arming":
		return k.Offers(peripheral.FlagDetectDoor)
	}
	return true
}

func (s sensorJSONSrc) discover(c component, t topics, v *view) {
	c["value_template"] = "{{ 'ON' if value_json." + s.field + " else 'OFF' }}"
	if s.field != "occupied" {
		return
	}
	// A disabled sensor reports nothing: its state is unknown (spec:
	// home-assistant.md §2b).
	c["value_template"] = "{{ ('ON' if value_json.occupied else 'OFF') if value_json.enabled else 'None' }}"
	c["json_attributes_topic"] = t.sensor(v.tg.index)
	if dc := v.kind().DeviceClass; dc != "" {
		c["device_class"] = dc
	}
}

// updatable reports whether the target sensor or relay can be written.
func (v *view) updatable() bool {
	if v.tg.scope == ScopeRelay {
		return v.drec != nil && v.drec.SupportsUpdates()
	}
	return v.srec != nil && v.srec.SupportsUpdates()
}

// flagSrc is a user flag of a sensor (spec: peripherals.md 7.4).
type flagSrc struct{ flag peripheral.UserFlags }

func (s flagSrc) present(v *view) bool           { return v.updatable() && s.offered(v.kind()) }
func (s flagSrc) offered(k *PeripheralKind) bool { return k.Offers(s.flag) }

func (s flagSrc) get(v *view) (value, bool) { return intValue(boolInt(v.srec.Flag(s.flag))), true }

func (s flagSrc) set(ctx context.Context, p *panel, tg target, val value) error {
	c := g90.PeripheralChange{Clear: s.flag}
	if val.n == 1 {
		c = g90.PeripheralChange{Set: s.flag}
	}
	return p.updatePeripheral(ctx, tg, c)
}

func (flagSrc) reread(p *panel, tg target) { p.mon.Reread(rereadOf(tg)) }

// alertModeSrc is a sensor's alert mode (spec: peripherals.md 7.4).
type alertModeSrc struct{}

func (s alertModeSrc) present(v *view) bool         { return v.updatable() && s.offered(v.kind()) }
func (alertModeSrc) offered(k *PeripheralKind) bool { return k.AlertMode }

func (alertModeSrc) get(v *view) (value, bool) {
	m, err := v.srec.AlertMode()
	if err != nil {
		return value{}, false // both mode bits: no mode
	}
	return intValue(int(m)), true
}

func (alertModeSrc) set(ctx context.Context, p *panel, tg target, val value) error {
	m := peripheral.AlertMode(val.n)
	return p.updatePeripheral(ctx, tg, g90.PeripheralChange{AlertMode: &m})
}

func (alertModeSrc) reread(p *panel, tg target) { p.mon.Reread(rereadOf(tg)) }

// nameSrc is the name a sensor or relay has on the panel; a relay's
// nodes share it (spec: peripherals.md 15).
type nameSrc struct{}

func (nameSrc) present(v *view) bool { return v.updatable() }

func (nameSrc) get(v *view) (value, bool) {
	if v.tg.scope == ScopeRelay {
		return textValue(v.drec.ParentName()), true
	}
	return textValue(v.srec.ParentName()), true
}

func (nameSrc) set(ctx context.Context, p *panel, tg target, val value) error {
	if err := peripheral.ValidateName(val.text); err != nil {
		return reject("%v", err)
	}
	return p.updatePeripheral(ctx, tg, g90.PeripheralChange{Name: &val.text})
}

func (nameSrc) reread(p *panel, tg target) { p.mon.Reread(rereadOf(tg)) }

// relayNodeSrc is one node of a relay. The panel cannot report relay
// states, so the state is what the last successful switch set, from
// MQTT or anywhere else (the monitor's state; spec: home-assistant.md
// §2c).
type relayNodeSrc struct{}

func (relayNodeSrc) present(*view) bool { return true }

func (relayNodeSrc) stateTopic(t topics, tg target) string { return t.relay(tg.index, tg.node) }

func (relayNodeSrc) discover(c component, _ topics, v *view) {
	if dc := v.kind().DeviceClass; dc != "" {
		c["device_class"] = dc
	}
}

// set switches through the monitor, whose relay_switched event then
// publishes the state, as for a switch from the web UI.
func (relayNodeSrc) set(ctx context.Context, p *panel, tg target, val value) error {
	return p.mon.SetRelay(ctx, tg.index, tg.node, val.n == 1)
}
