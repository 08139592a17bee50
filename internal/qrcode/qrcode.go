// Package qrcode draws QR codes, small enough for the HomeKit setup URI
// (X-HM://…) that g90 serve shows when an iPhone pairs with its bridge.
//
// It implements the part of ISO/IEC 18004 that such a string needs: byte
// mode only, error correction level M only, versions 1 to 10 (up to 213
// bytes), and mask selection by the penalty rules of 7.8.3. There is no
// decoder, no other mode or level, and no structured append or ECI.
//
//	code, err := qrcode.Encode([]byte("X-HM://0023ISYWYABCD"))
//	if err != nil { … }
//	svg := code.SVG(8, "HomeKit setup code")
//	fmt.Print(code.Text())
package qrcode

import (
	"errors"
	"fmt"
)

// ErrTooLong is returned by Encode for data that does not fit version 10-M.
var ErrTooLong = errors.New("qrcode: data too long for version 10-M")

// Code is one QR code symbol: Size×Size modules.
type Code struct {
	Size    int
	version int
	mask    int
	dark    []bool // row-major, Size*Size
}

// Black reports whether the module at column x, row y is dark. Outside the
// symbol (the quiet zone) it is false.
func (c *Code) Black(x, y int) bool {
	if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return false
	}
	return c.dark[y*c.Size+x]
}

// Version returns the symbol version, 1 to 10.
func (c *Code) Version() int { return c.version }

// Mask returns the data mask pattern reference, 0 to 7.
func (c *Code) Mask() int { return c.mask }

// blockSpec is one version's codewords at level M (ISO/IEC 18004
// Table 9): total codewords, split into blocks each with ecLen EC
// codewords; the data codewords are split as evenly as they go, shorter
// blocks first.
type blockSpec struct{ total, ecLen, blocks int }

var levelM = [11]blockSpec{
	1: {26, 10, 1}, 2: {44, 16, 1}, 3: {70, 26, 1}, 4: {100, 18, 2}, 5: {134, 24, 2},
	6: {172, 16, 4}, 7: {196, 18, 4}, 8: {242, 22, 4}, 9: {292, 22, 5}, 10: {346, 26, 5},
}

// alignCentres are the row/column coordinates of alignment pattern centres
// (ISO/IEC 18004 Annex E, Table E.1).
var alignCentres = [11][]int{
	2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34},
	7: {6, 22, 38}, 8: {6, 24, 42}, 9: {6, 26, 46}, 10: {6, 28, 50},
}

// maxVersion is the largest version Encode produces.
const maxVersion = 10

// dataCodewords is the number of data codewords in version v at level M.
func dataCodewords(v int) int {
	s := levelM[v]
	return s.total - s.ecLen*s.blocks
}

// countBits is the width of the byte-mode character count (Table 3).
func countBits(v int) int {
	if v <= 9 {
		return 8
	}
	return 16
}

// capacity is the most bytes version v holds in byte mode at level M.
func capacity(v int) int {
	return (dataCodewords(v)*8 - 4 - countBits(v)) / 8
}

// Encode returns the QR code of data in byte mode at error correction
// level M, the smallest version (1–10) that holds it, with the mask of
// lowest penalty (ISO/IEC 18004 7.8.3).
func Encode(data []byte) (*Code, error) {
	v := 1
	for v <= maxVersion && capacity(v) < len(data) {
		v++
	}
	if v > maxVersion {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(data), capacity(maxVersion))
	}
	codewords := interleave(v, dataStream(v, data))

	c := newCode(v)
	c.placeFunctionPatterns()
	c.placeCodewords(codewords)

	best := &Code{Size: c.Size, version: v, mask: -1}
	bestPenalty := 0
	for m := range 8 {
		c.applyMask(m)
		c.placeFormat(m)
		if p := penalty(&c.Code); best.mask < 0 || p < bestPenalty {
			best.mask, bestPenalty = m, p
			best.dark = append(best.dark[:0], c.dark...)
		}
		c.applyMask(m) // masking is an XOR: undo it
	}
	return best, nil
}

// dataStream is the data codeword sequence: mode indicator, count, the
// bytes, terminator and pad codewords (ISO/IEC 18004 7.4).
func dataStream(v int, data []byte) []byte {
	var b bitWriter
	b.write(0b0100, 4) // byte mode
	b.write(uint(len(data)), countBits(v))
	for _, d := range data {
		b.write(uint(d), 8)
	}
	n := dataCodewords(v)
	b.write(0, min(4, n*8-b.n)) // terminator, shortened if no room
	b.write(0, (8-b.n%8)%8)
	for i := 0; len(b.buf) < n; i++ {
		b.buf = append(b.buf, [2]byte{0xec, 0x11}[i%2]) // 7.4.10
	}
	return b.buf
}

type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (b *bitWriter) write(v uint, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if b.n%8 == 0 {
			b.buf = append(b.buf, 0)
		}
		if v>>i&1 == 1 {
			b.buf[b.n/8] |= 0x80 >> (b.n % 8)
		}
		b.n++
	}
}

// interleave splits the data codewords into blocks, appends each block's
// EC codewords and interleaves them (ISO/IEC 18004 7.6).
func interleave(v int, data []byte) []byte {
	s := levelM[v]
	short := len(data) / s.blocks
	long := s.blocks - len(data)%s.blocks // index of the first long block
	var blocks, ecs [][]byte
	for i := range s.blocks {
		n := short
		if i >= long {
			n++
		}
		blocks = append(blocks, data[:n])
		ecs = append(ecs, rsRemainder(data[:n], s.ecLen))
		data = data[n:]
	}
	var out []byte
	for i := 0; i <= short; i++ {
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := range s.ecLen {
		for _, e := range ecs {
			out = append(out, e[i])
		}
	}
	return out
}
