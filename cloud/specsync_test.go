package cloud

import (
	"bytes"
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/chained-vectors.yaml from the spec")

const vectorsFile = "testdata/chained-vectors.yaml"

// TestVectorsMatchSpec keeps testdata/chained-vectors.yaml a verbatim copy
// of the spec's chained-mode vectors.
func TestVectorsMatchSpec(t *testing.T) {
	want := vectors.CopyEntries(vectors.ReadSpec(t, "notifications-and-cloud.md"), "F.", "CH-",
		`# The CH-* test vectors of spec: notifications-and-cloud.md F, copied
# verbatim and in order. Do not edit by hand; regenerate with
#   go generate ./cloud
`)
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go generate ./cloud")
	if n := bytes.Count(want, []byte("\n- id: CH-")); n < 3 {
		t.Errorf("extracted only %d vectors from the spec, want at least 3", n)
	}
}
