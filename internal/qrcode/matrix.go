package qrcode

// builder is a Code under construction, with the function modules marked
// so that codeword placement and masking skip them.
type builder struct {
	Code
	isFunc []bool
}

func newCode(v int) *builder {
	size := 4*v + 17
	return &builder{
		Code:   Code{Size: size, version: v, dark: make([]bool, size*size)},
		isFunc: make([]bool, size*size),
	}
}

// setFunc places a function module.
func (c *builder) setFunc(x, y int, dark bool) {
	c.dark[y*c.Size+x] = dark
	c.isFunc[y*c.Size+x] = true
}

// placeFunctionPatterns draws finders, separators, timing and alignment
// patterns, the dark module and version information, and reserves the
// format information areas (ISO/IEC 18004 6.3).
func (c *builder) placeFunctionPatterns() {
	n := c.Size
	for _, o := range [3][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		c.placeFinder(o[0], o[1])
	}
	// Alignment patterns before timing, so that isFunc marks only the
	// finders, the three places where none goes (6.3.6).
	centres := alignCentres[c.version]
	for _, cy := range centres {
		for _, cx := range centres {
			if c.isFunc[cy*n+cx] {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					r := max(abs(dx), abs(dy))
					c.setFunc(cx+dx, cy+dy, r != 1)
				}
			}
		}
	}
	for i := 8; i < n-8; i++ { // 6.3.5: dark at even coordinates
		c.setFunc(i, 6, i%2 == 0)
		c.setFunc(6, i, i%2 == 0)
	}
	c.placeFormat(0) // reserves the areas; Encode rewrites them per mask
	c.setFunc(8, n-8, true)
	if c.version >= 7 {
		bits := versionBits(c.version)
		for i := range 18 { // 7.10: bit i at (i/3, n-11+i%3) and mirrored
			d := bits>>i&1 == 1
			c.setFunc(i/3, n-11+i%3, d)
			c.setFunc(n-11+i%3, i/3, d)
		}
	}
}

// placeFinder draws a finder pattern with its separator, top-left module
// at (x, y) (6.3.3, 6.3.4).
func (c *builder) placeFinder(x, y int) {
	for dy := -1; dy <= 7; dy++ {
		for dx := -1; dx <= 7; dx++ {
			px, py := x+dx, y+dy
			if px < 0 || py < 0 || px >= c.Size || py >= c.Size {
				continue
			}
			r := max(abs(dx-3), abs(dy-3)) // ring: 0,1 centre; 3 border; 4 separator
			c.setFunc(px, py, r != 2 && r != 4)
		}
	}
}

// placeFormat writes the format information of level M and mask m in both
// copies (7.9, Figure 25). Bit 0 is the least significant.
func (c *builder) placeFormat(m int) {
	bits := formatBits(levelMBits, m)
	n := c.Size
	for i := range 15 {
		d := bits>>i&1 == 1
		switch { // copy around the top-left finder
		case i < 6:
			c.setFunc(8, i, d)
		case i < 8:
			c.setFunc(8, i+1, d) // skips the timing row
		case i == 8:
			c.setFunc(7, 8, d)
		default:
			c.setFunc(14-i, 8, d)
		}
		if i < 8 { // the copy split between the other two finders
			c.setFunc(n-1-i, 8, d)
		} else {
			c.setFunc(8, n-15+i, d)
		}
	}
}

// placeCodewords fills the data region two columns at a time from the
// right, upwards then downwards, skipping the vertical timing pattern
// (7.7.3). Modules past the codewords are remainder bits: 0 before masking.
func (c *builder) placeCodewords(cw []byte) {
	n := c.Size
	bit := 0
	for pair, right := 0, n-1; right > 0; pair, right = pair+1, right-2 {
		if right == 6 {
			right = 5
		}
		for k := range n {
			y := k
			if pair%2 == 0 { // upwards
				y = n - 1 - k
			}
			for x := right; x > right-2; x-- {
				if c.isFunc[y*n+x] {
					continue
				}
				if bit < len(cw)*8 {
					c.dark[y*n+x] = cw[bit/8]>>(7-bit%8)&1 == 1
				}
				bit++
			}
		}
	}
}

// maskFuncs are the data mask conditions of Table 10, for row i, column j.
var maskFuncs = [8]func(i, j int) bool{
	func(i, j int) bool { return (i+j)%2 == 0 },
	func(i, j int) bool { return i%2 == 0 },
	func(i, j int) bool { return j%3 == 0 },
	func(i, j int) bool { return (i+j)%3 == 0 },
	func(i, j int) bool { return (i/2+j/3)%2 == 0 },
	func(i, j int) bool { return i*j%2+i*j%3 == 0 },
	func(i, j int) bool { return (i*j%2+i*j%3)%2 == 0 },
	func(i, j int) bool { return ((i+j)%2+i*j%3)%2 == 0 },
}

// applyMask inverts the data modules where mask m's condition holds.
func (c *builder) applyMask(m int) {
	n := c.Size
	for y := range n {
		for x := range n {
			if !c.isFunc[y*n+x] && maskFuncs[m](y, x) {
				c.dark[y*n+x] = !c.dark[y*n+x]
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
