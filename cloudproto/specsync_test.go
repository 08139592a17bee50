package cloudproto

import (
	"bytes"
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/cloud-vectors.yaml from the spec")

const vectorsFile = "testdata/cloud-vectors.yaml"

// TestVectorsMatchSpec keeps testdata/cloud-vectors.yaml a verbatim copy
// of the spec's cloud vectors, so a spec change cannot leave the table
// stale.
func TestVectorsMatchSpec(t *testing.T) {
	want := vectors.CopyEntries(vectors.ReadSpec(t, "notifications-and-cloud.md"), "F.", "C-",
		`# The C-* test vectors of spec: notifications-and-cloud.md F, copied
# verbatim and in order. Do not edit by hand; regenerate with
#   go generate ./cloudproto
`)
	vectors.CheckCopy(t, vectorsFile, want, *update, "run go generate ./cloudproto")
	if n := bytes.Count(want, []byte("\n- id: C-")); n < 22 {
		t.Errorf("extracted only %d vectors from the spec, want at least 22", n)
	}
}
