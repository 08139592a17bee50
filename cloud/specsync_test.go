package cloud

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/chained-vectors.yaml from the spec")

const vectorsFile = "testdata/chained-vectors.yaml"

// extractVectors returns every entry of a ` + "```yaml" + ` block of spec
// section F whose id starts with "CH-", verbatim and in order.
func extractVectors(spec []byte) []byte {
	var out bytes.Buffer
	out.WriteString(`# The CH-* test vectors of spec: notifications-and-cloud.md F, copied
# verbatim and in order. Do not edit by hand; regenerate with
#   go generate ./cloud
`)
	for _, block := range vectors.SpecBlocks(spec, "F.", "yaml") {
		keep := false
		for _, line := range block {
			if strings.HasPrefix(line, "- ") {
				keep = strings.HasPrefix(line, "- id: CH-")
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

// TestVectorsMatchSpec keeps testdata/chained-vectors.yaml a verbatim copy
// of the spec's chained-mode vectors.
func TestVectorsMatchSpec(t *testing.T) {
	want := extractVectors(vectors.ReadSpec(t, "notifications-and-cloud.md"))
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go generate ./cloud")
	if n := bytes.Count(want, []byte("\n- id: CH-")); n < 3 {
		t.Errorf("extracted only %d vectors from the spec, want at least 3", n)
	}
}
