package peripheral

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Type is a peripheral type_id (spec: peripherals.md 7.1). Any integer may
// come from a panel; values outside the spec's table are kept as they are.
type Type int

// String returns the spec's neutral name (door, infrared, cord_sensor,
// socket ...), or unknown(N) for an id the spec does not list.
func (t Type) String() string {
	if name, _, ok := typeInfo(t); ok {
		return name
	}
	return unknown(int(t))
}

// Label returns an informal description of t, or "" if t is not listed.
func (t Type) Label() string {
	_, label, _ := typeInfo(t)
	return label
}

// Protocol is a peripheral protocol_id, the link or RF coding
// (spec: peripherals.md 7.2).
type Protocol int

// String returns the spec's name (rf_1527, cord ...) or unknown(N).
func (p Protocol) String() string {
	if name, _, ok := protocolInfo(p); ok {
		return name
	}
	return unknown(int(p))
}

// Label returns an informal description of p, or "" if p is not listed.
func (p Protocol) Label() string {
	_, label, _ := protocolInfo(p)
	return label
}

// Wireless reports whether p is anything but a wired connection; unknown
// protocols count as wireless (spec: peripherals.md 7.2).
func (p Protocol) Wireless() bool { return p != ProtocolCord }

// MatchMode is the high nibble of reserved_data (spec: peripherals.md 7.3).
type MatchMode int

// String returns the spec's name (all, only_20_bits, only_16_bits) or
// unknown(N).
func (m MatchMode) String() string {
	if name, ok := matchModeName(m); ok {
		return name
	}
	return unknown(int(m))
}

// RWMode is the low nibble of reserved_data (spec: peripherals.md 7.3).
type RWMode int

// String returns the spec's name (read, write, read_write) or unknown(N).
func (m RWMode) String() string {
	if name, ok := rwModeName(m); ok {
		return name
	}
	return unknown(int(m))
}

func unknown(n int) string { return "unknown(" + strconv.Itoa(n) + ")" }

// UserFlags is the user_flags bit field of a peripheral record
// (spec: peripherals.md 7.4). Bits without a name must be preserved.
type UserFlags int

// Has reports whether every bit of f is set in u.
func (u UserFlags) Has(f UserFlags) bool { return u&f == f }

// With returns u with the bits of f set (on) or cleared.
func (u UserFlags) With(f UserFlags, on bool) UserFlags {
	if on {
		return u | f
	}
	return u &^ f
}

// Names returns the names of the named flags set in u, in bit order. It
// is never nil, so it marshals as [] rather than null.
func (u UserFlags) Names() []string {
	names := []string{}
	for _, f := range namedFlags {
		if u.Has(f.flag) {
			names = append(names, f.name)
		}
	}
	return names
}

// String returns the set flags' names joined by "|", with any bits
// without a name as a trailing number: "enabled|alert_when_away|1024".
// No bits set gives "0".
func (u UserFlags) String() string {
	parts := u.Names()
	rest := u
	for _, f := range namedFlags {
		rest &^= f.flag
	}
	if rest != 0 || len(parts) == 0 {
		parts = append(parts, strconv.Itoa(int(rest)))
	}
	return strings.Join(parts, "|")
}

// ApplyUserFlags returns the flags to write when a user asks for
// requested: the user-settable bits come from requested, all others stay
// as in current. Note it replaces all seven settable bits
// (spec: peripherals.md 10.2, set_user_flags).
func ApplyUserFlags(current, requested UserFlags) UserFlags {
	return current&^UserSettableFlags | requested&UserSettableFlags
}

// ParseFlagName returns the flag with the spec's snake_case name, e.g.
// "door_chime". It also knows supports_updating_subtype, which is not in
// UserSettableFlags: check before offering it to a user.
func ParseFlagName(s string) (UserFlags, bool) {
	for _, f := range namedFlags {
		if f.name == s {
			return f.flag, true
		}
	}
	return 0, false
}

// AlertMode says in which arm states a sensor raises an alarm; it is
// stored as two user flag bits (spec: peripherals.md 7.4).
type AlertMode int

// String returns alert_always, alert_when_away, alert_when_away_and_home
// or unknown(N).
func (m AlertMode) String() string {
	if name, _, ok := alertModeInfo(m); ok {
		return name
	}
	return unknown(int(m))
}

// ParseAlertMode is the inverse of AlertMode.String for the known modes.
func ParseAlertMode(s string) (AlertMode, bool) {
	for m := AlertAlways; ; m++ {
		name, _, ok := alertModeInfo(m)
		if !ok {
			return 0, false
		}
		if name == s {
			return m, true
		}
	}
}

// Errors of the alert mode helpers.
var (
	// ErrInvalidAlertMode: both alert mode bits are set, which names no
	// mode; the reference refuses to read or change such a mode
	// (spec: peripherals.md 7.4, 10.2).
	ErrInvalidAlertMode = errors.New("peripheral: alert mode flags 32 and 64 both set")
	// ErrUnknownAlertMode: a requested AlertMode is not 0, 1 or 2.
	ErrUnknownAlertMode = errors.New("peripheral: unknown alert mode")
)

// AlertMode returns the alert mode held in bits 32 and 64 of u, or
// ErrInvalidAlertMode if both are set (spec: peripherals.md 7.4).
func (u UserFlags) AlertMode() (AlertMode, error) {
	bits := u & alertModeMask
	for m := AlertAlways; ; m++ {
		_, b, ok := alertModeInfo(m)
		if !ok {
			return 0, fmt.Errorf("%w (user_flags %d)", ErrInvalidAlertMode, int(u))
		}
		if b == bits {
			return m, nil
		}
	}
}

// WithAlertMode returns u with its alert mode bits set to m, other bits
// unchanged. Like the reference it fails with ErrInvalidAlertMode if u's
// current mode is invalid, and with ErrUnknownAlertMode for an unknown m
// (spec: peripherals.md 10.2, set_alert_mode).
func (u UserFlags) WithAlertMode(m AlertMode) (UserFlags, error) {
	_, bits, ok := alertModeInfo(m)
	if !ok {
		return u, fmt.Errorf("%w: %d", ErrUnknownAlertMode, int(m))
	}
	if _, err := u.AlertMode(); err != nil {
		return u, err
	}
	return u&^alertModeMask | bits, nil
}
