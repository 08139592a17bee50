package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/g90alarm/g90/sim"
	"github.com/spf13/cobra"
)

func newSimCmd(g *globals) *cobra.Command {
	var (
		cfg          sim.Config
		seed         int64
		panels       int
		vendorListen string
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated panel on loopback",
		Long: `Run a simulated G90 panel: a realistic home with sensors, relays, settings
and history that answers the local protocol like a real panel.

Point any g90 command at it (the default --host is 127.0.0.1). With
--control, an HTTP JSON API lets tests read the state (GET /state) and
inject faults (POST /faults {"drop":0.3,"delay_ms":50,"duplicate":0.1,"stray":true})
and events (POST /inject {"event":"door_open","sensor":1}). Every state change
is announced to --notify as a panel's notifications and alerts.
With --state, the simulated panel keeps its state across runs.

With --cloud HOST:PORT the panel also connects to that cloud server as a
panel does to the vendor's (discovery, hello, a ping and a hello every
minute, reconnecting when dropped) and reports every event there too;
g90 set-cloud-server moves it elsewhere. --panels N adds N-1 cloud-only
panels (GUIDs SIMPANEL0002…), which keep their sessions but have no
local protocol, for load tests. --vendor-cloud ADDR also runs a fake of
the vendor's cloud on ADDR, the upstream for
g90 listen --source cloud --upstream ADDR.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if panels < 1 || (panels > 1 && cfg.Cloud.Addr == "") {
				return errors.New("--panels N: N ≥ 1, and more than one panel needs --cloud")
			}
			cfg.Seed = seed
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: logLevel(g.verbose)}))
			cfg.Logger = log
			var runs []func(context.Context) error
			p, err := sim.New(cfg)
			if err != nil {
				return err
			}
			runs = append(runs, p.Serve)
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "simulated panel listening on udp %s\n", p.Addr())
			if a := p.ControlAddr(); a != nil {
				fmt.Fprintf(w, "control API on http://%s (GET /state, POST /faults, POST /inject)\n", a)
			}
			if a := p.DiscoveryAddr(); a != nil {
				fmt.Fprintf(w, "targeted discovery on udp %s\n", a)
			}
			if cfg.Cloud.Addr != "" {
				fmt.Fprintf(w, "panel %s connects to the cloud server at %s\n", p.Snapshot().Host.GUID, cfg.Cloud.Addr)
			}
			if panels > 1 {
				fc := cfg.Cloud
				fc.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: fleetLogLevel(g.verbose)}))
				f, err := sim.NewFleet(sim.FleetConfig{Panels: panels - 1, First: 2, Cloud: fc})
				if err != nil {
					p.Close()
					return err
				}
				runs = append(runs, f.Run)
				fmt.Fprintf(w, "%d cloud-only panels %s to %s connect there too\n", panels-1, sim.FleetGUID(2), sim.FleetGUID(panels))
			}
			if vendorListen != "" {
				v, err := sim.NewVendorCloud(sim.VendorCloudConfig{Listen: vendorListen, Logger: log})
				if err != nil {
					p.Close()
					return err
				}
				runs = append(runs, v.Serve)
				fmt.Fprintf(w, "fake vendor cloud listening on tcp %s\n", v.Addr())
			}
			fmt.Fprintln(w, "stop with Ctrl-C")
			return runAll(cmd.Context(), runs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", sim.DefaultListen, "UDP address for commands")
	f.StringVar(&cfg.Control, "control", "", "address of the HTTP JSON control API, e.g. 127.0.0.1:8090 (off when empty)")
	f.StringVar(&cfg.Notify, "notify", "127.0.0.1:12901", "UDP address notifications and alerts are sent to (empty: none)")
	f.StringVar(&cfg.DiscoveryListen, "discovery", "", "UDP address answering targeted discovery, e.g. 127.0.0.1:12900 (off when empty)")
	f.StringVar(&cfg.StateFile, "state", "", "JSON file the state is loaded from and saved to")
	f.Int64Var(&seed, "seed", 0, "seed for the random faults (0: from the clock)")
	f.StringVar(&cfg.Cloud.Addr, "cloud", "", "also connect to the cloud server at HOST:PORT as a panel (off when empty)")
	f.DurationVar(&cfg.Cloud.PingInterval, "cloud-ping", sim.DefaultCloudPing, "cloud: time between two pings")
	f.DurationVar(&cfg.Cloud.HelloInterval, "cloud-hello", sim.DefaultCloudHello, "cloud: time between two hellos")
	f.IntVar(&panels, "panels", 1, "with --cloud: run this many panels, the 2nd and later cloud-only")
	f.StringVar(&vendorListen, "vendor-cloud", "", "also run a fake vendor cloud on this TCP address, e.g. 127.0.0.1:5679 (off when empty)")
	return cmd
}

// runAll runs every function until ctx ends or one fails, then stops
// the others and returns the first error after all have returned.
func runAll(ctx context.Context, runs ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, run := range runs {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		})
	}
	wg.Wait()
	return first
}

func logLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// fleetLogLevel keeps thousands of panels' connects out of the log
// unless asked for.
func fleetLogLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
