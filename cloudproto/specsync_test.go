package cloudproto

import (
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/cloud-vectors.yaml from the spec")

const vectorsFile = "testdata/cloud-vectors.yaml"

// TestVectorsMatchSpec keeps testdata/cloud-vectors.yaml a verbatim copy of the spec's
// C-* vectors, so a spec change cannot leave the table stale.
func TestVectorsMatchSpec(t *testing.T) {
	vectors.SyncTest(t, vectorsFile, "C-", "cloudproto", 22, *update)
}
