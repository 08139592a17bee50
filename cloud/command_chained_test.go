package cloud

import (
	"context"
	"errors"
	"os"
	"slices"
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

// vendorAnswers is a fake vendor cloud (sim.VendorCloud) that records
// the command answers (M6) it is relayed.
type vendorAnswers struct {
	v   *sim.VendorCloud
	mu  sync.Mutex
	got []cloudproto.Message
}

func startVendor(t *testing.T) *vendorAnswers {
	t.Helper()
	va := &vendorAnswers{}
	v, err := sim.NewVendorCloud(sim.VendorCloudConfig{OnMessage: func(_ int, raw []byte) {
		m, err := cloudproto.Decode(raw)
		if err != nil || m.Kind != cloudproto.KindCommandResponse {
			return
		}
		m.Body = slices.Clone(m.Body)
		va.mu.Lock()
		va.got = append(va.got, m)
		va.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	va.v = v
	testrig.Serve(t, v.Serve)
	return va
}

// seqs returns the sequences of the answers the vendor got, in order.
func (va *vendorAnswers) seqs() []uint16 {
	va.mu.Lock()
	defer va.mu.Unlock()
	var s []uint16
	for i := range va.got {
		s = append(s, va.got[i].Seq())
	}
	return s
}

// command sends the vendor's command with seq to every panel connection.
func (va *vendorAnswers) command(t *testing.T, seq uint16, req protocol.Request) {
	t.Helper()
	m := cloudproto.CommandOf(seq, req)
	if n := va.v.Send(m.Append(nil)); n != 1 {
		t.Fatalf("the vendor's command reached %d connections, want 1", n)
	}
}

// TestCommandChained: on a chained panel's connection the vendor's
// commands and ours run side by side; each answer reaches its asker
// alone, ours never the vendor (issue 18.3, spec: E.4, D.5.8, D.5.9).
func TestCommandChained(t *testing.T) {
	va := startVendor(t)
	srv, _ := start(t, Config{Upstream: va.v.Addr()})
	p, udp, guid := cloudSim(t, srv)
	eventually.True(t, "the upstream connected", func() bool { return srv.Stats().UpstreamConnects == 1 })

	// The vendor's first commands take sequences in our half: ours
	// skip them.
	var want []uint16
	for _, seq := range []uint16{1, commandSeqBase + 1, commandSeqBase + 2} {
		va.command(t, seq, protocol.NewRequest(protocol.GetHostInfo))
		want = append(want, seq)
	}
	eventually.True(t, "the vendor's answers", func() bool { return len(va.seqs()) == 3 })

	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Go(func() {
			req := protocol.NewRequest(protocol.GetHostStatus)
			got, err := srv.Command(ctx, guid, req)
			if err == nil && got.Code != req.Code {
				err = errors.New("answered with " + got.Code.String())
			}
			if err != nil {
				errs <- err
			}
		})
		seq := uint16(10 + i)
		va.command(t, seq, protocol.PageRequest(protocol.GetSensorList, 1, 10))
		want = append(want, seq)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually.True(t, "every answer to the vendor", func() bool { return len(va.seqs()) >= len(want) })
	time.Sleep(50 * time.Millisecond) // anything more would come now
	got := va.seqs()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sequences of the answers the vendor got (-its commands +answers):\n%s", diff)
	}
	va.mu.Lock()
	for i := range va.got {
		if m := &va.got[i]; m.Seq() >= 10 && m.Seq() < 30 {
			resp, err := m.Reply()
			if err != nil || resp.Code != protocol.GetSensorList {
				t.Errorf("vendor's command %d answered with %v, %v", m.Seq(), resp.Code, err)
			}
		}
	}
	va.mu.Unlock()
	if st := srv.Stats(); st.Commands != 20 || st.CommandAnswers != 20 || st.CommandUnmatched != 0 {
		t.Errorf("stats %+v: want our 20 commands answered", st)
	}

	// A write of ours is carried out, the vendor's reads see it.
	if _, err := srv.Command(ctx, guid, protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(int(protocol.ArmHome)))); err != nil {
		t.Fatal(err)
	}
	if arm := p.Snapshot().Arm; arm != protocol.ArmHome {
		t.Errorf("arm state %v, want home", arm)
	}
	if diff := cmp.Diff(overUDP(t, udp, protocol.NewRequest(protocol.GetHostStatus)), mustCommand(t, srv, guid, protocol.NewRequest(protocol.GetHostStatus))); diff != "" {
		t.Errorf("status over the cloud (-UDP +cloud):\n%s", diff)
	}
}

func mustCommand(t *testing.T, srv *Server, guid string, req protocol.Request) protocol.Response {
	t.Helper()
	resp, err := srv.Command(t.Context(), guid, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// cmdPanel is a fake chained panel that reads the commands it gets.
type cmdPanel struct {
	*panel
	f cloudproto.Framer
}

// next returns the next command (M12) within wait, skipping whatever
// else comes; ok is false when none came.
func (p *cmdPanel) next(wait time.Duration) (m cloudproto.Message, ok bool) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		raw, err := p.f.Next()
		if err != nil {
			p.t.Fatal(err)
		}
		if raw != nil {
			m, err := cloudproto.Decode(raw)
			if err != nil {
				p.t.Fatal(err)
			}
			if m.Kind == cloudproto.KindCommand {
				return m, true
			}
			continue
		}
		p.nc.SetReadDeadline(deadline)
		b := make([]byte, 1024)
		n, err := p.nc.Read(b)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return cloudproto.Message{}, false
		}
		if err != nil {
			p.t.Fatal(err)
		}
		p.f.Feed(b[:n])
	}
}

func (p *cmdPanel) must() cloudproto.Message {
	p.t.Helper()
	m, ok := p.next(patience)
	if !ok {
		p.t.Fatal("no command came")
	}
	return m
}

// answer sends the M6 to m carrying a host status with arm state v, by
// which the test tells answers apart.
func (p *cmdPanel) answer(m *cloudproto.Message, v int) {
	p.t.Helper()
	a, err := cloudproto.ResponseOf(m, protocol.Response{Code: protocol.GetHostStatus, Data: []protocol.Value{protocol.IntValue(v)}}.Append(nil))
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(a.Append(nil))
}

// The sequences of a chained panel's connection: ours skip the vendor's;
// a vendor's command that reuses the sequence of ours in flight waits
// until ours is answered; our late answer stays here, but a vendor's
// command with the same sequence later gets its answer upstream, and so
// does an answer nobody asked for (issue 18.3).
func TestCommandChainedSequences(t *testing.T) {
	va := startVendor(t)
	srv, _ := start(t, Config{Upstream: va.v.Addr()})
	p := &cmdPanel{panel: dial(t, srv)}
	p.send(helloWithGUID(t, "FAKEPANEL"))
	eventually.True(t, "the upstream connected", func() bool { return srv.Stats().UpstreamConnects == 1 })

	status := protocol.NewRequest(protocol.GetHostStatus)
	va.command(t, commandSeqBase+1, status)
	v1 := p.must()
	p.answer(&v1, 1)
	eventually.True(t, "the vendor's answer", func() bool { return len(va.seqs()) == 1 })

	type result struct {
		resp protocol.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := srv.Command(t.Context(), "FAKEPANEL", status)
		done <- result{resp, err}
	}()
	ours := p.must()
	if s := ours.Seq(); s < commandSeqBase || s == commandSeqBase+1 {
		t.Fatalf("our command has sequence %#x: want one of ours the vendor did not use", s)
	}
	va.command(t, ours.Seq(), status)
	if m, ok := p.next(300 * time.Millisecond); ok {
		t.Fatalf("the vendor's command with our sequence %#x came while ours waits: %+v", ours.Seq(), m)
	}
	p.answer(&ours, 2)
	r := <-done
	if r.err != nil || len(r.resp.Data) == 0 || !r.resp.Data[0].Equal(protocol.IntValue(2)) {
		t.Fatalf("our command got %+v, %v; want our answer", r.resp, r.err)
	}
	vendors := p.must()
	if vendors.Seq() != ours.Seq() {
		t.Fatalf("the vendor's command came with %#x, want %#x", vendors.Seq(), ours.Seq())
	}
	p.answer(&vendors, 3)

	// Ours times out; its late answer stays here. The vendor reuses the
	// sequence: its answer goes up.
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := srv.Command(short, "FAKEPANEL", status); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered command: %v", err)
	}
	timedOut := p.must()
	p.answer(&timedOut, 4)
	// Which of two streams comes first is not defined: the test waits
	// until the late answer is in before the vendor reuses its sequence.
	eventually.True(t, "the late answer counted", func() bool { return srv.Stats().CommandUnmatched == 1 })
	va.command(t, timedOut.Seq(), status)
	again := p.must()
	p.answer(&again, 5)
	stray := cloudproto.CommandOf(0x7777, status)
	p.answer(&stray, 6)

	want := []uint16{commandSeqBase + 1, ours.Seq(), timedOut.Seq(), 0x7777}
	eventually.True(t, "the vendor's answers", func() bool { return len(va.seqs()) >= len(want) })
	p.sync()
	if diff := cmp.Diff(want, va.seqs()); diff != "" {
		t.Fatalf("answers the vendor got (-want +got):\n%s", diff)
	}
	va.mu.Lock()
	defer va.mu.Unlock()
	for i, v := range []int{1, 3, 5, 6} {
		resp, err := va.got[i].Reply()
		if err != nil || len(resp.Data) == 0 || !resp.Data[0].Equal(protocol.IntValue(v)) {
			t.Errorf("vendor's answer %d: %+v, %v; want the panel's answer %d", i, resp, err, v)
		}
	}
}
