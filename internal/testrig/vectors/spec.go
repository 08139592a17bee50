package vectors

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SpecPath returns the path of a file of the protocol specification, which
// lives in the module's spec/ folder, from the working directory of a test
// anywhere in the module (go test runs in the package's directory).
func SpecPath(name string) string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("spec", name)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "spec", name)
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "spec", name)
		}
	}
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

// ReadSpec reads a spec file from the module's spec/ folder.
func ReadSpec(t testing.TB, name string) []byte {
	t.Helper()
	spec, err := os.ReadFile(SpecPath(name))
	if err != nil {
		t.Fatalf("read the protocol spec (spec/ in this module): %v", err)
	}
	return spec
}
