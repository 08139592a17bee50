package qrcode

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzEncode: any input either encodes and decodes back, or is too long.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("X-HM://0023ISYWYABCD"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xec, 0x11}, 7))
	f.Add(make([]byte, 213))
	f.Add(make([]byte, 214))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Encode(data)
		if len(data) > 213 {
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("%d bytes: err %v, want ErrTooLong", len(data), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.data, data) {
			t.Fatalf("decoded %q, want %q", r.data, data)
		}
	})
}

// TestDecoderRejects: the test decoder is not blind; it rejects a symbol
// with one module of each kind flipped.
func TestDecoderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y func(n int) int
	}{
		{"data module", func(n int) int { return n - 1 }, func(n int) int { return n - 1 }},
		{"format copy 1", func(int) int { return 2 }, func(int) int { return 8 }},
		{"format copy 2", func(n int) int { return 8 }, func(n int) int { return n - 2 }},
		{"version top right", func(n int) int { return n - 10 }, func(int) int { return 1 }},
		{"version bottom left", func(int) int { return 1 }, func(n int) int { return n - 10 }},
	} {
		c, err := Encode(bytes.Repeat([]byte("v7"), 61)) // version 7
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decode(c); err != nil {
			t.Fatal(err)
		}
		x, y := tc.x(c.Size), tc.y(c.Size)
		c.dark[y*c.Size+x] = !c.dark[y*c.Size+x]
		if _, err := decode(c); err == nil {
			t.Errorf("%s (%d,%d) flipped: decoded without error", tc.name, x, y)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

func BenchmarkEncodeSetupURI(b *testing.B) {
	uri := []byte("X-HM://0023ISYWYABCD")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(uri); err != nil {
			b.Fatal(err)
		}
	}
}
