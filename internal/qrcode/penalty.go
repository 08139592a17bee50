package qrcode

// Penalty weights N1–N4 of ISO/IEC 18004 7.8.3.1, Table 11.
const (
	penaltyN1 = 3
	penaltyN2 = 3
	penaltyN3 = 40
	penaltyN4 = 10
)

// penalty scores a whole symbol, format information included, by the four
// rules of 7.8.3.1. Rule 3 counts each dark-light-dark-dark-dark-light-dark
// run with four light modules before or after it inside the symbol, so a
// run with light on both sides counts twice.
func penalty(c *Code) int {
	n := c.Size
	at := func(x, y int) bool { return c.dark[y*n+x] }
	p := 0
	row, col := make([]bool, n), make([]bool, n)
	for i := range n {
		for j := range n {
			row[j], col[j] = at(j, i), at(i, j)
		}
		p += linePenalty(row) + linePenalty(col)
	}
	for y := range n - 1 { // rule 2: every 2×2 block of one colour
		for x := range n - 1 {
			d := at(x, y)
			if at(x+1, y) == d && at(x, y+1) == d && at(x+1, y+1) == d {
				p += penaltyN2
			}
		}
	}
	dark := 0
	for _, d := range c.dark {
		if d {
			dark++
		}
	}
	// rule 4: N4 for every full 5 % that the dark share is away from 50 %
	total := n * n
	return p + abs(dark*20-total*10)/total*penaltyN4
}

// linePenalty scores one row or column by rules 1 and 3.
func linePenalty(line []bool) int {
	p, run := 0, 1
	for i := 1; i <= len(line); i++ {
		if i < len(line) && line[i] == line[i-1] {
			run++
			continue
		}
		if run >= 5 {
			p += penaltyN1 + run - 5
		}
		run = 1
	}
	finder := [7]bool{true, false, true, true, true, false, true}
	for i := 0; i+7 <= len(line); i++ {
		if [7]bool(line[i:i+7]) != finder {
			continue
		}
		if i >= 4 && allLight(line[i-4:i]) {
			p += penaltyN3
		}
		if i+11 <= len(line) && allLight(line[i+7:i+11]) {
			p += penaltyN3
		}
	}
	return p
}

func allLight(s []bool) bool {
	for _, d := range s {
		if d {
			return false
		}
	}
	return true
}
