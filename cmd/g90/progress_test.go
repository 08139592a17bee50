package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

func TestTerminalDetection(t *testing.T) {
	master, slave := openPTY(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"pty slave", slave, true},
		{"pty master", master, true},
		{"pipe", pw, false},
		{"buffer", &bytes.Buffer{}, false},
	} {
		if got := isTerminal(tc.w); got != tc.want {
			t.Errorf("isTerminal(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	yes := func(io.Writer) bool { return true }
	if newStatus(slave, false, isTerminal) == nil || newStatus(&bytes.Buffer{}, false, yes) == nil {
		t.Error("no status line on a terminal")
	}
	if newStatus(pw, false, isTerminal) != nil || newStatus(slave, true, isTerminal) != nil || newStatus(&bytes.Buffer{}, true, yes) != nil {
		t.Error("a status line on a pipe or with --json")
	}
}

// The line says which panel, command and attempt, and how long at most;
// it is redrawn in place, cleared for other output, and cleared at the end.
func TestStatusLineShowsTheWait(t *testing.T) {
	leaktest.Check(t)
	var out lockedbuf.Buffer
	st := &statusLine{w: &out, after: 0, every: time.Millisecond, now: time.Now}
	started := time.Now()
	p := client.Progress{Panel: "192.0.2.50:12368", Command: protocol.GetHostInfo, Attempt: 2, Attempts: 3,
		Started: started, Deadline: started.Add(10 * time.Second), End: started.Add(21*time.Second + 500*time.Millisecond)}
	st.exchange(p)
	want := "\rwaiting for 192.0.2.50:12368 (GETHOSTINFO), attempt 2 of 3, up to 22 s more…\x1b[K"
	eventually.True(t, "the status line", func() bool { return strings.Contains(out.String(), want) })

	if _, err := io.WriteString(st.writer(&out), "a row\n"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "…\x1b[K\r\x1b[Ka row\n") {
		t.Errorf("output during the wait does not clear the line first: %q", out.String())
	}
	eventually.True(t, "the line back after the row", func() bool {
		s := out.String()
		return strings.HasSuffix(s[strings.Index(s, "a row\n"):], want)
	})
	p.Done = true
	st.exchange(p)
	if !strings.HasSuffix(out.String(), "\x1b[K\r\x1b[K") {
		t.Errorf("line not cleared at the end: %q", out.String())
	}
	// The redraw goroutine has returned: nothing is written afterwards.
	n := len(out.String())
	time.Sleep(20 * time.Millisecond)
	if len(out.String()) != n {
		t.Errorf("written after the end: %q", out.String()[n:])
	}
}

// A wait shorter than the threshold shows nothing at all.
func TestStatusLineQuietForShortWaits(t *testing.T) {
	var out lockedbuf.Buffer
	st := &statusLine{w: &out, after: time.Hour, every: time.Millisecond, now: time.Now}
	st.exchange(client.Progress{Panel: "192.0.2.50:12368", Command: protocol.GetHostInfo, Attempt: 1, Attempts: 3, Started: time.Now(), End: time.Now().Add(time.Hour)})
	time.Sleep(10 * time.Millisecond)
	st.exchange(client.Progress{Done: true})
	if out.String() != "" {
		t.Errorf("wrote %q for a short wait", out.String())
	}
	var nilLine *statusLine // silent: every method is a no-op
	nilLine.exchange(client.Progress{})
	nilLine.end()
	if w := nilLine.writer(&out); w != io.Writer(&out) {
		t.Error("a nil status line wraps the writer")
	}
}

// readPTY collects what a command writes to the pty, until the master is
// closed.
func readPTY(master *os.File) (got func() string, stop func()) {
	var mu sync.Mutex
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string {
			mu.Lock()
			defer mu.Unlock()
			return buf.String()
		}, func() {
			_ = master.SetReadDeadline(time.Unix(1, 0))
			<-done
		}
}

// runStderr is run with stderr going to w.
func runStderr(s *sim.Panel, stderr io.Writer, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(stderr)
	root.SetArgs(append([]string{"--host", s.Addr().String()}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// On a real terminal, a command waiting for a silent panel says so on
// stderr; with --json, or with stderr on a pipe, it says nothing.
func TestProgressOnATerminalOnly(t *testing.T) {
	s := startSim(t)
	if err := s.SetFaults(sim.Faults{Silent: true}); err != nil {
		t.Fatal(err)
	}
	// 2.5 s: the line appears after 1 s, with time to spare on a busy machine.
	args := []string{"status", "--timeout", "2500ms", "--retries", "2"}

	master, slave := openPTY(t)
	got, stop := readPTY(master)
	_, err := runStderr(s, slave, args...)
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	eventually.True(t, "the line cleared on the terminal", func() bool { return strings.HasSuffix(got(), "\r\x1b[K") })
	stop()
	want := "waiting for " + s.Addr().String() + " (GETHOSTSTATUS), attempt "
	if !strings.Contains(got(), want) || !strings.Contains(got(), " of 2, up to ") {
		t.Errorf("terminal shows %q, want %q…", got(), want)
	}

	for _, tc := range []struct {
		name string
		args []string
		pipe bool
	}{{"--json", append(args, "--json"), false}, {"a pipe", args, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr io.Writer
			var got func() string // what stderr received, once the command has ended
			if tc.pipe {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pr.Close()
				var b lockedbuf.Buffer
				done := make(chan struct{})
				go func() { defer close(done); _, _ = io.Copy(&b, pr) }()
				stderr = pw
				got = func() string { pw.Close(); <-done; return b.String() }
			} else {
				master, slave := openPTY(t)
				read, stop := readPTY(master)
				defer stop()
				stderr = slave
				// A marker written after the command: once it has arrived,
				// so has everything the command wrote.
				got = func() string {
					if _, err := slave.WriteString("END\n"); err != nil {
						t.Fatal(err)
					}
					eventually.True(t, "the marker", func() bool { return strings.Contains(read(), "END") })
					return strings.TrimSuffix(read(), "END\r\n")
				}
			}
			if _, err := runStderr(s, stderr, tc.args...); !errors.Is(err, client.ErrTimeout) {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if out := got(); out != "" {
				t.Errorf("stderr got %q, want nothing", out)
			}
		})
	}
}

// g90 discover on a terminal counts the panels that answered while the
// window is open.
func TestDiscoverProgressOnATerminal(t *testing.T) {
	s := startSim(t)
	master, slave := openPTY(t)
	got, stop := readPTY(master)
	out, err := runStderr(s, slave, "discover", "--addr", s.Addr().String(), "--window", "2500ms")
	if err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the line cleared on the terminal", func() bool { return strings.HasSuffix(got(), "\r\x1b[K") })
	stop()
	if want := "discovering panels on " + s.Addr().String() + ", 1 answered, up to "; !strings.Contains(got(), want) {
		t.Errorf("terminal shows %q, want %q…", got(), want)
	}
	if !strings.Contains(out, sim.FleetGUID(1)) {
		t.Errorf("stdout %q lacks the panel", out)
	}
}
