package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
	"github.com/spf13/cobra"
)

// definitionNames lists a definition table's names for help texts.
func definitionNames(k peripheral.Kind) string {
	var b strings.Builder
	for _, d := range peripheral.Definitions(k) {
		fmt.Fprintf(&b, "  %s\n", d.Name)
	}
	return b.String()
}

// changeFlags are the options of `sensor set` and `device set`.
type changeFlags struct {
	name             string
	enable, disable  bool
	flags            []string
	alertMode        string
	withFlagsAndMode bool
}

func (f *changeFlags) register(cmd *cobra.Command, withFlagsAndMode bool) {
	f.withFlagsAndMode = withFlagsAndMode
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", fmt.Sprintf("new name (at most %d bytes; no control characters, \" or \\)", peripheral.MaxNameBytes))
	fs.BoolVar(&f.enable, "enable", false, "enable it")
	fs.BoolVar(&f.disable, "disable", false, "disable it")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	if withFlagsAndMode {
		var names []string
		for b := peripheral.UserFlags(1); b <= peripheral.UserSettableFlags; b <<= 1 {
			names = append(names, b.String())
		}
		fs.StringArrayVar(&f.flags, "flag", nil, "set a user flag, NAME=on|off (repeatable); NAME is one of "+strings.Join(names, ", "))
		fs.StringVar(&f.alertMode, "alert-mode", "", "alert_always, alert_when_away or alert_when_away_and_home (also: always, away, away_and_home)")
	}
}

// change turns the options into a PeripheralChange, checking them
// before anything is sent.
func (f *changeFlags) change(cmd *cobra.Command) (g90.PeripheralChange, error) {
	var c g90.PeripheralChange
	if cmd.Flags().Changed("name") {
		if err := peripheral.ValidateName(f.name); err != nil {
			return c, err
		}
		c.Name = &f.name
	}
	if f.enable {
		c.Set |= peripheral.FlagEnabled
	}
	if f.disable {
		c.Clear |= peripheral.FlagEnabled
	}
	for _, a := range f.flags {
		name, val, ok := strings.Cut(a, "=")
		flag, known := peripheral.ParseFlagName(name)
		switch {
		case !ok:
			return c, fmt.Errorf("--flag %q: want NAME=on|off", a)
		case !known || flag&peripheral.UserSettableFlags == 0:
			return c, fmt.Errorf("--flag %q: %q is not a user flag", a, name)
		}
		switch strings.ToLower(val) {
		case "on", "true", "yes", "1":
			c.Set |= flag
		case "off", "false", "no", "0":
			c.Clear |= flag
		default:
			return c, fmt.Errorf("--flag %q: want on or off, got %q", a, val)
		}
	}
	if c.Set&c.Clear != 0 {
		return c, fmt.Errorf("flag %v both on and off", c.Set&c.Clear)
	}
	if f.alertMode != "" {
		var m peripheral.AlertMode
		var ok bool
		for _, prefix := range []string{"", "alert_", "alert_when_"} { // also always, away, away_and_home
			if m, ok = peripheral.ParseAlertMode(prefix + f.alertMode); ok {
				break
			}
		}
		if !ok {
			return c, fmt.Errorf("--alert-mode %q: want alert_always, alert_when_away or alert_when_away_and_home", f.alertMode)
		}
		c.AlertMode = &m
	}
	if c == (g90.PeripheralChange{}) {
		return c, fmt.Errorf("nothing to change: give --name, --enable, --disable%s", map[bool]string{true: ", --flag or --alert-mode", false: ""}[f.withFlagsAndMode])
	}
	return c, nil
}

func printSensor(g *globals, cmd *cobra.Command, s *peripheral.Sensor) error {
	i := s.Info()
	return g.output(cmd, i, func(w io.Writer) error {
		return keyValues(w, "Index", strconv.Itoa(i.Index), "Name", i.Name, "Type", i.Type,
			"Enabled", yesNo(i.Enabled), "Alert mode", i.AlertMode, "Flags", joinOr(i.Flags, "-"))
	})
}

func printDevice(g *globals, cmd *cobra.Command, d *peripheral.Device) error {
	infos := []peripheral.DeviceNodeInfo{}
	rows := [][]string{{"INDEX", "NODE", "NAME", "TYPE", "ENABLED"}}
	for _, n := range d.Nodes() {
		i := n.Info()
		infos = append(infos, i)
		rows = append(rows, []string{strconv.Itoa(i.Index), strconv.Itoa(i.Node), i.Name, i.Type, yesNo(n.Enabled())})
	}
	return g.output(cmd, infos, func(w io.Writer) error { return table(w, rows) })
}

func newSensorCmd(g *globals) *cobra.Command {
	return newPeripheralCmd(g, peripheralOps[*peripheral.Sensor]{
		kind:     peripheral.KindSensor,
		short:    "Change, delete or register (learn) a sensor",
		setShort: "Rename a sensor, enable or disable it, change its flags or alert mode",
		setLong: `Change one sensor. The sensor's record is read again first and the change is
refused if it is not exactly the sensor listed (someone changed or replaced
it); afterwards the record is read back to verify that the panel holds it.

Examples:
  g90 sensor set "Back door" --name "Patio door"
  g90 sensor set 7 --disable
  g90 sensor set 7 --flag door_chime=on --flag arm_delay=off
  g90 sensor set 7 --alert-mode away`,
		deleteShort:  "Delete a sensor",
		flagsAndMode: true,
		find:         (*g90.Panel).FindSensor,
		update:       (*g90.Panel).UpdateSensor,
		del:          (*g90.Panel).DeleteSensor,
		print:        printSensor,
		name:         (*peripheral.Sensor).Name,
	})
}

func newDeviceCmd(g *globals) *cobra.Command {
	return newPeripheralCmd(g, peripheralOps[*peripheral.Device]{
		kind:     peripheral.KindDevice,
		short:    "Rename, enable, disable, delete or register a device (relay, socket, siren…)",
		long:     "Devices are named by INDEX, by name, or by a node's name such as \"Relay#2\"; a change or a\ndeletion applies to the whole device, every node. Switch nodes with g90 relay.",
		setShort: "Rename a device, or enable or disable it",
		setLong: `Change one device, verified like g90 sensor set. A name belongs to the whole
device: the nodes of a multi-node relay are shown as NAME#1, NAME#2, …

Example:
  g90 device set "Relay board" --name "Pump relays"`,
		deleteShort: "Delete a device with all its nodes",
		find: func(p *g90.Panel, ctx context.Context, key string) (*peripheral.Device, error) {
			n, err := p.FindDevice(ctx, key)
			return n.Device, err
		},
		update: (*g90.Panel).UpdateDevice,
		del:    (*g90.Panel).DeleteDevice,
		print:  printDevice,
		name:   (*peripheral.Device).ParentName,
	})
}

// peripheralOps is what `g90 sensor` and `g90 device` do differently.
type peripheralOps[T interface{ Index() int }] struct {
	kind                                        peripheral.Kind
	short, long, setShort, setLong, deleteShort string
	flagsAndMode                                bool // set takes --flag and --alert-mode
	find                                        func(*g90.Panel, context.Context, string) (T, error)
	update                                      func(*g90.Panel, context.Context, T, g90.PeripheralChange) (T, error)
	del                                         func(*g90.Panel, context.Context, T) error
	print                                       func(*globals, *cobra.Command, T) error
	name                                        func(T) string
}

// newPeripheralCmd is `g90 sensor` or `g90 device` with set, delete and
// add.
func newPeripheralCmd[T interface{ Index() int }](g *globals, ops peripheralOps[T]) *cobra.Command {
	cmd := &cobra.Command{Use: ops.kind.String(), Short: ops.short, Long: ops.long}
	var cf changeFlags
	set := &cobra.Command{
		Use:   "set INDEX|NAME",
		Short: ops.setShort,
		Long:  ops.setLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.change(cmd)
			if err != nil {
				return err
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			x, err := ops.find(p, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if x, err = ops.update(p, cmd.Context(), x, c); err != nil {
				return err
			}
			return ops.print(g, cmd, x)
		},
	}
	cf.register(set, ops.flagsAndMode)
	del := &cobra.Command{
		Use:   "delete INDEX|NAME",
		Short: ops.deleteShort,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			x, err := ops.find(p, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := ops.del(p, cmd.Context(), x); err != nil {
				return err
			}
			return g.output(cmd, map[string]any{"deleted": x.Index(), "name": ops.name(x)}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%v %d %q deleted\n", ops.kind, x.Index(), ops.name(x))
				return err
			})
		},
	}
	cmd.AddCommand(set, del, newAddCmd(g, ops.kind))
	return cmd
}

// newAddCmd is `sensor add` or `device add`. Its --timeout is the wait
// for the new peripheral; commands to the panel keep the default timeout.
func newAddCmd(g *globals, k peripheral.Kind) *cobra.Command {
	var r g90.Registration
	long := `Register (learn) a new sensor: the panel is told the sensor's model (--type, a
definition name from the list below) and waits for the sensor to transmit —
trigger it now (open the door, press a button). The sensor list is then read
until the new sensor appears, or --timeout passes; the panel may then still be
in learning mode, as there is no documented command to cancel it.

Example:
  g90 sensor add --type "Door Sensor: WDS07" --name "Garage door" --timeout 60s

Sensor types:
`
	if k == peripheral.KindDevice {
		long = `Register a new device: the panel is told the device's model (--type, a
definition name from the list below), the registration is confirmed, and the
device list is read until the new device appears, or --timeout passes.

Example:
  g90 device add --type "Socket: S07" --name "Heater"

Device types:
`
	}
	cmd := &cobra.Command{
		Use:   "add --type DEFINITION [--name NAME] [--timeout D]",
		Short: fmt.Sprintf("Register a new %v", k),
		Long:  long + definitionNames(k),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			if k == peripheral.KindDevice {
				d, err := p.AddDevice(cmd.Context(), r)
				if err != nil {
					return err
				}
				return printDevice(g, cmd, d)
			}
			if !g.json {
				fmt.Fprintf(cmd.ErrOrStderr(), "waiting up to %v for the sensor to transmit; trigger it now\n", r.Timeout)
			}
			s, err := p.AddSensor(cmd.Context(), r)
			if err != nil {
				return err
			}
			return printSensor(g, cmd, s)
		},
	}
	cmd.Flags().StringVar(&r.Definition, "type", "", "definition name, exactly as listed below (required)")
	cmd.Flags().StringVar(&r.Name, "name", "", "name of the new "+k.String()+" (default: the definition's name)")
	cmd.Flags().DurationVar(&r.Timeout, "timeout", g90.DefaultRegistrationTimeout, "how long to wait for the new "+k.String())
	_ = cmd.MarkFlagRequired("type")
	return cmd
}
