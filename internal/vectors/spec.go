package vectors

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SpecPath returns the path of a spec file from a package directory of
// this module: the spec sits in shared/spec beside the module, on
// developer machines and in CI.
func SpecPath(name string) string {
	return filepath.Join("..", "..", "shared", "spec", name)
}

// SpecBlocks returns the lines of every ```lang code block in the spec
// section whose heading starts with "## " + section + " " (e.g. "9." or
// "F."), in order.
func SpecBlocks(spec []byte, section, lang string) [][]string {
	var blocks [][]string
	inSection, inBlock := false, false
	sc := bufio.NewScanner(bytes.NewReader(spec))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = strings.HasPrefix(line, "## "+section+" ")
		case inSection && !inBlock && line == "```"+lang:
			inBlock = true
			blocks = append(blocks, nil)
		case inBlock && line == "```":
			inBlock = false
		case inBlock:
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], line)
		}
	}
	return blocks
}

// CheckCopy fails t unless file holds exactly want, the test vectors
// extracted from the spec; with update it first rewrites file. hint says
// how to regenerate it.
func CheckCopy(t testing.TB, file string, want []byte, update bool, hint string) {
	t.Helper()
	if update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the vectors in the spec; %s", file, hint)
	}
}

// ReadSpec reads a spec file, failing t with a clear message when the spec
// is not beside the module.
func ReadSpec(t testing.TB, name string) []byte {
	t.Helper()
	spec, err := os.ReadFile(SpecPath(name))
	if err != nil {
		t.Fatalf("the spec must sit beside the module (shared/spec): %v", err)
	}
	return spec
}
