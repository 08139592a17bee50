package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/peripheral"
	"github.com/spf13/cobra"
)

// dumpHistory is how many history entries g90 dump includes.
const dumpHistory = 50

// redacted replaces a secret in g90 dump --redact. Empty values stay
// empty, so the dump still shows what is not set.
const redacted = "REDACTED"

// secretPaths are the values --redact masks, as dotted paths into the
// dump: GUID, phone numbers, passwords, keys, IP addresses and host
// names, APN credentials, and the account IDs of the reporting receivers.
var secretPaths = []string{
	"panel",
	"info.guid",
	"status.phone",
	"config.phones.*",
	"config.net.ap_password", "config.net.apn_user", "config.net.apn_password",
	"config.sia.host", "config.sia.aes_key", "config.sia.account",
	"config.cid.phone1", "config.cid.phone2", "config.cid.user",
}

// ipLike finds IPv4 addresses, and candidate IPv6 ones, inside any text.
var ipLike = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}`)

func newDumpCmd(g *globals) *cobra.Command {
	var redact bool
	cmd := &cobra.Command{
		Use:   "dump [--redact]",
		Short: "Everything about the panel as one JSON document, for support and backups",
		Long: fmt.Sprintf(`Print host info, status, every configuration section, the sensors, the
devices and the newest %d history entries as one JSON document.

--redact masks what should not leave the house: the GUID, phone numbers,
passwords, the SIA AES key, IP addresses and host names, APN credentials and
the receivers' account IDs. Empty values stay empty.

If a part cannot be read, the document says so under "errors" and g90 exits
non-zero after printing it.`, dumpHistory),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.panel(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			doc := map[string]any{"panel": p.Addr(), "time": time.Now().UTC().Format(time.RFC3339)}
			errs := map[string]string{}
			part := func(name string, v any, err error) {
				if err != nil {
					errs[name] = err.Error()
					return
				}
				doc[name] = v
			}
			info, err := p.Info(ctx)
			part("info", newInfoJSON(info), err)
			s, err := p.Status(ctx)
			part("status", statusJSON{State: s.State.String(), Phone: s.PhoneNumber, Product: s.ProductName, MCUVersion: s.MCUHWVersion, WiFiVersion: s.WiFiHWVersion}, err)
			config := map[string]any{}
			for _, sec := range g90.Sections {
				r, err := p.ReadConfig(ctx, sec)
				if err != nil {
					errs["config."+string(sec)] = err.Error()
					continue
				}
				config[string(sec)] = sectionValue(r)
			}
			doc["config"] = config
			sensors, err := p.Sensors(ctx)
			infos := []peripheral.SensorInfo{}
			for _, sn := range sensors {
				infos = append(infos, sn.Info())
			}
			part("sensors", infos, err)
			devices, err := p.Devices(ctx)
			nodes := []peripheral.DeviceNodeInfo{}
			for _, d := range devices {
				for _, n := range d.Nodes() {
					nodes = append(nodes, n.Info())
				}
			}
			part("devices", nodes, err)
			entries, err := p.History(ctx, 1, dumpHistory)
			hist := []historyJSON{}
			for _, e := range entries {
				hist = append(hist, newHistoryJSON(e))
			}
			part("history", hist, err)
			if len(errs) > 0 {
				doc["errors"] = errs
			}

			// Through generic JSON, so that redaction sees every value.
			b, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			var generic any
			if err := json.Unmarshal(b, &generic); err != nil {
				return err
			}
			if redact {
				generic = redactValue("", generic)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(generic); err != nil {
				return err
			}
			if len(errs) > 0 {
				return errors.New("dump: some parts could not be read; see \"errors\" in the output")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&redact, "redact", false, "mask GUID, phone numbers, passwords, keys, IP addresses and APN credentials")
	return cmd
}

// redactValue masks the secrets in v, found at path.
func redactValue(path string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			x[k] = redactValue(p, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(path+"[]", e)
		}
		return x
	case string:
		if x == "" {
			return x
		}
		for _, s := range secretPaths {
			if s == path || (strings.HasSuffix(s, ".*") && strings.HasPrefix(path, strings.TrimSuffix(s, "*"))) {
				return redacted
			}
		}
		return ipLike.ReplaceAllStringFunc(x, func(m string) string {
			if _, err := netip.ParseAddr(m); err == nil {
				return redacted
			}
			return m
		})
	}
	return v
}
