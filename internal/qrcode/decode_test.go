package qrcode

import (
	"errors"
	"fmt"
)

// This file is a QR decoder for the tests, written from ISO/IEC 18004 on
// its own code path: it calls nothing of the encoder, so that a placement,
// interleaving or masking mistake in one shows as a failure instead of
// being repeated by the other. It reads what Encode makes (byte mode,
// level M) and is strict: every check the standard allows is made.

// stdTotalCodewords is Table 1's total codewords per version.
var stdTotalCodewords = [11]int{0, 26, 44, 70, 100, 134, 172, 196, 242, 292, 346}

// stdRemainderBits is Table 1's remainder bits per version.
var stdRemainderBits = [11]int{0, 0, 7, 7, 7, 7, 7, 0, 0, 0, 0}

// stdGroup is one group of Table 9's level M rows: count blocks of
// dataLen data codewords.
type stdGroup struct{ count, dataLen int }

// stdLevelM is Table 9 for level M: EC codewords per block and the groups.
var stdLevelM = [11]struct {
	ecLen  int
	groups []stdGroup
}{
	1:  {10, []stdGroup{{1, 16}}},
	2:  {16, []stdGroup{{1, 28}}},
	3:  {26, []stdGroup{{1, 44}}},
	4:  {18, []stdGroup{{2, 32}}},
	5:  {24, []stdGroup{{2, 43}}},
	6:  {16, []stdGroup{{4, 27}}},
	7:  {18, []stdGroup{{4, 31}}},
	8:  {22, []stdGroup{{2, 38}, {2, 39}}},
	9:  {22, []stdGroup{{3, 36}, {2, 37}}},
	10: {26, []stdGroup{{4, 43}, {1, 44}}},
}

type pt struct{ x, y int }

// formatCoords lists where format information bits 0 (least significant)
// to 14 sit, first and second copy (Figure 25).
func formatCoords(n int) (a, b [15]pt) {
	a = [15]pt{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8},
		{7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}}
	for i := range 8 {
		b[i] = pt{n - 1 - i, 8}
	}
	for i := 8; i < 15; i++ {
		b[i] = pt{8, n - 15 + i}
	}
	return a, b
}

// alignmentCentres computes Annex E's positions by its rule: first at 6,
// last at size-7, the rest evenly spaced between at an even spacing.
func alignmentCentres(v int) []int {
	if v < 2 {
		return nil
	}
	k := v/7 + 2
	last := 4*v + 17 - 7
	step := (last - 6 + k - 2) / (k - 1) // rounded up
	step += step % 2
	pos := []int{6}
	for i := k - 2; i >= 0; i-- {
		pos = append(pos, last-i*step)
	}
	return pos
}

// functionModules marks every module that is not a data module.
func functionModules(v int) [][]bool {
	n := 4*v + 17
	f := make([][]bool, n)
	for y := range f {
		f[y] = make([]bool, n)
	}
	rect := func(x0, y0, w, h int) {
		for y := max(y0, 0); y < min(y0+h, n); y++ {
			for x := max(x0, 0); x < min(x0+w, n); x++ {
				f[y][x] = true
			}
		}
	}
	rect(0, 0, 9, 9)   // finder, separator, format info, and the timing crossing
	rect(n-8, 0, 8, 9) // finder, separator, format info
	rect(0, n-8, 9, 8) // finder, separator, format info, dark module
	rect(0, 6, n, 1)   // timing
	rect(6, 0, 1, n)
	cs := alignmentCentres(v)
	for _, cy := range cs {
		for _, cx := range cs {
			if (cx == 6 && cy == 6) || (cx == 6 && cy == n-7) || (cx == n-7 && cy == 6) {
				continue
			}
			rect(cx-2, cy-2, 5, 5)
		}
	}
	if v >= 7 {
		rect(n-11, 0, 3, 6)
		rect(0, n-11, 6, 3)
	}
	return f
}

// gf2Mod returns a mod g for polynomials over GF(2) held in the bits.
func gf2Mod(a, g uint) uint {
	for dg := bitLen(g); bitLen(a) >= dg; {
		a ^= g << (bitLen(a) - dg)
	}
	return a
}

func bitLen(a uint) int {
	n := 0
	for ; a != 0; a >>= 1 {
		n++
	}
	return n
}

// gfMulSlow multiplies in GF(256) mod 0x11d without tables.
func gfMulSlow(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a&0x80 != 0
		a <<= 1
		if hi {
			a ^= 0x1d
		}
		b >>= 1
	}
	return p
}

// syndromesZero reports whether the codeword (highest degree first) is a
// multiple of the generator ∏(x − α^i), i < ecLen: it vanishes at each α^i.
func syndromesZero(cw []byte, ecLen int) bool {
	alpha := byte(1)
	for range ecLen {
		var s byte
		for _, c := range cw { // Horner
			s = gfMulSlow(s, alpha) ^ c
		}
		if s != 0 {
			return false
		}
		alpha = gfMulSlow(alpha, 2)
	}
	return true
}

// stdMask is Table 10's mask condition for mask m at row i, column j.
func stdMask(m, i, j int) bool {
	switch m {
	case 0:
		return (i+j)%2 == 0
	case 1:
		return i%2 == 0
	case 2:
		return j%3 == 0
	case 3:
		return (i+j)%3 == 0
	case 4:
		return (i/2+j/3)%2 == 0
	case 5:
		return (i*j)%2+(i*j)%3 == 0
	case 6:
		return ((i*j)%2+(i*j)%3)%2 == 0
	default:
		return ((i*j)%3+(i+j)%2)%2 == 0
	}
}

// readFormat returns the (level bits, mask) of one copy of the format
// information, after checking its BCH code.
func readFormat(grid [][]bool, coords [15]pt) (level, mask int, err error) {
	var raw uint
	for i, p := range coords {
		if grid[p.y][p.x] {
			raw |= 1 << i
		}
	}
	raw ^= 0b101010000010010
	if gf2Mod(raw, 0b10100110111) != 0 {
		return 0, 0, fmt.Errorf("format information %015b fails its BCH check", raw)
	}
	return int(raw >> 13), int(raw >> 10 & 7), nil
}

// readVersion reads both copies of the version information.
func readVersion(grid [][]bool, n int) (int, int, error) {
	var a, b uint
	for i := range 18 { // bit i: row i/3 and column n-11+i%3 of the top-right block
		if grid[i/3][n-11+i%3] {
			a |= 1 << i
		}
		if grid[n-11+i%3][i/3] {
			b |= 1 << i
		}
	}
	for _, r := range []uint{a, b} {
		if gf2Mod(r, 0b1111100100101) != 0 {
			return 0, 0, fmt.Errorf("version information %018b fails its BCH check", r)
		}
	}
	return int(a >> 12), int(b >> 12), nil
}

type decodeResult struct {
	version, mask int
	data          []byte
	unmasked      [][]bool // the symbol with the mask removed
}

// decode reads a symbol made by Encode back to its data.
func decode(c *Code) (*decodeResult, error) {
	n := c.Size
	v := (n - 17) / 4
	if n != 4*v+17 || v < 1 || v > 10 {
		return nil, fmt.Errorf("size %d is no version 1-10", n)
	}
	grid := make([][]bool, n)
	for y := range grid {
		grid[y] = make([]bool, n)
		for x := range grid[y] {
			grid[y][x] = c.Black(x, y)
		}
	}
	fa, fb := formatCoords(n)
	la, ma, err := readFormat(grid, fa)
	if err != nil {
		return nil, err
	}
	lb, mb, err := readFormat(grid, fb)
	if err != nil {
		return nil, err
	}
	if la != lb || ma != mb {
		return nil, fmt.Errorf("format copies differ: %d/%d and %d/%d", la, ma, lb, mb)
	}
	if la != 0b00 {
		return nil, fmt.Errorf("level bits %02b, want M (00)", la)
	}
	if v >= 7 {
		va, vb, err := readVersion(grid, n)
		if err != nil {
			return nil, err
		}
		if va != v || vb != v {
			return nil, fmt.Errorf("version information says %d and %d, size says %d", va, vb, v)
		}
	}

	fn := functionModules(v)
	for y := range n {
		for x := range n {
			if !fn[y][x] && stdMask(ma, y, x) {
				grid[y][x] = !grid[y][x]
			}
		}
	}

	// 7.7.3: two-column strips from the right edge, alternately up and
	// down, right module before left, the vertical timing column skipped.
	var bits []bool
	up := true
	for x := n - 1; x > 0; x -= 2 {
		if x == 6 {
			x--
		}
		for k := range n {
			y := k
			if up {
				y = n - 1 - k
			}
			for _, xx := range []int{x, x - 1} {
				if !fn[y][xx] {
					bits = append(bits, grid[y][xx])
				}
			}
		}
		up = !up
	}
	total := stdTotalCodewords[v]
	if want := total*8 + stdRemainderBits[v]; len(bits) != want {
		return nil, fmt.Errorf("%d data modules, Table 1 says %d", len(bits), want)
	}
	for i, b := range bits[total*8:] {
		if b {
			return nil, fmt.Errorf("remainder bit %d is 1", i)
		}
	}
	stream := make([]byte, total)
	for i := range total * 8 {
		if bits[i] {
			stream[i/8] |= 0x80 >> (i % 8)
		}
	}

	spec := stdLevelM[v]
	var blocks [][]byte
	for _, g := range spec.groups {
		for range g.count {
			blocks = append(blocks, make([]byte, 0, g.dataLen+spec.ecLen))
		}
	}
	dataLen := func(b int) int { return cap(blocks[b]) - spec.ecLen }
	pos := 0
	for i := 0; ; i++ { // data codewords, one from each block in turn
		took := false
		for b := range blocks {
			if i < dataLen(b) {
				blocks[b] = append(blocks[b], stream[pos])
				pos++
				took = true
			}
		}
		if !took {
			break
		}
	}
	for range spec.ecLen {
		for b := range blocks {
			blocks[b] = append(blocks[b], stream[pos])
			pos++
		}
	}
	if pos != total {
		return nil, fmt.Errorf("blocks hold %d codewords, symbol %d", pos, total)
	}
	var data []byte
	for b, blk := range blocks {
		if !syndromesZero(blk, spec.ecLen) {
			return nil, fmt.Errorf("block %d: nonzero RS syndrome", b)
		}
		data = append(data, blk[:dataLen(b)]...)
	}

	out, err := parseByteSegment(data, v)
	if err != nil {
		return nil, err
	}
	return &decodeResult{version: v, mask: ma, data: out, unmasked: grid}, nil
}

// parseByteSegment reads one byte-mode segment, the terminator and the
// padding (7.4.3, 7.4.9, 7.4.10), rejecting anything else.
func parseByteSegment(data []byte, v int) ([]byte, error) {
	bit := 0
	read := func(n int) (int, error) {
		if bit+n > len(data)*8 {
			return 0, errors.New("bit stream ends early")
		}
		r := 0
		for range n {
			r = r<<1 | int(data[bit/8]>>(7-bit%8)&1)
			bit++
		}
		return r, nil
	}
	mode, err := read(4)
	if err != nil || mode != 0b0100 {
		return nil, fmt.Errorf("mode %04b, want byte mode 0100", mode)
	}
	cbits := 8
	if v >= 10 {
		cbits = 16
	}
	count, err := read(cbits)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, count)
	for range count {
		b, err := read(8)
		if err != nil {
			return nil, fmt.Errorf("byte %d of %d: %w", len(out), count, err)
		}
		out = append(out, byte(b))
	}
	for t := 0; t < 4 && bit < len(data)*8; t++ { // terminator
		if b, _ := read(1); b != 0 {
			return nil, errors.New("terminator is not zero")
		}
	}
	for bit%8 != 0 {
		if b, _ := read(1); b != 0 {
			return nil, errors.New("padding bit is not zero")
		}
	}
	for i := bit / 8; i < len(data); i++ {
		if want := []byte{0xec, 0x11}[(i-bit/8)%2]; data[i] != want {
			return nil, fmt.Errorf("pad codeword %d is %#x, want %#x", i, data[i], want)
		}
	}
	return out, nil
}
