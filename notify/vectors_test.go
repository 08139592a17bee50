package notify

import (
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// The spec's local vectors (spec: F.1, F.2) are read with
// vectors.ParseEntries; their values are one-line scalars: a single-quoted
// string, a double-quoted string, a bracketed list or a bare word, each
// optionally followed by a "# comment" (yamlValue).

// vector is one L-* entry.
type vector struct {
	ID     string
	Fields map[string]string // key → value, quotes removed, comment dropped
	Line   int
}

// knownKeys are the keys the L-* vectors use. An unknown key fails the
// load, so a spec change that adds one is noticed.
var knownKeys = []string{"raw_hex", "text", "expect_log", "expect", "expect_protocol", "guid", "configured_host", "source_ip"}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	vs, err := parseVectors(b)
	if err != nil {
		tb.Fatalf("%s: %v", vectorsFile, err)
	}
	return vs
}

// parseVectors reads the entries with the shared parser of the spec's
// vector format and decodes their one-line values.
func parseVectors(b []byte) ([]vector, error) {
	es, err := vectors.ParseEntries(b)
	if err != nil {
		return nil, err
	}
	var vs []vector
	for _, e := range es {
		if slices.ContainsFunc(vs, func(v vector) bool { return v.ID == e.ID }) {
			return nil, fmt.Errorf("line %d: duplicate id %s", e.Line, e.ID)
		}
		v := vector{ID: e.ID, Fields: map[string]string{}, Line: e.Line}
		for key, raw := range e.Fields {
			if !slices.Contains(knownKeys, key) {
				return nil, fmt.Errorf("%s (line %d): unknown key %q", e.ID, e.Line, key)
			}
			if strings.Contains(raw, "\n") {
				return nil, fmt.Errorf("%s (line %d): %s: values go on one line", e.ID, e.Line, key)
			}
			if v.Fields[key], err = yamlValue(raw); err != nil {
				return nil, fmt.Errorf("%s (line %d): %s: %v", e.ID, e.Line, key, err)
			}
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// yamlValue decodes a scalar and drops a trailing comment. Lists are
// returned with their brackets, for splitList.
func yamlValue(raw string) (string, error) {
	rest := ""
	var val string
	switch {
	case strings.HasPrefix(raw, "'"):
		var sb strings.Builder
		i := 1
		for ; i < len(raw); i++ {
			if raw[i] == '\'' {
				if i+1 < len(raw) && raw[i+1] == '\'' {
					sb.WriteByte('\'')
					i++
					continue
				}
				break
			}
			sb.WriteByte(raw[i])
		}
		if i >= len(raw) {
			return "", fmt.Errorf("unterminated string %s", raw)
		}
		val, rest = sb.String(), raw[i+1:]
	case strings.HasPrefix(raw, `"`):
		end := strings.IndexByte(raw[1:], '"')
		if end < 0 || strings.Contains(raw[1:end+1], `\`) {
			return "", fmt.Errorf("unsupported string %s", raw)
		}
		val, rest = raw[1:end+1], raw[end+2:]
	case strings.HasPrefix(raw, "["):
		end, err := listEnd(raw)
		if err != nil {
			return "", err
		}
		val, rest = raw[:end], raw[end:]
	default:
		val, _, _ = strings.Cut(raw, " #")
		val = strings.TrimSpace(val)
	}
	if r := strings.TrimSpace(rest); r != "" && !strings.HasPrefix(r, "#") {
		return "", fmt.Errorf("unexpected %q after the value", r)
	}
	return val, nil
}

// listEnd returns the length of the bracketed list at the start of s.
func listEnd(s string) (int, error) {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated list %s", s)
}

// splitList splits "[a(1, "x"), b]" into its top-level elements.
func splitList(s string) []string {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if s == "" {
		return nil
	}
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// datagram returns the exact bytes of a vector (spec: F conventions):
// raw_hex when given, else text followed by one NUL.
func (v vector) datagram() ([]byte, error) {
	if h, ok := v.Fields["raw_hex"]; ok {
		return hex.DecodeString(strings.Join(strings.Fields(h), ""))
	}
	t, ok := v.Fields["text"]
	if !ok {
		return nil, fmt.Errorf("vector %s has neither text nor raw_hex", v.ID)
	}
	return append([]byte(t), 0), nil
}

// drops reports whether the spec expects the reference to drop the
// datagram with a log line or an uncaught error.
func (v vector) drops() bool {
	_, logged := v.Fields["expect_log"]
	return logged || strings.HasPrefix(v.Fields["expect"], "dropped") || strings.HasPrefix(v.Fields["expect"], "not parsed")
}

func TestParseVectors(t *testing.T) {
	vs, err := parseVectors([]byte(`# preamble
- id: L-X
  text: '[170,[4,[3, "It''s", 1]]]'   # comment
  raw_hex: "5b 00"
  expect_protocol: [a(1, "x, y"), b(2)]  # c
  guid: DUMMYGUID
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"text": `[170,[4,[3, "It's", 1]]]`, "raw_hex": "5b 00",
		"expect_protocol": `[a(1, "x, y"), b(2)]`, "guid": "DUMMYGUID",
	}
	if len(vs) != 1 || vs[0].ID != "L-X" || fmt.Sprint(vs[0].Fields) != fmt.Sprint(want) {
		t.Fatalf("parseVectors = %+v, want one L-X with %v", vs, want)
	}
	if got := splitList(vs[0].Fields["expect_protocol"]); !slices.Equal(got, []string{`a(1, "x, y")`, "b(2)"}) {
		t.Errorf("splitList = %q", got)
	}
	if d, _ := vs[0].datagram(); string(d) != "[\x00" {
		t.Errorf("datagram = %q, want raw_hex bytes", d)
	}
	for _, bad := range []string{"  text: 'x'\n", "- id: A\n  nope: 1\n", "- id: A\n  text: 'x\n", "- id: A\n- id: A\n", "- id: A\n  guid: a\n  guid: b\n"} {
		if _, err := parseVectors([]byte(bad)); err == nil {
			t.Errorf("parseVectors(%q) succeeded", bad)
		}
	}
}
