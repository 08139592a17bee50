package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/protocol"
	"github.com/spf13/cobra"
)

// configSection is one configuration object as the CLI shows it.
type configSection struct {
	name  string
	about string
	read  func(context.Context, *g90.Panel) (any, error)
}

// configSections lists the sections in display order; keys are the spec's
// field names (spec: local-protocol.md 3.16–3.21).
var configSections = []configSection{
	{"host", "panel settings (siren, delays, volumes, language, time zone)", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.HostConfig(ctx)
		return &c, err
	}},
	{"net", "access point, Wi-Fi and GPRS/APN", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.NetConfig(ctx)
		return &c, err
	}},
	{"phones", "SMS/call password and alarm phone numbers", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.AlarmPhones(ctx)
		return &c, err
	}},
	{"alerts", "which events the panel alerts on and records in history", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.AlertConfig(ctx)
		return alertsJSON(c), err
	}},
	{"sia", "SIA Internet reporting to a central station", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.SIAConfig(ctx)
		return &c, err
	}},
	{"cid", "Contact ID phone reporting", func(ctx context.Context, p *g90.Panel) (any, error) {
		c, err := p.CIDConfig(ctx)
		return &c, err
	}},
}

// alertsJSON shows the alert bitmask as named booleans, keeping the raw
// value (unknown bits included) under "flags".
func alertsJSON(c protocol.AlertConfig) map[string]any {
	m := map[string]any{"flags": int(c.Flags)}
	for _, f := range protocol.AlertFlagNames {
		m[f.Name] = c.Flags&f.Flag != 0
	}
	return m
}

func sectionNames() string {
	var names []string
	for _, s := range configSections {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the panel's configuration objects",
	}
	var help strings.Builder
	for _, s := range configSections {
		fmt.Fprintf(&help, "  %-7s %s\n", s.name, s.about)
	}
	show := &cobra.Command{
		Use:   "show [SECTION]",
		Short: "Show one configuration section, or all of them",
		Long:  "Sections:\n" + help.String() + "\nKeys are the field names of the protocol specification.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sections := configSections
			if len(args) == 1 {
				sections = nil
				for _, s := range configSections {
					if s.name == args[0] {
						sections = append(sections, s)
					}
				}
				if sections == nil {
					return fmt.Errorf("config show %q: no such section; want one of %s", args[0], sectionNames())
				}
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			out := map[string]json.RawMessage{}
			var order []string
			for _, s := range sections {
				v, err := s.read(cmd.Context(), p)
				if err != nil {
					return err
				}
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				out[s.name] = b
				order = append(order, s.name)
			}
			if len(args) == 1 {
				return g.output(cmd, out[args[0]], func(w io.Writer) error { return printSection(w, out[args[0]]) })
			}
			return g.output(cmd, out, func(w io.Writer) error {
				for i, name := range order {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "[%s]\n", name)
					if err := printSection(w, out[name]); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// printSection prints a JSON object's keys in their encoded order.
func printSection(w io.Writer, raw json.RawMessage) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return err
	}
	var rows [][]string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		s := fmt.Sprint(v)
		if str, ok := v.(string); ok {
			s = fmt.Sprintf("%q", str)
		}
		rows = append(rows, []string{fmt.Sprint(k), s})
	}
	return table(w, rows)
}
