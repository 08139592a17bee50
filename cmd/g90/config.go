package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/protocol"
	"github.com/spf13/cobra"
)

// sectionAbout describes the sections in display order; keys are the
// spec's field names (spec: local-protocol.md 3.16–3.21).
var sectionAbout = map[g90.Section]string{
	g90.SectionHost:   "panel settings (siren, delays, volumes, language, time zone)",
	g90.SectionNet:    "access point, Wi-Fi and GPRS/APN",
	g90.SectionPhones: "SMS/call password and alarm phone numbers",
	g90.SectionAlerts: "which events the panel alerts on and records in history",
	g90.SectionSIA:    "SIA Internet reporting to a central station",
	g90.SectionCID:    "Contact ID phone reporting",
}

// sectionValue is what config show prints for a section: the record keyed
// by the spec's field names, or for the alert flags the raw bitmask under
// "flags" and one boolean per named bit, the keys config set takes.
func sectionValue(r protocol.Record) any {
	if a, ok := r.(*protocol.AlertConfig); ok {
		m := map[string]any{"flags": int(a.Flags)}
		for _, f := range protocol.AlertFlagNames {
			m[f.Name] = a.Flags&f.Flag != 0
		}
		return m
	}
	return r
}

func sectionNames() string {
	var names []string
	for _, s := range g90.Sections {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

func parseSection(cmd, arg string) (g90.Section, error) {
	for _, s := range g90.Sections {
		if string(s) == arg {
			return s, nil
		}
	}
	return "", fmt.Errorf("config %s %q: no such section; want one of %s", cmd, arg, sectionNames())
}

// keysHelp lists the keys of every section with type, range and meaning,
// straight from the record layouts.
func keysHelp() string {
	var b strings.Builder
	for _, s := range g90.Sections {
		keys, _ := g90.ConfigKeys(s)
		fmt.Fprintf(&b, "\n%s — %s:\n", s, sectionAbout[s])
		rows := make([][]string, 0, len(keys))
		for _, k := range keys {
			rows = append(rows, []string{"  " + k.Name, keyType(s, k), k.Help})
		}
		_ = table(&b, rows)
	}
	return b.String()
}

func keyType(s g90.Section, k protocol.FieldInfo) string {
	switch {
	case k.ReadOnly:
		return "read-only"
	case k.WriteAs != "":
		return "not settable"
	case s == g90.SectionAlerts && k.Name != "flags":
		return "on|off"
	case k.Kind == protocol.FieldString && k.Ranged && k.Min == k.Max:
		return fmt.Sprintf("text, exactly %d characters", k.Min)
	case k.Kind == protocol.FieldString && k.Ranged:
		return fmt.Sprintf("text, %d..%d characters", k.Min, k.Max)
	case k.Kind == protocol.FieldString:
		return "text"
	case k.Ranged:
		return fmt.Sprintf("integer %d..%d", k.Min, k.Max)
	}
	return "integer"
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the panel's configuration objects",
	}
	var help strings.Builder
	for _, s := range g90.Sections {
		fmt.Fprintf(&help, "  %-7s %s\n", s, sectionAbout[s])
	}
	show := &cobra.Command{
		Use:   "show [SECTION]",
		Short: "Show one configuration section, or all of them",
		Long:  "Sections:\n" + help.String() + "\nKeys are the field names of the protocol specification, the keys config set takes.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sections := g90.Sections
			if len(args) == 1 {
				s, err := parseSection("show", args[0])
				if err != nil {
					return err
				}
				sections = []g90.Section{s}
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			out := map[string]json.RawMessage{}
			for _, s := range sections {
				r, err := p.ReadConfig(cmd.Context(), s)
				if err != nil {
					return err
				}
				b, err := json.Marshal(sectionValue(r))
				if err != nil {
					return err
				}
				out[string(s)] = b
			}
			if len(args) == 1 {
				return g.output(cmd, out[args[0]], func(w io.Writer) error { return printSection(w, out[args[0]]) })
			}
			return g.output(cmd, out, func(w io.Writer) error {
				for i, s := range sections {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "[%s]\n", s)
					if err := printSection(w, out[string(s)]); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	set := &cobra.Command{
		Use:   "set SECTION key=value...",
		Short: "Change configuration fields, verified by reading back",
		Long: `Change fields of one configuration section. The panel's current values are
read first and only the keys given change; every value is checked against the
field's type and range before anything is sent, and the section is read back
afterwards to verify that the panel holds it. The result is printed as
config show prints it.

Examples:
  g90 config set host alarm_siren_duration=120 arm_delay=30
  g90 config set phones phone_number_1=+15550123 panel_password=4321
  g90 config set alerts door_open=on door_close=off
  g90 config set net ap_enabled=0
  g90 config set cid enabled=1 phone1=+15550999

Keys:` + keysHelp(),
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSection("set", args[0])
			if err != nil {
				return err
			}
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			r, err := p.SetConfigFields(cmd.Context(), s, args[1:]...)
			if err != nil {
				return err
			}
			b, err := json.Marshal(sectionValue(r))
			if err != nil {
				return err
			}
			return g.output(cmd, json.RawMessage(b), func(w io.Writer) error { return printSection(w, b) })
		},
	}
	cmd.AddCommand(show, set)
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
