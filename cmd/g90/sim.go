package main

import (
	"fmt"
	"log/slog"

	"github.com/g90alarm/g90/sim"
	"github.com/spf13/cobra"
)

func newSimCmd(g *globals) *cobra.Command {
	var cfg sim.Config
	var seed int64
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
With --state, the simulated panel keeps its state across runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Seed = seed
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: logLevel(g.verbose)}))
			p, err := sim.New(cfg)
			if err != nil {
				return err
			}
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "simulated panel listening on udp %s\n", p.Addr())
			if a := p.ControlAddr(); a != nil {
				fmt.Fprintf(w, "control API on http://%s (GET /state, POST /faults, POST /inject)\n", a)
			}
			if a := p.DiscoveryAddr(); a != nil {
				fmt.Fprintf(w, "targeted discovery on udp %s\n", a)
			}
			fmt.Fprintln(w, "stop with Ctrl-C")
			return p.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", sim.DefaultListen, "UDP address for commands")
	f.StringVar(&cfg.Control, "control", "", "address of the HTTP JSON control API, e.g. 127.0.0.1:8090 (off when empty)")
	f.StringVar(&cfg.Notify, "notify", "127.0.0.1:12901", "UDP address notifications and alerts are sent to (empty: none)")
	f.StringVar(&cfg.DiscoveryListen, "discovery", "", "UDP address answering targeted discovery, e.g. 127.0.0.1:12900 (off when empty)")
	f.StringVar(&cfg.StateFile, "state", "", "JSON file the state is loaded from and saved to")
	f.Int64Var(&seed, "seed", 0, "seed for the random faults (0: from the clock)")
	return cmd
}

func logLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
