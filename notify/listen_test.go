package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/sockopt"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

// chanSink passes what the listener hands over to the test.
type chanSink struct {
	mu      sync.Mutex
	packets int
	msgs    chan Message
}

func (s *chanSink) Packet(src event.Source, _ time.Time) {
	if src != event.SourceLocal {
		panic("source " + src)
	}
	s.mu.Lock()
	s.packets++
	s.mu.Unlock()
}

func (s *chanSink) Message(m Message, _ event.Source, _ time.Time) { s.msgs <- m }

func (s *chanSink) packetCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets
}

// runListener runs a listener on loopback until the test ends.
func runListener(t *testing.T, host netip.Addr) (*Listener, *chanSink) {
	t.Helper()
	leaktest.Check(t)
	return runListenerOn(t, "127.0.0.1:0", host)
}

// runListenerOn runs a listener on addr until the test ends; each setup
// function sees it before Run.
func runListenerOn(t *testing.T, addr string, host netip.Addr, setup ...func(*Listener)) (*Listener, *chanSink) {
	t.Helper()
	l, err := Listen(context.Background(), ListenerConfig{Addr: addr, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(l)
	}
	sink := &chanSink{msgs: make(chan Message, 64)}
	testrig.Serve(t, func(ctx context.Context) error { return l.Run(ctx, sink) })
	return l, sink
}

func sendTo(t *testing.T, to net.Addr, b []byte) {
	t.Helper()
	c, err := net.Dial("udp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// Every L-ERR vector of spec F.1 sent to a real listener is dropped — by
// the source filter, as malformed, by the GUID filter or as unknown to the
// mapping — and the good datagram after each still gets through.
func TestListenerErrorVectors(t *testing.T) {
	good := []byte("[170,[5,[100,\"Hall\"]]]\x00")
	for _, v := range loadVectors(t) {
		if len(v.ID) < 6 || v.ID[:6] != "L-ERR-" {
			continue
		}
		t.Run(v.ID, func(t *testing.T) {
			host := netip.MustParseAddr("127.0.0.1")
			if h, ok := v.Fields["configured_host"]; ok {
				host = netip.MustParseAddr(h)
			}
			l, sink := runListener(t, host)
			b, err := v.datagram()
			if err != nil {
				t.Fatal(err)
			}
			sendTo(t, l.Addr(), b)
			if v.Fields["configured_host"] == "" {
				sendTo(t, l.Addr(), good)
			}
			want := uint64(2)
			if v.Fields["configured_host"] != "" {
				want = 1
			}
			// Wait until every datagram is dealt with, not just read.
			eventually.NoError(t, fmt.Sprintf("%d datagrams dealt with", want), func() error {
				if s := l.Stats(); s.WrongHost+s.Malformed+s.Messages != want {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			st := l.Stats()
			switch {
			case v.Fields["configured_host"] != "":
				if st.WrongHost != 1 || sink.packetCount() != 0 {
					t.Fatalf("stats %+v, %d packets: want one wrong host and no packet time (spec A.7.1)", st, sink.packetCount())
				}
				return
			case st.Malformed == 1:
				if sink.packetCount() != 2 {
					t.Fatalf("%d packets: a malformed datagram from the panel updates the packet time too (spec A.8)", sink.packetCount())
				}
			default:
				// It decodes; the GUID filter or the mapping drops it.
				m := <-sink.msgs
				gerr := m.CheckGUID(v.Fields["guid"])
				evs, eerr := m.Events(nil)
				switch {
				case v.ID == "L-ERR-FIRMWARE":
					// Kind 8 is firmware_updating here (spec B.9 [REC]).
					if eerr != nil || len(evs) != 1 || evs[0].Type != event.FirmwareUpdating {
						t.Fatalf("firmware notification: %+v, %v", evs, eerr)
					}
				case errors.Is(gerr, ErrWrongDevice):
				case errors.Is(eerr, ErrUnknown) && len(evs) == 0:
				default:
					t.Fatalf("%s was not dropped: events %+v, GUID check %v, mapping %v", v.ID, evs, gerr, eerr)
				}
			}
			select {
			case m := <-sink.msgs:
				if m.Notification.Index != 100 {
					t.Fatalf("got %+v after the bad datagram, want the good one", m)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the good datagram after the bad one did not arrive")
			}
		})
	}
}

// A second listener on a listener's port is refused with an error that
// names the port and the process holding it, because it would take the
// first one's unicast datagrams (spec A.1.1); targeted discovery, which
// binds the port with SO_REUSEADDR, still joins it; and a closed
// listener's Run returns nil.
func TestListenerRefusesSecondListener(t *testing.T) {
	l, sink := runListener(t, netip.MustParseAddr("127.0.0.1"))
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l2, err := Listen(context.Background(), ListenerConfig{Addr: addr})
	if err == nil {
		l2.Close()
		t.Fatalf("a second listener could bind %v", addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "UDP port "+port+" is already in use by") {
		t.Fatalf("second listener: %v; want EADDRINUSE naming port %s", err, port)
	}
	if runtime.GOOS == "linux" && !strings.Contains(err.Error(), fmt.Sprintf("pid %d (", os.Getpid())) {
		t.Fatalf("second listener: %v; want it to name this process, pid %d", err, os.Getpid())
	}
	// Discovery's socket joins the port while the listener runs.
	d, err := sockopt.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		t.Fatalf("a discovery socket cannot share %v: %v", addr, err)
	}
	d.Close()
	// And the listener still gets the panel's datagrams.
	sendTo(t, l.Addr(), []byte("[170,[5,[100,\"Hall\"]]]\x00"))
	select {
	case <-sink.msgs:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener got nothing")
	}
}

func TestResolveHost(t *testing.T) {
	a, err := ResolveHost(context.Background(), "127.0.0.1")
	if err != nil || a != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("ResolveHost(127.0.0.1) = %v, %v", a, err)
	}
	a, err = ResolveHost(context.Background(), "localhost")
	if err != nil || !a.IsLoopback() {
		t.Fatalf("ResolveHost(localhost) = %v, %v", a, err)
	}
}
