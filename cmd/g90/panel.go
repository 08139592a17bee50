package main

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
	"github.com/spf13/cobra"
)

func newDiscoverCmd(g *globals) *cobra.Command {
	var window time.Duration
	var addr, guid, local string
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "Find panels on the local network",
		Long: `Broadcast GETHOSTINFO and list every panel that answers within the window
(default 10s), each as soon as it answers. With --json the list is printed
as one JSON array when the window has closed.

With --guid, look for one panel by GUID instead (targeted discovery, sent to
port 12900 from local port 12901): the command ends as soon as that panel
answers, or fails when it has not answered within the window (default 30s).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := g.status(cmd)
			defer st.end()
			cfg := client.DiscoverConfig{Addr: addr, Local: local, Window: window, Logger: g.logger(cmd.ErrOrStderr())}
			if guid != "" {
				return probeCmd(cmd, g, st, guid, cfg)
			}
			return discoverCmd(cmd, g, st, cfg)
		},
	}
	cmd.Flags().DurationVar(&window, "window", 0, "how long to collect answers (default 10s; with --guid, the longest wait, default 30s)")
	cmd.Flags().StringVar(&addr, "addr", "", "where to send (default 255.255.255.255:12368, :12900 with --guid)")
	cmd.Flags().StringVar(&local, "local", "", "local address for --guid (default :12901)")
	cmd.Flags().StringVar(&guid, "guid", "", "find the panel with this GUID, and stop when it answers")
	return cmd
}

// discoverCmd prints each panel as it answers; with --json, all of them as
// one array at the end, the shape programs already read.
func discoverCmd(cmd *cobra.Command, g *globals, st *statusLine, cfg client.DiscoverConfig) error {
	started := time.Now()
	end := started.Add(cmp.Or(cfg.Window, client.DefaultDiscoverWindow))
	to := cmp.Or(cfg.Addr, client.DefaultDiscoverAddr)
	waiting := func(n int) {
		st.begin(started, func(now time.Time) string {
			return fmt.Sprintf("discovering panels on %s, %d answered, up to %s more…", to, n, secondsLeft(end.Sub(now)))
		})
	}
	waiting(0)
	w := cmd.OutOrStdout()
	out := []infoJSON{}
	for f, err := range client.DiscoverEach(cmd.Context(), cfg) {
		if err != nil {
			return err
		}
		j := newInfoJSON(f.Info)
		j.Host, j.Port = f.Addr.IP.String(), f.Addr.Port
		out = append(out, j)
		if !g.json {
			if len(out) == 1 {
				if err := discoverRow(w, "HOST", "GUID", "PRODUCT", "MCU", "WIFI"); err != nil {
					return err
				}
			}
			if err := discoverRow(w, j.Host, j.GUID, j.Product, j.MCUVersion, j.WiFiVersion); err != nil {
				return err
			}
		}
		waiting(len(out))
	}
	st.end()
	if g.json {
		return g.output(cmd, out, nil)
	}
	if len(out) == 0 {
		_, err := fmt.Fprintln(w, "no panel answered")
		return err
	}
	return nil
}

// discoverRow writes one line of the discovery table at once, so columns
// have fixed widths instead of being aligned after the last panel.
func discoverRow(w io.Writer, host, guid, product, mcu, wifi string) error {
	_, err := fmt.Fprintf(w, "%-15s  %-20s  %-14s  %-10s  %s\n", host, guid, product, mcu, wifi)
	return err
}

// probeCmd waits for the panel with guid and prints it the moment it
// answers; no answer within the window is an error.
func probeCmd(cmd *cobra.Command, g *globals, st *statusLine, guid string, cfg client.DiscoverConfig) error {
	started := time.Now()
	window := cmp.Or(cfg.Window, client.DefaultProbeWindow)
	end := started.Add(window)
	to := cmp.Or(cfg.Addr, client.DefaultProbeAddr)
	st.begin(started, func(now time.Time) string {
		return fmt.Sprintf("looking for panel %s on %s, up to %s more…", guid, to, secondsLeft(end.Sub(now)))
	})
	for f, err := range client.ProbeEach(cmd.Context(), guid, cfg) {
		if err != nil {
			return err
		}
		st.end()
		type probed struct {
			Host string            `json:"host"`
			Port int               `json:"port"`
			GUID string            `json:"guid"`
			Ack  protocol.ProbeAck `json:"info"`
		}
		out := []probed{{f.Addr.IP.String(), f.Addr.Port, f.GUID, f.Ack}}
		return g.output(cmd, out, func(w io.Writer) error {
			return table(w, [][]string{{"HOST", "GUID", "PRODUCT", "FIRMWARE"}, {f.Addr.IP.String(), f.GUID, f.Ack.ProductName, f.Ack.FWVersion}})
		})
	}
	return fmt.Errorf("discover: no panel with GUID %s answered on %s within %v", guid, to, window)
}

// infoJSON is the --json shape of `g90 info` and `g90 discover`.
type infoJSON struct {
	Host                 string `json:"host,omitempty"`
	Port                 int    `json:"port,omitempty"`
	GUID                 string `json:"guid"`
	Product              string `json:"product"`
	MCUVersion           string `json:"mcu_version"`
	WiFiVersion          string `json:"wifi_version"`
	WiFiProtocolVersion  string `json:"wifi_protocol_version"`
	CloudProtocolVersion string `json:"cloud_protocol_version"`
	GSMStatus            string `json:"gsm_status"`
	WiFiStatus           string `json:"wifi_status"`
	GPRSActive           bool   `json:"gprs_3g_active"`
	WiFiSetup            string `json:"wifi_setup_progress"`
	BatteryMillivolts    *int   `json:"battery_mv"`
	GSMSignal            int    `json:"gsm_signal_percent"`
	WiFiSignal           int    `json:"wifi_signal_percent"`
}

func newInfoJSON(i protocol.HostInfo) infoJSON {
	j := infoJSON{
		GUID: i.GUID, Product: i.ProductName, MCUVersion: i.MCUHWVersion, WiFiVersion: i.WiFiHWVersion,
		WiFiProtocolVersion: i.WiFiProtocolVersion, CloudProtocolVersion: i.CloudProtocolVersion,
		GSMStatus: i.GSMStatusName(), WiFiStatus: i.WiFiStatusName(), GPRSActive: i.GPRS3GActive == 1,
		WiFiSetup: i.WiFiSetupName(), GSMSignal: i.GSMSignalLevel, WiFiSignal: i.WiFiSignalLevel,
	}
	if mv, ok := i.BatteryMillivolts(); ok {
		j.BatteryMillivolts = &mv
	}
	return j
}

func newInfoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show the panel's identity, versions and signal levels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			info, err := p.Info(cmd.Context())
			if err != nil {
				return err
			}
			j := newInfoJSON(info)
			return g.output(cmd, j, func(w io.Writer) error {
				battery := "unknown (" + info.BatteryVoltage + ")"
				if j.BatteryMillivolts != nil {
					battery = fmt.Sprintf("%.2f V", float64(*j.BatteryMillivolts)/1000)
				}
				guid := j.GUID
				if guid == "" {
					guid = "(not reported)"
				}
				return keyValues(w,
					"GUID", guid, "Product", j.Product,
					"MCU version", j.MCUVersion, "Wi-Fi version", j.WiFiVersion,
					"Protocols", "local "+j.WiFiProtocolVersion+", cloud "+j.CloudProtocolVersion,
					"GSM", fmt.Sprintf("%s, signal %d%%, GPRS %s", j.GSMStatus, j.GSMSignal, map[bool]string{true: "active", false: "inactive"}[j.GPRSActive]),
					"Wi-Fi", fmt.Sprintf("%s, signal %d%%, setup %s", j.WiFiStatus, j.WiFiSignal, j.WiFiSetup),
					"Battery", battery)
			})
		},
	}
}

// statusJSON is the --json shape of `g90 status`.
type statusJSON struct {
	State       string `json:"state"`
	Phone       string `json:"phone"`
	Product     string `json:"product"`
	MCUVersion  string `json:"mcu_version"`
	WiFiVersion string `json:"wifi_version"`
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the arm state (away, home, disarmed or alarm)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			s, err := p.Status(cmd.Context())
			if err != nil {
				return err
			}
			j := statusJSON{State: s.State.String(), Phone: s.PhoneNumber, Product: s.ProductName, MCUVersion: s.MCUHWVersion, WiFiVersion: s.WiFiHWVersion}
			return g.output(cmd, j, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, j.State)
				return err
			})
		},
	}
}

func newArmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:       "arm away|home",
		Short:     "Arm the panel away or home",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"away", "home"},
		RunE: func(cmd *cobra.Command, args []string) error {
			state, ok := protocol.ParseArmState(args[0])
			if !ok || (state != protocol.ArmAway && state != protocol.ArmHome) {
				return fmt.Errorf("arm %q: want away or home", args[0])
			}
			return armCommand(cmd, g, state)
		},
	}
}

func newDisarmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "disarm",
		Short: "Disarm the panel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return armCommand(cmd, g, protocol.Disarmed)
		},
	}
}

func armCommand(cmd *cobra.Command, g *globals, state protocol.ArmState) error {
	p, err := g.panel(cmd)
	if err != nil {
		return err
	}
	if state == protocol.Disarmed {
		err = p.Disarm(cmd.Context())
	} else {
		err = p.Arm(cmd.Context(), state)
	}
	if err != nil {
		return err
	}
	return g.output(cmd, map[string]string{"state": state.String()}, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, state)
		return err
	})
}

func newRelayCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "relay on|off INDEX[:NODE]|NAME",
		Short: "Switch a relay or socket (NODE is the 0-based channel of a multi-node relay)",
		Long: `Switch one node of a device on or off: by INDEX[:NODE] (NODE 0-based), or by
the name g90 devices shows, such as "Garden lights" or "Relay board#3".
The command is sent once and not repeated: relays in toggle mode use one code
for on and off, so a repeat could switch them back.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[0] {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("relay %q: want on or off", args[0])
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			var index, node int
			if c := args[1][0]; c >= '0' && c <= '9' {
				index, node, err = parseIndexNode(args[1])
			} else {
				var n peripheral.DeviceNode
				if n, err = p.FindDevice(cmd.Context(), args[1]); err == nil {
					index, node = n.Index(), n.Subindex
				}
			}
			if err != nil {
				return err
			}
			if err := p.SetRelay(cmd.Context(), index, node, on); err != nil {
				return err
			}
			return g.output(cmd, map[string]any{"index": index, "node": node, "on": on}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "relay %d:%d %s\n", index, node, args[0])
				return err
			})
		},
	}
}

func parseIndexNode(s string) (index, node int, err error) {
	is, ns, hasNode := strings.Cut(s, ":")
	index, err = strconv.Atoi(is)
	if err == nil && hasNode {
		node, err = strconv.Atoi(ns)
	}
	if err != nil || index < 0 || node < 0 {
		return 0, 0, fmt.Errorf("relay %q: want INDEX or INDEX:NODE with non-negative numbers", s)
	}
	return index, node, nil
}

// historyJSON is one line of `g90 history --json`.
type historyJSON struct {
	Time        string `json:"time"`
	Type        string `json:"type"`
	State       string `json:"state"`
	Sensor      string `json:"sensor"`
	SensorIndex *int   `json:"sensor_index,omitempty"`
	Source      string `json:"source"`
	Position    int    `json:"position"`
}

func newHistoryJSON(e g90.HistoryEntry) historyJSON {
	j := historyJSON{
		Time: e.Time().UTC().Format(time.RFC3339), Type: e.Type.String(),
		State: string(e.HistoryState()), Sensor: e.Name, Source: e.Source.String(), Position: e.Position,
	}
	if j.State == "" {
		j.State = "sos" // HOST_SOS has no state code (spec 3.15.6)
	}
	if idx, ok := e.SensorIndex(); ok {
		j.SensorIndex = &idx
	}
	return j
}

func newHistoryCmd(g *globals) *cobra.Command {
	var start, count int
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show the panel's event history, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			entries, err := p.History(cmd.Context(), start, count)
			if err != nil {
				return err
			}
			out := make([]historyJSON, 0, len(entries))
			rows := [][]string{{"TIME", "TYPE", "STATE", "SOURCE", "SENSOR"}}
			for _, e := range entries {
				j := newHistoryJSON(e)
				sensor := e.Name
				if j.SensorIndex != nil {
					sensor = fmt.Sprintf("%s (#%d)", e.Name, *j.SensorIndex)
				}
				out = append(out, j)
				rows = append(rows, []string{e.Time().Local().Format("2006-01-02 15:04:05"), j.Type, j.State, j.Source, sensor})
			}
			return g.output(cmd, out, func(w io.Writer) error { return table(w, rows) })
		},
	}
	cmd.Flags().IntVar(&start, "start", 1, "first entry (1 = the newest)")
	cmd.Flags().IntVar(&count, "count", 50, "how many entries (0 = all)")
	return cmd
}

func newRebootCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:       "reboot [mcu|gsm|wifi]",
		Short:     "Reboot the panel, or one of its modules",
		Long:      "Without an argument, reboot GSM, MCU and Wi-Fi one second apart (the whole panel).\nThe panel does not answer reboot commands; run g90 info to see it come back.",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"mcu", "gsm", "wifi"},
		RunE: func(cmd *cobra.Command, args []string) error {
			m := g90.ModuleAll
			if len(args) == 1 {
				m = g90.Module(args[0])
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			if err := p.Reboot(cmd.Context(), m); err != nil {
				return err
			}
			what := string(m)
			if m == g90.ModuleAll {
				what = "all"
			}
			return g.output(cmd, map[string]string{"rebooted": what}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "reboot sent (%s)\n", what)
				return err
			})
		},
	}
}

func newSetCloudServerCmd(g *globals) *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "set-cloud-server IP",
		Short: "Point the panel's cloud connection at IP:PORT (e.g. a g90 cloud server)",
		Long: `Point the panel's cloud connection at IP and --port (default 5678). Here
--port is the cloud server's TCP port; give a panel on a non-standard UDP
port as --host HOST:PORT.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			if err := p.SetCloudServer(cmd.Context(), args[0], port); err != nil {
				return err
			}
			return g.output(cmd, map[string]any{"ip": args[0], "port": port}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "cloud server set to %s:%d\n", args[0], port)
				return err
			})
		},
	}
	cmd.Flags().IntVar(&port, "port", 5678, "TCP port of the cloud server")
	return cmd
}
