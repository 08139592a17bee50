package cloudproto

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/cloud-vectors.yaml from the spec")

const vectorsFile = "testdata/cloud-vectors.yaml"

const vectorsPreamble = `# The C-* test vectors of spec: notifications-and-cloud.md F, copied
# verbatim and in order. Do not edit by hand; regenerate with
#   go generate ./cloudproto
`

// extractVectors returns every entry of a ` + "```yaml" + ` block of spec
// section F whose id starts with "C-", verbatim and in order.
func extractVectors(spec []byte) []byte {
	var out bytes.Buffer
	out.WriteString(vectorsPreamble)
	for _, block := range vectors.SpecBlocks(spec, "F.", "yaml") {
		keep := false
		for _, line := range block {
			if strings.HasPrefix(line, "- ") {
				keep = strings.HasPrefix(line, "- id: C-")
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

// TestVectorsMatchSpec keeps testdata/cloud-vectors.yaml a verbatim copy
// of the spec's cloud vectors, so a spec change cannot leave the table
// stale.
func TestVectorsMatchSpec(t *testing.T) {
	want := extractVectors(vectors.ReadSpec(t, "notifications-and-cloud.md"))
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go generate ./cloudproto")
	if n := bytes.Count(want, []byte("\n- id: C-")); n < 22 {
		t.Errorf("extracted only %d vectors from the spec, want at least 22", n)
	}
}
