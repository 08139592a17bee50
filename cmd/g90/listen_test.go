package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/sim"
)

// lines is a writer that keeps the lines written to it.
type lines struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []string
	cloud string // the cloud server's address, from stderr
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.lines = append(l.lines, strings.TrimSuffix(line, "\n"))
	}
}

func (l *lines) setCloud(a string) {
	l.mu.Lock()
	l.cloud = a
	l.mu.Unlock()
}

func (l *lines) cloudAddr(t *testing.T) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cloud == "" {
		t.Fatal("listen did not say its cloud address")
	}
	return l.cloud
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// freeUDP returns a loopback UDP address nothing listens on.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// startListen runs `g90 listen` in-process until the test ends and returns
// its output once it listens.
func startListen(t *testing.T, s *sim.Panel, args ...string) (*lines, func() error) {
	t.Helper()
	root := newRoot()
	out := &lines{}
	pr, pw := io.Pipe()
	root.SetOut(out)
	root.SetErr(pw)
	root.SetArgs(append([]string{"--host", s.Addr().String(), "--timeout", "1s", "listen"}, args...))
	ended := make(chan struct{})
	stop := testrig.Serve(t, func(ctx context.Context) error {
		defer close(ended)
		defer pw.Close()
		return root.ExecuteContext(ctx)
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			// Ready once the panel has been read, so that events carry
			// their sensor types.
			if a, ok := strings.CutPrefix(sc.Text(), "cloud server"); ok {
				if i := strings.Index(a, "listening on tcp "); i >= 0 {
					f := strings.Fields(a[i+len("listening on tcp "):])
					out.setCloud(strings.TrimSuffix(f[0], ";"))
				}
			}
			if strings.HasPrefix(sc.Text(), "panel ") {
				close(ready)
			} else {
				t.Log("stderr:", sc.Text())
			}
		}
	}()
	select {
	case <-ready:
	case <-ended:
		t.Fatalf("listen ended at once: %v", stop())
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not start")
	}
	return out, stop
}

// waitLines returns the lines printed once there are at least n, waiting
// up to timeout: eventually.Timeout, or longer for a long stream.
func waitLines(t *testing.T, out *lines, n int, timeout time.Duration) []string {
	t.Helper()
	var got []string
	eventually.NoErrorWithin(t, timeout, fmt.Sprintf("%d lines", n), func() error {
		if got = out.snapshot(); len(got) < n {
			return fmt.Errorf("got %d; last: %v", len(got), got[max(0, len(got)-3):])
		}
		return nil
	})
	return got
}

func TestListenLocalJSON(t *testing.T) {
	leaktest.Check(t)
	addr := freeUDP(t)
	s := simtest.Start(t, sim.Config{Notify: addr, Seed: 1})
	out, stop := startListen(t, s, "--listen", addr, "--json")
	one := 1
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
		t.Fatal(err)
	}
	// The notification and the alert of the opening are one
	// sensor_activity and one door_open (issue 16.1).
	got := waitLines(t, out, 2, eventually.Timeout)
	var ev map[string]any
	if err := json.Unmarshal([]byte(got[1]), &ev); err != nil {
		t.Fatalf("%v: %s", err, got[1])
	}
	hasKeys(t, "event", ev, "time", "panel", "source", "type", "sensor", "sources", "seq")
	if ev["type"] != "door_open" || ev["source"] != "local" || ev["panel"] != "SIMPANEL0001" {
		t.Fatalf("event %v", ev)
	}
	sensor, _ := ev["sensor"].(map[string]any)
	hasKeys(t, "sensor", sensor, "index", "name", "type")
	if sensor["index"] != 1.0 || sensor["name"] != "Front door" {
		t.Fatalf("sensor %v", sensor)
	}
	var act map[string]any
	if err := json.Unmarshal([]byte(got[0]), &act); err != nil || act["type"] != "sensor_activity" || act["occupied"] != true {
		t.Fatalf("first line %s (%v): want sensor_activity with occupied", got[0], err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestListenTextAndCount(t *testing.T) {
	addr := freeUDP(t)
	s := simtest.Start(t, sim.Config{Notify: addr, Seed: 1})
	out, stop := startListen(t, s, "--listen", addr, "--count", "2")
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, out, 2, eventually.Timeout)
	if !strings.Contains(got[0], `local  sensor_activity  sensor 1 "Front door" (`) || !strings.HasSuffix(got[0], "occupied=true") {
		t.Fatalf("line %q", got[0])
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := out.snapshot(); len(got) != 2 {
		t.Fatalf("--count 2 printed %d lines: %q", len(got), got)
	}
}

func TestListenHistory(t *testing.T) {
	s := simtest.Start(t, sim.Config{Seed: 1})
	cursor := filepath.Join(t.TempDir(), "cursor.json")
	out, _ := startListen(t, s, "--source", "history", "--poll", "20ms", "--json", "--state", cursor)
	// The first read sets the baseline and saves it.
	eventually.NoError(t, "the baseline saved", func() error {
		_, err := os.Stat(cursor)
		return err
	})
	if _, err := s.Inject(sim.Injection{Event: "ac_power_failure"}); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, out, 1, eventually.Timeout)
	if !strings.Contains(got[0], `"source":"history","type":"ac_power_failure"`) {
		t.Fatalf("line %s", got[0])
	}
}

// --raw prints every report: the opening's notification and alert give
// two sensor_activity lines and a door_open, as the panel sends them.
func TestListenRaw(t *testing.T) {
	leaktest.Check(t)
	addr := freeUDP(t)
	s := simtest.Start(t, sim.Config{Notify: addr, Seed: 1})
	out, stop := startListen(t, s, "--listen", addr, "--json", "--raw")
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, out, 3, eventually.Timeout)
	for i, want := range []string{`"type":"sensor_activity"`, `"type":"sensor_activity"`, `"type":"door_open"`} {
		if !strings.Contains(got[i], want) {
			t.Fatalf("line %d %s, want %s", i, got[i], want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestListenBadSource(t *testing.T) {
	s := simtest.Start(t, sim.Config{Seed: 1})
	if _, err := run(t, s, "listen", "--source", "carrier-pigeon"); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Fatalf("error %v: want one naming --source", err)
	}
}

// The end-to-end check: 20,000 alerts from the simulator reach
// `g90 listen` over loopback, none lost and in order.
func TestListen20000Alerts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	addr := freeUDP(t)
	s := simtest.Start(t, sim.Config{Notify: addr, Seed: 1})
	out, stop := startListen(t, s, "--listen", addr, "--json")
	const n = 20000
	start := time.Now()
	for i := range n {
		ev := "door_open"
		if i%2 == 1 {
			ev = "door_close"
		}
		if _, err := s.Inject(sim.Injection{Event: ev, Sensor: ptr(1)}); err != nil {
			t.Fatal(err)
		}
	}
	// Every door_open gives a notification and an alert, merged into 2
	// events; every door_close an alert (2 events).
	got := waitLines(t, out, n/2*2+n/2*2, 60*time.Second)
	t.Logf("%d events from %d alerts in %v", len(got), n, time.Since(start))
	doors := 0
	for _, l := range got {
		switch {
		case strings.Contains(l, `"type":"door_open"`):
			if doors%2 != 0 {
				t.Fatalf("door event %d is door_open: order lost", doors)
			}
			doors++
		case strings.Contains(l, `"type":"door_close"`):
			if doors%2 != 1 {
				t.Fatalf("door event %d is door_close: order lost", doors)
			}
			doors++
		}
	}
	if doors != n {
		t.Fatalf("%d door events, want %d", doors, n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// cloudVector returns the input bytes of a C-* vector of spec F.4.
func cloudVector(t *testing.T, id string) []byte {
	t.Helper()
	return vectors.EntryHex(t, "../../cloudproto/testdata/cloud-vectors.yaml", id, "input_hex")
}

// The panel, pointed at `g90 listen --source cloud`, connects over TCP as
// to the vendor cloud; its status change becomes the same events as a
// local alert, with source cloud.
func TestListenCloud(t *testing.T) {
	s := simtest.Start(t, sim.Config{Seed: 1})
	out, _ := startListen(t, s, "--source", "cloud", "--cloud-listen", "127.0.0.1:0", "--json")
	addr := out.cloudAddr(t)

	hello, err := cloudproto.Decode(cloudVector(t, "C-HELLO"))
	if err != nil {
		t.Fatal(err)
	}
	hello.Hello.GUID = "SIMPANEL0001"
	open, err := cloudproto.Decode(cloudVector(t, "C-STATUS-SENSOR-OPEN"))
	if err != nil {
		t.Fatal(err)
	}
	open.Status.Index, open.Status.Name = 1, "Front door"
	other := hello
	other.Hello.GUID = "SOMEONEELSE1"

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Another panel's events are not this panel's.
	o, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Write(append(other.Append(nil), open.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append(hello.Append(nil), open.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, out, 2, eventually.Timeout)
	if !strings.Contains(got[1], `"source":"cloud","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"}`) {
		t.Fatalf("lines %q", got)
	}
	time.Sleep(100 * time.Millisecond) // the other panel's events would be here by now
	if got := out.snapshot(); len(got) != 2 {
		t.Fatalf("another panel's events came through: %q", got)
	}
}

// The simulator as a cloud panel, pointed at `g90 listen --source cloud`
// with set-cloud-server, sends 20,000 status changes as fast as it can
// over one TCP connection; every one arrives, in order, as its event (the
// reference delivers about 16% of such a burst). When the listener falls
// behind, TCP slows the panel down instead of anything being dropped.
func TestListenCloud20000StatusChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	nowhere, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere.Close() // the panel's cloud server is down until moved
	s := simtest.Start(t, sim.Config{Seed: 1, Cloud: sim.CloudConfig{Addr: nowhere.Addr().String()}})
	out, stop := startListen(t, s, "--source", "cloud", "--cloud-listen", "127.0.0.1:0", "--json")
	host, port, _ := net.SplitHostPort(out.cloudAddr(t))
	if _, err := run(t, s, "set-cloud-server", host, "--port", port); err != nil {
		t.Fatal(err)
	}
	link := s.Cloud()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := link.Wait(ctx, func(st sim.CloudStats) bool { return st.HellosAnswered >= 1 }); err != nil {
		t.Fatalf("the panel did not connect: %v; %+v", err, link.Stats())
	}
	const n = 20000
	start := time.Now()
	power := [2]string{"ac_power_failure", "ac_power_recover"}
	for i := range n {
		// A power change is one status change (M4a) and one event.
		if _, err := s.Inject(sim.Injection{Event: power[i%2]}); err != nil {
			t.Fatal(err)
		}
	}
	got := waitLines(t, out, n, 60*time.Second)
	t.Logf("%d events from %d status changes in %v", len(got), n, time.Since(start))
	for i, l := range got {
		if want := fmt.Sprintf(`"type":%q`, power[i%2]); !strings.Contains(l, want) {
			t.Fatalf("line %d: %s; want %s: lost or out of order", i, l, power[i%2])
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := out.snapshot(); len(got) != n {
		t.Errorf("%d lines, want exactly %d", len(got), n)
	}
	if st := link.Stats(); st.Connects != 1 || st.Sent != n || st.Dropped != 0 {
		t.Errorf("panel stats %+v: want %d sent over one connection, none dropped", st, n)
	}
}

// A flood of oversized datagrams from a sender that is not the panel:
// a few warnings with a bounded dump and a count, not 1,000 hex dumps;
// and the panel's events still arrive.
func TestListenFloodIsQuiet(t *testing.T) {
	leaktest.Check(t)
	addr := freeUDP(t)
	s := simtest.Start(t, sim.Config{Notify: addr, Seed: 1})
	root := newRoot()
	out := &lines{}
	var errOut lockedbuf.Buffer
	root.SetOut(out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"--host", s.Addr().String(), "--timeout", "1s", "listen", "--listen", addr})
	stop := testrig.Serve(t, root.ExecuteContext)
	eventually.True(t, "listen to read the panel", func() bool { return strings.Contains(errOut.String(), "panel SIMPANEL") })

	stranger, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("[170,[1,[1,\"x\"]]]"), 500) // 8.5 KB
	for range 1000 {
		if _, err := stranger.WriteTo(junk, to); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	waitLines(t, out, 2, eventually.Timeout)
	if err := stop(); err != nil {
		t.Errorf("listen: %v", err)
	}
	log := errOut.String()
	if n := strings.Count(log, "dropped notification"); n < 1 || n > 6 {
		t.Errorf("%d warnings about the flood, want the first 5 and a count", n)
	}
	if !strings.Contains(log, "suppressed=") || !strings.Contains(log, "bytes)") {
		t.Errorf("no count of the suppressed warnings, or an unbounded dump:\n%.2000s", log)
	}
	if len(log) > 16<<10 {
		t.Errorf("%d bytes of log for the flood", len(log))
	}
}

// `g90 listen --source cloud --max-conns` takes more than the default
// 64 connections (issue 20.5): 100 are held, the 101st is closed at
// accept, and the held ones stay open.
func TestListenCloudMaxConns(t *testing.T) {
	s := startSim(t)
	out, _ := startListen(t, s, "--source", "cloud", "--cloud-listen", "127.0.0.1:0", "--max-conns", "100", "--max-per-address", "100")
	addr := out.cloudAddr(t)
	dial := func() net.Conn {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	held := make([]net.Conn, 100)
	for i := range held {
		held[i] = dial()
	}
	over := dial()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the 101st connection: %v, want it closed at accept", err)
	}
	for _, nc := range held {
		nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("held connection %v: %v, want it open", nc.LocalAddr(), err)
		}
	}
}
