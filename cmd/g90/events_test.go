package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/journal"
)

// runCLI executes the CLI in-process without a panel.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// writeJournal appends events of two panels; the first two were stored
// two hours ago, the others now. The journal stays open, as g90 serve keeps it.
func writeJournal(t *testing.T, path string, idle time.Duration) *journal.Journal {
	t.Helper()
	now := time.Now().Add(-2 * time.Hour)
	clock := func() time.Time { return now }
	j, err := journal.Open(journal.Config{Path: path, Now: clock, IdleClose: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{Type: event.ArmDisarm, Time: at, GUID: "PANEL-A", Source: event.SourceLocal, State: event.ArmAway},
		{Type: event.DoorOpen, Time: at, GUID: "PANEL-B", Source: event.SourceCloud, Sensor: true, Index: 1, Name: "Front door", SensorType: "Door Sensor: WRDS01"},
		{Type: event.SensorActivity, Time: at, GUID: "PANEL-A", Source: event.SourceLocal, Sensor: true, Index: 2, Name: "Hall", Occupied: true},
		{Type: event.Alarm, Time: at, GUID: "PANEL-A", Source: event.SourceLocal, Sensor: true, Index: 2, Name: "Hall", Tamper: true},
	}
	for i := range evs {
		if i == 2 {
			now = time.Now()
		}
		if _, err := j.Append(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func TestEvents(t *testing.T) {
	leaktest.Check(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	writeJournal(t, path, 0) // the writer stays open, as g90 serve's

	out, _, err := runCLI(t, "events", "--journal", path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"  local  arm_disarm  state=away  panel=PANEL-A",
		`  cloud  door_open  sensor 1 "Front door" (Door Sensor: WRDS01)  panel=PANEL-B`,
		`  local  sensor_activity  sensor 2 "Hall"  occupied=true  panel=PANEL-A`,
		`  local  alarm  sensor 2 "Hall"  tamper  panel=PANEL-A`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d %q, want the suffix %q", i, lines[i], w)
		}
	}

	out, _, err = runCLI(t, "events", "--journal", path, "--panel", "PANEL-A", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("--panel: %d lines:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		hasKeys(t, "event", m, "time", "panel", "source", "type", "seq")
		if m["panel"] != "PANEL-A" || m["seq"] != float64(i+1) {
			t.Errorf("line %d: %s", i, l)
		}
	}

	out, _, err = runCLI(t, "events", "--journal", path, "--since", "30m")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Fatalf("--since 30m: %d lines:\n%s", n, out)
	}

	// One panel selected: the lines are g90 listen's exactly.
	out, _, err = runCLI(t, "events", "--journal", path, "--panel", "PANEL-B")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, `  cloud  door_open  sensor 1 "Front door" (Door Sensor: WRDS01)`+"\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--panel PANEL-B:\n%s", out)
	}
}

// Without --journal the file is in the XDG state directory.
func TestEventsDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	_, _, err := runCLI(t, "events")
	if !errors.Is(err, journal.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "g90", "journal.db")) {
		t.Fatalf("no journal yet: %v", err)
	}
	if err := mkdirAll(filepath.Join(dir, "g90")); err != nil {
		t.Fatal(err)
	}
	writeJournal(t, filepath.Join(dir, "g90", "journal.db"), 0)
	out, _, err := runCLI(t, "events", "--since", "2026-01-02")
	if err != nil || strings.Count(out, "\n") != 4 {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestEventsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	writeJournal(t, path, -1) // a writer that never lets go
	_, _, err := runCLI(t, "events", "--journal", path, "--wait", "100ms")
	if !errors.Is(err, journal.ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("locked journal: %v", err)
	}
	for _, since := range []string{"yesterday", "-1h"} {
		if _, _, err := runCLI(t, "events", "--journal", path, "--since", since); err == nil || !strings.Contains(err.Error(), "--since") {
			t.Errorf("--since %s: %v", since, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90m":                  now.Add(-90 * time.Minute),
		"2026-11-20T08:00:00Z": time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		"2026-11-20":           time.Date(2026, 11, 20, 0, 0, 0, 0, time.Local),
		"2026-11-20 07:30":     time.Date(2026, 11, 20, 7, 30, 0, 0, time.Local),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o700) }

// A journal with an altered entry: g90 events says which entry is
// damaged, prints the others and fails; one whose structure is damaged
// is read as far as it goes, and said to be damaged.
func TestEventsDamagedJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	writeJournal(t, path, 0).Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"Front door"`))
	if i < 0 {
		t.Fatal("the entry is not in the file")
	}
	data[i+1] = 'B' // "Bront door": a value changed on disk
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "events", "--journal", path)
	if err == nil || !strings.Contains(err.Error(), "1 damaged entries skipped") {
		t.Errorf("error %v, want one damaged entry", err)
	}
	if !strings.Contains(errOut, "journal is damaged") || !strings.Contains(errOut, "damaged entry") || !strings.Contains(errOut, "checksum") {
		t.Errorf("stderr does not say what is damaged:\n%s", errOut)
	}
	if strings.Contains(out, "door") || strings.Count(out, "\n") != 3 {
		t.Errorf("want the 3 intact events and not the altered one:\n%s", out)
	}
}
