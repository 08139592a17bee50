package qrcode

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// matrix builds a symbol-like square from rows of '#' (dark) and '.'.
func matrix(rows ...string) *Code {
	n := len(rows)
	b := &Code{Size: n, dark: make([]bool, n*n)}
	for y, r := range rows {
		for x, ch := range r {
			b.dark[y*n+x] = ch == '#'
		}
	}
	return b
}

func line(s string) []bool {
	l := make([]bool, len(s))
	for i, ch := range s {
		l[i] = ch == '#'
	}
	return l
}

// TestPenaltyRules13 scores single rows by rules 1 (runs of five or more)
// and 3 (the finder-like 1:1:3:1:1 with four light modules on a side).
func TestPenaltyRules13(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{"####", 0},
		{"#####", 3},
		{"######", 4},
		{"#####.......", 3 + 5},
		{".#.#.#.#.#", 0},
		{"#.###.#", 0},          // no light margin
		{"#.###.#....", 40},     // margin after
		{"....#.###.#", 40},     // margin before
		{"....#.###.#....", 80}, // both sides count
		{"...#.###.#...", 0},    // margins of three
		{"#.###.#...#.###.#", 0},
		{"#.#####.#....", 3},     // 1:1:5:1:1 is no finder, but a run of 5
		{"#.###.#.....", 40 + 3}, // margin of five is a run too
	} {
		if got := linePenalty(line(tc.line)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.line, got, tc.want)
		}
	}
}

// TestPenaltyMatrices scores whole small matrices, rules 2 (2×2 blocks of
// one colour) and 4 (dark share away from 50 %) with 1 and 3 in rows and
// columns.
func TestPenaltyMatrices(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []string
		want int
	}{
		{"checkerboard", []string{"#.#.", ".#.#", "#.#.", ".#.#"}, 0},
		{"blocks", []string{"##..", "##..", "..##", "..##"}, 4 * 3},
		{"all dark 3×3", []string{"###", "###", "###"}, 4*3 + 100},
		{"all light 3×3", []string{"...", "...", "..."}, 4*3 + 100},
		{"37.5% dark", []string{"#.#.", ".#..", "#.#.", "...#"}, 20},
		// one dark row of five: rule 1 once; 15 of 25 dark: 60 %, 2 steps.
		{"run of five", []string{"#####", ".#.#.", "#.#.#", ".#.#.", "#.#.#"}, 3 + 20},
		// the same transposed: the run is now a column.
		{"column of five", []string{"#.#.#", "##.#.", "#.#.#", "##.#.", "#.#.#"}, 3 + 20},
		// 5×5 dark: 10 runs of five, 16 blocks, 100 % dark.
		{"all dark 5×5", []string{"#####", "#####", "#####", "#####", "#####"}, 10*3 + 16*3 + 100},
	} {
		if got := penalty(matrix(tc.rows...)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestPenaltyFinderInColumn: an all-light 11×11 with the finder-like
// pattern down column 0, scored by hand, and the same transposed.
func TestPenaltyFinderInColumn(t *testing.T) {
	const col = "#.###.#...."
	rows := make([]string, len(col))
	for i := range rows {
		rows[i] = string(col[i]) + strings.Repeat(".", 10)
	}
	want := 5*(3+5) + 6*(3+6) + // rule 1, rows: 10 or 11 light in a row
		10*(3+6) + // rule 1, columns 1-10 (column 0 has no run of five)
		40 + // rule 3, column 0
		(9*10+3)*3 + // rule 2: columns 1-10, and three light pairs beside column 0
		9*10 // rule 4: 5 of 121 dark, 4.1 %, so nine full 5 % steps from 50 %
	if got := penalty(matrix(rows...)); got != want {
		t.Errorf("pattern in a column: %d, want %d", got, want)
	}
	if got := penalty(matrix(transpose(rows)...)); got != want {
		t.Errorf("pattern in a row: %d, want %d", got, want)
	}
}

func transpose(rows []string) []string {
	n := len(rows)
	out := make([]string, n)
	for x := range n {
		var b strings.Builder
		for y := range n {
			b.WriteByte(rows[y][x])
		}
		out[x] = b.String()
	}
	return out
}

// TestPenaltyTransposeInvariant: the rules treat rows and columns alike.
func TestPenaltyTransposeInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 100 {
		n := 5 + rng.IntN(20)
		rows := make([]string, n)
		for y := range rows {
			b := make([]byte, n)
			for x := range b {
				b[x] = ".#"[rng.IntN(2)]
			}
			rows[y] = string(b)
		}
		if a, b := penalty(matrix(rows...)), penalty(matrix(transpose(rows)...)); a != b {
			t.Fatalf("penalty %d, transposed %d:\n%s", a, b, strings.Join(rows, "\n"))
		}
	}
}

// TestMaskChoice rebuilds each symbol under all eight masks from the test
// decoder's unmasked matrix and checks Encode chose the lowest penalty,
// the first one on a tie.
func TestMaskChoice(t *testing.T) {
	inputs := []string{"X-HM://0023ISYWYABCD", "", "a", "HELLO WORLD", strings.Repeat("z", 100), strings.Repeat("0123456789", 21)}
	for _, in := range inputs {
		c, err := Encode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(c)
		if err != nil {
			t.Fatal(err)
		}
		n := c.Size
		fn := functionModules(r.version)
		fa, fb := formatCoords(n)
		best, bestP := -1, 0
		for m := range 8 {
			b := &Code{Size: n, dark: make([]bool, n*n)}
			for y := range n {
				for x := range n {
					b.dark[y*n+x] = r.unmasked[y][x] != (!fn[y][x] && stdMask(m, y, x))
				}
			}
			f := stdFormat[levelMBits][m]
			for i := range 15 {
				d := f[14-i] == '1'
				b.dark[fa[i].y*n+fa[i].x] = d
				b.dark[fb[i].y*n+fb[i].x] = d
			}
			if m == c.Mask() {
				for i := range b.dark {
					if b.dark[i] != c.dark[i] {
						t.Fatalf("%q: rebuilt mask %d differs from Encode's at module %d", in, m, i)
					}
				}
			}
			if p := penalty(b); best < 0 || p < bestP {
				best, bestP = m, p
			}
		}
		if c.Mask() != best {
			t.Errorf("%q: Encode chose mask %d, lowest penalty is mask %d (%d)", in, c.Mask(), best, bestP)
		}
	}
}
