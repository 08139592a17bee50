package peripheral

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameBytes is the longest name, in UTF-8 bytes, that ValidateName
// accepts. The panel's own limit is not documented (spec: peripherals.md
// 21); it reports names in a 32-byte NUL-padded field in its cloud
// messages (spec: notifications-and-cloud.md D.5.5), so 31 bytes and the
// NUL fit.
const MaxNameBytes = 31

// ErrBadName: a name the panel cannot be trusted to store.
var ErrBadName = errors.New("peripheral: bad name")

// ValidateName checks a name before it is sent to the panel: not empty,
// valid UTF-8, at most MaxNameBytes bytes, and without control characters,
// double quotes or backslashes. The panel sends control characters inside
// its JSON strings unescaped (spec: local-protocol.md 1.5 step 8), so
// its replies would break on a stored quote or backslash.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadName, name)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: %q is %d bytes long, at most %d", ErrBadName, name, len(name), MaxNameBytes)
	}
	for i, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '"' || r == '\\' {
			return fmt.Errorf("%w: %q has %q at byte %d; control characters, \" and \\ cannot be stored", ErrBadName, name, r, i)
		}
	}
	return nil
}
