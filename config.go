package g90

import (
	"context"

	"github.com/g90alarm/g90/protocol"
)

// HostConfig reads the panel settings (spec: local-protocol.md 3.16).
func (p *Panel) HostConfig(ctx context.Context) (protocol.HostConfig, error) {
	return get[protocol.HostConfig](ctx, p, protocol.GetHostConfig, "host config")
}

// AlarmPhones reads the alarm phone numbers (spec: local-protocol.md 3.17).
func (p *Panel) AlarmPhones(ctx context.Context) (protocol.AlarmPhones, error) {
	return get[protocol.AlarmPhones](ctx, p, protocol.GetAlarmPhones, "alarm phones")
}

// AlertConfig reads the alert flags (spec: local-protocol.md 3.18).
func (p *Panel) AlertConfig(ctx context.Context) (protocol.AlertConfig, error) {
	return get[protocol.AlertConfig](ctx, p, protocol.GetNoticeFlags, "alert flags")
}

// NetConfig reads the network configuration (spec: local-protocol.md 3.19).
func (p *Panel) NetConfig(ctx context.Context) (protocol.NetConfig, error) {
	return get[protocol.NetConfig](ctx, p, protocol.GetAPInfo, "net config")
}

// SIAConfig reads the SIA reporting configuration. Some firmware breaks
// pagination after repeated reads (spec: local-protocol.md 7.1): do not
// poll it.
func (p *Panel) SIAConfig(ctx context.Context) (protocol.SIAConfig, error) {
	return get[protocol.SIAConfig](ctx, p, protocol.GetSIA, "SIA config")
}

// CIDConfig reads the Contact ID configuration; the same caveat as
// SIAConfig applies (spec: local-protocol.md 7.1).
func (p *Panel) CIDConfig(ctx context.Context) (protocol.CIDConfig, error) {
	return get[protocol.CIDConfig](ctx, p, protocol.GetCID, "CID config")
}
