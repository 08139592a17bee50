package vectors

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Entry is one "- id:" entry of the YAML test vectors of spec:
// notifications-and-cloud.md F, for the subset of YAML the cloud vectors
// use: "key: value" lines indented by two spaces, whose value may go on
// over more deeply indented lines (a "|" block, a "- " list, a "{...}"
// map). Comment lines between keys are dropped.
type Entry struct {
	ID string
	// Fields maps a key to its raw value: the rest of its line and every
	// continuation line, joined with "\n" and with the indentation kept.
	Fields map[string]string
	Line   int
}

// ParseEntries parses YAML vector entries. Anything but an entry, a key,
// a continuation, a comment or a blank line is an error, and so is a key
// given twice, so a spec change that breaks the subset is noticed.
func ParseEntries(b []byte) ([]Entry, error) {
	var (
		es  []Entry
		key string
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "- id: "):
			es = append(es, Entry{ID: strings.TrimPrefix(line, "- id: "), Fields: map[string]string{}, Line: n})
			key = ""
			continue
		}
		if len(es) == 0 {
			return nil, fmt.Errorf("line %d: %q before the first entry", n, line)
		}
		e := &es[len(es)-1]
		switch {
		case strings.HasPrefix(line, "   "):
			if key == "" {
				return nil, fmt.Errorf("line %d: continuation without a key: %q", n, line)
			}
			e.Fields[key] += "\n" + line
		case strings.HasPrefix(line, "  #"):
		case strings.HasPrefix(line, "  "):
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "  "), ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("line %d: not a key: %q", n, line)
			}
			if _, dup := e.Fields[k]; dup {
				return nil, fmt.Errorf("line %d: %s given twice in %s", n, k, e.ID)
			}
			key = k
			e.Fields[k] = strings.TrimSpace(v)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", n, line)
		}
	}
	return es, sc.Err()
}

// StripComment drops a " # comment" outside quotes from one line.
func StripComment(s string) string {
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

// Hex decodes a value written as hex bytes: a double-quoted string, or a
// "|" block whose lines may end in comments. ok is false for a value in
// words, e.g. "C-HELLO bytes immediately followed by C-PING bytes".
func Hex(raw string) (b []byte, ok bool) {
	var text string
	switch first, rest, _ := strings.Cut(raw, "\n"); {
	case StripComment(first) == "|":
		for _, l := range strings.Split(rest, "\n") {
			text += StripComment(l) + " "
		}
	case strings.HasPrefix(first, `"`):
		q := StripComment(first)
		if len(q) < 2 || !strings.HasSuffix(q, `"`) || rest != "" {
			return nil, false
		}
		text = q[1 : len(q)-1]
	default:
		return nil, false
	}
	for _, tok := range strings.Fields(text) {
		if len(tok) != 2 {
			return nil, false
		}
		v, err := hex.DecodeString(tok)
		if err != nil {
			return nil, false
		}
		b = append(b, v[0])
	}
	return b, len(b) > 0
}

// Items returns the items of a "- " list value, each the text after its
// "- " with its continuation lines (e.g. a "|" block) joined by "\n".
func Items(raw string) []string {
	var items []string
	for _, l := range strings.Split(raw, "\n")[1:] {
		t := strings.TrimSpace(l)
		if it, ok := strings.CutPrefix(t, "- "); ok {
			items = append(items, it)
		} else if len(items) > 0 {
			items[len(items)-1] += "\n" + l
		}
	}
	return items
}

// FlowMap parses a "{key: value, ...}" value that may span lines. Values
// are returned as written (quotes kept) without surrounding space.
func FlowMap(raw string) (map[string]string, error) {
	var lines []string
	for _, l := range strings.Split(raw, "\n") {
		lines = append(lines, StripComment(l))
	}
	s := strings.TrimSpace(strings.Join(lines, " "))
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("not a {...} map: %q", s)
	}
	s = s[1 : len(s)-1]
	m := map[string]string{}
	quote, depth, start := byte(0), 0, 0
	add := func(part string) error {
		if strings.TrimSpace(part) == "" {
			return nil
		}
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			return fmt.Errorf("not key: value: %q", part)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			if err := add(s[start:i]); err != nil {
				return nil, err
			}
			start = i + 1
		}
	}
	return m, add(s[start:])
}

// CopyEntries returns preamble followed by every entry of a ```yaml block
// of the spec section (see SpecBlocks) whose id starts with idPrefix,
// verbatim and in order, each after one blank line; blank lines inside
// entries are dropped. Packages keep this copy in testdata and check it
// with CheckCopy, so a spec change cannot leave their tables stale.
func CopyEntries(spec []byte, section, idPrefix, preamble string) []byte {
	var out bytes.Buffer
	out.WriteString(preamble)
	for _, block := range SpecBlocks(spec, section, "yaml") {
		keep := false
		for _, line := range block {
			if strings.HasPrefix(line, "- ") {
				keep = strings.HasPrefix(line, "- id: "+idPrefix)
				if keep {
					out.WriteByte('\n')
				}
			}
			if keep && line != "" {
				out.WriteString(line)
				out.WriteByte('\n')
			}
		}
	}
	return out.Bytes()
}

// SyncTest is a package's whole spec-sync test: the entries of spec
// notifications-and-cloud.md section F whose id starts with idPrefix,
// copied with CopyEntries into file (rewritten when update is set, by
// `go generate ./pkg`), must equal file, and there must be at least min
// of them.
func SyncTest(t testing.TB, file, idPrefix, pkg string, min int, update bool) {
	t.Helper()
	want := CopyEntries(ReadSpec(t, "notifications-and-cloud.md"), "F.", idPrefix,
		"# The "+idPrefix+"* test vectors of spec: notifications-and-cloud.md F, copied\n"+
			"# verbatim and in order. Do not edit by hand; regenerate with\n"+
			"#   go generate ./"+pkg+"\n")
	CheckCopy(t, file, want, update, "run go generate ./"+pkg)
	if n := bytes.Count(want, []byte("\n- id: "+idPrefix)); n < min {
		t.Errorf("extracted only %d %s* vectors from the spec, want at least %d", n, idPrefix, min)
	}
}

// EntryHex returns the hex field key of the entry id in the YAML vector
// file at path, failing tb when either is missing.
func EntryHex(tb testing.TB, path, id, key string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	es, err := ParseEntries(b)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range es {
		if e.ID == id {
			if h, ok := Hex(e.Fields[key]); ok {
				return h
			}
		}
	}
	tb.Fatalf("%s: no entry %s with a hex %s", path, id, key)
	return nil
}
