package notify

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

//go:generate go test -run ^TestVectorsMatchSpec$ -update

var update = flag.Bool("update", false, "rewrite testdata/local-vectors.yaml from the spec")

// specPath is where the spec sits in every checkout: shared/ beside the
// module, as on developer machines and in CI.
var specPath = filepath.Join("..", "..", "shared", "spec", "notifications-and-cloud.md")

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
	inF, inBlock, keep := false, false, false
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inF = strings.HasPrefix(line, "## F. ")
		case inF && !inBlock && line == "```yaml":
			inBlock, keep = true, false
		case inBlock && line == "```":
			inBlock = false
		case inBlock:
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
		t.Errorf("%s differs from the L-* vectors in %s; run go generate ./notify", vectorsFile, specPath)
	}
	if n := bytes.Count(want, []byte("\n- id: L-")); n < 46 {
		t.Errorf("extracted only %d vectors from the spec, want at least 46", n)
	}
}
