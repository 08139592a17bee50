package vectors

import (
	"bytes"
	"testing"
)

func TestParseEntries(t *testing.T) {
	es, err := ParseEntries([]byte(`# preamble
- id: C-A
  # a comment
  input_hex: "01 0a"          # two bytes
  block: |
    01 02
    03                        # three
  chunks:
    - words, not hex
    - |
      ff
  decoded: {a: 0x10, b: "x, y",
            c: 'q' + 00, d: 5 (why)}
  words: C-A then C-A
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != "C-A" {
		t.Fatalf("ParseEntries = %+v", es)
	}
	f := es[0].Fields
	if b, ok := Hex(f["input_hex"]); !ok || !bytes.Equal(b, []byte{1, 10}) {
		t.Errorf("Hex(input_hex) = % x, %v", b, ok)
	}
	if b, ok := Hex(f["block"]); !ok || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("Hex(block) = % x, %v", b, ok)
	}
	if _, ok := Hex(f["words"]); ok {
		t.Errorf("Hex of words succeeded")
	}
	items := Items(f["chunks"])
	if len(items) != 2 || items[0] != "words, not hex" {
		t.Fatalf("Items = %q", items)
	}
	if b, ok := Hex(items[1]); !ok || !bytes.Equal(b, []byte{0xff}) {
		t.Errorf("Hex(item 2) = % x, %v", b, ok)
	}
	m, err := FlowMap(f["decoded"])
	if err != nil || m["a"] != "0x10" || m["b"] != `"x, y"` || m["c"] != "'q' + 00" || m["d"] != "5 (why)" || len(m) != 4 {
		t.Errorf("FlowMap = %q, %v", m, err)
	}
	for _, bad := range []string{"  key: v\n", "- id: A\n  k: 1\n  k: 2\n", "- id: A\nnope\n", "- id: A\n    orphan\n"} {
		if _, err := ParseEntries([]byte(bad)); err == nil {
			t.Errorf("ParseEntries(%q) succeeded", bad)
		}
	}
}

func TestCopyEntries(t *testing.T) {
	spec := []byte("## E. Other\n```yaml\n- id: C-NO\n```\n## F. Vectors\n```yaml\n- id: L-X\n  text: 'x'\n\n- id: C-A\n  input_hex: \"01\"\n\n  expect: none\n- id: CH-B\n  mode: chained\n```\n")
	got := string(CopyEntries(spec, "F.", "C-", "# pre\n"))
	if want := "# pre\n\n- id: C-A\n  input_hex: \"01\"\n  expect: none\n"; got != want {
		t.Errorf("CopyEntries =\n%s\nwant\n%s", got, want)
	}
}
