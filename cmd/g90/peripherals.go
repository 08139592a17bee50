package main

import (
	"io"
	"strconv"

	"github.com/g90alarm/g90/peripheral"
	"github.com/spf13/cobra"
)

func newSensorsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sensors",
		Short: "List the sensors (index, name, type, flags)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			sensors, err := p.Sensors(cmd.Context())
			if err != nil {
				return err
			}
			infos := make([]peripheral.SensorInfo, 0, len(sensors))
			rows := [][]string{{"INDEX", "NAME", "TYPE", "ENABLED", "WIRELESS", "ALERT MODE", "FLAGS"}}
			for _, s := range sensors {
				i := s.Info()
				infos = append(infos, i)
				rows = append(rows, []string{strconv.Itoa(i.Index), i.Name, i.Type, yesNo(i.Enabled), yesNo(i.Wireless), i.AlertMode, joinOr(i.Flags, "-")})
			}
			return g.output(cmd, infos, func(w io.Writer) error { return table(w, rows) })
		},
	}
}

func newDevicesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "devices",
		Short: "List the devices (relays, sockets, sirens), one line per node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			devices, err := p.Devices(cmd.Context())
			if err != nil {
				return err
			}
			infos := []peripheral.DeviceNodeInfo{}
			rows := [][]string{{"INDEX", "NODE", "NAME", "TYPE", "ENABLED"}}
			for _, d := range devices {
				for _, n := range d.Nodes() {
					i := n.Info()
					infos = append(infos, i)
					rows = append(rows, []string{strconv.Itoa(i.Index), strconv.Itoa(i.Node), i.Name, i.Type, yesNo(n.Enabled())})
				}
			}
			return g.output(cmd, infos, func(w io.Writer) error { return table(w, rows) })
		},
	}
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	out := s[0]
	for _, x := range s[1:] {
		out += "," + x
	}
	return out
}
