package protocol

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txt from the spec")

// specPath is where the spec sits in every checkout: shared/ beside the
// module, as on developer machines and in CI.
var specPath = filepath.Join("..", "..", "shared", "spec", "local-protocol.md")

const vectorsFile = "testdata/vectors.txt"

const vectorsPreamble = `# Test vectors of spec: local-protocol.md 9 (9.1-9.11): every "text" block,
# copied verbatim and in order. Do not edit by hand; regenerate with
#   go test ./protocol -run TestVectorsMatchSpec -update
`

// extractVectors returns every ` + "```text" + ` block of spec section 9, in
// order, separated by blank lines.
func extractVectors(spec []byte) []byte {
	var out bytes.Buffer
	out.WriteString(vectorsPreamble)
	in9, inBlock := false, false
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in9 = strings.HasPrefix(line, "## 9. ")
		case in9 && !inBlock && line == "```text":
			inBlock = true
			out.WriteByte('\n')
		case inBlock && line == "```":
			inBlock = false
		case inBlock:
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// TestVectorsMatchSpec keeps testdata/vectors.txt a verbatim copy of the
// spec's vectors, so a spec change cannot leave the tables stale.
func TestVectorsMatchSpec(t *testing.T) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("the spec must sit beside the module (shared/spec): %v", err)
	}
	want := extractVectors(spec)
	if *update {
		if err := os.WriteFile(vectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the vectors in %s; run go test ./protocol -run TestVectorsMatchSpec -update", vectorsFile, specPath)
	}
	if n := bytes.Count(want, []byte("\n@vector ")); n < 90 {
		t.Errorf("extracted only %d vectors from the spec", n)
	}
}
