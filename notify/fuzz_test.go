package notify

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
)

// FuzzDecode holds the property of every decoder (STYLE: tests): no
// panic, and decode → encode → decode gives the same Message. It is seeded
// with every L-* datagram of spec: F. Run it with
//
//	go test ./notify -run '^$' -fuzz '^FuzzDecode$' -fuzztime 30s
func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		b, err := v.datagram()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Shapes the vectors lack: opaque payloads, white space, a name that
	// is not UTF-8, escapes, the enumerations' edges.
	for _, s := range []string{
		"[170,[8,{\"p\":[1,true,null]}]]\x00",
		" [ 170 ,\n[ 5,\t[ 7 , \"K\xfcche\\u00e9\\n\" ] ] ]\r\n\x00",
		"[171,[-0,1.5e3,\"\\ud83d\\ude00\"]]\x00",
		"[208,[4,4,11,10,\"K\",\"G\",-1,\"x\",[]]]\x00",
		"[208,[3,4,8,1,\"I\",\"G\",9223372036854775807,0,[\"\"]]]\x00",
		" [208 , [4,1,1,1,\"A\",\"G\",1,{\"r\":1},[\"\",[2]]] ] \x00",
		"[208,[4,1,1,1.0,\"A\",\"G\",1,0,[\"\"]]]\x00",
		"[208,[4,1,1,1,\"A\",\"G\",1,0,[\"\"],9]]\x00",
		// The compact path's edges (decodeCompact).
		"[208,[4,1,1,1,\"\",\"\",1,0,[\"\"]]]\x00",
		"[208,[4,01,1,1,\"A\",\"G\",1,0,[\"\"]]]\x00",
		"[208,[4,1,1,1,\"A\",\"G\",1234567890123456,0,[\"\"]]]\x00",
		"[208,[4,1,1,1,\"A\\\"B\",\"G\",1,0,[\"\"]]]\x00",
		"[208,[4,1,1,1,\"K\xc3\xbcche\",\"G\",1,0,[\"\"]]]\x00",
		"[208,[4,1,1,1,\"A\",\"G\",1e3,0,[\"\"]]]\x00",
		"[208,[4,1,1,-1,\"A\",\"G\",1,0,[\"\"]]]\x00",
	} {
		f.Add([]byte(s))
	}
	// One Decoder across inputs, as a Listener has: what its caches hold
	// from earlier datagrams must not change a later one's result.
	var d Decoder
	f.Fuzz(func(t *testing.T, b []byte) {
		// The alert fast path and the general path agree wherever the
		// fast path answers.
		if text, ok := bytes.CutSuffix(b, []byte{0}); ok {
			var fast Message
			if d.decodeAlert(text, &fast.Alert) {
				fast.Code = protocol.CodeAlert
				slow, err := decodeTree(text)
				if err != nil {
					t.Fatalf("fast path decoded %q, the general path fails: %v", b, err)
				}
				if diff := cmp.Diff(slow, fast); diff != "" {
					t.Fatalf("fast and general path differ on %q (-general +fast):\n%s", b, diff)
				}
			}
		}
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !(errors.Is(err, ErrMissingEndMarker) || errors.Is(err, ErrSyntax) || errors.Is(err, ErrMalformed)) {
				t.Fatalf("Decode(%q) error %v is not a DecodeError with a sentinel", b, err)
			}
			if de.Offset > len(b) {
				t.Fatalf("Decode(%q) error %v: offset past the datagram", b, err)
			}
			return
		}
		enc := m.Append(nil)
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, whose encoding %q does not decode: %v", b, m, enc, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("Decode(%q), encoded as %q and decoded again (-first +second):\n%s", b, enc, diff)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}

		evs, err := m.Events(nil)
		if err != nil && (!errors.Is(err, ErrUnknown) || len(evs) != 0) {
			t.Fatalf("Events of %q = %+v, %v; an error must wrap ErrUnknown and come alone", b, evs, err)
		}
		for _, ev := range evs {
			if ev.Type == "" || ev.Type == event.SensorRemoved {
				t.Fatalf("Events of %q gave an event of type %q", b, ev.Type)
			}
		}
		again2, err2 := again.Events(nil)
		if diff := cmp.Diff(evs, again2); diff != "" || (err == nil) != (err2 == nil) {
			t.Fatalf("Events differ after a round trip of %q (-first +second):\n%s", b, diff)
		}
		_ = m.Known()
		_ = m.CheckGUID("DUMMYGUID")
	})
}
