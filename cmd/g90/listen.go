package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
)

func newListenCmd(g *globals) *cobra.Command {
	var (
		source, listen, stateFile   string
		cloudListen, cloudAdvertise string
		upstream                    string
		maxConns, maxPerAddr        int
		poll, reset                 time.Duration
		depth, count                int
		raw                         bool
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Print the panel's events as they happen",
		Long: `Print one line per event: doors, motion, alarms, arming, key fobs, power…

--source local (the default) receives the panel's notifications on UDP
--listen (default :12901). The panel only sends them when its Wi-Fi address
is 10.10.10.250 (give it that address with a DHCP reservation).
--source cloud runs a server that plays the vendor's cloud on --cloud-listen
(TCP :5678): point the panel at it once with 'g90 set-cloud-server IP', or
chain it to the real cloud with --upstream so the vendor app keeps working.
--source history reads the panel's event log every --poll instead; it works
with any panel, but sees only what the panel records (alerts enabled in
'g90 config show alerts') and reports it up to --poll late.

With --json each line is one object with the keys time, panel, source,
type, sensor {index, name, type} where one applies, the event's own
fields (state, occupied, tamper, host, button, keypad, card), sources and
seq.

The panel reports one happening several ways (a notification and an
alert); each is printed once. --raw prints every report as its own
event instead, as the panel sends them (for debugging).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			log, closeLog := listenLogger(cmd.ErrOrStderr(), g.verbose)
			defer closeLog()
			var src g90.Source
			switch source {
			case "local":
				host, _, _ := net.SplitHostPort(p.Addr())
				ip, err := notify.ResolveHost(cmd.Context(), host)
				if err != nil {
					return err
				}
				l, err := notify.Listen(cmd.Context(), notify.ListenerConfig{Addr: listen, Host: ip, Logger: log})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "listening for notifications from %s on udp %s\n", ip, l.Addr())
				src = l
			case "history":
				src = p.NewHistoryPoller(g90.HistoryConfig{Interval: poll, Depth: depth, StateFile: stateFile, Logger: log})
				fmt.Fprintf(cmd.ErrOrStderr(), "reading the history of %s every %v\n", p.Addr(), poll)
			case "cloud":
				cfg := cloud.Config{Addr: cloudListen, Upstream: upstream, MaxConns: maxConns, MaxPerAddr: maxPerAddr, Logger: log}
				if cloudAdvertise != "" {
					ap, err := netip.ParseAddrPort(cloudAdvertise)
					if err != nil {
						return fmt.Errorf("--cloud-advertise %q: want IP:PORT: %w", cloudAdvertise, err)
					}
					cfg.Advertise = ap
				}
				// Take only this panel's messages when we can learn its GUID.
				guid := ""
				ictx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
				if info, err := p.Info(ictx); err == nil {
					guid = info.GUID
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "cannot read the panel (%v); taking events from every panel that connects\n", err)
				}
				cancel()
				hub, err := cloud.NewHub(cfg)
				if err != nil {
					return err
				}
				mode := "standalone"
				if upstream != "" {
					mode = "chained to " + upstream
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "cloud server (%s) listening on tcp %s; point the panel here with g90 set-cloud-server\n", mode, hub.Server().Addr())
				src = hub.Standalone(guid)
			default:
				return fmt.Errorf("--source %q: want local, cloud or history", source)
			}
			mon := p.NewMonitor(g90.MonitorConfig{Sources: []g90.Source{src}, ResetInterval: reset, Raw: raw, Logger: log})
			return printEvents(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), mon, g.json, count)
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "local", "where events come from: local, cloud or history")
	f.StringVar(&cloudListen, "cloud-listen", cloud.DefaultAddr, "cloud: TCP address the panel connects to")
	f.StringVar(&cloudAdvertise, "cloud-advertise", "", "cloud: IP:PORT told to the panel in discovery replies (default: the address it connected to)")
	f.StringVar(&upstream, "upstream", "", "cloud: relay to the vendor cloud at HOST:PORT too (chained mode)")
	f.IntVar(&maxConns, "max-conns", cloud.DefaultMaxConns, "cloud: open panel connections in all")
	f.IntVar(&maxPerAddr, "max-per-address", cloud.DefaultMaxPerAddr, "cloud: open panel connections from one IP address")
	f.StringVar(&listen, "listen", notify.DefaultListen, "UDP address for local notifications")
	f.DurationVar(&poll, "poll", 5*time.Second, "history: time between two reads")
	f.IntVar(&depth, "depth", 10, "history: newest entries fetched per read")
	f.StringVar(&stateFile, "state", "", "history: file that keeps the position across restarts")
	f.DurationVar(&reset, "reset", 3*time.Second, "time after which a sensor that never reports \"inactive\" is idle again")
	f.IntVar(&count, "count", 0, "exit after this many events (0: run until interrupted)")
	f.BoolVar(&raw, "raw", false, "print every report of a happening (a notification and its alert) as its own event")
	return cmd
}

// printEvents runs mon and prints its events until ctx ends or count
// events were printed.
func printEvents(ctx context.Context, out, status io.Writer, mon *g90.Monitor, asJSON bool, count int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := mon.Subscribe("listen", 1<<16)
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	w := bufio.NewWriter(out)
	var line []byte
	n := 0
	ready := mon.Ready()
	var batch []g90.Delivery
	write := func() error {
		for i := range batch {
			ev := &batch[i].Event
			if asJSON {
				line = append(ev.AppendJSON(line[:0]), '\n')
			} else {
				line = appendEventText(line[:0], ev)
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
			if n++; n == count {
				break
			}
		}
		return w.Flush()
	}
loop:
	for {
		select {
		case <-ready:
			ready = nil
			st := mon.State()
			if st.Reachable {
				fmt.Fprintf(status, "panel %s: %s, %d sensors, %d device nodes\n", st.GUID, st.Arm, len(st.Sensors), len(st.Devices))
			} else {
				fmt.Fprintln(status, "the panel does not answer (yet); events come without sensor types until it does")
			}
			continue
		case <-sub.Ready():
		}
		var ok bool
		batch, ok = sub.Take(batch)
		if err := write(); err != nil {
			cancel()
			<-done
			return err
		}
		if !ok || n == count {
			break loop
		}
	}
	cancel()
	err := <-done
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if d := sub.Dropped(); d > 0 && err == nil {
		err = fmt.Errorf("%d events dropped: the output could not keep up", d)
	}
	return err
}

// appendEventText is the human line of an event:
// time, source, type, the sensor, then the event's own fields.
func appendEventText(b []byte, ev *event.Event) []byte {
	b = ev.Time.Local().AppendFormat(b, "2006-01-02 15:04:05")
	b = append(b, "  "...)
	b = append(b, ev.Source...)
	b = append(b, "  "...)
	b = append(b, ev.Type...)
	if ev.Sensor {
		b = append(b, "  sensor "...)
		b = strconv.AppendInt(b, int64(ev.Index), 10)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, ev.Name)
		if ev.SensorType != "" {
			b = append(b, " ("...)
			b = append(b, ev.SensorType...)
			b = append(b, ')')
		}
	}
	if d := ev.Device; d != nil {
		b = fmt.Appendf(b, "  device %d:%d %q (%s)", d.Index, d.Node, d.Name, d.Type)
	}
	if ev.State != "" {
		b = append(b, "  state="...)
		b = append(b, ev.State...)
	}
	switch ev.Type {
	case event.SensorActivity:
		b = append(b, "  occupied="...)
		b = strconv.AppendBool(b, ev.Occupied)
		if ev.Reset {
			b = append(b, " (auto reset)"...)
		}
	case event.Alarm:
		if ev.Tamper {
			b = append(b, "  tamper"...)
		}
	case event.SOS:
		if ev.Host {
			b = append(b, "  from the panel"...)
		}
	}
	if ev.Button != "" {
		b = append(b, "  button="...)
		b = append(b, ev.Button...)
	}
	if ev.Keypad != "" {
		b = append(b, "  keypad="...)
		b = append(b, ev.Keypad...)
		if ev.Keypad == event.KeypadCard {
			b = append(b, " card="...)
			b = strconv.AppendInt(b, int64(ev.Card), 10)
		}
	}
	return append(b, '\n')
}

// listenLogger shows warnings (dropped and malformed datagrams, failed
// reads) always, diagnostics with -v; see logger.
func listenLogger(w io.Writer, verbose bool) (*slog.Logger, func()) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return logger(w, level)
}
