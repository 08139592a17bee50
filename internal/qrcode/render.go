package qrcode

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// quiet is the width of the light margin, in modules (6.3.8).
const quiet = 4

// SVG returns a standalone SVG of the code with a 4-module quiet zone,
// scale px per module (at least 1), black on white, shape-rendering
// crispEdges, and a <title> element (accessibility) given by the caller
// (escaped).
func (c *Code) SVG(scale int, title string) []byte {
	scale = max(scale, 1)
	side := c.Size + 2*quiet
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img">`,
		side*scale, side*scale, side, side)
	b.WriteString("<title>")
	xml.EscapeText(&b, []byte(title)) //nolint:errcheck // a bytes.Buffer does not fail
	b.WriteString(`</title><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y := range c.Size { // one rectangle per horizontal run of dark modules
		for x := 0; x < c.Size; x++ {
			if !c.Black(x, y) {
				continue
			}
			start := x
			for x < c.Size && c.Black(x, y) {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start+quiet, y+quiet, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}

// Text returns the code as lines of Unicode half blocks (▀ ▄ █ and space),
// two module rows per line, quiet zone included, for a terminal or a log.
// Light modules and the quiet zone are drawn with blocks and dark ones are
// left blank, so the code scans on the usual light-on-dark terminal, as
// qrencode -t UTF8 does; on a dark-on-light background it shows inverted,
// which many but not all phone scanners read. The lower half of the last
// line, past the quiet zone, is blank.
func (c *Code) Text() string {
	side := c.Size + 2*quiet
	light := func(x, y int) bool {
		return y < side && !c.Black(x-quiet, y-quiet)
	}
	var b strings.Builder
	for y := 0; y < side; y += 2 {
		for x := range side {
			switch top, bottom := light(x, y), light(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
