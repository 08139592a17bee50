package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// cloudSim serves a simulated panel on loopback, connected to srv as a
// cloud panel, and returns it with a UDP socket to its command port.
func cloudSim(t testing.TB, srv *Server) (*sim.Panel, net.Conn, string) {
	t.Helper()
	p, err := sim.New(sim.Config{Listen: "127.0.0.1:0", Seed: 1, Cloud: sim.CloudConfig{Addr: srv.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, p.Serve)
	guid := p.Snapshot().Host.GUID
	eventually.True(t, "the panel connected", func() bool { _, ok := srv.Panel(guid); return ok })
	udp, err := net.Dial("udp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	return p, udp, guid
}

// overUDP is the panel's reply to req on its command port.
func overUDP(t *testing.T, udp net.Conn, req protocol.Request) protocol.Response {
	t.Helper()
	if _, err := udp.Write(req.Append(nil)); err != nil {
		t.Fatal(err)
	}
	udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 65536)
	n, err := udp.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := protocol.ParseResponse(b[:n])
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestCommand: a command sent over a panel's cloud connection (M12) is
// answered (M6) with what its command port answers over UDP; a write is
// carried out; concurrent commands are serialised and each gets its own
// answer (spec: D.5.8, D.5.9; issue 18.3).
func TestCommand(t *testing.T) {
	srv, _ := start(t, Config{})
	p, udp, guid := cloudSim(t, srv)
	ctx := t.Context()
	for _, req := range []protocol.Request{
		protocol.NewRequest(protocol.GetHostStatus),
		protocol.NewRequest(protocol.GetHostInfo),
		protocol.NewRequest(protocol.GetHostConfig),
		protocol.NewRequest(protocol.GetAPInfo),
		protocol.NewRequest(protocol.GetNoticeFlags),
		protocol.NewRequest(protocol.GetSIA),
		protocol.NewRequest(protocol.GetCID),
		protocol.NewRequest(protocol.GetAlarmPhones),
		protocol.PageRequest(protocol.GetSensorList, 1, 10),
		protocol.PageRequest(protocol.GetHistory, 1, 10),
	} {
		got, err := srv.Command(ctx, guid, req)
		if err != nil {
			t.Fatalf("%v: %v", req.Code, err)
		}
		if diff := cmp.Diff(overUDP(t, udp, req), got); diff != "" {
			t.Errorf("%v over the cloud (-UDP +cloud):\n%s", req.Code, diff)
		}
	}
	if _, err := srv.Command(ctx, guid, protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(int(protocol.ArmAway)))); err != nil {
		t.Fatal(err)
	}
	if arm := p.Snapshot().Arm; arm != protocol.ArmAway {
		t.Errorf("arm state %v after arming over the cloud, want away", arm)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		req := protocol.NewRequest(protocol.GetHostStatus)
		if i%2 == 1 {
			req = protocol.NewRequest(protocol.GetHostInfo)
		}
		wg.Go(func() {
			resp, err := srv.Command(ctx, guid, req)
			if err == nil && resp.Code != req.Code {
				err = fmt.Errorf("%v answered with %v", req.Code, resp.Code)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := srv.Stats(); st.Commands != 31 || st.CommandAnswers != 31 || st.CommandUnmatched != 0 || st.CommandTimeouts != 0 {
		t.Errorf("stats %+v: want 31 commands, each answered", st)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := srv.Command(short, "NOSUCHPANEL", protocol.NewRequest(protocol.GetHostStatus)); !errors.Is(err, ErrNotConnected) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a panel not connected: %v, want ErrNotConnected after the wait", err)
	}
}

// A command for a panel that has not connected yet waits for it: it is
// sent once the panel names itself.
func TestCommandWaitsForThePanel(t *testing.T) {
	srv, _ := start(t, Config{})
	done := make(chan error, 1)
	go func() {
		_, err := srv.Command(t.Context(), "SIMPANEL0001", protocol.NewRequest(protocol.GetHostStatus))
		done <- err
	}()
	cloudSim(t, srv)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("the command did not reach the panel that connected")
	}
}

// A fake panel that reads our command: it can stay silent, answer late
// or hang up. A command is never sent twice; a late answer does not
// answer the next command.
func TestCommandNoAnswer(t *testing.T) {
	srv, _ := start(t, Config{})
	fake := dial(t, srv)
	fake.send(helloWithGUID(t, "FAKEPANEL"))
	fake.expect(helloReplies(srv))
	var f cloudproto.Framer
	next := func() cloudproto.Message {
		t.Helper()
		for {
			raw, err := f.Next()
			if err != nil {
				t.Fatal(err)
			}
			if raw != nil {
				m, err := cloudproto.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			fake.nc.SetReadDeadline(time.Now().Add(patience))
			b := make([]byte, 1024)
			n, err := fake.nc.Read(b)
			if err != nil {
				t.Fatalf("reading the command: %v", err)
			}
			f.Feed(b[:n])
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := srv.Command(ctx, "FAKEPANEL", protocol.NewRequest(protocol.GetHostStatus))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent panel: %v, want a timeout", err)
	}
	first := next()
	if first.Kind != cloudproto.KindCommand || first.Seq() < commandSeqBase {
		t.Fatalf("sent %+v, want an M12 with a sequence of ours", first)
	}

	// Its late answer, then the next command's: only the second counts.
	done := make(chan error, 1)
	go func() {
		_, err := srv.Command(t.Context(), "FAKEPANEL", protocol.NewRequest(protocol.GetHostInfo))
		done <- err
	}()
	second := next()
	if second.Seq() == first.Seq() {
		t.Fatalf("the second command reused sequence %d", first.Seq())
	}
	late, err := cloudproto.ResponseOf(&first, protocol.Response{Code: protocol.GetHostStatus, Data: []protocol.Value{protocol.IntValue(3)}}.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	fake.send(late.Append(nil))
	eventually.True(t, "the late answer counted", func() bool { return srv.Stats().CommandUnmatched == 1 })
	select {
	case err := <-done:
		t.Fatalf("the second command returned %v on the first's answer", err)
	default:
	}
	// The panel hangs up: the waiting command learns it may have run.
	fake.nc.Close()
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Errorf("after the panel hung up: %v, want ErrDisconnected", err)
	}
	if st := srv.Stats(); st.Commands != 2 || st.CommandTimeouts != 1 || st.CommandAnswers != 0 {
		t.Errorf("stats %+v: want 2 commands sent once each, 1 timeout", st)
	}
}
