package floodlog

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// 1,000 records of one kind write 5 lines and one summary, not 1,000;
// another source, another level or another message is its own kind.
func TestBurstAndSummary(t *testing.T) {
	var buf lockedbuf.Buffer
	c := &fakeClock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	h := New(slog.NewTextHandler(&buf, nil), Config{Now: c.Now})
	defer h.Close()
	log := slog.New(h).With("part", "notify")
	for i := range 1000 {
		log.Warn("dropped notification", "from", "10.0.0.9:1", "n", i)
	}
	log.Warn("dropped notification", "from", "10.0.0.8:1")
	log.Error("dropped notification", "from", "10.0.0.9:1")
	log.Warn("another message", "from", "10.0.0.9:1")
	slog.New(h).With("part", "cloud").Warn("dropped notification", "from", "10.0.0.9:1")
	if got := lines(buf.String()); len(got) != 9 {
		t.Fatalf("%d lines, want 5 + 4 other kinds:\n%s", len(got), buf.String())
	}
	for i := range 5 {
		if !strings.Contains(lines(buf.String())[i], fmt.Sprintf("n=%d", i)) {
			t.Errorf("line %d is not record %d: %s", i, i, lines(buf.String())[i])
		}
	}
	// The window ends; the next record of the kind comes after the
	// summary of the 995 it did not write.
	c.Add(time.Minute)
	log.Warn("dropped notification", "from", "10.0.0.9:1", "n", 1000)
	got := lines(buf.String())
	summary, next := got[len(got)-2], got[len(got)-1]
	if !strings.Contains(summary, `msg="dropped notification"`) || !strings.Contains(summary, "suppressed=995") ||
		!strings.Contains(summary, "from=10.0.0.9:1") || !strings.Contains(summary, "part=notify") || strings.Contains(summary, "n=") {
		t.Errorf("summary: %s", summary)
	}
	if !strings.Contains(next, "n=1000") {
		t.Errorf("after the summary: %s", next)
	}
}

// Without another record, the summary comes when the window ends; and
// Close writes what is still counted.
func TestSummaryByTimerAndClose(t *testing.T) {
	var buf lockedbuf.Buffer
	h := New(slog.NewTextHandler(&buf, nil), Config{Burst: 1, Window: 50 * time.Millisecond})
	log := slog.New(h)
	for range 3 {
		log.Warn("flood", "remote", "a")
	}
	eventually.True(t, "the summary", func() bool { return strings.Contains(buf.String(), "suppressed=2") })
	for range 4 {
		log.Warn("flood", "remote", "b")
	}
	h.Close()
	if !strings.Contains(buf.String(), "remote=b suppressed=3") {
		t.Errorf("Close did not write the summary:\n%s", buf.String())
	}
	log.Warn("flood", "remote", "b")
	log.Warn("flood", "remote", "b")
	if n := strings.Count(buf.String(), "msg=flood remote=b\n"); n != 3 {
		t.Errorf("after Close: %d unlimited records, want 3:\n%s", n, buf.String())
	}
}

// Debug records pass: with -v the user asked for all of them.
func TestDebugPasses(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), Config{Burst: 1})
	defer h.Close()
	for range 10 {
		slog.New(h).Debug("datagram", "from", "x")
	}
	if n := len(lines(buf.String())); n != 10 {
		t.Errorf("%d debug lines, want 10", n)
	}
}

// Forged source addresses by the thousand do not grow the counts without
// bound: past maxKinds they are one kind.
func TestManySources(t *testing.T) {
	var buf lockedbuf.Buffer
	h := New(slog.NewTextHandler(&buf, nil), Config{Burst: 1})
	defer h.Close()
	log := slog.New(h)
	for i := range 20 * maxKinds {
		log.Warn("dropped notification", "from", fmt.Sprintf("10.%d.%d.1:1", i/256, i%256))
	}
	h.shared.mu.Lock()
	n := len(h.shared.kinds)
	h.shared.mu.Unlock()
	if n > maxKinds+1 {
		t.Errorf("%d kinds counted", n)
	}
	if got := len(lines(buf.String())); got > maxKinds+1 {
		t.Errorf("%d lines for %d sources", got, 20*maxKinds)
	}
}

func TestConcurrent(t *testing.T) {
	var buf lockedbuf.Buffer
	h := New(slog.NewTextHandler(&buf, nil), Config{Burst: 10})
	log := slog.New(h)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 1000 {
				log.Warn("flood", "panel", g%2)
			}
		})
	}
	wg.Wait()
	h.Close()
	if n := len(lines(buf.String())); n != 22 {
		t.Errorf("%d lines, want 2 kinds × (10 + a summary):\n%s", n, buf.String())
	}
}

func TestBytes(t *testing.T) {
	if got := Bytes([]byte{1, 0xab}).Resolve().String(); got != "01ab" {
		t.Errorf("short: %s", got)
	}
	got := Bytes(bytes.Repeat([]byte{0xff}, 10_000)).Resolve().String()
	if want := strings.Repeat("ff", MaxBytes) + "…(10000 bytes)"; got != want {
		t.Errorf("long: %d characters %q…", len(got), got[len(got)-20:])
	}
}

func BenchmarkHandleSuppressed(b *testing.B) {
	h := New(slog.NewTextHandler(io.Discard, nil), Config{})
	defer h.Close()
	log := slog.New(h).With("part", "notify")
	b.ReportAllocs()
	for b.Loop() {
		log.Warn("dropped notification", "from", "10.0.0.9:1")
	}
}
