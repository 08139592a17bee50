package notify

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/google/go-cmp/cmp"
)

// FuzzFromCloud: whatever the cloud codec decodes maps to the same
// Message before and after an encode/decode round trip, and its events
// come without an error or the error comes without events. It never
// panics. The seeds are the cloud vectors' messages, and a status change
// and wrapped notification of every kind (spec: D.10, D.5.7).
func FuzzFromCloud(f *testing.F) {
	b, err := os.ReadFile("../cloudproto/testdata/cloud-vectors.yaml")
	if err != nil {
		f.Fatal(err)
	}
	es, err := vectors.ParseEntries(b)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range es {
		if in, ok := vectors.Hex(e.Fields["input_hex"]); ok {
			f.Add(in, false)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix && len(b) >= cloudproto.BasicHeaderSize {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		}
		m, err := cloudproto.Decode(b)
		if err != nil {
			return
		}
		again, err := cloudproto.Decode(m.Append(nil))
		if err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", b, err)
		}
		for _, guid := range []string{"", "GA00000A0000000"} {
			n1, ok1, err1 := FromCloud(&m, guid)
			n2, ok2, err2 := FromCloud(&again, guid)
			if ok1 != ok2 || (err1 == nil) != (err2 == nil) || !cmp.Equal(n1, n2) {
				t.Fatalf("FromCloud differs after a round trip of % x", b)
			}
			if ok1 {
				evs, err := n1.Events(nil)
				if err != nil && len(evs) != 0 {
					t.Fatalf("Events of % x = %+v with error %v", b, evs, err)
				}
			}
		}
	})
}
