package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/homekit"
	"github.com/g90alarm/g90/internal/floodlog"
)

func newServeCmd(g *globals) *cobra.Command {
	var file string
	var check bool
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--check]",
		Short: "Run the daemon: panels ↔ MQTT and Home Assistant, journal, web UI, metrics",
		Long: `Run the daemon described by a YAML config file (see docs/g90.example.yaml):
every panel with its event source, one cloud server for the panels that
use it, the MQTT bridge with Home Assistant discovery (an embedded broker
when mqtt.url is empty), the event journal (read it with g90 events),
and the web UI with /metrics on web.listen.

SIGINT and SIGTERM stop it cleanly. SIGHUP reads the config again: a valid
config replaces the running one, an invalid one is logged and ignored.

With --check it only validates the config file (every error with file,
line and key), opens no socket, and exits 0 when the file is valid and 1
when not: for a service manager's ExecStartPre, or before a reload.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("serve: --config FILE is required (docs/g90.example.yaml shows every key)")
			}
			if check {
				cfg, err := daemon.LoadConfig(file)
				if err != nil {
					return err
				}
				// serve would fail at once (and procd or systemd would
				// restart it for ever): say so here.
				if cfg.MQTT.URL == "" && !broker.BuiltIn {
					return fmt.Errorf("%s: mqtt.url is empty: %w", file, broker.ErrNotBuiltIn)
				}
				if cfg.HomeKit.Enabled && !homekit.BuiltIn {
					return fmt.Errorf("%s: homekit: %w", file, homekit.ErrNotBuiltIn)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d panel(s))\n", file, len(cfg.Panels))
				return nil
			}
			log, closeLog := serveLogger(cmd.ErrOrStderr(), g.verbose)
			defer closeLog()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{})
			ctx, cancel := context.WithCancel(cmd.Context())
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						log.Info("SIGHUP: reloading", "config", file)
						select {
						case reload <- struct{}{}:
						case <-ctx.Done():
							return
						}
					}
				}
			})
			return daemon.Serve(ctx, func() (*daemon.Config, error) { return daemon.LoadConfig(file) }, reload, daemon.Options{
				Logger:  log,
				Started: func(ep daemon.Endpoints) { printEndpoints(cmd.ErrOrStderr(), ep) },
			})
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "YAML config file")
	cmd.Flags().BoolVar(&check, "check", false, "validate the config file and exit (0 valid, 1 not); opens no socket")
	return cmd
}

// serveLogger logs at info level, or debug with -v, to w; see logger.
func serveLogger(w io.Writer, verbose bool) (*slog.Logger, func()) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return logger(w, level)
}

// logger logs from level on to w, with at most a few records of a kind
// (message and source) a minute and then a count, so that a flood of bad
// datagrams does not fill the disk; close writes the counts pending.
func logger(w io.Writer, level slog.Level) (log *slog.Logger, close func()) {
	h := floodlog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}), floodlog.Config{})
	return slog.New(h), h.Close
}

// printEndpoints says where the running daemon can be reached.
func printEndpoints(w io.Writer, ep daemon.Endpoints) {
	broker := ep.MQTT
	if ep.Embedded {
		broker += " (embedded broker)"
	}
	fmt.Fprintf(w, "g90 serve: %d panel(s)\n  MQTT     %s\n  web UI   %s\n  metrics  %smetrics\n", len(ep.Panels), broker, ep.Web, ep.Web)
	if ep.Cloud != "" {
		fmt.Fprintf(w, "  cloud    tcp %s\n", ep.Cloud)
	}
	if hk := ep.HomeKit; hk != nil {
		if st := hk.Setup(); st.Paired {
			fmt.Fprintf(w, "  HomeKit  paired\n")
		} else {
			fmt.Fprintf(w, "  HomeKit  not paired: in the Home app, Add Accessory, setup code %s (QR code in the web UI; %s)\n", st.Code, st.URI)
		}
	}
}
