package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g90alarm/g90"
	"github.com/spf13/cobra"
)

// globals are the flags every panel command shares (DESIGN.md, command
// line contract).
type globals struct {
	host    string
	port    int
	timeout time.Duration
	retries int
	json    bool
	verbose bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "g90",
		Short: "Control G90-family alarm panels on the local network",
		Long: `g90 talks to G90-family alarm panels (Golden Security, PST, Kerui, …) over
their local UDP protocol, without the vendor's cloud.

No panel? Start the built-in simulator in one terminal (g90 sim) and use
the commands below against it (the default host is 127.0.0.1), or run
g90 demo for a guided tour.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	var showVersion bool
	root.Flags().BoolVar(&showVersion, "version", false, "print the version (as g90 version does) and exit")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if showVersion {
			return printVersion(cmd, g)
		}
		return cmd.Help()
	}
	f := root.PersistentFlags()
	f.StringVar(&g.host, "host", envOr("G90_HOST", "127.0.0.1"), "panel IP address or host name, optionally HOST:PORT (env G90_HOST)")
	f.IntVar(&g.port, "port", 12368, "panel UDP command port (set-cloud-server: the cloud port; give the panel's as --host HOST:PORT)")
	f.DurationVar(&g.timeout, "timeout", 30*time.Second, "the longest one request waits for the panel, all attempts together (3 attempts share 30s as 4.3s, 8.6s, 17.1s)")
	f.IntVar(&g.retries, "retries", 3, "attempts per request within --timeout (≤0: exactly one)")
	f.BoolVar(&g.json, "json", false, "machine-readable JSON output")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "log protocol diagnostics to stderr")
	root.AddCommand(
		newDiscoverCmd(g), newInfoCmd(g), newStatusCmd(g), newArmCmd(g), newDisarmCmd(g),
		newSensorsCmd(g), newDevicesCmd(g), newSensorCmd(g), newDeviceCmd(g), newRelayCmd(g), newHistoryCmd(g),
		newConfigCmd(g), newDumpCmd(g), newRebootCmd(g), newSetCloudServerCmd(g),
		newListenCmd(g), newSimCmd(g), newDemoCmd(g), newServeCmd(g), newHashPasswordCmd(), newVersionCmd(g),
	)
	root.AddCommand(newEventsCmd(g))
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (g *globals) logger(w io.Writer) *slog.Logger {
	if !g.verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (g *globals) panel(cmd *cobra.Command) (*g90.Panel, error) {
	retries := g.retries
	if retries <= 0 {
		retries = -1
	}
	host, port := g.host, g.port
	if h, p, err := net.SplitHostPort(g.host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("--host %q: port %q is not a number", g.host, p)
		}
		host, port = h, n
	}
	cfg := g90.Config{Host: host, Port: port, Timeout: g.timeout, Retries: retries}
	if st := g.status(cmd); st != nil {
		cfg.Progress = st.exchange
	}
	cfg.Logger = g.logger(cmd.ErrOrStderr())
	return g90.New(cfg)
}

// status returns the status line for a command that waits, or nil when
// stderr is not a terminal or --json is set. With a status line, the
// command's stdout and stderr go through it, so that a line printed while
// it shows does not end up glued to it.
func (g *globals) status(cmd *cobra.Command) *statusLine {
	st := newStatus(cmd.ErrOrStderr(), g.json, isTerminal)
	if st != nil {
		cmd.SetOut(st.writer(cmd.OutOrStdout()))
		cmd.SetErr(st.writer(cmd.ErrOrStderr()))
	}
	return st
}

// output prints v as indented JSON with --json, else calls human.
func (g *globals) output(cmd *cobra.Command, v any, human func(w io.Writer) error) error {
	w := cmd.OutOrStdout()
	if g.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return human(w)
}

// table writes aligned columns; the first row is the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// keyValues writes "key  value" lines aligned.
func keyValues(w io.Writer, kv ...string) error {
	rows := make([][]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		rows = append(rows, []string{kv[i] + ":", kv[i+1]})
	}
	return table(w, rows)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
