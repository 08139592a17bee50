package qrcode

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

// TestText reads the half blocks back into modules: light modules and the
// quiet zone are drawn, dark ones are blank.
func TestText(t *testing.T) {
	for _, in := range []string{"X-HM://0023ISYWYABCD", strings.Repeat("x", 200)} {
		c, err := Encode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		side := c.Size + 8
		lines := strings.Split(strings.TrimSuffix(c.Text(), "\n"), "\n")
		if len(lines) != (side+1)/2 {
			t.Fatalf("%d lines, want %d", len(lines), (side+1)/2)
		}
		halves := map[rune][2]bool{' ': {false, false}, '▀': {true, false}, '▄': {false, true}, '█': {true, true}}
		for l, text := range lines {
			runes := []rune(text)
			if len(runes) != side {
				t.Fatalf("line %d: %d columns, want %d", l, len(runes), side)
			}
			for x, r := range runes {
				h, ok := halves[r]
				if !ok {
					t.Fatalf("line %d: unexpected %q", l, r)
				}
				for k, light := range h {
					y := 2*l + k
					want := y < side && !c.Black(x-4, y-4)
					if light != want {
						t.Errorf("line %d column %d half %d: light=%v, want %v", l, x, k, light, want)
					}
				}
			}
		}
	}
}

type svgDoc struct {
	XMLName        xml.Name `xml:"svg"`
	Width          int      `xml:"width,attr"`
	Height         int      `xml:"height,attr"`
	ViewBox        string   `xml:"viewBox,attr"`
	ShapeRendering string   `xml:"shape-rendering,attr"`
	Title          string   `xml:"title"`
	Rect           struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

// TestSVG parses the SVG and draws its path back into modules.
func TestSVG(t *testing.T) {
	c, err := Encode([]byte("X-HM://0023ISYWYABCD"))
	if err != nil {
		t.Fatal(err)
	}
	const title = `Pair "g90" <HomeKit> & more`
	for _, scale := range []int{0, 1, 8} {
		var doc svgDoc
		if err := xml.Unmarshal(c.SVG(scale, title), &doc); err != nil {
			t.Fatalf("scale %d: %v", scale, err)
		}
		side := c.Size + 8
		px := side * max(scale, 1)
		if doc.Width != px || doc.Height != px || doc.ViewBox != fmt.Sprintf("0 0 %d %d", side, side) {
			t.Errorf("scale %d: %d×%d viewBox %q", scale, doc.Width, doc.Height, doc.ViewBox)
		}
		if doc.Title != title || doc.ShapeRendering != "crispEdges" || doc.Rect.Fill != "#fff" || doc.Path.Fill != "#000" {
			t.Errorf("scale %d: title %q shape-rendering %q fills %q %q", scale, doc.Title, doc.ShapeRendering, doc.Rect.Fill, doc.Path.Fill)
		}
		dark := make(map[[2]int]bool)
		for _, sub := range strings.SplitAfter(doc.Path.D, "z") {
			if sub == "" {
				continue
			}
			var x, y, w, w2 int
			if _, err := fmt.Sscanf(sub, "M%d %dh%dv1h-%dz", &x, &y, &w, &w2); err != nil || w != w2 || w < 1 {
				t.Fatalf("path piece %q: %v", sub, err)
			}
			for i := range w {
				if dark[[2]int{x + i, y}] {
					t.Fatalf("module (%d,%d) drawn twice", x+i, y)
				}
				dark[[2]int{x + i, y}] = true
			}
		}
		for y := range side {
			for x := range side {
				if dark[[2]int{x, y}] != c.Black(x-4, y-4) {
					t.Fatalf("scale %d: SVG module (%d,%d) dark=%v", scale, x, y, dark[[2]int{x, y}])
				}
			}
		}
	}
}
