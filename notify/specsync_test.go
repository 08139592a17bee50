package notify

import (
	"flag"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/local-vectors.yaml from the spec")

const vectorsFile = "testdata/local-vectors.yaml"

// TestVectorsMatchSpec keeps testdata/local-vectors.yaml a verbatim copy of the spec's
// L-* vectors, so a spec change cannot leave the table stale.
func TestVectorsMatchSpec(t *testing.T) {
	vectors.SyncTest(t, vectorsFile, "L-", "notify", 46, *update)
}
