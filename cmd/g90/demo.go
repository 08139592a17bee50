package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
	"github.com/spf13/cobra"
)

func newDemoCmd(g *globals) *cobra.Command {
	var exit bool
	var listen string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a simulated panel and take a guided tour; nothing to install",
		Long: `Start the built-in simulated panel on loopback, walk through what g90 does
(info, status, sensors, relays, arm/disarm, history), then keep the panel
running so you can try every command against it. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := sim.New(sim.Config{Listen: listen})
			if err != nil {
				return fmt.Errorf("demo: %w (is another simulator running? try --listen 127.0.0.1:0)", err)
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- p.Serve(ctx) }()
			relay, err := tour(ctx, cmd, p.Addr().(*net.UDPAddr))
			if err == nil && !exit {
				w := cmd.OutOrStdout()
				a := p.Addr().(*net.UDPAddr)
				fmt.Fprintf(w, "\nThe simulated panel keeps running on udp %s. In another terminal try:\n", a)
				hostFlags := ""
				if a.Port != 12368 {
					hostFlags = " --host " + a.String()
				}
				tries := []string{"sensors", "devices"}
				if relay != nil {
					tries = append(tries, fmt.Sprintf("relay off %d:%d", relay.index, relay.node))
				}
				tries = append(tries, "arm home", "history --count 5", "config show host --json")
				for _, c := range tries {
					fmt.Fprintf(w, "  go run ./cmd/g90%s %s\n", hostFlags, c)
				}
				fmt.Fprintln(w, "Ctrl-C stops it.")
				<-ctx.Done()
			}
			cancel()
			if serr := <-served; err == nil && serr != nil && ctx.Err() == nil {
				err = serr
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&exit, "exit", false, "stop after the tour")
	cmd.Flags().StringVar(&listen, "listen", sim.DefaultListen, "UDP address of the simulated panel")
	return cmd
}

// tour runs the main commands against the simulated panel at addr and
// prints what they return. It returns the relay node it switched on.
func tour(ctx context.Context, cmd *cobra.Command, addr *net.UDPAddr) (relay *relayRef, err error) {
	w := cmd.OutOrStdout()
	p, err := g90.New(g90.Config{Host: addr.IP.String(), Port: addr.Port, Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	step := func(title string) { fmt.Fprintf(w, "\n== %s\n", title) }

	step("g90 info")
	info, err := p.Info(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "panel %s (%s), MCU %s, Wi-Fi %s, %s\n", info.GUID, info.ProductName, info.MCUHWVersion, info.WiFiHWVersion, info.WiFiStatusName())

	step("g90 sensors")
	sensors, err := p.Sensors(ctx)
	if err != nil {
		return nil, err
	}
	rows := [][]string{{"INDEX", "NAME", "TYPE", "WIRELESS"}}
	for _, s := range sensors {
		rows = append(rows, []string{strconv.Itoa(s.Index()), s.Name(), s.TypeName(), yesNo(s.Wireless())})
	}
	if err := table(w, rows); err != nil {
		return nil, err
	}

	step("g90 devices")
	devices, err := p.Devices(ctx)
	if err != nil {
		return nil, err
	}
	rows = [][]string{{"INDEX", "NODE", "NAME", "TYPE"}}
	for _, d := range devices {
		for _, n := range d.Nodes() {
			rows = append(rows, []string{strconv.Itoa(n.Index()), strconv.Itoa(n.Subindex), n.Name(), n.TypeName()})
			if relay == nil || (relay.node == 0 && n.Subindex > 0) {
				relay = &relayRef{n.Index(), n.Subindex, n.Name()} // prefer a multi-node relay
			}
		}
	}
	if err := table(w, rows); err != nil {
		return nil, err
	}
	if relay != nil {
		step(fmt.Sprintf("g90 relay on %d:%d", relay.index, relay.node))
		if err := p.SetRelay(ctx, relay.index, relay.node, true); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "%s switched on\n", relay.name)
	}

	for _, s := range []protocol.ArmState{protocol.ArmAway, protocol.Disarmed} {
		if s == protocol.Disarmed {
			step("g90 disarm")
			err = p.Disarm(ctx)
		} else {
			step("g90 arm " + s.String())
			err = p.Arm(ctx, s)
		}
		if err != nil {
			return nil, err
		}
		st, err := p.Status(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "status: %s\n", st.State)
	}

	step("g90 history --count 5")
	hist, err := p.History(ctx, 1, 5)
	if err != nil {
		return nil, err
	}
	rows = [][]string{{"TIME", "TYPE", "STATE", "SENSOR"}}
	for _, h := range hist {
		rows = append(rows, []string{h.Time().Local().Format("2006-01-02 15:04:05"), h.Type.String(), string(h.HistoryState()), h.Name})
	}
	return relay, table(w, rows)
}

type relayRef struct {
	index, node int
	name        string
}
