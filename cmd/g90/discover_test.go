package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/sim"
)

// runTo executes the CLI in-process with stdout going to w.
func runTo(ctx context.Context, w io.Writer, args ...string) error {
	root := newRoot()
	root.SetOut(w)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// g90 discover prints a panel as soon as it answers: the line arrives
// while the window (a minute) is still open, and the test then ends the
// command.
func TestDiscoverStreams(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := runTo(ctx, pw, "discover", "--addr", s.Addr().String(), "--window", "1m")
		pw.Close()
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	cancel() // the window is still open: the panel was printed as it answered
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "HOST") {
		t.Fatalf("discover printed %q, want the header and the panel", lines)
	}
	if f := strings.Fields(lines[1]); len(f) < 3 || f[0] != "127.0.0.1" || f[1] != sim.FleetGUID(1) {
		t.Errorf("panel line %q, want 127.0.0.1 and %s", lines[1], sim.FleetGUID(1))
	}
	// Columns line up without waiting for the last panel.
	if strings.Index(lines[0], "GUID") != strings.Index(lines[1], sim.FleetGUID(1)) {
		t.Errorf("misaligned:\n%s\n%s", lines[0], lines[1])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("discover ended with %v, want it cancelled", err)
	}
}

// g90 discover --guid ends as soon as that panel answers, though the
// window is an hour.
func TestDiscoverGUIDReturnsAtTheAnswer(t *testing.T) {
	s := startSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, json := range []bool{false, true} {
		var out strings.Builder
		args := []string{"discover", "--guid", sim.FleetGUID(1), "--addr", s.DiscoveryAddr().String(), "--local", "127.0.0.1:0", "--window", "1h"}
		if json {
			args = append(args, "--json")
		}
		if err := runTo(ctx, &out, args...); err != nil {
			t.Fatalf("discover --guid (json %v): %v", json, err)
		}
		if !strings.Contains(out.String(), sim.FleetGUID(1)) || !strings.Contains(out.String(), "127.0.0.1") {
			t.Errorf("discover --guid (json %v) printed %q", json, out.String())
		}
		if json && !strings.HasPrefix(out.String(), "[") {
			t.Errorf("discover --guid --json printed %q, want a JSON array as before", out.String())
		}
	}
	if ctx.Err() != nil {
		t.Fatal("discover --guid waited for the window")
	}
}

// No answer from that GUID within the window is an error naming the GUID
// and the wait.
func TestDiscoverGUIDNotFound(t *testing.T) {
	s := startSim(t)
	var out strings.Builder
	err := runTo(context.Background(), &out, "discover", "--guid", "NOSUCHPANEL", "--addr", s.DiscoveryAddr().String(), "--local", "127.0.0.1:0", "--window", "300ms")
	if err == nil || !strings.Contains(err.Error(), "NOSUCHPANEL") || !strings.Contains(err.Error(), "300ms") {
		t.Fatalf("err = %v, want one naming the GUID and the 300ms waited", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

// A discovery nobody answers says so, and exits 0 as before.
func TestDiscoverNobody(t *testing.T) {
	s := startSim(t)
	if err := s.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runTo(context.Background(), &out, "discover", "--addr", s.Addr().String(), "--window", "200ms"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "no panel answered\n" {
		t.Errorf("printed %q", out.String())
	}
}
