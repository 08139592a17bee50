package qrcode

// GF(256) with the field polynomial x^8+x^4+x^3+x^2+1 (0x11d) and
// generator α = 2 (ISO/IEC 18004 7.5.2).
var gfExp, gfLog = func() (exp [512]byte, log [256]byte) {
	x := 1
	for i := range 255 {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator returns the coefficients of ∏(x − α^i), i < n, highest
// degree first, without the leading 1.
func rsGenerator(n int) []byte {
	g := []byte{1}
	for i := range n {
		next := make([]byte, len(g)+1)
		for j, c := range g {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfExp[i])
		}
		g = next
	}
	return g[1:]
}

// rsRemainder returns the n EC codewords of data: the remainder of
// data(x)·x^n divided by the generator polynomial (7.5.2).
func rsRemainder(data []byte, n int) []byte {
	g := rsGenerator(n)
	rem := make([]byte, n)
	for _, d := range data {
		f := d ^ rem[0]
		copy(rem, rem[1:])
		rem[n-1] = 0
		for i, c := range g {
			rem[i] ^= gfMul(c, f)
		}
	}
	return rem
}

// bchRemainder returns the remainder of v·x^(deg g) divided by g over GF(2).
func bchRemainder(v, g uint) uint {
	deg := 0
	for g>>(deg+1) != 0 {
		deg++
	}
	r := v << deg
	for i := 31; i >= deg; i-- {
		if r>>i&1 == 1 {
			r ^= g << (i - deg)
		}
	}
	return r
}

// levelMBits is level M's indicator in the format information (Table 12).
const levelMBits = 0b00

// formatBits is the 15-bit format information: level and mask, the
// BCH(15,5) code with generator 0x537, XORed with 0x5412 (7.9.1).
func formatBits(level, mask int) uint {
	v := uint(level<<3 | mask)
	return (v<<10 | bchRemainder(v, 0x537)) ^ 0x5412
}

// versionBits is the 18-bit version information: the version and the
// BCH(18,6) code with generator 0x1f25 (7.10).
func versionBits(v int) uint {
	return uint(v)<<12 | bchRemainder(uint(v), 0x1f25)
}
