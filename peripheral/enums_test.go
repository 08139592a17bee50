package peripheral_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/peripheral"
)

func TestTypeString(t *testing.T) {
	tests := []struct {
		typ        peripheral.Type
		want       string
		wantLabels bool
	}{
		{peripheral.TypeDoor, "door", true},
		{8, "infrared", true},
		{9, "in_beam", true},
		{17, "remote_2_4g", true},
		{126, "cord_sensor", true},
		{128, "socket", true},
		{143, "touch_switch_2_4g", true},
		{254, "cord_device", true},
		{255, "unknown", true},
		{0, "unknown(0)", false},
		{19, "unknown(19)", false},
		{132, "unknown(132)", false},
		{-3, "unknown(-3)", false},
		{1 << 40, "unknown(1099511627776)", false},
	}
	for _, tt := range tests {
		if got := tt.typ.String(); got != tt.want {
			t.Errorf("Type(%d).String() = %q, want %q", int(tt.typ), got, tt.want)
		}
		if got := tt.typ.Label() != ""; got != tt.wantLabels {
			t.Errorf("Type(%d).Label() = %q", int(tt.typ), tt.typ.Label())
		}
	}
	if got := peripheral.TypeSocket.Label(); got != "Socket / relay" {
		t.Errorf("TypeSocket.Label() = %q", got)
	}
}

func TestProtocol(t *testing.T) {
	tests := []struct {
		p        peripheral.Protocol
		name     string
		wireless bool
	}{
		{peripheral.ProtocolRF1527, "rf_1527", true},
		{1, "rf_2262", true},
		{2, "rf_private", true},
		{3, "rf_slider", true},
		{4, "wifi", true},
		{peripheral.ProtocolCord, "cord", false},
		{6, "usb", true},
		// is_wireless is protocol_id != 5, for any id (spec: peripherals.md 7.2).
		{7, "unknown(7)", true},
		{-1, "unknown(-1)", true},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.name {
			t.Errorf("Protocol(%d).String() = %q, want %q", int(tt.p), got, tt.name)
		}
		if got := tt.p.Wireless(); got != tt.wireless {
			t.Errorf("Protocol(%d).Wireless() = %v, want %v", int(tt.p), got, tt.wireless)
		}
	}
	if peripheral.ProtocolCord.Label() == "" || peripheral.Protocol(9).Label() != "" {
		t.Errorf("labels: cord %q, 9 %q", peripheral.ProtocolCord.Label(), peripheral.Protocol(9).Label())
	}
}

func TestModeStrings(t *testing.T) {
	got := []string{
		peripheral.MatchAll.String(), peripheral.MatchOnly20Bits.String(), peripheral.MatchOnly16Bits.String(), peripheral.MatchMode(3).String(),
		peripheral.RWRead.String(), peripheral.RWWrite.String(), peripheral.RWReadWrite.String(), peripheral.RWMode(-1).String(),
		peripheral.AlertAlways.String(), peripheral.AlertWhenAway.String(), peripheral.AlertWhenAwayAndHome.String(), peripheral.AlertMode(3).String(),
	}
	want := []string{
		"all", "only_20_bits", "only_16_bits", "unknown(3)",
		"read", "write", "read_write", "unknown(-1)",
		"alert_always", "alert_when_away", "alert_when_away_and_home", "unknown(3)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mode names (-want +got):\n%s", diff)
	}
}

func TestUserFlagValues(t *testing.T) {
	// spec: peripherals.md 7.4.
	got := []peripheral.UserFlags{
		peripheral.FlagEnabled, peripheral.FlagArmDelay, peripheral.FlagDetectDoor, peripheral.FlagDoorChime,
		peripheral.FlagIndependentZone, peripheral.FlagAlertWhenAwayAndHome, peripheral.FlagAlertWhenAway,
		peripheral.FlagSupportsUpdatingSubtype, peripheral.UserSettableFlags,
	}
	want := []peripheral.UserFlags{1, 2, 4, 8, 16, 32, 64, 512, 127}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flag values (-want +got):\n%s", diff)
	}
}

func TestUserFlagsHasWith(t *testing.T) {
	tests := []struct {
		u, f    peripheral.UserFlags
		has     bool
		on, off peripheral.UserFlags
	}{
		{63, peripheral.FlagEnabled, true, 63, 62},
		{62, peripheral.FlagEnabled, false, 63, 62},
		{33, peripheral.FlagDoorChime, false, 41, 33},
		{0, 0, true, 0, 0},
		{33, 33, true, 33, 0},
		{32, 33, false, 33, 0},
		{512 | 1, peripheral.FlagSupportsUpdatingSubtype, true, 513, 1},
	}
	for _, tt := range tests {
		if got := tt.u.Has(tt.f); got != tt.has {
			t.Errorf("UserFlags(%d).Has(%d) = %v, want %v", tt.u, tt.f, got, tt.has)
		}
		if got := tt.u.With(tt.f, true); got != tt.on {
			t.Errorf("UserFlags(%d).With(%d, true) = %d, want %d", tt.u, tt.f, got, tt.on)
		}
		if got := tt.u.With(tt.f, false); got != tt.off {
			t.Errorf("UserFlags(%d).With(%d, false) = %d, want %d", tt.u, tt.f, got, tt.off)
		}
	}
}

func TestUserFlagsNames(t *testing.T) {
	tests := []struct {
		u     peripheral.UserFlags
		names []string
		str   string
	}{
		{0, []string{}, "0"},
		{1, []string{"enabled"}, "enabled"},
		{33, []string{"enabled", "alert_when_away_and_home"}, "enabled|alert_when_away_and_home"},
		{63, []string{"enabled", "arm_delay", "detect_door", "door_chime", "independent_zone", "alert_when_away_and_home"},
			"enabled|arm_delay|detect_door|door_chime|independent_zone|alert_when_away_and_home"},
		{512 | 64, []string{"alert_when_away", "supports_updating_subtype"}, "alert_when_away|supports_updating_subtype"},
		{1024 | 128 | 1, []string{"enabled"}, "enabled|1152"},
		{256, []string{}, "256"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.names, tt.u.Names()); diff != "" {
			t.Errorf("UserFlags(%d).Names() (-want +got):\n%s", tt.u, diff)
		}
		if got := tt.u.String(); got != tt.str {
			t.Errorf("UserFlags(%d).String() = %q, want %q", int(tt.u), got, tt.str)
		}
	}
}

func TestApplyUserFlags(t *testing.T) {
	tests := []struct {
		current, requested, want peripheral.UserFlags
	}{
		// spec: peripherals.md 20.4: 512 is not settable and was not set.
		{33, 16 | 2 | 512, 18},
		// Bits outside the mask survive, and all seven settable bits are replaced.
		{512 | 63, 0, 512},
		{512 | 1024 | 1, 127, 512 | 1024 | 127},
		{0, 1 << 20, 0},
		{63, 62, 62},
	}
	for _, tt := range tests {
		if got := peripheral.ApplyUserFlags(tt.current, tt.requested); got != tt.want {
			t.Errorf("ApplyUserFlags(%d, %d) = %d, want %d", tt.current, tt.requested, got, tt.want)
		}
	}
}

// TestWorkedFlagValues replays the worked values of spec: peripherals.md
// 7.4 (and 20.4): each operation starts from 63.
func TestWorkedFlagValues(t *testing.T) {
	const start peripheral.UserFlags = 63
	set := func(f peripheral.UserFlags, on bool) func() (peripheral.UserFlags, error) {
		return func() (peripheral.UserFlags, error) {
			return peripheral.ApplyUserFlags(start, start.With(f, on)), nil
		}
	}
	mode := func(m peripheral.AlertMode) func() (peripheral.UserFlags, error) {
		return func() (peripheral.UserFlags, error) {
			u, err := start.WithAlertMode(m)
			return peripheral.ApplyUserFlags(start, u), err
		}
	}
	tests := []struct {
		op   string
		do   func() (peripheral.UserFlags, error)
		want peripheral.UserFlags
	}{
		{"disable", set(peripheral.FlagEnabled, false), 62},
		{"arm_delay off", set(peripheral.FlagArmDelay, false), 61},
		{"detect_door off", set(peripheral.FlagDetectDoor, false), 59},
		{"door_chime off", set(peripheral.FlagDoorChime, false), 55},
		{"independent_zone off", set(peripheral.FlagIndependentZone, false), 47},
		{"alert_always", mode(peripheral.AlertAlways), 31},
		{"alert_when_away", mode(peripheral.AlertWhenAway), 95},
		{"alert_when_away_and_home (unchanged)", mode(peripheral.AlertWhenAwayAndHome), 63},
		{"enable (unchanged)", set(peripheral.FlagEnabled, true), 63},
	}
	for _, tt := range tests {
		got, err := tt.do()
		if err != nil || got != tt.want {
			t.Errorf("%s from 63 = %d, %v; want %d", tt.op, got, err, tt.want)
		}
	}
}

func TestAlertMode(t *testing.T) {
	tests := []struct {
		u       peripheral.UserFlags
		want    peripheral.AlertMode
		wantErr error
	}{
		{0, peripheral.AlertAlways, nil},
		{1 | 2 | 512, peripheral.AlertAlways, nil},
		{64, peripheral.AlertWhenAway, nil},
		{64 | 1, peripheral.AlertWhenAway, nil},
		{32, peripheral.AlertWhenAwayAndHome, nil},
		{33, peripheral.AlertWhenAwayAndHome, nil},
		{63, peripheral.AlertWhenAwayAndHome, nil},
		{96, 0, peripheral.ErrInvalidAlertMode},
		{127, 0, peripheral.ErrInvalidAlertMode},
	}
	for _, tt := range tests {
		got, err := tt.u.AlertMode()
		if !errors.Is(err, tt.wantErr) || (err == nil && got != tt.want) {
			t.Errorf("UserFlags(%d).AlertMode() = %v, %v; want %v, %v", tt.u, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestWithAlertMode(t *testing.T) {
	tests := []struct {
		u       peripheral.UserFlags
		m       peripheral.AlertMode
		want    peripheral.UserFlags
		wantErr error
	}{
		{33, peripheral.AlertAlways, 1, nil},
		{33, peripheral.AlertWhenAway, 65, nil},
		{33, peripheral.AlertWhenAwayAndHome, 33, nil},
		{512 | 1, peripheral.AlertWhenAwayAndHome, 512 | 33, nil},
		{65, peripheral.AlertWhenAwayAndHome, 33, nil},
		// Like the reference, an invalid current mode is not silently fixed.
		{97, peripheral.AlertAlways, 97, peripheral.ErrInvalidAlertMode},
		{33, 3, 33, peripheral.ErrUnknownAlertMode},
		{33, -1, 33, peripheral.ErrUnknownAlertMode},
	}
	for _, tt := range tests {
		got, err := tt.u.WithAlertMode(tt.m)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("UserFlags(%d).WithAlertMode(%d) = %d, %v; want %d, %v", tt.u, tt.m, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseNames(t *testing.T) {
	flags := map[string]peripheral.UserFlags{
		"enabled": 1, "arm_delay": 2, "detect_door": 4, "door_chime": 8, "independent_zone": 16,
		"alert_when_away_and_home": 32, "alert_when_away": 64, "supports_updating_subtype": 512,
	}
	for name, want := range flags {
		if got, ok := peripheral.ParseFlagName(name); !ok || got != want {
			t.Errorf("ParseFlagName(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	modes := map[string]peripheral.AlertMode{"alert_always": 0, "alert_when_away": 1, "alert_when_away_and_home": 2}
	for name, want := range modes {
		if got, ok := peripheral.ParseAlertMode(name); !ok || got != want {
			t.Errorf("ParseAlertMode(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Enabled", "enabled ", "ENABLED", "alert", "unknown(3)", "0", "32"} {
		if f, ok := peripheral.ParseFlagName(bad); ok {
			t.Errorf("ParseFlagName(%q) = %d, true", bad, f)
		}
		if m, ok := peripheral.ParseAlertMode(bad); ok {
			t.Errorf("ParseAlertMode(%q) = %d, true", bad, m)
		}
	}
}
