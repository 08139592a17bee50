package cloudload

import (
	"context"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

// TestLoad is the load test in small: 200 panels connected at once to
// one server, each sending 50 status changes as fast as the server takes
// them, with pings and hellos all along. Every message arrives, in order
// per panel, every request is answered, and nothing is left running.
// cmd/g90load runs it at full size.
func TestLoad(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Panels: 200, Events: 50, Ping: 10 * time.Millisecond, Hello: 15 * time.Millisecond, Hold: 50 * time.Millisecond}
	res, err := Run(ctx, cfg, InProcess, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(); err != nil {
		t.Fatal(err)
	}
	if res.Events < res.Want || res.Fleet.PingsSent == 0 {
		t.Errorf("result %+v: want an event per message at least, and pings", res)
	}
	t.Logf("%d panels: connected in %v, %d messages in %v (%.0f/s), %d pings and %d hellos answered",
		cfg.Panels, res.Connect, res.Messages, res.Elapsed, res.Rate, res.Fleet.PingsAnswered, res.Fleet.HellosAnswered)
}
