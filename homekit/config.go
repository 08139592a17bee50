// Package homekit makes the daemon a HomeKit bridge (HAP over IP, on
// github.com/brutella/hap): each panel is a Security System, each sensor
// a sensor of its kind, each key fob or keypad a set of programmable
// switches, each relay node an outlet or a switch, all from the same
// Monitor state as MQTT and the web UI (see specs.go for the mapping).
//
// Pairing is the authorisation: HomeKit has no code dialog for security
// systems, so whoever is paired arms and disarms; Config.AllowDisarm
// false refuses disarming from HomeKit.
package homekit

import (
	"errors"
	"log/slog"

	"github.com/g90alarm/g90"
)

// ErrNotBuiltIn is New's error in a build without the bridge (built
// with -tags nohomekit, see BuiltIn).
var ErrNotBuiltIn = errors.New("this g90 is built without the HomeKit bridge (-tags nohomekit): remove the homekit section, or use a build that has it")

// DefaultListen is the bridge's default address: HAP's customary port.
const DefaultListen = ":51826"

// Config configures a Bridge.
type Config struct {
	// Listen is the TCP address of the HAP server; default DefaultListen.
	// Port 0 picks a free port once; it is kept for later republications.
	Listen string
	// Pin is the setup code, 8 digits (ParsePin); "" generates one at
	// first start and keeps it in Dir.
	Pin string
	// Name is the bridge's name in the Home app; default "g90".
	Name string
	// MDNS announces the bridge on the local network (Bonjour), which
	// the Home app needs to find it. False announces nothing.
	MDNS bool
	// AllowDisarm lets controllers disarm; false refuses it (arming
	// still works).
	AllowDisarm bool
	// Dir keeps the pairings, keys and accessory ids (state_dir/homekit).
	Dir string
	// Panels are the monitors whose panels the bridge shows.
	Panels []*g90.Monitor
	// Logger receives the bridge's log; nil is silent.
	Logger *slog.Logger
}
