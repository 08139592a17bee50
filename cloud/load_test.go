package cloud

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/rlimit"
)

// loadHandler checks that every panel's notifications arrive once each,
// in order: the sensor index of the i-th is i.
type loadHandler struct {
	mu   sync.Mutex
	next map[string]int // by GUID: the index expected next
	bad  []string
	n    int
	done chan struct{} // closed at want messages
	want int
}

func (h *loadHandler) HandleCloud(_ context.Context, m *Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	evs, _ := m.Events()
	if len(evs) == 0 || m.Kind != cloudproto.KindNotification {
		h.bad = append(h.bad, fmt.Sprintf("%s: %+v", m.GUID, m))
		return
	}
	if i := evs[0].Index; i != h.next[m.GUID] {
		h.bad = append(h.bad, fmt.Sprintf("%s: notification %d, want %d", m.GUID, i, h.next[m.GUID]))
	}
	h.next[m.GUID] = evs[0].Index + 1
	if h.n++; h.n == h.want {
		close(h.done)
	}
}

// loadPanel is a panel of the load test: its connection, idle between
// the handshake and the events with no goroutine of its own.
type loadPanel struct {
	guid string
	nc   net.Conn
}

// handshake dials srv and does what a panel does first: a discovery,
// then a hello, each answered (spec: D.8, D.9).
func handshake(srv *Server, guid string, discovery, hello []byte) (*loadPanel, error) {
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), patience)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(patience))
	// M11 is 44 bytes, M8 M9 M10 are 13, 13 and 16 (spec: D.4).
	for _, step := range []struct {
		msg   []byte
		reply int
	}{{discovery, 44}, {hello, 42}} {
		if _, err := nc.Write(step.msg); err != nil {
			nc.Close()
			return nil, err
		}
		if _, err := io.ReadFull(nc, make([]byte, step.reply)); err != nil {
			nc.Close()
			return nil, fmt.Errorf("%s: waiting for the reply: %w", guid, err)
		}
	}
	return &loadPanel{guid: guid, nc: nc}, nil
}

// send writes the panel's events as notifications, a few per write as a
// panel that reports a burst does, then a ping, and waits for its reply:
// the server has read everything before it.
func (p *loadPanel) send(events int) error {
	var b []byte
	for i := range events {
		b = append(b, notification(i)...)
		if i%8 == 7 || i == events-1 {
			if _, err := p.nc.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if _, err := p.nc.Write(ping); err != nil {
		return err
	}
	_, err := io.ReadFull(p.nc, make([]byte, len(ping)))
	return err
}

// heap is the memory the Go runtime has in use for objects and stacks,
// after a collection.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// runLoad connects panels to one server at once over loopback, each
// doing its discovery and hello; measures the memory an idle connected
// panel costs; then has every panel send events notifications at once.
// Every one must reach the Handler once, in order per panel, and the
// server's counters must say so.
func runLoad(t *testing.T, panels, events int) {
	if err := rlimit.Files(uint64(2*panels + 64)); err != nil {
		t.Skip(err)
	}
	h := &loadHandler{next: map[string]int{}, done: make(chan struct{}), want: panels * events}
	srv, _ := start(t, Config{Handler: h, MaxConns: panels, MaxPerAddr: -1})
	disc, err := cloudproto.Decode(vector(t, "C-DISCOVERY"))
	if err != nil {
		t.Fatal(err)
	}
	hello, err := cloudproto.Decode(vector(t, "C-HELLO"))
	if err != nil {
		t.Fatal(err)
	}

	before := heap()
	begin := time.Now()
	ps := make([]*loadPanel, panels)
	errs := make([]error, panels)
	var wg sync.WaitGroup
	for i := range ps {
		wg.Go(func() {
			guid := fmt.Sprintf("LOAD%05d", i)
			d, h := disc, hello
			d.Hello.GUID, h.Hello.GUID = guid, guid
			ps[i], errs[i] = handshake(srv, guid, d.Append(nil), h.Append(nil))
		})
	}
	wg.Wait()
	connected := time.Since(begin)
	defer func() {
		for _, p := range ps {
			if p != nil {
				p.nc.Close()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Stats(); st.Open != int64(panels) {
		t.Fatalf("stats %+v: want %d open", st, panels)
	}
	perPanel := (heap() - before) / int64(panels)

	begin = time.Now()
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.send(events) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-h.done:
	case <-time.After(patience):
		t.Fatalf("%d of %d messages delivered", h.n, h.want)
	}
	elapsed := time.Since(begin)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Fatalf("%d wrong messages, the first: %s", len(h.bad), h.bad[0])
	}
	for _, p := range ps {
		if h.next[p.guid] != events {
			t.Errorf("%s: %d notifications, want %d", p.guid, h.next[p.guid], events)
		}
	}
	st := waitStats(t, srv, func(s Stats) bool { return s.Delivered == int64(panels*events) })
	want := Stats{Open: int64(panels), Accepted: int64(panels), Messages: int64(panels * (events + 3)), Delivered: int64(panels * events)}
	if st != want {
		t.Errorf("stats\n%+v\nwant\n%+v", st, want)
	}
	t.Logf("%d panels connected (discovery, hello) in %v; idle, %d bytes each (Go heap and stacks, both ends); %d notifications in %v (%.0f/s)",
		panels, connected.Round(time.Millisecond), perPanel, panels*events, elapsed.Round(time.Millisecond), float64(panels*events)/elapsed.Seconds())
}

// TestLoad: 500 panels at once, 100 notifications each (docs/benchmarks.md);
// about a second, 2 with -race.
func TestLoad(t *testing.T) { runLoad(t, 500, 100) }
