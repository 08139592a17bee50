package bridge

import (
	"fmt"
	"slices"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// The entity table: every Home Assistant entity the bridge publishes, as
// data (spec: home-assistant.md §2). One row drives the entity's
// discovery component, its state topic and its command handling; the
// behaviour comes from the row's source, one of a few generic kinds (a
// configuration field, a sensor flag, a peripheral name, a button…).

// Scope is the Home Assistant device an entity belongs to.
type Scope string

// Scopes.
const (
	ScopePanel  Scope = "panel"  // the panel's device
	ScopeSensor Scope = "sensor" // one device per sensor, via the panel
	ScopeRelay  Scope = "relay"  // one device per device-list entry (all its nodes), via the panel
)

// Condition says when an entity of the table is published.
type Condition string

// Conditions.
const (
	// Always: every panel, sensor or relay has the entity.
	Always Condition = ""
	// IfPanelSends: the panel sends this optional field of its
	// configuration (ring volume and GSM operator on cellular panels, the
	// SIA heartbeat on some; spec: local-protocol.md 7.2).
	IfPanelSends Condition = "panel_sends_field"
	// IfPanelAnswers: the panel answered the read of the section (SIA,
	// CID), so it supports it.
	IfPanelAnswers Condition = "panel_answers_section"
	// IfUpdatable: the sensor or relay has a definition, so it can be
	// written (spec: peripherals.md 10.1).
	IfUpdatable Condition = "updatable"
	// IfHistory: the bridge was given the panel's history poller
	// (Panel.History).
	IfHistory Condition = "history_poller"
	// IfCloud: the panel's events come through g90's cloud server
	// (notifications cloud or chained).
	IfCloud Condition = "cloud_panel"
)

// Entity describes one entity of the table. Its component in a device
// discovery payload has the id <device object id>_<Key> (the device's
// own entity, Key "", has the device's object id), its state topic is
// <topic prefix>/<panel GUID>[/sensor/<index>|/relay/<index>]/<Key> and
// its command topic that plus /set, except where the notes of Entities
// say otherwise.
type Entity struct {
	Scope Scope
	// Key identifies the entity within its device. A relay's switches,
	// one per node, are the row with Key "node"; their ids and topics
	// carry the node number instead.
	Key      string
	Platform string // Home Assistant platform: switch, number, select…
	// Name is the entity's name; "" for the device's main entity, whose
	// name is null so that it takes the device's.
	Name     string
	Category string // "", "config" or "diagnostic"
	// State reports that the entity has a state topic; Command that it
	// takes commands.
	State, Command bool
	// Secret: the value is a password or key. Its state topic is
	// published only with Config.PublishSecrets; without, the entity has
	// none, and Home Assistant shows what it last set.
	Secret bool
	// Section and Field are the configuration field behind the entity,
	// if any (for the alert flags, Field is the flag's name): what
	// `g90 config set SECTION FIELD=…` changes.
	Section g90.Section
	Field   string
	// Options are a select's options, in the order of the values they
	// stand for.
	Options []string
	// Min and Max bound a number's value or a text's length in
	// characters.
	Min, Max int
	// When says when the entity is published.
	When Condition
}

// entity is a row of the table: the Entity, the discovery options of its
// kind, and where its value lives.
type entity struct {
	Entity
	disc map[string]any // more discovery options: device_class, unit_of_measurement, icon…
	src  source
	on   int // the value a switch or binary sensor shows as ON; 0 means 1
	// unknownAs is what a select shows for a value without an option;
	// "" means unknown.
	unknownAs string
}

// d is shorthand for discovery options.
type d = map[string]any

// Select options (spec: local-protocol.md 3.16, 3.19).
var (
	volumeOptions   = []string{"mute", "low", "high"}
	languageOptions = []string{
		"none", "English (female)", "English (male)", "Chinese (female)", "Chinese (male)",
		"German (female)", "German (male)", "Spanish (female)", "Spanish (male)",
		"Dutch (female)", "Dutch (male)", "Swedish (female)", "Swedish (male)",
		"French (female)", "French (male)", "Turkish (female)", "Turkish (male)",
		"Russian (female)", "Russian (male)",
	}
	apnAuthOptions   = []string{"none", "pap", "chap", "pap_or_chap"}
	alertModeOptions = func() []string {
		var out []string
		for m := peripheral.AlertAlways; m <= peripheral.AlertWhenAwayAndHome; m++ {
			out = append(out, m.String())
		}
		return out
	}()
)

// definitionNames lists the names of the definitions of kind k, the
// options of the "new sensor/relay type" selects.
func definitionNames(k peripheral.Kind) []string {
	var out []string
	for _, def := range peripheral.Definitions(k) {
		out = append(out, def.Name)
	}
	return out
}

// Entity categories.
const (
	catConfig     = "config"
	catDiagnostic = "diagnostic"
)

// cfgRow is a row bound to a configuration field.
func cfgRow(platform, key, name string, sec g90.Section, field string, disc d) entity {
	e := entity{Entity: Entity{Scope: ScopePanel, Key: key, Platform: platform, Name: name, Category: catConfig},
		disc: disc, src: fieldSrc{sec: sec, field: field}}
	if layoutSecret(sec, field) {
		e = secret(e)
	}
	return e
}

// layoutSecret reports whether the protocol's layout, the one table of
// the configuration fields, marks a field as a password or key.
func layoutSecret(sec g90.Section, field string) bool {
	keys, _ := g90.ConfigKeys(sec)
	for _, k := range keys {
		if k.Name == field {
			return k.Secret
		}
	}
	return false
}

// selRow is a select row bound to a configuration field.
func selRow(key, name string, sec g90.Section, field string, options []string) entity {
	e := cfgRow("select", key, name, sec, field, nil)
	e.Options = options
	return e
}

// alertFlag is the switch of one alert flag (spec: local-protocol.md 3.18).
func alertFlag(flag, name string) entity {
	return cfgRow("switch", "alert_"+flag, name, g90.SectionAlerts, flag, d{"icon": "mdi:bell-cog-outline"})
}

// infoRow is a diagnostic row bound to a field of the host info (spec:
// local-protocol.md 3.3).
func infoRow(platform, key, name, field string, disc d) entity {
	return entity{Entity: Entity{Scope: ScopePanel, Key: key, Platform: platform, Name: name, Category: catDiagnostic},
		disc: disc, src: fieldSrc{sec: sectionInfo, field: field}}
}

func row(scope Scope, platform, key, name, category string, src source, disc d) entity {
	return entity{Entity: Entity{Scope: scope, Key: key, Platform: platform, Name: name, Category: category}, disc: disc, src: src}
}

var (
	seconds = d{"unit_of_measurement": "s"}
	phone   = d{"icon": "mdi:phone"}
)

// secret marks a text row as a password (spec: home-assistant.md §2a).
func secret(e entity) entity {
	e.Secret = true
	disc := d{"mode": "password"}
	for k, v := range e.disc {
		disc[k] = v
	}
	e.disc = disc
	return e
}

// panelTable is the panel device (spec: home-assistant.md §2a).
var panelTable = []entity{
	row(ScopePanel, "alarm_control_panel", "alarm", "", "", alarmSrc{}, nil),
	row(ScopePanel, "event", "events", "Events", "", eventSrc{}, nil),
	row(ScopePanel, "binary_sensor", "reachable", "Panel reachable", catDiagnostic, reachableSrc{}, d{"device_class": "connectivity"}),
	row(ScopePanel, "binary_sensor", "notifications", "Notifications protocol", catDiagnostic, notificationsSrc{}, d{"device_class": "connectivity"}),
	row(ScopePanel, "binary_sensor", "cloud_conflict", "Cloud conflict", catDiagnostic, cloudConflictSrc{}, d{"device_class": "problem"}),
	withOn(infoRow("binary_sensor", "wifi_status", "WiFi status", "wifi_status", d{"device_class": "connectivity"}), 3),
	withOn(infoRow("binary_sensor", "gsm_status", "GSM status", "gsm_status", d{"device_class": "connectivity"}), 3),
	infoRow("binary_sensor", "gprs_3g_active", "GPRS/3G active", "gprs_3g_active", d{"icon": "mdi:signal-3g"}),
	infoRow("sensor", "wifi_signal", "WiFi signal", "wifi_signal_level", d{"unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:wifi"}),
	infoRow("sensor", "gsm_signal", "GSM signal", "gsm_signal_level", d{"unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:signal"}),
	infoRow("sensor", "battery_voltage", "Battery voltage", "battery_voltage", d{
		// The state topic has the panel's millivolts; Home Assistant shows
		// volts (MQTT discovery has no suggested_unit_of_measurement,
		// issue 15.6).
		"device_class": "voltage", "unit_of_measurement": "V", "value_template": "{{ (value | float / 1000) | round(3) if value | is_number else 'None' }}",
		"state_class": "measurement", "suggested_display_precision": 2,
	}),
	diag(cfgRow("sensor", "cellular_operator", "Cellular operator", g90.SectionNet, "gsm_operator", d{"icon": "mdi:sim"})),
	row(ScopePanel, "sensor", "registration", "Registration", catDiagnostic, registrationSrc{}, d{
		"device_class": "enum", "options": registrationStates, "icon": "mdi:plus-network",
	}),

	alertFlag("ac_power_failure", "Alert on AC power failure"),
	alertFlag("ac_power_recover", "Alert on AC power recovery"),
	alertFlag("arm_disarm", "Alert on arm/disarm"),
	alertFlag("host_low_voltage", "Alert on panel low voltage"),
	alertFlag("sensor_low_voltage", "Alert on sensor low battery"),
	alertFlag("wifi_available", "Alert on WiFi available"),
	alertFlag("wifi_unavailable", "Alert on WiFi unavailable"),
	alertFlag("door_open", "Alert on door open"),
	alertFlag("door_close", "Alert on door close"),
	alertFlag("sms_push", "SMS push"),
	row(ScopePanel, "switch", keySMSWhenArmed, "SMS alert when armed", catConfig, smsWhenArmedSrc{}, d{"icon": "mdi:message-lock-outline"}),
	row(ScopePanel, "switch", keyHistory, "Simulate alerts from history", catConfig, historySrc{}, d{"icon": "mdi:history"}),

	cfgRow("switch", "ap_enabled", "Access point", g90.SectionNet, "ap_enabled", d{"icon": "mdi:access-point"}),
	cfgRow("switch", "gprs_enabled", "GPRS", g90.SectionNet, "gprs_enabled", d{"icon": "mdi:signal-cellular-3"}),
	cfgRow("switch", "sia_enabled", "SIA reporting", g90.SectionSIA, "enabled", nil),
	cfgRow("switch", "sia_encryption", "SIA encryption", g90.SectionSIA, "encryption", nil),
	cfgRow("switch", "cid_enabled", "Contact ID reporting", g90.SectionCID, "enabled", nil),

	cfgRow("number", "alarm_siren_duration", "Siren duration", g90.SectionHost, "alarm_siren_duration", seconds),
	cfgRow("number", "arm_delay", "Arm delay", g90.SectionHost, "arm_delay", seconds),
	cfgRow("number", "alarm_delay", "Alarm delay", g90.SectionHost, "alarm_delay", seconds),
	cfgRow("number", "backlight_duration", "Backlight duration", g90.SectionHost, "backlight_duration", seconds),
	cfgRow("number", "ring_duration", "Ring duration", g90.SectionHost, "ring_duration", seconds),
	cfgRow("number", "timezone_offset", "Timezone offset", g90.SectionHost, "timezone_offset_m", d{"unit_of_measurement": "min"}),
	cfgRow("number", "sia_port", "SIA port", g90.SectionSIA, "port", nil),
	// The stated range; the reference does not enforce one (spec:
	// local-protocol.md 3.20).
	withRange(cfgRow("number", "sia_heartbeat_interval", "SIA heartbeat interval", g90.SectionSIA, "heartbeat_interval", seconds), 60, 86400),

	selRow("alarm_volume", "Alarm volume", g90.SectionHost, "alarm_volume_level", volumeOptions),
	selRow("speech_volume", "Speech volume", g90.SectionHost, "speech_volume_level", volumeOptions),
	selRow("key_tone_volume", "Key tone volume", g90.SectionHost, "key_tone_volume_level", volumeOptions),
	selRow("ring_volume", "Ring volume", g90.SectionHost, "ring_volume_level", volumeOptions),
	selRow("speech_language", "Speech language", g90.SectionHost, "speech_language", languageOptions),
	// Some panels send 333 without a SIM: shown as none, and written
	// back as it is unless changed (spec: local-protocol.md 7.2).
	withUnknownAs(selRow("apn_auth", "APN authentication", g90.SectionNet, "apn_auth", apnAuthOptions), "none"),

	cfgRow("text", "panel_password", "Panel password", g90.SectionPhones, "panel_password", nil),
	cfgRow("text", "ap_password", "Access point password", g90.SectionNet, "ap_password", nil),
	cfgRow("text", "apn_password", "APN password", g90.SectionNet, "apn_password", nil),
	cfgRow("text", "sia_aes_key", "SIA AES key", g90.SectionSIA, "aes_key", nil),
	cfgRow("text", "panel_phone_number", "Panel phone number", g90.SectionPhones, "panel_phone_number", phone),
	cfgRow("text", "phone_number_1", "Phone number 1", g90.SectionPhones, "phone_number_1", phone),
	cfgRow("text", "phone_number_2", "Phone number 2", g90.SectionPhones, "phone_number_2", phone),
	cfgRow("text", "phone_number_3", "Phone number 3", g90.SectionPhones, "phone_number_3", phone),
	cfgRow("text", "phone_number_4", "Phone number 4", g90.SectionPhones, "phone_number_4", phone),
	cfgRow("text", "phone_number_5", "Phone number 5", g90.SectionPhones, "phone_number_5", phone),
	cfgRow("text", "phone_number_6", "Phone number 6", g90.SectionPhones, "phone_number_6", phone),
	cfgRow("text", "sms_push_number_1", "SMS push number 1", g90.SectionPhones, "sms_push_number_1", phone),
	cfgRow("text", "sms_push_number_2", "SMS push number 2", g90.SectionPhones, "sms_push_number_2", phone),
	cfgRow("text", "apn_name", "APN name", g90.SectionNet, "apn_name", nil),
	cfgRow("text", "apn_user", "APN user", g90.SectionNet, "apn_user", nil),
	cfgRow("text", "sia_host", "SIA host", g90.SectionSIA, "host", nil),
	cfgRow("text", "sia_account", "SIA account", g90.SectionSIA, "account", nil),
	cfgRow("text", "sia_receiver", "SIA receiver", g90.SectionSIA, "receiver", nil),
	cfgRow("text", "sia_prefix", "SIA prefix", g90.SectionSIA, "prefix", nil),
	cfgRow("text", "cid_phone1", "Contact ID phone 1", g90.SectionCID, "phone1", phone),
	cfgRow("text", "cid_phone2", "Contact ID phone 2", g90.SectionCID, "phone2", phone),
	cfgRow("text", "cid_user", "Contact ID user", g90.SectionCID, "user", nil),

	row(ScopePanel, "select", "new_sensor_type", "New sensor type", catConfig, newTypeSrc{peripheral.KindSensor}, nil),
	row(ScopePanel, "text", "new_sensor_name", "New sensor name", catConfig, newNameSrc{peripheral.KindSensor}, nil),
	row(ScopePanel, "button", "register_sensor", "Register new sensor", catConfig, registerSrc{peripheral.KindSensor}, d{"icon": "mdi:plus-circle-outline"}),
	row(ScopePanel, "select", "new_relay_type", "New relay type", catConfig, newTypeSrc{peripheral.KindDevice}, nil),
	row(ScopePanel, "text", "new_relay_name", "New relay name", catConfig, newNameSrc{peripheral.KindDevice}, nil),
	row(ScopePanel, "button", "register_relay", "Register new relay", catConfig, registerSrc{peripheral.KindDevice}, d{"icon": "mdi:plus-circle-outline"}),
	row(ScopePanel, "button", "refresh", "Refresh", catDiagnostic, actionSrc{action: actionRefresh}, nil),
	row(ScopePanel, "button", "reboot", "Reboot", catDiagnostic, actionSrc{action: actionReboot}, d{"device_class": "restart"}),
}

// sensorTable is each sensor's device (spec: home-assistant.md §2b).
var sensorTable = []entity{
	// The sensor itself: a binary sensor, or for a key fob or keypad an
	// event entity and a device trigger per button (the kind table,
	// kinds.go).
	row(ScopeSensor, "binary_sensor", "", "", "", sensorJSONSrc{field: "occupied"}, nil),
	row(ScopeSensor, "event", keyPress, "", "", pressSrc{}, nil),
	row(ScopeSensor, "device_automation", keyTrigger, "", "", triggerSrc{}, nil),
	row(ScopeSensor, "binary_sensor", "tamper", "Tamper", catDiagnostic, sensorJSONSrc{field: "tamper"}, d{"device_class": "tamper"}),
	row(ScopeSensor, "binary_sensor", "low_battery", "Low battery", catDiagnostic, sensorJSONSrc{field: "low_battery"}, d{"device_class": "battery"}),
	row(ScopeSensor, "binary_sensor", "open_arming", "Open when arming", catDiagnostic, sensorJSONSrc{field: "door_open_when_arming"}, d{"device_class": "problem"}),
	row(ScopeSensor, "switch", "enabled", "Enabled", catConfig, flagSrc{peripheral.FlagEnabled}, nil),
	row(ScopeSensor, "switch", "arm_delay", "Arm delay", catConfig, flagSrc{peripheral.FlagArmDelay}, d{"icon": "mdi:timer-outline"}),
	// The names the existing integration gives the flags (spec:
	// home-assistant.md §2b).
	row(ScopeSensor, "switch", "detect_door", "Check open when arming", catConfig, flagSrc{peripheral.FlagDetectDoor}, d{"icon": "mdi:door"}),
	row(ScopeSensor, "switch", "door_chime", "Door chime", catConfig, flagSrc{peripheral.FlagDoorChime}, d{"icon": "mdi:bell-ring-outline"}),
	row(ScopeSensor, "switch", "independent_zone", "Disarm from app only", catConfig, flagSrc{peripheral.FlagIndependentZone}, d{"icon": "mdi:cellphone-lock"}),
	row(ScopeSensor, "select", "alert_mode", "Alert mode", catConfig, alertModeSrc{}, nil),
	row(ScopeSensor, "text", "name", "Panel name", catConfig, nameSrc{}, nil),
	row(ScopeSensor, "button", "delete", "Delete", catConfig, actionSrc{action: actionDelete}, d{"icon": "mdi:delete"}),
}

// relayTable is each relay's device (spec: home-assistant.md §2c).
var relayTable = []entity{
	row(ScopeRelay, "switch", "node", "", "", relayNodeSrc{}, nil),
	row(ScopeRelay, "text", "name", "Panel name", catConfig, nameSrc{}, nil),
	row(ScopeRelay, "button", "delete", "Delete", catConfig, actionSrc{action: actionDelete}, d{"icon": "mdi:delete"}),
}

func withOn(e entity, on int) entity { e.on = on; return e }

// withRange sets a range the record layout does not have.
func withRange(e entity, lo, hi int) entity { e.Min, e.Max = lo, hi; return e }

// withUnknownAs shows values outside a select's options as option.
func withUnknownAs(e entity, option string) entity { e.unknownAs = option; return e }

func diag(e entity) entity { e.Category = catDiagnostic; return e }

// tables holds the rows by scope, completed by init.
var tables = map[Scope][]entity{ScopePanel: panelTable, ScopeSensor: sensorTable, ScopeRelay: relayTable}

func init() {
	for scope, rows := range tables {
		keys := map[string]bool{}
		for i := range rows {
			if err := complete(&rows[i]); err != nil {
				panic("bridge: entity table: " + err.Error())
			}
			if keys[rows[i].Key] {
				panic(fmt.Sprintf("bridge: entity table: %s key %q twice", scope, rows[i].Key))
			}
			keys[rows[i].Key] = true
		}
	}
}

// reservedKeys are the panel topics that are not entity topics.
var reservedKeys = []string{"state", "availability", "event", "sensor", "relay", "set"}

// complete fills what a row derives: its flags from its source, and a
// configuration field's section, field, range and condition from the
// record layouts (spec: local-protocol.md 7.3).
func complete(e *entity) error {
	if e.Scope == ScopePanel && e.Key != "alarm" && slices.Contains(reservedKeys, e.Key) {
		return fmt.Errorf("key %q is a reserved topic", e.Key)
	}
	e.State = e.Platform != "button" && e.Platform != "device_automation"
	_, e.Command = e.src.(setter)
	if t, ok := e.src.(newTypeSrc); ok {
		e.Options = definitionNames(t.kind)
	}
	if _, ok := e.src.(alertModeSrc); ok {
		e.Options = alertModeOptions
	}
	if _, ok := e.src.(newNameSrc); ok {
		e.Max = peripheral.MaxNameBytes
	}
	if _, ok := e.src.(nameSrc); ok {
		e.Min, e.Max, e.When = 1, peripheral.MaxNameBytes, IfUpdatable
	}
	if _, ok := e.src.(flagSrc); ok {
		e.When = IfUpdatable
	}
	if _, ok := e.src.(historySrc); ok {
		e.When = IfHistory
	}
	if _, ok := e.src.(cloudConflictSrc); ok {
		e.When = IfCloud
	}
	if _, ok := e.src.(alertModeSrc); ok {
		e.When = IfUpdatable
	}
	f, ok := e.src.(fieldSrc)
	if !ok || f.sec == sectionInfo {
		return nil
	}
	e.Section, e.Field = f.sec, f.field
	keys, err := g90.ConfigKeys(f.sec)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k protocol.FieldInfo) bool { return k.Name == f.field })
	if i < 0 {
		return fmt.Errorf("%s: no field %q in section %s", e.Key, f.field, f.sec)
	}
	fi := keys[i]
	switch {
	case fi.Optional:
		e.When = IfPanelSends
	case f.sec == g90.SectionSIA || f.sec == g90.SectionCID:
		e.When = IfPanelAnswers
	}
	if fi.ReadOnly {
		e.Command = false
	}
	if fi.Ranged && e.Min == 0 && e.Max == 0 {
		e.Min, e.Max = fi.Min, fi.Max
	}
	f.kind, f.optional = fi.Kind, fi.Optional
	e.src = f
	if e.Platform == "select" && len(e.Options) != e.Max-e.Min+1 {
		return fmt.Errorf("%s: %d options for the range %d..%d", e.Key, len(e.Options), e.Min, e.Max)
	}
	return nil
}

// Entities returns the entity table: every entity the bridge can publish,
// panel first, then a sensor's and a relay's, in table order. Relay nodes
// keep their own topics: state <prefix>/<GUID>/relay/<index>/<node>; the
// alarm panel's are <prefix>/<GUID>/alarm, the events entity reads
// <prefix>/<GUID>/event; the sensor's own entity and its tamper, low
// battery and open-when-arming diagnostics read the sensor's JSON state on
// <prefix>/<GUID>/sensor/<index>; a key fob's or keypad's event entity
// and its device triggers (the row "trigger", one component per event
// type, which is no entity: it has no name, unique id or state topic)
// read <prefix>/<GUID>/sensor/<index>/press; the reachability diagnostic
// reads the panel's JSON state on <prefix>/<GUID>/state. Which rows a
// sensor or relay has depends on its kind (PeripheralKinds).
func Entities() []Entity {
	var out []Entity
	for _, scope := range []Scope{ScopePanel, ScopeSensor, ScopeRelay} {
		for _, e := range tables[scope] {
			x := e.Entity
			x.Options = slices.Clone(x.Options)
			out = append(out, x)
		}
	}
	return out
}

// lookup returns the row of scope with key, or nil.
func lookup(scope Scope, key string) *entity {
	rows := tables[scope]
	for i := range rows {
		if rows[i].Key == key {
			return &rows[i]
		}
	}
	return nil
}
