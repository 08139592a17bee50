package g90_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/sim"
)

// BenchmarkHistoryPage reads the newest 10 entries of a full history (512
// entries, the simulator's bound) over loopback: the client's work and a
// round trip, now that the simulator encodes only the page asked for.
func BenchmarkHistoryPage(b *testing.B) {
	st := sim.DefaultState()
	for len(st.History) < 512 {
		st.History = append(st.History, st.History[len(st.History)%8])
	}
	s := simtest.Start(b, sim.Config{State: &st, Seed: 1})
	p, err := g90.New(g90.Config{Host: "127.0.0.1", Port: s.Addr().(*net.UDPAddr).Port, Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := p.History(ctx, 1, 10)
		if err != nil || len(h) != 10 {
			b.Fatalf("%d entries, %v", len(h), err)
		}
	}
}
