package protocol

import (
	"bytes"
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txt from the spec")

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
	for _, block := range vectors.SpecBlocks(spec, "9.", "text") {
		out.WriteByte('\n')
		for _, line := range block {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// TestVectorsMatchSpec keeps testdata/vectors.txt a verbatim copy of the
// spec's vectors, so a spec change cannot leave the tables stale.
func TestVectorsMatchSpec(t *testing.T) {
	want := extractVectors(vectors.ReadSpec(t, "local-protocol.md"))
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go test ./protocol -run TestVectorsMatchSpec -update")
	if n := bytes.Count(want, []byte("\n@vector ")); n < 90 {
		t.Errorf("extracted only %d vectors from the spec", n)
	}
}
