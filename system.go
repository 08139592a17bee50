package g90

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// Module is a panel module that can be rebooted on its own.
type Module string

// Modules (spec: local-protocol.md 5.2). ModuleAll reboots all three.
const (
	ModuleAll  Module = ""
	ModuleMCU  Module = "mcu"
	ModuleGSM  Module = "gsm"
	ModuleWiFi Module = "wifi"
)

var rebootCommands = map[Module]int{
	ModuleMCU: protocol.SysMCUReboot, ModuleGSM: protocol.SysGSMReboot, ModuleWiFi: protocol.SysWiFiReboot,
}

// Reboot reboots one module, or the whole panel. A full reboot sends GSM,
// MCU and Wi-Fi reboots one second apart, as the reference found to work
// (spec: local-protocol.md 5.2). The panel does not answer; poll Info to
// see it come back.
func (p *Panel) Reboot(ctx context.Context, m Module) error {
	order := []Module{ModuleGSM, ModuleMCU, ModuleWiFi}
	if m != ModuleAll {
		if _, ok := rebootCommands[m]; !ok {
			return fmt.Errorf("reboot: unknown module %q: want mcu, gsm or wifi", m)
		}
		order = []Module{m}
	}
	for i, mod := range order {
		if i > 0 {
			t := time.NewTimer(p.rebootGap)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("reboot: %w", ctx.Err())
			case <-t.C:
			}
		}
		if err := p.c.Send(ctx, protocol.SystemRequest(rebootCommands[mod], "")); err != nil {
			return fmt.Errorf("reboot %s: %w", mod, err)
		}
	}
	return nil
}

// SetCloudServer points the panel's cloud connection at ip:port (spec:
// local-protocol.md 5.3). The panel does not resolve names, so ip must be
// an IP address.
func (p *Panel) SetCloudServer(ctx context.Context, ip string, port int) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return fmt.Errorf("set cloud server: %q is not an IPv4 address", ip)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("set cloud server: port %d is outside 1..65535", port)
	}
	if err := p.c.Send(ctx, protocol.SetServerRequest(addr.String(), port)); err != nil {
		return fmt.Errorf("set cloud server: %w", err)
	}
	return nil
}
