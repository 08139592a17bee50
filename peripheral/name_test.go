package peripheral

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"Front door", "Дверь", "x", strings.Repeat("a", MaxNameBytes), "Relay #2 (garage)"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", MaxNameBytes+1), strings.Repeat("д", 16), "a\nb", "tab\there", "say \"hi\"", `back\slash`, "\xff", "del\x7f", "c1\u0085"} {
		if err := ValidateName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}
