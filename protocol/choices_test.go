package protocol

import (
	"strings"
	"testing"
)

// Every listed value of an enumerated field is within its write range,
// listed once, and an int; the range has no value without a name.
func TestChoicesWithinRange(t *testing.T) {
	n := 0
	for _, r := range []Record{new(HostConfig), new(NetConfig), new(AlarmPhones), new(SIAConfig), new(CIDConfig)} {
		for _, f := range Fields(r) {
			if len(f.Choices) == 0 {
				continue
			}
			n++
			if f.Kind != FieldInt || !f.Ranged {
				t.Errorf("%s: choices on a field that is not a ranged int", f.Name)
			}
			seen := map[int]bool{}
			for _, c := range f.Choices {
				if c.Value < f.Min || c.Value > f.Max || seen[c.Value] || c.Name == "" {
					t.Errorf("%s: choice %+v (range %d..%d)", f.Name, c, f.Min, f.Max)
				}
				seen[c.Value] = true
			}
			if len(seen) != f.Max-f.Min+1 {
				t.Errorf("%s: %d choices for %d..%d", f.Name, len(seen), f.Min, f.Max)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d enumerated fields", n)
	}
	// The help of the language names every value (spec: local-protocol.md 3.16).
	for _, f := range Fields(new(HostConfig)) {
		if f.Name == "speech_language" && (!strings.Contains(f.Help, "18 Russian male") || !strings.HasPrefix(f.Help, "0 none, 1 English female")) {
			t.Errorf("speech_language help %q", f.Help)
		}
		if f.Name == "ring_volume_level" && f.Help != "0 mute, 1 low, 2 high; GSM panels only" {
			t.Errorf("ring_volume_level help %q", f.Help)
		}
	}
}
