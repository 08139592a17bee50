// Command g90load is the cloud server's load test: thousands of
// simulated panels connect at once to one cloud server on loopback, each
// says hello and pings, then all send their status changes as fast as
// the server takes them, and the server checks every message arrives once
// and in order. The panels run in a child process (this program again),
// so the memory reported is the server's alone.
//
//	go run ./cmd/g90load -panels 10000 -events 100
//
// It exits non-zero when a message was lost, a request unanswered or a
// panel reconnected. See internal/cloudload and docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/g90alarm/g90/internal/cloudload"
	"github.com/g90alarm/g90/internal/rlimit"
)

func main() {
	var cfg cloudload.Config
	flag.IntVar(&cfg.Panels, "panels", 10000, "panels connected at once")
	flag.IntVar(&cfg.Events, "events", 100, "status changes each panel sends")
	flag.DurationVar(&cfg.Ping, "ping", 2*time.Second, "time between a panel's pings")
	flag.DurationVar(&cfg.Hello, "hello", 3*time.Second, "time between a panel's hellos")
	flag.IntVar(&cfg.Sources, "sources", 4, "loopback addresses the panels connect from, 127.0.0.1 up (one address runs out of ports above ~14,000 panels)")
	flag.DurationVar(&cfg.Hold, "hold", 5*time.Second, "how long the panels stay connected after the last event")
	inProcess := flag.Bool("inprocess", false, "run the panels in this process; the memory figures are then for both")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	verbose := flag.Bool("v", false, "log the server's and the panels' warnings")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	fleet := flag.String("fleet", "", "run as the panels' process, connecting to this server (used by g90load itself)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := run(ctx, cfg, *fleet, *inProcess, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "g90load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg cloudload.Config, fleet string, inProcess, asJSON bool) error {
	files := uint64(cfg.Panels) + 256 // a socket per panel, and some
	if inProcess {
		files += uint64(cfg.Panels)
	}
	if err := rlimit.Files(files); err != nil {
		return err
	}
	if fleet != "" {
		cfg.Server = fleet
		return cloudload.ServeFleet(ctx, cfg, os.Stdin, os.Stdout)
	}
	panels := cloudload.InProcess
	if !inProcess {
		panels = child
	}
	res, err := cloudload.Run(ctx, cfg, panels, inProcess)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		printResult(os.Stdout, &res)
	}
	return res.Check()
}

// child runs the panels in a child process: this program with -fleet.
func child(ctx context.Context, cfg cloudload.Config) (io.WriteCloser, io.Reader, func() error, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-fleet", cfg.Server,
		"-panels", fmt.Sprint(cfg.Panels), "-events", fmt.Sprint(cfg.Events),
		"-sources", fmt.Sprint(cfg.Sources), "-ping", cfg.Ping.String(), "-hello", cfg.Hello.String(), fmt.Sprintf("-v=%t", cfg.Logger != nil))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return in, out, cmd.Wait, nil
}

func printResult(w io.Writer, r *cloudload.Result) {
	mb := func(b int64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
	}
	whose := "server"
	if r.InProcess {
		whose = "server and panels"
	}
	f := r.Fleet
	fmt.Fprintf(w, "panels connected at once  %d (in %v)\n", r.Config.Panels, r.Connect.Round(time.Millisecond))
	fmt.Fprintf(w, "hellos answered           %d of %d\n", f.HellosAnswered, f.HellosSent)
	fmt.Fprintf(w, "pings answered            %d of %d\n", f.PingsAnswered, f.PingsSent)
	fmt.Fprintf(w, "status changes            %d of %d arrived, %d out of order, in %v\n", r.Messages, r.Want, r.OutOfOrder, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "rate                      %.0f messages/s, %.0f events/s\n", r.Rate, float64(r.Events)/r.Elapsed.Seconds())
	fmt.Fprintf(w, "resident memory (%s)  %s idle with all connected, %s peak, %s before\n", whose, mb(r.RSS), mb(r.PeakRSS), mb(r.BaseRSS))
	if n := float64(r.Config.Panels); r.RSS > 0 {
		fmt.Fprintf(w, "per idle panel            %.1f KB resident, %.1f µs CPU to connect, %.2f µs CPU a second idle (%v hold)\n",
			float64(r.RSS-r.BaseRSS)/n/1000, float64(r.ConnectCPU.Microseconds())/n,
			float64(r.IdleCPU.Microseconds())/n/r.Config.Hold.Seconds(), r.Config.Hold)
	}
}
