package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Value
	}{
		{"int", "206", IntValue(206)},
		{"negative int", "-720", IntValue(-720)},
		{"zero", "0", IntValue(0)},
		{"minus zero", "-0", IntValue(0)},
		{"min int64", "-9223372036854775808", Value{Kind: Int, Int: -1 << 63}},
		{"string", `"Remote"`, StringValue("Remote")},
		{"empty string", `""`, StringValue("")},
		{"empty array", "[]", ArrayValue()},
		{"nested", `[102,[[1,1,1],["Remote",10]]]`, jv(102, jv(jv(1, 1, 1), jv("Remote", 10)))},

		// spec: local-protocol.md 1.5: whitespace must be accepted.
		{"spaces after commas", `["1234", "11111111", ""]`, jv("1234", "11111111", "")},
		{"all whitespace kinds", " \t\r\n[ 1 ,\n\"a\" \t]\r\n ", jv(1, "a")},
		{"space in empty array", "[ ]", ArrayValue()},

		// spec 1.5 step 8 and 7.2: raw control characters inside strings.
		{"raw newline and tab", "\"a\nb\tc\"", StringValue("a\nb\tc")},
		{"raw NUL and 0x1f", "\"\x00\x1f\"", StringValue("\x00\x1f")},
		{"raw DEL", "\"\x7f\"", StringValue("\x7f")},

		// spec 1.5 step 4: invalid UTF-8 becomes U+FFFD, byte by byte.
		{"invalid byte", "\"a\xffb\"", StringValue("a\uFFFDb")},
		{"two invalid bytes", "\"\xff\xfe\"", StringValue("\uFFFD\uFFFD")},
		{"encoded surrogate", "\"\xed\xa0\x80\"", StringValue("\uFFFD\uFFFD\uFFFD")},
		{"valid UTF-8 kept", "\"Дверь\"", StringValue("Дверь")},
		{"invalid after escape", "\"\\n\xff\"", StringValue("\n\uFFFD")},

		// Escapes.
		{"short escapes", `"\"\\\/\b\f\n\r\t"`, StringValue("\"\\/\b\f\n\r\t")},
		{"u escape ASCII", `"\u0041"`, StringValue("A")},
		{"u escape NUL", `"\u0000"`, StringValue("\x00")},
		{"u escape Cyrillic", `"\u0414\u0432\u0435\u0440\u044c"`, StringValue("Дверь")},
		{"u escape upper hex", `"\u044C"`, StringValue("ь")},
		{"surrogate pair", `"\ud83d\ude00"`, StringValue("😀")},
		{"lone high surrogate", `"\ud800x"`, StringValue("\uFFFDx")},
		{"lone high at end", `"\ud800"`, StringValue("\uFFFD")},
		{"lone low surrogate", `"\udc00"`, StringValue("\uFFFD")},
		{"high then non-surrogate escape", `"\ud800\u0041"`, StringValue("\uFFFDA")},
		{"high then high then low", `"\ud800\ud83d\ude00"`, StringValue("\uFFFD😀")},
		{"reversed pair", `"\ude00\ud83d"`, StringValue("\uFFFD\uFFFD")},

		// Anything else is kept verbatim as a Literal (value.go Kind).
		{"true", "true", Value{Kind: Literal, Str: "true"}},
		{"false", "false", Value{Kind: Literal, Str: "false"}},
		{"null", "null", Value{Kind: Literal, Str: "null"}},
		{"fraction", "1.50", Value{Kind: Literal, Str: "1.50"}},
		{"exponent", "-0.5e+10", Value{Kind: Literal, Str: "-0.5e+10"}},
		{"integer exponent", "1E2", Value{Kind: Literal, Str: "1E2"}},
		{"big int", "9223372036854775808", Value{Kind: Literal, Str: "9223372036854775808"}},
		{"big negative int", "-99999999999999999999", Value{Kind: Literal, Str: "-99999999999999999999"}},
		{"empty object", "{ }", Value{Kind: Literal, Str: "{}"}},
		{"object compacted", `{ "a" : [1, 2] , "b":{}, "c":"Д" }`, Value{Kind: Literal, Str: `{"a":[1,2],"b":{},"c":"\u0414"}`}},
		{"object in array", `[1,{"x":null}]`, jv(1, Value{Kind: Literal, Str: `{"x":null}`})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseValue([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseValue(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) || got.Kind != tc.want.Kind {
				t.Errorf("ParseValue(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			// Whatever parses re-encodes to text that parses the same.
			again, err := ParseValue(got.AppendJSON(nil))
			if err != nil || !again.Equal(got) {
				t.Errorf("re-parse of %s = %#v, %v", got, again, err)
			}
		})
	}
}

func TestParseValueErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int
	}{
		{"", 0},
		{"  ", 2},
		{"[", 1},
		{"[1,]", 3},
		{"[1 2]", 3},
		{"[1,2", 4},
		{"1 2", 2},
		{"]", 0},
		{`"abc`, 4},
		{`"\`, 1},
		{`"\x"`, 3},
		{`"\u12"`, 3},
		{`"\u12g4"`, 3},
		{`"\ud800\u12"`, 9},
		{"tru", 0},
		{"nul", 0},
		{"-", 1},
		{"--1", 1},
		{"+1", 0},
		{"1.", 2},
		{"1.e5", 2},
		{"1e", 2},
		{"1e+", 3},
		{".5", 0},
		{"0x1F", 1},
		{"'a'", 0},
		{`{"a"}`, 4},
		{`{1:2}`, 1},
		{`{"a":1,}`, 7},
		{`{"a":1`, 6},
		{`{"a":1 "b":2}`, 7},
		{"\xde" + "adbeef", 0},
		// Leading zeros are not JSON.
		{"01", 2},
		{"-01", 3},
		{"00", 2},
		{"[007]", 4},
	} {
		_, err := ParseValue([]byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseValue(%q) error = %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset {
			t.Errorf("ParseValue(%q) error at byte %d, want %d (%v)", tc.in, se.Offset, tc.offset, err)
		}
		if !strings.Contains(err.Error(), "protocol: JSON syntax error at byte") {
			t.Errorf("error text %q", err)
		}
	}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
func TestParseValueDepth(t *testing.T) {
	nest := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	if _, err := ParseValue(nest("[", "]", maxDepth)); err != nil {
		t.Errorf("%d nested arrays: %v", maxDepth, err)
	}
	for _, b := range [][]byte{
		nest("[", "]", maxDepth+1),
		nest(`{"a":`, "}", maxDepth+1),
		nest(`[{"a":`, "}]", maxDepth/2+1),
		[]byte(strings.Repeat("[", 1<<20)), // no stack exhaustion on hostile input
	} {
		_, err := ParseValue(b)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "nesting deeper") {
			t.Errorf("ParseValue(%.40q…) error = %v, want a nesting error", b, err)
		}
	}
}

func TestAppendJSON(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want string
	}{
		{IntValue(-720), "-720"},
		{Value{Kind: Int, Int: -1 << 63}, "-9223372036854775808"},
		{StringValue(""), `""`},
		{StringValue(`a"b\c/`), `"a\"b\\c/"`},
		// spec: local-protocol.md 1.3: non-ASCII as \uXXXX escapes.
		{StringValue("Дверь"), `"\u0414\u0432\u0435\u0440\u044c"`},
		{StringValue("é"), `"\u00e9"`},
		{StringValue("😀"), `"\ud83d\ude00"`},
		{StringValue("\x00\n\x1f\x7f"), `"\u0000\u000a\u001f` + "\x7f" + `"`},
		{StringValue("a\xffb"), `"a\ufffdb"`},
		{StringValue("\uFFFD"), `"\ufffd"`},
		{ArrayValue(), "[]"},
		{ArrayValue(nil...), "[]"},
		{jv(1, "x", jv()), `[1,"x",[]]`},
		{Value{Kind: Literal, Str: "1.5e3"}, "1.5e3"},
		{Value{}, "null"},
	} {
		if got := string(tc.v.AppendJSON([]byte("prefix:"))); got != "prefix:"+tc.want {
			t.Errorf("AppendJSON(%#v) = %s, want prefix:%s", tc.v, got, tc.want)
		}
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestValueEqual(t *testing.T) {
	values := []Value{
		{},
		IntValue(1),
		IntValue(2),
		StringValue("1"),
		StringValue(""),
		{Kind: Literal, Str: "1"},
		{Kind: Literal, Str: "true"},
		ArrayValue(),
		jv(1),
		jv(1, 2),
		jv(jv(1)),
		jv("1"),
	}
	for i, a := range values {
		for j, b := range values {
			if got := a.Equal(b); got != (i == j) {
				t.Errorf("%#v.Equal(%#v) = %v", a, b, got)
			}
		}
	}
	// A nil and an empty array are the same JSON value.
	if !(Value{Kind: Array}).Equal(ArrayValue()) {
		t.Error("nil array differs from empty array")
	}
	// Unused fields of another kind do not matter.
	if !(Value{Kind: Int, Int: 1, Str: "x"}).Equal(IntValue(1)) {
		t.Error("Int with stray Str differs")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Invalid: "invalid", Int: "int", String: "string", Array: "array", Literal: "literal", 99: "invalid"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d) = %q, want %q", k, got, want)
		}
	}
}
