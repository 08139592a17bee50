package cloud

import (
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/chained-vectors.yaml from the spec")

const vectorsFile = "testdata/chained-vectors.yaml"

// TestVectorsMatchSpec keeps testdata/chained-vectors.yaml a verbatim copy of the spec's
// CH-* vectors, so a spec change cannot leave the table stale.
func TestVectorsMatchSpec(t *testing.T) {
	vectors.SyncTest(t, vectorsFile, "CH-", "cloud", 3, *update)
}
