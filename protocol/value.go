package protocol

import (
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of a JSON value in the panel's dialect.
type Kind uint8

// Value kinds. The panel only sends integers, strings and arrays
// (spec: local-protocol.md 0.2); anything else a newer firmware might send
// (true, false, null, a fraction or an integer too large for int64) is kept
// verbatim as a Literal so it survives a decode/encode round trip.
const (
	Invalid Kind = iota
	Int
	String
	Array
	Literal
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "int"
	case String:
		return "string"
	case Array:
		return "array"
	case Literal:
		return "literal"
	}
	return "invalid"
}

// Value is one JSON value as the panel sends it. The zero Value is Invalid.
type Value struct {
	Kind Kind
	Int  int64   // Kind Int
	Str  string  // Kind String: the text; Kind Literal: the raw token
	Arr  []Value // Kind Array
}

// IntValue returns an Int value.
func IntValue(i int) Value { return Value{Kind: Int, Int: int64(i)} }

// StringValue returns a String value.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// ArrayValue returns an Array value holding vs.
func ArrayValue(vs ...Value) Value {
	if vs == nil {
		vs = []Value{}
	}
	return Value{Kind: Array, Arr: vs}
}

// Equal reports whether v and w are the same value.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case Int:
		return v.Int == w.Int
	case String, Literal:
		return v.Str == w.Str
	case Array:
		if len(v.Arr) != len(w.Arr) {
			return false
		}
		for i := range v.Arr {
			if !v.Arr[i].Equal(w.Arr[i]) {
				return false
			}
		}
	}
	return true
}

// String returns the compact JSON text of v.
func (v Value) String() string { return string(v.AppendJSON(nil)) }

// AppendJSON appends the compact JSON encoding of v to dst. Strings are
// written with every non-ASCII character as a \uXXXX escape, as the
// reference does (spec: local-protocol.md 1.3).
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.Kind {
	case Int:
		return strconv.AppendInt(dst, v.Int, 10)
	case String:
		return appendString(dst, v.Str)
	case Literal:
		return append(dst, v.Str...)
	case Array:
		dst = append(dst, '[')
		for i, e := range v.Arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s the panel's way: every non-ASCII character
// escaped.
func appendString(dst []byte, s string) []byte { return appendJSONString(dst, s, true) }

// AppendJSONString appends s as a JSON string for people and other
// programs: UTF-8 kept as it is, quote, backslash and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s, false) }

func appendJSONString(dst []byte, s string, ascii bool) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !ascii && (r != utf8.RuneError || size != 1) {
			dst = append(dst, s[i:i+size]...)
			i += size
			continue
		}
		i += size
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU(dst, r1)
			dst = appendU(dst, r2)
			continue
		}
		dst = appendU(dst, r) // includes utf8.RuneError for invalid bytes
	}
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// SyntaxError is a JSON text the panel dialect cannot parse.
type SyntaxError struct {
	Offset int // byte offset in the parsed text
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("protocol: JSON syntax error at byte %d: %s", e.Offset, e.Msg)
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack; the
// deepest real message nests four arrays.
const maxDepth = 32

// ParseValue parses one JSON value, with optional surrounding white space.
//
// Parsing is lenient the way the panel needs (spec: local-protocol.md 1.5
// steps 4 and 8, 7.2): invalid UTF-8 becomes U+FFFD and raw control
// characters are allowed inside strings.
func ParseValue(b []byte) (Value, error) {
	p := parser{b: b}
	defer p.release()
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return Value{}, p.errorf("unexpected %q after the value", p.b[p.i])
	}
	return v, nil
}

// stacks recycles parsers' scratch stacks: allocating and clearing one per
// message was most of the cost of decoding a short alert.
var stacks = sync.Pool{New: func() any { s := make([]Value, 0, 16); return &s }} // a host info reply fits

func (p *parser) scratch() []Value {
	p.pooled = stacks.Get().(*[]Value)
	return (*p.pooled)[:0]
}

// release returns the scratch stack, cleared so the pool does not keep
// parsed strings alive.
func (p *parser) release() {
	if p.pooled == nil {
		return
	}
	s := p.stack[:cap(p.stack)]
	clear(s)
	if cap(s) <= 1024 {
		*p.pooled = s[:0]
		stacks.Put(p.pooled)
	}
}

type parser struct {
	pooled *[]Value
	b      []byte
	i      int
	// stack collects the elements of the arrays being parsed, so each
	// array is allocated once at its final size instead of growing.
	stack []Value
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	if p.i < len(p.b) && p.b[p.i] > ' ' { // compact JSON, what panels send
		return
	}
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if p.i >= len(p.b) {
		return Value{}, p.errorf("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		return Value{Kind: String, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '{':
		return p.object(depth)
	default:
		return Value{}, p.errorf("unexpected %q", c)
	}
}

func (p *parser) array(depth int) (Value, error) {
	if depth >= maxDepth {
		return Value{}, p.errorf("nesting deeper than %d", maxDepth)
	}
	p.i++ // '['
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return Value{Kind: Array, Arr: []Value{}}, nil
	}
	if p.stack == nil {
		p.stack = p.scratch()
	}
	base := len(p.stack)
	for {
		p.skipSpace()
		e, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err // the parse is over; the stack is not reused
		}
		p.stack = append(p.stack, e)
		p.skipSpace()
		if p.i >= len(p.b) {
			return Value{}, p.errorf("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			arr := make([]Value, len(p.stack)-base)
			copy(arr, p.stack[base:])
			p.stack = p.stack[:base]
			return Value{Kind: Array, Arr: arr}, nil
		default:
			return Value{}, p.errorf("want ',' or ']' in array, got %q", p.b[p.i])
		}
	}
}

// object keeps a JSON object, which no known message contains, as a
// Literal holding its compact re-encoding, so newer firmware that sends one
// in a trailing field does not break decoding.
func (p *parser) object(depth int) (Value, error) {
	if depth >= maxDepth {
		return Value{}, p.errorf("nesting deeper than %d", maxDepth)
	}
	p.i++ // '{'
	out := []byte{'{'}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return Value{Kind: Literal, Str: "{}"}, nil
	}
	for n := 0; ; n++ {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return Value{}, p.errorf("want a string key in object")
		}
		k, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return Value{}, p.errorf("want ':' in object")
		}
		p.i++
		p.skipSpace()
		e, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		if n > 0 {
			out = append(out, ',')
		}
		out = appendString(out, k)
		out = append(out, ':')
		out = e.AppendJSON(out)
		p.skipSpace()
		if p.i >= len(p.b) {
			return Value{}, p.errorf("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return Value{Kind: Literal, Str: string(append(out, '}'))}, nil
		default:
			return Value{}, p.errorf("want ',' or '}' in object, got %q", p.b[p.i])
		}
	}
}

func (p *parser) literal(word string) (Value, error) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return Value{}, p.errorf("invalid literal")
	}
	p.i += len(word)
	return Value{Kind: Literal, Str: word}, nil
}

func (p *parser) number() (Value, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	switch n := p.i - digits; {
	case n == 0:
		return Value{}, p.errorf("number without digits")
	case n > 1 && p.b[digits] == '0':
		return Value{}, p.errorf("number with a leading zero")
	}
	integer := true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		integer = false
		p.i++
		if !p.digits() {
			return Value{}, p.errorf("fraction without digits")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return Value{}, p.errorf("exponent without digits")
		}
	}
	text := p.b[start:p.i]
	if integer && p.i-digits <= 18 {
		// At most 18 digits cannot overflow int64: skip strconv.
		var n int64
		for _, c := range p.b[digits:p.i] {
			n = n*10 + int64(c-'0')
		}
		if digits > start {
			n = -n
		}
		return Value{Kind: Int, Int: n}, nil
	}
	if integer {
		if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return Value{Kind: Int, Int: n}, nil
		}
	}
	return Value{Kind: Literal, Str: string(text)}, nil
}

func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// string parses a JSON string starting at the opening quote.
func (p *parser) string() (string, error) {
	p.i++ // opening quote
	start := p.i
	// Fast path: plain ASCII without escapes needs no copy beyond string().
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("unterminated escape")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						var ok2 bool
						if r2, ok2 = p.hex4(); !ok2 {
							return "", p.errorf("invalid \\u escape")
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save // lone surrogate; the next escape stands alone
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errorf("invalid escape %q", e)
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c) // raw control characters are allowed
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
