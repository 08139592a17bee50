package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/g90alarm/g90/event"
)

// stored is an entry as a good journal holds it, keyed by its time and
// seq.
type storedKey struct {
	at  int64
	seq uint64
}

// goodJournal writes a journal of n events from two panels and returns
// its bytes and its entries.
func goodJournal(t testing.TB, n int) ([]byte, map[storedKey]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.db")
	c := newClock()
	j := open(t, Config{Path: path, Now: c.Now})
	for i := range n {
		c.Add(1e6)
		if _, err := j.Append(mkEvent([]string{"GUID-A", "GUID-B"}[i%2], i)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[storedKey]string{}
	for _, e := range all(t, j, Query{}) {
		want[storedKey{e.Time.UnixNano(), e.Seq}] = e.Panel + " " + string(e.JSON)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, want
}

// useDamaged opens the file as a writer and as a reader, reads all of it,
// and for the writer appends: a damaged file may be refused (ErrCorrupt)
// or have damaged entries (ErrDamaged), but never crashes, and never
// yields an entry that differs from what was stored. It returns how the
// file fared.
func useDamaged(t *testing.T, path string, want map[storedKey]string) (outcome string) {
	t.Helper()
	outcome = "intact"
	for _, ro := range []bool{true, false} {
		j, err := Open(Config{Path: path, ReadOnly: ro, LockTimeout: -1})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read-only %v: Open: %v, want ErrCorrupt or success", ro, err)
			}
			if !ro {
				continue // the reader said how the file fared
			}
			outcome = "refused"
			// What g90 events does then: read what is readable.
			if j, err = Open(Config{Path: path, ReadOnly: true, Salvage: true, LockTimeout: -1}); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("salvage: Open: %v, want ErrCorrupt or success", err)
				}
				continue
			}
		}
		for e, err := range j.Query(Query{}) {
			if errors.Is(err, ErrDamaged) {
				outcome += ", entries damaged"
				continue
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("read-only %v: Query: %v", ro, err)
				}
				outcome += ", corrupt while reading"
				break
			}
			if w, ok := want[storedKey{e.Time.UnixNano(), e.Seq}]; !ok || w != e.Panel+" "+string(e.JSON) {
				t.Fatalf("read-only %v: an altered entry was returned as stored: %s seq %d %s %s (stored: %q)", ro, e.Time, e.Seq, e.Panel, e.JSON, w)
			}
		}
		if !ro {
			if _, err := j.Append(mkEvent("GUID-A", 1)); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Append: %v", err)
			}
		}
		if err := j.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
	}
	return outcome
}

// Truncated and byte-flipped journals are refused or read in part, never
// a crash (a truncated bbolt file faults in its mmap) and never an
// altered event.
func TestDamagedFiles(t *testing.T) {
	data, want := goodJournal(t, 300)
	dir := t.TempDir()
	// A new file each time: bbolt leaks its descriptor, with the file's
	// lock, when a fault stops it inside bolt.Open (see Journal.open).
	var path string
	write := func(b []byte) {
		path = filepath.Join(dir, fmt.Sprintf("damaged-%d.db", rand.Uint64()))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := func() string { write(data); return useDamaged(t, path, want) }(); got != "intact" {
		t.Fatalf("the good journal: %s", got)
	}
	outcomes := map[string]int{}
	pageSize := os.Getpagesize()
	for _, n := range []int{0, 1, 100, pageSize, 2 * pageSize, 3*pageSize + 17, len(data) / 2, len(data) - pageSize, len(data) - 1} {
		if n < 0 || n >= len(data) {
			continue
		}
		write(data[:n])
		outcomes["truncated: "+useDamaged(t, path, want)]++
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		b := bytes.Clone(data)
		off := rng.IntN(len(b))
		b[off] ^= byte(1 + rng.IntN(255))
		write(b)
		outcomes["flipped: "+useDamaged(t, path, want)]++
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["truncated: refused"] == 0 || outcomes["flipped: refused, entries damaged"] == 0 {
		t.Errorf("no damage was detected: %v", outcomes)
	}
}

// FuzzOpenFile: whatever bytes the file holds, opening and reading it
// (in order, and through the indexes) is an error or a success, never a
// crash.
func FuzzOpenFile(f *testing.F) {
	data, _ := goodJournal(f, 20)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte("not a database"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, fmt.Sprintf("fuzz-%d.db", rand.Uint64()))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		for _, ro := range []bool{true, false} {
			j, err := Open(Config{Path: path, ReadOnly: ro, LockTimeout: -1})
			if err != nil {
				continue
			}
			for range j.Query(Query{}) {
			}
			// And through the indexes, which the bytes may have damaged.
			for _, f := range []Filter{{Panel: "GUID-A"}, {Panel: "GUID-B", Sensor: true, Index: 3}, {Type: event.SensorActivity, Panel: "GUID-A"}} {
				for range j.HistoryAll(f) {
				}
			}
			j.Close()
		}
	})
}

// A version 1 journal (no checksums) is read as it is, and a writer adds
// the checksums once, keeping every entry.
func TestVersion1(t *testing.T) {
	data, want := goodJournal(t, 50)
	path := filepath.Join(t.TempDir(), "v1.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Strip the checksums, as version 1 stored entries.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		events, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
		var keys, values [][]byte
		events.ForEach(func(k, v []byte) error {
			keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v[sumLen:]))
			return nil
		})
		for i := range keys {
			if err := events.Put(keys[i], values[i]); err != nil {
				return err
			}
		}
		b := getUint(meta.Get(keyBytes)) - uint64(sumLen*len(keys))
		if err := meta.Put(keyBytes, binary.BigEndian.AppendUint64(nil, b)); err != nil {
			return err
		}
		return meta.Put(keyVersion, []byte(version1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	check := func(ro bool) {
		t.Helper()
		j, err := Open(Config{Path: path, ReadOnly: ro})
		if err != nil {
			t.Fatalf("read-only %v: %v", ro, err)
		}
		defer j.Close()
		got := all(t, j, Query{})
		if len(got) != len(want) {
			t.Fatalf("read-only %v: %d entries, want %d", ro, len(got), len(want))
		}
		for _, e := range got {
			if want[storedKey{e.Time.UnixNano(), e.Seq}] != e.Panel+" "+string(e.JSON) {
				t.Fatalf("read-only %v: entry %+v differs", ro, e)
			}
		}
	}
	check(true)  // as version 1
	check(false) // migrated
	check(true)  // as version 2
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keyVersion)); v != version {
			t.Errorf("after a writer opened it: version %q, want %q", v, version)
		}
		return nil
	})
}

// BenchmarkOpen: the whole-file check of Open, for a journal of 20,000
// events.
func BenchmarkOpen(b *testing.B) {
	for _, noIndex := range []bool{false, true} {
		b.Run(map[bool]string{false: "index", true: "noindex"}[noIndex], func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "journal.db")
			j := open(b, Config{Path: path, noSync: true, noIndex: noIndex})
			appendN(b, j, "SIMPANEL0001", 0, 20_000)
			j.Close()
			b.ReportAllocs()
			for b.Loop() {
				j, err := Open(Config{Path: path, ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				j.Close()
			}
		})
	}
}
