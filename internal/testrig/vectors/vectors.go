// Package vectors reads the golden exchanges of the local protocol: the
// test vectors of spec: local-protocol.md 9, kept verbatim in
// protocol/testdata/vectors.txt. Codec, client and simulator tests all
// drive their tables from this one file.
//
// The line format is the one of spec: local-protocol.md 9.0:
//
//	@vector host_status
//	> ISTART[100,100,""]IEND\u0000
//	< ISTART[100,[3,"PHONE","PRODUCT","206","206"]]IEND\u0000
//	= host_status=3 (disarmed)
//
// Usage:
//
//	vs, err := vectors.Load("../protocol/testdata/vectors.txt")
//	for _, v := range vs {
//		for _, s := range v.Steps {
//			switch s.Kind {
//			case vectors.Send: // s.Bytes is the client's datagram
//			case vectors.Reply: // s.Bytes is the panel's answer to it
//			}
//		}
//	}
package vectors

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Kind is what one line of a vector stands for.
type Kind uint8

// Step kinds, one per line marker of spec: local-protocol.md 9.0.
const (
	Send    Kind = iota + 1 // "> ": datagram client → panel
	Reply                   // "< " or "<hex ": datagram panel → client answering the last Send
	Notify                  // "^ ": unsolicited datagram to the client's port 12901
	Silence                 // "!": the panel sends nothing; the attempt times out
	Expect                  // "= ": expected outcome or decoded values (informative)
	Comment                 // "# ": comment
)

var kindNames = [...]string{Send: "send", Reply: "reply", Notify: "notify", Silence: "silence", Expect: "expect", Comment: "comment"}

func (k Kind) String() string {
	if k >= Send && k <= Comment {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Step is one line of a vector.
type Step struct {
	Kind Kind
	// Bytes is the exact datagram of a Send, Reply or Notify: "\u0000"
	// decoded to a NUL byte, "<hex" lines decoded from hex. Nil otherwise.
	Bytes []byte
	// Text is the line after its marker, as written: the datagram text,
	// the hex digits, or the expectation or comment.
	Text string
	// Line is the 1-based line number in the parsed input.
	Line int
}

// Vector is one "@vector" block.
type Vector struct {
	ID string
	// Dest is the "@dest" address, e.g. "255.255.255.255:12900"; empty
	// means the panel's unicast address and port 12368.
	Dest string
	// Opts holds the "@opts" client settings, e.g. "retries" → "3". Never
	// nil.
	Opts  map[string]string
	Steps []Step
	Line  int // line of the "@vector" header
}

// Find returns the vector with the given ID.
func Find(vs []Vector, id string) (Vector, bool) {
	for _, v := range vs {
		if v.ID == id {
			return v, true
		}
	}
	return Vector{}, false
}

// Load parses the vector file at path.
func Load(path string) ([]Vector, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vs, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vs, nil
}

// Parse reads vectors in the format of spec: local-protocol.md 9.0.
// Comments and blank lines before the first "@vector" are a preamble and
// are dropped. Parse is strict, so a mistyped vector file fails loudly:
// unknown markers, trailing white space on datagram lines (spec 9.0: lines
// have no trailing spaces), backslashes other than "\u0000", bad hex,
// duplicate IDs and vectors without steps are errors.
func Parse(r io.Reader) ([]Vector, error) {
	var (
		vs  []Vector
		cur *Vector
		ids = map[string]bool{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		fail := func(format string, args ...any) error {
			return fmt.Errorf("vectors: line %d: %s", n, fmt.Sprintf(format, args...))
		}
		if line == "" {
			continue
		}
		if id, ok := strings.CutPrefix(line, "@vector "); ok {
			if err := finish(cur, &vs); err != nil {
				return nil, err
			}
			if id == "" || strings.ContainsAny(id, " \t") {
				return nil, fail("bad vector id %q", id)
			}
			if ids[id] {
				return nil, fail("duplicate vector %q", id)
			}
			ids[id] = true
			cur = &Vector{ID: id, Opts: map[string]string{}, Line: n}
			continue
		}
		if cur == nil {
			if strings.HasPrefix(line, "#") {
				continue // preamble
			}
			return nil, fail("%q before the first @vector", line)
		}
		if strings.HasPrefix(line, "@dest ") || strings.HasPrefix(line, "@opts ") {
			if err := header(cur, line); err != nil {
				return nil, fail("%v", err)
			}
			continue
		}
		step, err := parseStep(line)
		if err != nil {
			return nil, fail("%v", err)
		}
		step.Line = n
		cur.Steps = append(cur.Steps, step)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	if err := finish(cur, &vs); err != nil {
		return nil, err
	}
	return vs, nil
}

func finish(v *Vector, vs *[]Vector) error {
	if v == nil {
		return nil
	}
	if len(v.Steps) == 0 {
		return fmt.Errorf("vectors: line %d: vector %q has no steps", v.Line, v.ID)
	}
	*vs = append(*vs, *v)
	return nil
}

// header applies an "@dest" or "@opts" line.
func header(v *Vector, line string) error {
	if d, ok := strings.CutPrefix(line, "@dest "); ok {
		if v.Dest != "" {
			return fmt.Errorf("second @dest in vector %q", v.ID)
		}
		if d == "" || strings.ContainsAny(d, " \t") {
			return fmt.Errorf("bad @dest %q", d)
		}
		v.Dest = d
		return nil
	}
	opts, _ := strings.CutPrefix(line, "@opts ")
	for _, kv := range strings.Fields(opts) {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("@opts entry %q is not key=value", kv)
		}
		if _, dup := v.Opts[k]; dup {
			return fmt.Errorf("@opts key %q given twice", k)
		}
		v.Opts[k] = val
	}
	return nil
}

// parseStep decodes one step line. Spec 9.0: test for "<hex " before "< ".
func parseStep(line string) (Step, error) {
	if line == "!" {
		return Step{Kind: Silence}, nil
	}
	if text, ok := strings.CutPrefix(line, "<hex "); ok {
		b, err := hex.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil || len(b) == 0 {
			return Step{}, fmt.Errorf("bad hex datagram %q", text)
		}
		return Step{Kind: Reply, Bytes: b, Text: text}, nil
	}
	for _, m := range []struct {
		prefix string
		kind   Kind
	}{{"> ", Send}, {"< ", Reply}, {"^ ", Notify}, {"= ", Expect}, {"# ", Comment}} {
		text, ok := strings.CutPrefix(line, m.prefix)
		if !ok {
			continue
		}
		if m.kind == Expect || m.kind == Comment {
			return Step{Kind: m.kind, Text: text}, nil
		}
		b, err := datagram(text)
		if err != nil {
			return Step{}, err
		}
		return Step{Kind: m.kind, Bytes: b, Text: text}, nil
	}
	if line == "#" {
		return Step{Kind: Comment}, nil
	}
	return Step{}, fmt.Errorf("unknown line %q", line)
}

const nulEscape = `\u0000`

// datagram applies the byte rules of spec: local-protocol.md 9.0.
func datagram(text string) ([]byte, error) {
	if text == "" {
		return nil, fmt.Errorf("empty datagram")
	}
	if t := strings.TrimRight(text, " \t"); t != text {
		return nil, fmt.Errorf("trailing white space in datagram %q", text)
	}
	b := []byte(strings.ReplaceAll(text, nulEscape, "\x00"))
	if bytes.IndexByte(b, '\\') >= 0 {
		return nil, fmt.Errorf(`backslash other than \u0000 in datagram %q`, text)
	}
	return b, nil
}
