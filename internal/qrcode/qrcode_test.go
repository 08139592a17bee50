package qrcode

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// stdCapacity is Table 7's byte-mode capacity at level M, versions 1-10.
var stdCapacity = [11]int{0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213}

func mustDecode(t testing.TB, data []byte) *decodeResult {
	t.Helper()
	c, err := Encode(data)
	if err != nil {
		t.Fatalf("Encode(%d bytes): %v", len(data), err)
	}
	r, err := decode(c)
	if err != nil {
		t.Fatalf("decode(Encode(%q)): %v", data, err)
	}
	if !bytes.Equal(r.data, data) {
		t.Fatalf("decode(Encode(%q)) = %q", data, r.data)
	}
	if r.version != c.Version() || r.mask != c.Mask() {
		t.Fatalf("symbol says version %d mask %d, Code says %d and %d", r.version, r.mask, c.Version(), c.Mask())
	}
	return r
}

// TestRoundTripEveryLength encodes random bytes of every length Encode
// takes and decodes them with the test's own decoder.
func TestRoundTripEveryLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= stdCapacity[10]; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		mustDecode(t, data)
	}
}

func TestRoundTripSamples(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	inputs := [][]byte{
		[]byte("X-HM://0023ISYWYABCD"),
		[]byte("X-HM://00KUG4WWT1XYZW"),
		[]byte("X-HM://0081YCYEZ3QR9"),
		[]byte("HELLO WORLD"),
		[]byte("héllo, 世界"),
		bytes.Repeat([]byte{0}, 100),
		bytes.Repeat([]byte{0xff}, 213),
		bytes.Repeat([]byte{0xec, 0x11}, 50), // looks like padding
		all[:213],
		all[43:],
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		data := make([]byte, rng.IntN(214))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		inputs = append(inputs, data)
	}
	masks := map[int]bool{}
	for _, in := range inputs {
		masks[mustDecode(t, in).mask] = true
	}
	if len(masks) != 8 { // else a mask's placement would go untested
		t.Errorf("only masks %v chosen over %d inputs", masks, len(inputs))
	}
}

// TestHomeKitURIs: every setup URI shape (X-HM:// and 9 base-36 digits of
// flags and code, 4-character setup ID) fits version 2.
func TestHomeKitURIs(t *testing.T) {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		payload := strconv.FormatUint(rng.Uint64N(36*36*36*36*36*36*36*36*36), 36)
		id := make([]byte, 4)
		for i := range id {
			id[i] = digits[rng.IntN(36)]
		}
		uri := fmt.Sprintf("X-HM://%s%s%s", strings.Repeat("0", 9-len(payload)), strings.ToUpper(payload), id)
		if len(uri) != 20 {
			t.Fatalf("%q is no setup URI", uri)
		}
		if r := mustDecode(t, []byte(uri)); r.version != 2 {
			t.Errorf("%s: version %d, want 2", uri, r.version)
		}
	}
}

func TestCapacity(t *testing.T) {
	for v := 1; v <= 10; v++ {
		for _, n := range []int{stdCapacity[v-1] + 1, stdCapacity[v]} {
			c, err := Encode(make([]byte, n))
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if c.Version() != v || c.Size != 4*v+17 {
				t.Errorf("%d bytes: version %d size %d, want %d and %d", n, c.Version(), c.Size, v, 4*v+17)
			}
		}
	}
	for _, n := range []int{214, 1000} {
		if c, err := Encode(make([]byte, n)); !errors.Is(err, ErrTooLong) || c != nil {
			t.Errorf("%d bytes: %v, %v; want ErrTooLong", n, c, err)
		}
	}
}

// TestReedSolomon is the worked example of ISO/IEC 18004 Annex I: "HELLO
// WORLD" as 1-M, alphanumeric.
func TestReedSolomon(t *testing.T) {
	data := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	want := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	got := rsRemainder(data, 10)
	if !bytes.Equal(got, want) {
		t.Fatalf("EC codewords %v, want %v", got, want)
	}
	cw := append(append([]byte{}, data...), got...)
	if !syndromesZero(cw, 10) {
		t.Fatal("test decoder rejects the worked example")
	}
	cw[3] ^= 1
	if syndromesZero(cw, 10) {
		t.Fatal("test decoder accepts a corrupted codeword")
	}
	// Every generator length the encoder uses, on random data.
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{10, 16, 18, 22, 24, 26} {
		d := make([]byte, 40)
		for i := range d {
			d[i] = byte(rng.Uint32())
		}
		if !syndromesZero(append(d, rsRemainder(d, n)...), n) {
			t.Errorf("%d EC codewords: nonzero syndromes", n)
		}
	}
}

// The other levels' indicators (Table 12), for the format table below.
const (
	levelLBits = 0b01
	levelQBits = 0b11
	levelHBits = 0b10
)

// stdFormat is Annex C's table of format information, masked, for levels
// L, M, Q, H and masks 0-7.
var stdFormat = map[int][8]string{
	levelLBits: {"111011111000100", "111001011110011", "111110110101010", "111100010011101",
		"110011000101111", "110001100011000", "110110001000001", "110100101110110"},
	levelMBits: {"101010000010010", "101000100100101", "101111001111100", "101101101001011",
		"100010111111001", "100000011001110", "100111110010111", "100101010100000"},
	levelQBits: {"011010101011111", "011000001101000", "011111100110001", "011101000000110",
		"010010010110100", "010000110000011", "010111011011010", "010101111101101"},
	levelHBits: {"001011010001001", "001001110111110", "001110011100111", "001100111010000",
		"000011101100010", "000001001010101", "000110100001100", "000100000111011"},
}

func TestFormatBits(t *testing.T) {
	seen := map[uint]bool{}
	for level, row := range stdFormat {
		for mask, want := range row {
			got := formatBits(level, mask)
			if s := fmt.Sprintf("%015b", got); s != want {
				t.Errorf("level %02b mask %d: %s, want %s", level, mask, s, want)
			}
			seen[got] = true
		}
	}
	// A BCH(15,5) code: any two of the 32 differ in at least 7 bits.
	for a := range seen {
		for b := range seen {
			if d := popcount(a ^ b); a != b && d < 7 {
				t.Errorf("%015b and %015b differ in %d bits", a, b, d)
			}
		}
	}
}

func popcount(x uint) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestVersionBits(t *testing.T) {
	want := map[int]string{ // Annex D
		7:  "000111110010010100",
		8:  "001000010110111100",
		9:  "001001101010011001",
		10: "001010010011010011",
	}
	for v, w := range want {
		if got := fmt.Sprintf("%018b", versionBits(v)); got != w {
			t.Errorf("version %d: %s, want %s", v, got, w)
		}
	}
}

// stdAlignment is Annex E's Table E.1 for versions 2-10.
var stdAlignment = [11][]int{
	2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34},
	7: {6, 22, 38}, 8: {6, 24, 42}, 9: {6, 26, 46}, 10: {6, 28, 50},
}

// TestStructure checks the function patterns of every version where the
// standard puts them (6.3).
func TestStructure(t *testing.T) {
	for v := 1; v <= 10; v++ {
		c, err := Encode(make([]byte, stdCapacity[v]))
		if err != nil {
			t.Fatal(err)
		}
		n := c.Size
		if got := fmt.Sprint(alignmentCentres(v)); got != fmt.Sprint(stdAlignment[v]) {
			t.Errorf("v%d: test decoder's alignment rule gives %s, Table E.1 %v", v, got, stdAlignment[v])
		}
		// Finders: 7×7 dark ring, light ring, 3×3 dark centre; a light
		// separator on the sides that face the symbol.
		for _, o := range []pt{{0, 0}, {n - 7, 0}, {0, n - 7}} {
			for dy := -1; dy <= 7; dy++ {
				for dx := -1; dx <= 7; dx++ {
					x, y := o.x+dx, o.y+dy
					if x < 0 || y < 0 || x >= n || y >= n {
						continue
					}
					ring := max(abs(dx-3), abs(dy-3))
					want := ring <= 1 || ring == 3
					if c.Black(x, y) != want {
						t.Errorf("v%d: finder at %v: module (%d,%d) dark=%v", v, o, x, y, !want)
					}
				}
			}
		}
		for i := 8; i <= n-9; i++ {
			if c.Black(i, 6) != (i%2 == 0) || c.Black(6, i) != (i%2 == 0) {
				t.Errorf("v%d: timing pattern wrong at %d", v, i)
			}
		}
		if !c.Black(8, 4*v+9) {
			t.Errorf("v%d: dark module (8,%d) is light", v, 4*v+9)
		}
		cs := stdAlignment[v]
		for _, cy := range cs {
			for _, cx := range cs {
				if (cx == 6 && cy == 6) || (cx == 6 && cy == n-7) || (cx == n-7 && cy == 6) {
					continue
				}
				for dy := -2; dy <= 2; dy++ {
					for dx := -2; dx <= 2; dx++ {
						want := max(abs(dx), abs(dy)) != 1
						if c.Black(cx+dx, cy+dy) != want {
							t.Errorf("v%d: alignment (%d,%d): module (%d,%d) dark=%v", v, cx, cy, cx+dx, cy+dy, !want)
						}
					}
				}
			}
		}
		if c.Black(-1, 0) || c.Black(0, n) || c.Black(n, n) {
			t.Errorf("v%d: Black is true outside the symbol", v)
		}
	}
}
