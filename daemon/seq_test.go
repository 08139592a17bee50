package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openSeq(t *testing.T, path string, floor map[string]uint64) *seqFile {
	t.Helper()
	f, err := openSeqFile(path, floor, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func nextN(f *seqFile, guid string, n int) (last uint64) {
	for range n {
		last = f.next(guid)
	}
	return last
}

// Numbers go on across a clean restart without a gap, and across a crash
// (no close) with a gap but never twice; each panel has its own.
func TestSeqFileRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	f := openSeq(t, path, nil)
	if n := f.next("A"); n != 1 {
		t.Fatalf("first number %d, want 1", n)
	}
	if n := nextN(f, "A", 4); n != 5 {
		t.Fatalf("fifth number %d", n)
	}
	if n := f.next("B"); n != 1 {
		t.Fatalf("panel B's first number %d, want 1", n)
	}
	// A crash: nothing more is written. The reservation covers what was
	// handed out.
	crashed := openSeq(t, path, nil)
	if n := crashed.next("A"); n != seqBlock+1 {
		t.Fatalf("after a crash: %d, want %d (past the reserved block)", n, seqBlock+1)
	}
	if err := crashed.close(); err != nil {
		t.Fatal(err)
	}
	clean := openSeq(t, path, nil)
	if n := clean.next("A"); n != seqBlock+2 {
		t.Fatalf("after a clean stop: %d, want %d", n, seqBlock+2)
	}
	if n := clean.next("B"); n <= 1 {
		t.Fatalf("panel B after restarts: %d", n)
	}
	// A block used up reserves the next one before handing out from it.
	nextN(clean, "A", seqBlock)
	again := openSeq(t, path, nil)
	if n := again.next("A"); n <= 2*seqBlock+2 {
		t.Fatalf("after the second block: %d", n)
	}
}

// The journal's numbers are a floor: a state_dir from before seq.json
// goes on after them.
func TestSeqFileJournalFloor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	f := openSeq(t, path, map[string]uint64{"A": 3907})
	if n := f.next("A"); n != 3908 {
		t.Fatalf("%d, want 3908", n)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	// A journal behind the file (events it dropped) does not take the
	// numbers back.
	g := openSeq(t, path, map[string]uint64{"A": 10})
	if n := g.next("A"); n != 3909 {
		t.Fatalf("%d, want 3909", n)
	}
}

// A damaged file is moved aside, and the numbers jump well past the
// journal's, so none the lost file covered comes again.
func TestSeqFileDamaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seq.json")
	if err := os.WriteFile(path, []byte(`{"panels":{"A":12`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := openSeq(t, path, map[string]uint64{"A": 50})
	if n := f.next("A"); n != 50+seqSkip+1 {
		t.Fatalf("%d, want %d", n, 50+seqSkip+1)
	}
	ents, _ := os.ReadDir(dir)
	var aside bool
	for _, e := range ents {
		aside = aside || strings.HasPrefix(e.Name(), "seq.json.damaged-")
	}
	if !aside {
		t.Fatalf("damaged file not kept: %v", ents)
	}
}

// A file that cannot be read at all (a directory in its place) is an
// error at start naming it, not a silent restart from 1.
func TestSeqFileUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := openSeqFile(path, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "seq.json") {
		t.Fatalf("err %v, want one naming the file", err)
	}
}

// parseSeq never panics, and what it accepts writes back the same.
func FuzzParseSeq(f *testing.F) {
	for _, s := range []string{`{"panels":{}}`, `{"panels":{"A":1,"":7}}`, `{"panels":{"A":-1}}`, `{"panels":null}`, `[]`, `{"panels":{"A":18446744073709551615}}`, `{"panels":{"A":1e3}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseSeq(b)
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "seq.json")
		sf := &seqFile{path: path}
		if err := sf.write(got); err != nil {
			t.Fatal(err)
		}
		back, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseSeq(back)
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: wrote %q, read back %v %v", b, back, again, err)
		}
		for k, v := range got {
			if again[k] != v {
				t.Fatalf("%q: %s=%d read back as %d", b, k, v, again[k])
			}
		}
	})
}
