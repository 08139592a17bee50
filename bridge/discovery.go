package bridge

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/peripheral"
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
	StateTopic   string               `json:"state_topic,omitempty"`
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
func (t topics) alarmSet() string        { return t.base() + "/alarm/set" }
func (t topics) event() string           { return t.base() + "/event" }
func (t topics) panelState() string      { return t.base() + "/state" }
func (t topics) sensor(index int) string { return t.base() + "/sensor/" + strconv.Itoa(index) }
func (t topics) relay(index, node int) string {
	return t.base() + "/relay/" + strconv.Itoa(index) + "/" + strconv.Itoa(node)
}
func (t topics) button(name string) string { return t.base() + "/" + name + "/set" }

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

// panelDevice is the device block of the panel (spec: home-assistant.md
// §2a).
func panelDevice(t topics, name string) map[string]any {
	return map[string]any{
		"identifiers": []string{t.objectID()}, "name": name, "manufacturer": "Golden Security",
		"serial_number": t.guid,
	}
}

// panelDiscovery is the payload of the panel device: the alarm panel,
// its event entity and buttons.
func panelDiscovery(t topics, name string, pin bool) (string, []byte) {
	id := t.objectID()
	alarm := component{
		"platform": "alarm_control_panel", "name": nil, "unique_id": id + "_alarm",
		"default_entity_id": "alarm_control_panel." + id,
		"state_topic":       t.alarm(), "command_topic": t.alarmSet(),
		"supported_features":    []string{"arm_home", "arm_away"},
		"json_attributes_topic": t.panelState(),
	}
	if pin {
		// The panel has no user code: the bridge checks it (spec:
		// home-assistant.md §3), so HA sends what the user typed.
		alarm["code"] = "REMOTE_CODE"
		alarm["command_template"] = `{"action":"{{ action }}","code":"{{ code }}"}`
	} else {
		alarm["code_arm_required"] = false
		alarm["code_disarm_required"] = false
	}
	events := component{
		"platform": "event", "name": "Events", "unique_id": id + "_events",
		"default_entity_id": "event." + id + "_events",
		"state_topic":       t.event(), "event_types": eventTypes,
		"value_template": `{"event_type": "{{ value_json.type }}"}`,
	}
	p := devicePayload{
		Device: panelDevice(t, name), Origin: origin,
		Availability: t.availabilityList(), AvailMode: "all",
		Components: map[string]component{
			id + "_alarm": alarm, id + "_events": events,
			id + "_refresh": {
				"platform": "button", "name": "Refresh", "unique_id": id + "_refresh",
				"default_entity_id": "button." + id + "_refresh", "command_topic": t.button("refresh"),
				"entity_category": "diagnostic",
			},
			id + "_reboot": {
				"platform": "button", "name": "Reboot", "unique_id": id + "_reboot",
				"default_entity_id": "button." + id + "_reboot", "command_topic": t.button("reboot"),
				"device_class": "restart", "entity_category": "diagnostic",
			},
			id + "_reachable": {
				"platform": "binary_sensor", "name": "Panel reachable", "unique_id": id + "_reachable",
				"default_entity_id": "binary_sensor." + id + "_reachable", "device_class": "connectivity",
				"entity_category": "diagnostic", "state_topic": t.panelState(),
				"value_template": "{{ 'ON' if value_json.reachable else 'OFF' }}",
				// Shown even while the panel is away: that is its point.
				"availability": []map[string]string{{"topic": t.bridgeStatus()}},
			},
		},
	}
	return t.deviceConfig(id), mustJSON(p)
}

// eventTypes are the event entity's types: every event name.
var eventTypes = []string{
	string(notify.EventArmDisarm), string(notify.EventSensorActivity), string(notify.EventDoorOpen),
	string(notify.EventDoorClose), string(notify.EventDoorOpenWhenArming), string(notify.EventAlarm),
	string(notify.EventTamper), string(notify.EventLowBattery), string(notify.EventSOS),
	string(notify.EventRemoteButton), string(notify.EventRFIDKeypad), string(notify.EventSensorAdded),
	string(notify.EventSensorRemoved), string(notify.EventDeviceAdded), string(notify.EventDeviceRemoved),
	string(notify.EventACPowerFailure), string(notify.EventACPowerRecover), string(notify.EventWiFiConnected),
	string(notify.EventWiFiDisconnected), string(notify.EventHostLowBattery), string(notify.EventFirmwareUpdating),
}

// sensorObjectID is the id of a sensor's HA device.
func sensorObjectID(t topics, index int) string { return t.objectID("sensor", strconv.Itoa(index)) }

// sensorDiscovery is the payload of one sensor's device (spec:
// home-assistant.md §2b): the sensor and its three diagnostics.
func sensorDiscovery(t topics, s g90.SensorState) (string, []byte) {
	id := sensorObjectID(t, s.Index)
	flag := func(key, name, class string) component {
		return component{
			"platform": "binary_sensor", "name": name, "unique_id": id + "_" + key,
			"default_entity_id": "binary_sensor." + id + "_" + key, "device_class": class,
			"entity_category": "diagnostic",
			"value_template":  "{{ 'ON' if value_json." + key + " else 'OFF' }}",
		}
	}
	main := component{
		"platform": "binary_sensor", "name": nil, "unique_id": id,
		"default_entity_id":     "binary_sensor." + id,
		"value_template":        "{{ 'ON' if value_json.occupied else 'OFF' }}",
		"json_attributes_topic": t.sensor(s.Index),
	}
	if c := deviceClass(s.TypeID); c != "" {
		main["device_class"] = c
	}
	p := devicePayload{
		Device: map[string]any{
			"identifiers": []string{id}, "name": s.Name, "model": s.Type,
			"manufacturer": "Golden Security", "via_device": t.objectID(),
		},
		Origin: origin, Availability: t.availabilityList(), AvailMode: "all",
		StateTopic: t.sensor(s.Index),
		Components: map[string]component{
			id:                  main,
			id + "_tamper":      flag("tamper", "Tamper", "tamper"),
			id + "_low_battery": flag("low_battery", "Low battery", "battery"),
			id + "_open_arming": flag("door_open_when_arming", "Open when arming", "problem"),
		},
	}
	return t.deviceConfig(id), mustJSON(p)
}

// deviceClass maps a sensor type to its binary_sensor device class (spec:
// home-assistant.md §2b).
func deviceClass(t peripheral.Type) string {
	switch t {
	case peripheral.TypeDoor:
		return "door"
	case peripheral.TypeGlass, peripheral.TypeCurtain, peripheral.TypeSlidingWindow:
		return "window"
	case peripheral.TypeGas:
		return "gas"
	case peripheral.TypeSmoke:
		return "smoke"
	case peripheral.TypeSOS:
		return "problem"
	case peripheral.TypeVibration:
		return "vibration"
	case peripheral.TypeWater:
		return "moisture"
	case peripheral.TypeInfrared, peripheral.TypeInBeam, peripheral.TypeCordSensor:
		return "motion"
	case peripheral.TypeRemote, peripheral.TypeRFID, peripheral.TypeButtonID, peripheral.TypeFingerLock, peripheral.TypeRemote2G4:
		return "lock"
	case peripheral.TypeDoorbell, peripheral.TypeWatch:
		return "occupancy"
	case peripheral.TypeSubhost, peripheral.TypeTV:
		return "connectivity"
	case peripheral.TypeSocket:
		return "plug"
	case peripheral.TypeSiren:
		return "sound"
	case peripheral.TypeAircon:
		return "cold"
	case peripheral.TypeSwitch2G4, peripheral.TypeTouchSwitch2G4:
		return "power"
	}
	return ""
}

// relayObjectID is the id of a relay's HA device: one per relay, its
// nodes share it (spec: home-assistant.md §2c).
func relayObjectID(t topics, index int) string { return t.objectID("relay", strconv.Itoa(index)) }

// relayDiscovery is the payload of one relay device with a switch per
// node. The panel cannot report relay states, so the bridge publishes
// the state after each successful command.
func relayDiscovery(t topics, nodes []g90.DeviceRef) (string, []byte) {
	first := nodes[0]
	id := relayObjectID(t, first.Index)
	name := first.Name
	if len(nodes) > 1 {
		name = strings.TrimSuffix(first.Name, "#1")
	}
	comps := map[string]component{}
	for _, n := range nodes {
		cid := id + "_" + strconv.Itoa(n.Node)
		c := component{
			"platform": "switch", "unique_id": cid, "default_entity_id": "switch." + cid,
			"command_topic": t.relay(n.Index, n.Node) + "/set", "state_topic": t.relay(n.Index, n.Node),
		}
		if len(nodes) == 1 {
			c["name"] = nil
		} else {
			c["name"] = fmt.Sprintf("Channel %d", n.Node+1)
		}
		comps[cid] = c
	}
	p := devicePayload{
		Device: map[string]any{
			"identifiers": []string{id}, "name": name, "model": first.Type,
			"manufacturer": "Golden Security", "via_device": t.objectID(),
		},
		Origin: origin, Availability: t.availabilityList(), AvailMode: "all", Components: comps,
	}
	return t.deviceConfig(id), mustJSON(p)
}

// alarmState is Home Assistant's alarm_control_panel state for a panel.
func alarmState(st g90.State) string {
	if st.Alarm {
		return "triggered"
	}
	switch st.Arm {
	case notify.ArmAway:
		return "armed_away"
	case notify.ArmHome:
		return "armed_home"
	case notify.Disarmed:
		return "disarmed"
	case notify.Alarmed:
		return "triggered"
	}
	return "unknown"
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
