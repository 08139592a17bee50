package bridge

import (
	"slices"
	"strconv"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/peripheral"
)

// The kind table: how each entry of the peripheral catalogue appears in
// Home Assistant (spec: home-assistant.md §2e). A sensor's main entity is
// a binary_sensor with the device class that means what the sensor
// senses, or, for key fobs and keypads, an event entity with a device
// trigger per button; its user flags are switches only where its type can
// use them. Wired inputs (type 126) stand for the wireless type their
// subtype names (spec: peripherals.md 7.1), so they have rows of their
// own.

// AnySubtype in a PeripheralKind matches every subtype of its type.
const AnySubtype = -1

// PeripheralKind is one row of the kind table.
type PeripheralKind struct {
	Kind peripheral.Kind // the catalogue table: sensors or devices
	Type peripheral.Type
	// Subtype is the wired input's subtype, or AnySubtype.
	Subtype int
	// Platform is the main entity's: binary_sensor or event for
	// sensors, switch for relays.
	Platform    string
	DeviceClass string // "" for none
	// Flags are the user flags offered as switches besides enabled,
	// which every sensor with a definition has (spec: peripherals.md
	// 7.4); AlertMode that the alert mode select is offered.
	Flags     peripheral.UserFlags
	AlertMode bool
	// EventTypes are an event entity's types, one per button or action;
	// each is also an MQTT device trigger.
	EventTypes []string
}

// Offers reports whether the kind offers the user flag f as a switch.
func (k PeripheralKind) Offers(f peripheral.UserFlags) bool {
	return f == peripheral.FlagEnabled || k.Flags&f == f
}

// Flag sets of the kind table. An alarm zone has an independent-zone
// switch and an alert mode; arm delay is for intrusion zones, not for
// 24-hour detectors; the door flags are for door and window contacts.
const (
	zoneFlags      = peripheral.FlagIndependentZone
	intrusionFlags = zoneFlags | peripheral.FlagArmDelay
	doorFlags      = intrusionFlags | peripheral.FlagDetectDoor | peripheral.FlagDoorChime
	allFlags       = doorFlags
)

// Event types of the fobs' and keypads' event entities: the buttons of
// remote_button and the actions of rfid_keypad, a card as card_N (spec:
// notifications-and-cloud.md A.6.5, A.6.8).
var (
	remoteEvents = []string{string(event.ButtonAway), string(event.ButtonHome), string(event.ButtonDisarm), string(event.ButtonSOS)}
	keypadEvents = []string{
		string(event.KeypadAway), string(event.KeypadHome), string(event.KeypadDisarm),
		"card_0", "card_1", "card_2", "card_3", "card_4",
	}
)

// Row constructors: a binary sensor zone, a controller's event entity, a
// relay.
func zone(t peripheral.Type, sub int, class string, flags peripheral.UserFlags) PeripheralKind {
	return PeripheralKind{Kind: peripheral.KindSensor, Type: t, Subtype: sub, Platform: "binary_sensor", DeviceClass: class, Flags: flags, AlertMode: true}
}

func plain(t peripheral.Type, sub int, class string) PeripheralKind {
	return PeripheralKind{Kind: peripheral.KindSensor, Type: t, Subtype: sub, Platform: "binary_sensor", DeviceClass: class}
}

func controller(t peripheral.Type, sub int, events []string) PeripheralKind {
	return PeripheralKind{Kind: peripheral.KindSensor, Type: t, Subtype: sub, Platform: "event", DeviceClass: "button", EventTypes: events}
}

func relay(t peripheral.Type, class string) PeripheralKind {
	return PeripheralKind{Kind: peripheral.KindDevice, Type: t, Subtype: AnySubtype, Platform: "switch", DeviceClass: class}
}

// Wired input subtypes: the wireless type each stands for (spec:
// peripherals.md 7.1).
func wired(t peripheral.Type) int { return int(t) }

// kindTable is the kind table (spec: home-assistant.md §2e). The choices
// the spec marks "reference choice" are ours: the panel's documentation
// says nothing about them.
var kindTable = []PeripheralKind{
	zone(peripheral.TypeDoor, AnySubtype, "door", doorFlags),
	zone(peripheral.TypeGlass, AnySubtype, "sound", intrusionFlags),
	zone(peripheral.TypeGas, AnySubtype, "gas", zoneFlags),
	zone(peripheral.TypeSmoke, AnySubtype, "smoke", zoneFlags),
	zone(peripheral.TypeSOS, AnySubtype, "safety", zoneFlags),
	zone(peripheral.TypeVibration, AnySubtype, "vibration", intrusionFlags),
	zone(peripheral.TypeWater, AnySubtype, "moisture", zoneFlags),
	zone(peripheral.TypeInfrared, AnySubtype, "motion", intrusionFlags),
	zone(peripheral.TypeInBeam, AnySubtype, "motion", intrusionFlags),
	controller(peripheral.TypeRemote, AnySubtype, remoteEvents),
	controller(peripheral.TypeRFID, AnySubtype, keypadEvents),
	plain(peripheral.TypeDoorbell, AnySubtype, "occupancy"),
	plain(peripheral.TypeButtonID, AnySubtype, ""),
	zone(peripheral.TypeWatch, AnySubtype, "safety", zoneFlags),
	plain(peripheral.TypeFingerLock, AnySubtype, "lock"),
	plain(peripheral.TypeSubhost, AnySubtype, ""),
	controller(peripheral.TypeRemote2G4, AnySubtype, remoteEvents),
	zone(peripheral.TypeGasValve, AnySubtype, "gas", zoneFlags),
	plain(peripheral.TypeTouchSwitch2G4, AnySubtype, "power"),
	plain(peripheral.TypeIR2G4, AnySubtype, ""),

	zone(peripheral.TypeCordSensor, wired(peripheral.TypeDoor), "door", doorFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeGlass), "sound", intrusionFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeGas), "gas", zoneFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeSmoke), "smoke", zoneFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeSOS), "safety", zoneFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeVibration), "vibration", intrusionFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeWater), "moisture", zoneFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeInfrared), "motion", intrusionFlags),
	zone(peripheral.TypeCordSensor, wired(peripheral.TypeInBeam), "motion", intrusionFlags),
	controller(peripheral.TypeCordSensor, wired(peripheral.TypeRFID), keypadEvents),
	plain(peripheral.TypeCordSensor, wired(peripheral.TypeDoorbell), "occupancy"),
	// A wired input of another subtype: we cannot tell what it senses.
	zone(peripheral.TypeCordSensor, AnySubtype, "", allFlags),

	relay(peripheral.TypeSocket, "outlet"),
	relay(peripheral.TypeSiren, ""),
	relay(peripheral.TypeCurtain, ""),
	relay(peripheral.TypeSlidingWindow, ""),
	relay(peripheral.TypeAircon, ""),
	relay(peripheral.TypeTV, ""),
	relay(peripheral.TypeTVBox, ""),
	relay(peripheral.TypeSmartSwitch, ""),
	relay(peripheral.TypeNightLight, ""),
	relay(peripheral.TypeSocket2G4, "outlet"),
	relay(peripheral.TypeSiren2G4, ""),
	relay(peripheral.TypeSwitch2G4, ""),
	relay(peripheral.TypeCurtain2G4, ""),
	relay(peripheral.TypeCordDevice, ""),
}

// Kinds of peripherals the table has no row for: nothing is hidden.
var (
	unknownSensor = zone(0, AnySubtype, "", allFlags)
	unknownDevice = relay(0, "")
)

// PeripheralKinds returns the kind table, sensors first.
func PeripheralKinds() []PeripheralKind {
	out := slices.Clone(kindTable)
	for i := range out {
		out[i].EventTypes = slices.Clone(out[i].EventTypes)
	}
	return out
}

// KindOf returns the row of the kind table for a peripheral of kind k,
// type t and subtype sub (AnySubtype when it is not known): the row of the
// subtype, else of the type, else one that hides nothing. ok is false for
// the last.
func KindOf(k peripheral.Kind, t peripheral.Type, sub int) (kind PeripheralKind, ok bool) {
	row := kindRow(k, t, sub)
	if row == nil {
		if k == peripheral.KindDevice {
			return unknownDevice, false
		}
		return unknownSensor, false
	}
	kind = *row
	kind.EventTypes = slices.Clone(kind.EventTypes)
	return kind, true
}

func kindRow(k peripheral.Kind, t peripheral.Type, sub int) *PeripheralKind {
	var anySub *PeripheralKind
	for i := range kindTable {
		r := &kindTable[i]
		if r.Kind != k || r.Type != t {
			continue
		}
		if r.Subtype == sub && sub != AnySubtype {
			return r
		}
		if r.Subtype == AnySubtype {
			anySub = r
		}
	}
	return anySub
}

// kindOfDefinition is the row of the catalogue entry named name in the
// table of kind k, or the row of type t when there is no such entry.
func kindOfDefinition(k peripheral.Kind, name string, t peripheral.Type) *PeripheralKind {
	if d := peripheral.LookupName(k, name); d != nil {
		t = d.TypeID
		if r := kindRow(k, t, d.Subtype); r != nil {
			return r
		}
	}
	if r := kindRow(k, t, AnySubtype); r != nil {
		return r
	}
	if k == peripheral.KindDevice {
		return &unknownDevice
	}
	return &unknownSensor
}

// kind is the kind table's row for v's sensor or relay; for the panel,
// the row of an unknown sensor. The record's type and subtype once read,
// the definition the monitor names before: the same row for a sensor with
// a definition, so discovery does not change when the record arrives.
func (v *view) kind() *PeripheralKind {
	switch {
	case v.tg.scope == ScopeSensor && v.srec != nil:
		if r := kindRow(peripheral.KindSensor, v.srec.Type(), v.srec.Record.Subtype); r != nil {
			return r
		}
		return &unknownSensor
	case v.tg.scope == ScopeSensor && v.sensor != nil:
		return kindOfDefinition(peripheral.KindSensor, v.sensor.Type, v.sensor.TypeID)
	case v.tg.scope == ScopeRelay && v.drec != nil:
		if r := kindRow(peripheral.KindDevice, v.drec.Type(), v.drec.Record.Subtype); r != nil {
			return r
		}
		return &unknownDevice
	case v.tg.scope == ScopeRelay && len(v.nodes) > 0:
		return kindOfDefinition(peripheral.KindDevice, v.nodes[0].Type, 0)
	}
	return &unknownSensor
}

// PressType is the event type of a fob's or keypad's event for its event
// entity, or "" for an event that is no press (a keypad's low battery).
func PressType(ev *event.Event) string {
	switch {
	case ev.Type == event.RemoteButton:
		return string(ev.Button)
	case ev.Type == event.RFIDKeypad && ev.Keypad == event.KeypadCard:
		return "card_" + strconv.Itoa(ev.Card)
	case ev.Type == event.RFIDKeypad && ev.Keypad != event.KeypadLowBattery:
		return string(ev.Keypad)
	}
	return ""
}
