package protocol

import "unicode/utf8"

// Scanner reads a JSON array element by element, with the lenient rules
// of ParseValue, for a decoder that expects one exact shape and wants no
// tree for it: the hot path of notify.Decode. Every method reports
// whether the input had the expected shape; on false the caller gives up
// and parses with ParseValue, which reports what is wrong. Call Release
// when done.
type Scanner struct {
	p parser
}

// NewScanner returns a Scanner at the start of b.
func NewScanner(b []byte) Scanner { return Scanner{p: parser{b: b}} }

// Release returns the scanner's scratch memory.
func (s *Scanner) Release() { s.p.release() }

// punct consumes white space and then c.
func (s *Scanner) punct(c byte) bool {
	s.p.skipSpace()
	if s.p.i < len(s.p.b) && s.p.b[s.p.i] == c {
		s.p.i++
		return true
	}
	return false
}

// Enter consumes the '[' that opens an array.
func (s *Scanner) Enter() bool { return s.punct('[') }

// Next consumes the ',' between two elements.
func (s *Scanner) Next() bool { return s.punct(',') }

// Leave consumes the ']' that closes an array.
func (s *Scanner) Leave() bool { return s.punct(']') }

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.p.skipSpace()
	return s.p.i == len(s.p.b)
}

// Value parses the next value whole.
func (s *Scanner) Value() (Value, bool) {
	s.p.skipSpace()
	v, err := s.p.value(0)
	return v, err == nil
}

// Int parses the next value, which must be an integer that fits an int.
func (s *Scanner) Int() (int, bool) {
	s.p.skipSpace()
	b, i := s.p.b, s.p.i
	// Short plain numbers, all the panel sends, without the general
	// number parser; anything else (a sign, a fraction, an exponent, a
	// leading zero, 16 digits or more) goes through it.
	n, j := 0, i
	for j < len(b) && j-i < 16 && b[j] >= '0' && b[j] <= '9' {
		n = n*10 + int(b[j]-'0')
		j++
	}
	if j > i && j-i < 16 && (j-i == 1 || b[i] != '0') && (j == len(b) || (b[j] != '.' && b[j] != 'e' && b[j] != 'E' && (b[j] < '0' || b[j] > '9'))) {
		s.p.i = j
		return n, true
	}
	if i >= len(b) || (b[i] != '-' && (b[i] < '0' || b[i] > '9')) {
		return 0, false
	}
	v, err := s.p.number()
	if err != nil || v.Kind != Int || int64(int(v.Int)) != v.Int {
		return 0, false
	}
	return int(v.Int), true
}

// String parses the next value, which must be a string.
func (s *Scanner) String() (string, bool) {
	s.p.skipSpace()
	if s.p.i >= len(s.p.b) || s.p.b[s.p.i] != '"' {
		return "", false
	}
	str, err := s.p.string()
	return str, err == nil
}

// Literal consumes lit, after white space, if the input continues with
// exactly it.
func (s *Scanner) Literal(lit string) bool {
	s.p.skipSpace()
	if len(s.p.b)-s.p.i >= len(lit) && string(s.p.b[s.p.i:s.p.i+len(lit)]) == lit {
		s.p.i += len(lit)
		return true
	}
	return false
}

// StringCache remembers strings a Scanner read, so that reading the same
// text again allocates nothing: a burst of alerts names one panel GUID
// and a few sensors. It holds 16 strings, chosen by length and first and
// last byte; the zero value is empty. Not safe for concurrent use: one
// per decoding goroutine.
type StringCache struct {
	s [16]string
}

// CachedString is String through c: a plain ASCII string that c
// holds is returned without a copy, and one it does not hold replaces
// the one in its slot.
func (s *Scanner) CachedString(c *StringCache) (string, bool) {
	s.p.skipSpace()
	b, i := s.p.b, s.p.i
	if i >= len(b) || b[i] != '"' {
		return "", false
	}
	// Plain ASCII, as the parser's fast path takes it.
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] < utf8.RuneSelf {
		j++
	}
	if j == len(b) || b[j] != '"' || j == i+1 {
		return s.String() // escapes, UTF-8, empty, unterminated: the general way
	}
	s.p.i = j + 1
	return c.Get(b[i+1 : j]), true
}

// Get returns raw as a string, without a copy when c holds it; one it
// does not hold replaces the one in its slot. raw must not be empty.
func (c *StringCache) Get(raw []byte) string {
	slot := &c.s[(len(raw)*31+int(raw[0])+int(raw[len(raw)-1]))&15]
	if *slot != string(raw) { // compares without allocating
		*slot = string(raw)
	}
	return *slot
}
