package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
	"github.com/google/go-cmp/cmp"
)

// fakePanel answers each datagram with what script returns, from a UDP
// socket on loopback. It records every datagram it received.
type fakePanel struct {
	conn net.PacketConn
	mu   sync.Mutex
	got  []string
	wg   sync.WaitGroup
}

// reply is one datagram the script sends back; from, when set, sends it
// from another socket (a stray).
type reply struct {
	b    []byte
	from net.PacketConn
}

func startFake(t *testing.T, script func(n int, req []byte) []reply) *fakePanel {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePanel{conn: conn}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.got = append(f.got, string(buf[:n]))
			k := len(f.got)
			f.mu.Unlock()
			for _, r := range script(k, append([]byte(nil), buf[:n]...)) {
				c := conn
				if r.from != nil {
					c = r.from
				}
				_, _ = c.WriteTo(r.b, from)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); f.wg.Wait() })
	return f
}

func (f *fakePanel) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakePanel) port() int { return f.conn.LocalAddr().(*net.UDPAddr).Port }

func newClient(t *testing.T, port int, timeout time.Duration, retries int) *Client {
	t.Helper()
	c, err := New(Config{Host: "127.0.0.1", Port: port, Timeout: timeout, Retries: retries})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func always(replies ...string) func(int, []byte) []reply {
	return func(int, []byte) []reply {
		var out []reply
		for _, r := range replies {
			out = append(out, reply{b: []byte(r)})
		}
		return out
	}
}

// sequence answers the k-th datagram with replies[k-1] ("" = silence).
func sequence(replies ...string) func(int, []byte) []reply {
	return func(k int, _ []byte) []reply {
		if k > len(replies) || replies[k-1] == "" {
			return nil
		}
		return []reply{{b: []byte(replies[k-1])}}
	}
}

const hostInfoReq = "ISTART[206,206,\"\"]IEND\x00"

func TestExchangeReplies(t *testing.T) {
	leaktest.Check(t)
	// spec: local-protocol.md 9.1
	tests := []struct {
		name  string
		reply string
		want  protocol.Response
		check func(error) bool
	}{
		{"empty body", "ISTARTIEND\x00", protocol.Response{}, nil},
		{"data", "ISTART[206,[\"\"]]IEND\x00", protocol.Response{Code: 206, Data: []protocol.Value{protocol.StringValue("")}}, nil},
		{"fail", "ISTARTfailIEND\x00", protocol.Response{}, func(err error) bool {
			var pe *protocol.PanelError
			return errors.Is(err, protocol.ErrCommandFailed) && errors.As(err, &pe) && pe.Code == protocol.GetHostInfo
		}},
		{"error text", "ISTARTerrordummyIEND\x00", protocol.Response{}, func(err error) bool {
			var pe *protocol.PanelError
			return errors.Is(err, protocol.ErrCommandRejected) && errors.As(err, &pe) && pe.Text == "dummy"
		}},
		{"missing code", "ISTART[]IEND\x00", protocol.Response{}, func(err error) bool { return errors.Is(err, protocol.ErrMissingCode) }},
		{"missing data", "ISTART[206]IEND\x00", protocol.Response{}, func(err error) bool { return errors.Is(err, protocol.ErrMissingData) }},
		{"bad json", "ISTART[IEND\x00", protocol.Response{}, func(err error) bool { return errors.As(err, new(*protocol.SyntaxError)) }},
		{"truncated", "ISTART[206,[\"x\"", protocol.Response{}, func(err error) bool { return errors.Is(err, protocol.ErrMissingEndMarker) }},
		{"no start marker", "dummy", protocol.Response{}, func(err error) bool { return errors.Is(err, protocol.ErrMissingStartMarker) }},
		{"no end NUL", "ISTART[206,[]]IEND", protocol.Response{}, func(err error) bool { return errors.Is(err, protocol.ErrMissingEndMarker) }},
		{"invalid utf8", "ISTART\xdeadbeefIEND\x00", protocol.Response{}, func(err error) bool { return errors.As(err, new(*protocol.SyntaxError)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, always(tt.reply))
			c := newClient(t, f.port(), time.Second, 3)
			resp, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
			if tt.check == nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, resp); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
			} else {
				if err == nil || !tt.check(err) {
					t.Fatalf("error %v (%T) does not match", err, err)
				}
				var ce *CommandError
				if !errors.As(err, &ce) || ce.Command != protocol.GetHostInfo || ce.Panel != c.Panel() {
					t.Errorf("error %q does not name the panel and command", err)
				}
			}
			// Non-retryable outcomes are not resent (spec 1.6).
			if n := len(f.received()); n != 1 {
				t.Errorf("panel received %d datagrams, want 1", n)
			}
		})
	}
}

func TestWrongCodeThenSuccess(t *testing.T) {
	f := startFake(t, sequence("ISTART[106,[\"\"]]IEND\x00", "ISTART[206,[\"\"]]IEND\x00"))
	c := newClient(t, f.port(), 40*time.Millisecond, 3)
	resp, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.GetHostInfo {
		t.Errorf("code %v", resp.Code)
	}
	if diff := cmp.Diff([]string{hostInfoReq, hostInfoReq}, f.received()); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
}

func TestWrongCodeExhausted(t *testing.T) {
	f := startFake(t, always("ISTART[106,[\"\"]]IEND\x00"))
	c := newClient(t, f.port(), 100*time.Millisecond, 2)
	_, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
	if !errors.Is(err, ErrWrongCode) {
		t.Fatalf("err = %v, want ErrWrongCode", err)
	}
	if n := len(f.received()); n != 2 {
		t.Errorf("panel received %d datagrams, want 2", n)
	}
}

func TestTimeoutResendsIdenticalRequests(t *testing.T) {
	// spec: local-protocol.md 9.1 generic.timeout
	f := startFake(t, always())
	c := newClient(t, f.port(), 100*time.Millisecond, 2)
	_, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
	var te *TimeoutError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if te.Panel != c.Panel() || te.Command != protocol.GetHostInfo || te.Attempts != 2 {
		t.Errorf("timeout error %+v does not name panel, command and attempts", te)
	}
	if diff := cmp.Diff([]string{hostInfoReq, hostInfoReq}, f.received()); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
	if s := c.Stats(); s.Timeouts != 1 || s.Attempts != 2 || s.Retries != 1 {
		t.Errorf("stats %+v", s)
	}
}

// Config.Timeout is the budget of all attempts together: against a socket
// that never answers, three attempts end within it. This bounds the wait;
// the slack is for a loaded machine, and far less than the 1.75·T the
// reference schedule would take.
func TestSilentPanelTimesOutWithinBudget(t *testing.T) {
	leaktest.Check(t)
	f := startFake(t, always())
	const budget = 300 * time.Millisecond
	c := newClient(t, f.port(), budget, 3)
	start := time.Now()
	_, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostStatus))
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if n := len(f.received()); n != 3 {
		t.Errorf("panel received %d datagrams, want 3 attempts", n)
	}
	if took > budget+150*time.Millisecond {
		t.Errorf("took %v for a budget of %v", took, budget)
	}
	if te.After > took || te.After < budget {
		t.Errorf("error says it waited %v; the exchange took %v for a budget of %v", te.After, took, budget)
	}
	// The error names the panel, the command, the attempts and the time.
	for _, want := range []string{c.Panel(), "GETHOSTSTATUS", "3 attempt(s)", te.After.Round(time.Millisecond).String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestNothingListeningTimesOutWithinBudget(t *testing.T) {
	leaktest.Check(t)
	// Find a port where nothing listens: bind, note, close.
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	conn.Close()
	const budget = 200 * time.Millisecond
	c := newClient(t, port, budget, 3)
	start := time.Now()
	_, err = c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostStatus))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > budget+150*time.Millisecond {
		t.Errorf("took %v, budget %v", took, budget)
	}
}

// A retryable error (a reply to another command) waits out the rest of
// its attempt's share before the resend, and the exchange still ends
// within the budget.
func TestWrongCodeStaysWithinBudget(t *testing.T) {
	f := startFake(t, always("ISTART[106,[\"\"]]IEND\x00"))
	const budget = 300 * time.Millisecond
	c := newClient(t, f.port(), budget, 3)
	start := time.Now()
	_, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
	took := time.Since(start)
	if !errors.Is(err, ErrWrongCode) {
		t.Fatalf("err = %v, want ErrWrongCode", err)
	}
	if n := len(f.received()); n != 3 {
		t.Errorf("panel received %d datagrams, want 3", n)
	}
	if took > budget+150*time.Millisecond {
		t.Errorf("took %v for a budget of %v", took, budget)
	}
}

// Config.Progress hears of every attempt and of the end, with deadlines
// that grow and end at the budget.
func TestProgressReportsAttempts(t *testing.T) {
	f := startFake(t, sequence("", "", "ISTART[206,[\"\"]]IEND\x00"))
	var got []Progress
	const budget = 700 * time.Millisecond
	c, err := New(Config{Host: "127.0.0.1", Port: f.port(), Timeout: budget, Retries: 3, Progress: func(p Progress) { got = append(got, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d reports, want 3 attempts and the end: %+v", len(got), got)
	}
	for i, p := range got {
		if p.Panel != c.Panel() || p.Command != protocol.GetHostInfo || p.Attempts != 3 || p.End.Sub(p.Started) != budget {
			t.Errorf("report %d: %+v", i, p)
		}
		if i < 3 && (p.Attempt != i+1 || p.Done) {
			t.Errorf("report %d: attempt %d, done %v; want attempt %d", i, p.Attempt, p.Done, i+1)
		}
	}
	// 700 ms over 1:2:4 is 100, 200 and 400 ms.
	for i, want := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, budget} {
		if d := got[i].Deadline.Sub(got[i].Started); d != want {
			t.Errorf("attempt %d ends %v after the start, want %v", i+1, d, want)
		}
	}
	if last := got[3]; !last.Done || last.Attempt != 3 {
		t.Errorf("last report %+v, want Done after attempt 3", last)
	}
}

func TestContextCancelInterruptsRead(t *testing.T) {
	leaktest.Check(t)
	f := startFake(t, always())
	c := newClient(t, f.port(), 30*time.Second, 3)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Exchange(ctx, protocol.NewRequest(protocol.GetHostStatus))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	// The client is usable afterwards: the in-flight slot was released.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := c.Exchange(ctx2, protocol.NewRequest(protocol.GetHostStatus)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second exchange: %v", err)
	}
}

func TestStrayDatagramsAreDiscarded(t *testing.T) {
	stray, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	f := startFake(t, func(int, []byte) []reply {
		return []reply{
			{b: []byte("ISTART[206,[\"FROM-ANOTHER-PORT\"]]IEND\x00"), from: stray},
			{b: []byte("ISTART[206,[\"REAL\"]]IEND\x00")},
		}
	})
	c := newClient(t, f.port(), time.Second, 1)
	resp, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostInfo))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Data[0].Str; got != "REAL" {
		t.Errorf("took %q, want the panel's reply", got)
	}
	if s := c.Stats(); s.Strays != 1 {
		t.Errorf("strays = %d, want 1", s.Strays)
	}
}

func TestOneRequestInFlight(t *testing.T) {
	leaktest.Check(t)
	var inFlight, maxInFlight atomic.Int32
	f := startFake(t, func(int, []byte) []reply {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return []reply{{b: []byte("ISTART[100,[3,\"\",\"\",\"\",\"\"]]IEND\x00")}}
	})
	c := newClient(t, f.port(), time.Second, 3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if _, err := c.Exchange(context.Background(), protocol.NewRequest(protocol.GetHostStatus)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d requests were in flight at once", m)
	}
}

func TestSchedule(t *testing.T) {
	// The reference's 1:2:4 growth (spec: local-protocol.md 1.7), scaled
	// so that the attempts share the budget: 30 s over 3 attempts is
	// 30/7·{1, 2, 4}, and each entry is when that attempt stops waiting.
	tests := []struct {
		timeout time.Duration
		retries int
		want    []time.Duration
	}{
		{0, 0, []time.Duration{30 * time.Second / 7, 90 * time.Second / 7, 30 * time.Second}},
		{0, 2, []time.Duration{10 * time.Second, 30 * time.Second}},
		{0, -1, []time.Duration{30 * time.Second}},
		{time.Second, 1, []time.Duration{time.Second}},
		{150 * time.Millisecond, 4, []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 70 * time.Millisecond, 150 * time.Millisecond}},
	}
	for _, tt := range tests {
		c, err := New(Config{Host: "127.0.0.1", Timeout: tt.timeout, Retries: tt.retries})
		if err != nil {
			t.Fatal(err)
		}
		n, until := c.schedule()
		var got []time.Duration
		for k := 1; k <= n; k++ {
			got = append(got, until(k))
		}
		approx := cmp.Comparer(func(a, b time.Duration) bool { return a-b < time.Microsecond && b-a < time.Microsecond })
		if diff := cmp.Diff(tt.want, got, approx); diff != "" {
			t.Errorf("timeout %v, retries %d (-want +got):\n%s", tt.timeout, tt.retries, diff)
		}
		if got[len(got)-1] != c.Config().Timeout {
			t.Errorf("timeout %v, retries %d: the last attempt ends at %v, not at the budget", tt.timeout, tt.retries, got[len(got)-1])
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Host: "127.0.0.1", Port: 70000}, {Host: "127.0.0.1", Timeout: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// A write whose reply is lost must not be resent blindly: ExchangeOnce
// sends exactly one datagram, even when the reply is another command's.
func TestExchangeOnceNeverResends(t *testing.T) {
	del := protocol.NewRequest(protocol.DelSensor, protocol.IntValue(10))
	for _, tc := range []struct {
		name    string
		script  func(int, []byte) []reply
		wantErr error
	}{
		{"silent", always(), ErrTimeout},
		{"wrong code", always("ISTART[106,[\"\"]]IEND\x00"), ErrWrongCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.script)
			c := newClient(t, f.port(), 100*time.Millisecond, 3)
			_, err := c.ExchangeOnce(context.Background(), del)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n := len(f.received()); n != 1 {
				t.Errorf("panel received %d datagrams, want 1", n)
			}
			if s := c.Stats(); s.Attempts != 1 || s.Retries != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
	f := startFake(t, always("ISTARTIEND\x00"))
	c := newClient(t, f.port(), time.Second, 3)
	resp, err := c.ExchangeOnce(context.Background(), del)
	if err != nil || !resp.Empty() {
		t.Fatalf("ExchangeOnce = %+v, %v; want the empty reply", resp, err)
	}
}
