package notify

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/local-vectors.yaml from the spec")

const vectorsFile = "testdata/local-vectors.yaml"

const vectorsPreamble = `# The L-* test vectors of spec: notifications-and-cloud.md F, copied
# verbatim and in order. Do not edit by hand; regenerate with
#   go generate ./notify
`

// extractVectors returns every entry of a ` + "```yaml" + ` block of spec
// section F whose id starts with "L-", verbatim and in order. An entry is
// its "- id:" line and the indented lines after it.
func extractVectors(spec []byte) []byte {
	var out bytes.Buffer
	out.WriteString(vectorsPreamble)
	for _, block := range vectors.SpecBlocks(spec, "F.", "yaml") {
		keep := false
		for _, line := range block {
			if strings.HasPrefix(line, "- ") {
				keep = strings.HasPrefix(line, "- id: L-")
				if keep {
					out.WriteByte('\n')
				}
			}
			if keep {
				out.WriteString(line)
				out.WriteByte('\n')
			}
		}
	}
	return out.Bytes()
}

// TestVectorsMatchSpec keeps testdata/local-vectors.yaml a verbatim copy of
// the spec's local vectors, so a spec change cannot leave the table stale.
func TestVectorsMatchSpec(t *testing.T) {
	want := extractVectors(vectors.ReadSpec(t, "notifications-and-cloud.md"))
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go generate ./notify")
	if n := bytes.Count(want, []byte("\n- id: L-")); n < 46 {
		t.Errorf("extracted only %d vectors from the spec, want at least 46", n)
	}
}
