// Package g90 controls a G90-family alarm panel (Golden Security, PST,
// Kerui and other brands) over its local UDP protocol: status, arm and
// disarm, sensors and relays, history and every configuration object.
//
// A Panel is the façade over one panel: it owns one client.Client (one
// request in flight), decodes replies into typed records and applies the
// protocol's rules. Every call takes a context that can interrupt it.
//
//	p, err := g90.New(g90.Config{Host: "192.168.1.50"})
//	if err != nil { ... }
//	status, err := p.Status(ctx)
//	fmt.Println(status.State) // "disarmed"
//	err = p.Arm(ctx, protocol.ArmAway)
//
// Events: a Monitor runs event sources (notify.Listener for the panel's
// local notifications, HistoryPoller), keeps the panel's state and
// delivers each event to every subscriber in order:
//
//	mon := p.NewMonitor(g90.MonitorConfig{Sources: []g90.Source{listener}})
//	sub := mon.Subscribe("app", 1024)
//	go mon.Run(ctx)
//	for d := range sub.All() { ... } // d.Event
//
// Configuration and peripherals are changed by verified read-modify-write:
// fresh data is read, only the change is applied and checked, the write is
// sent once and the result read back (a lost reply is resolved by that
// read, not by resending):
//
//	_, err = p.SetConfigFields(ctx, g90.SectionHost, "alarm_siren_duration=120")
//	s, err := p.FindSensor(ctx, "Back door")
//	s, err = p.UpdateSensor(ctx, s, g90.PeripheralChange{Clear: peripheral.FlagEnabled})
//
// The simulator (package sim, or `g90 sim`) is a panel on loopback for
// trying everything without hardware.
package g90

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/protocol"
)

// Config configures a Panel. The zero value of every field but Host means
// its default.
type Config struct {
	// Host is the panel's IP address or host name. Required.
	Host string
	// Port is the panel's command port; 0 means 12368.
	Port int
	// Timeout is the budget of one request: all its attempts together
	// wait at most this long for the panel's answer, each twice as long
	// as the one before (client.Config.Timeout); 0 means 30 s. A call
	// that sends several requests (a list read page by page, a write
	// read back to verify it) can take longer, one budget per request.
	Timeout time.Duration
	// Retries is the number of attempts; 0 means 3, negative means one.
	// Writes that must not be repeated blindly are sent once, with the
	// whole budget, whatever Retries says.
	Retries int
	// ListenPacket opens the UDP socket of each attempt; nil is the
	// standard library's.
	ListenPacket client.ListenPacketFunc
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
	// Progress, if set, is told before every attempt of a request and
	// when the request is over (client.Config.Progress), to show a user
	// what is being waited for; nil is silent.
	Progress func(client.Progress)
	// Carrier, if set, carries every request instead of UDP: the panel's
	// cloud connection (cloud.Server.Carrier). Writes then go once
	// (client.Config.Carrier), and so does a reboot, which gets no reply.
	Carrier client.Carrier
	// Fallback uses the Carrier only while the panel does not answer
	// over UDP (client.Config.Fallback).
	Fallback bool
}

// Panel is one alarm panel. It is safe for concurrent use.
type Panel struct {
	c   *client.Client
	log *slog.Logger
	// rebootGap separates the datagrams of a full reboot; tests shorten it.
	rebootGap time.Duration
	// now is the clock of the configuration cache; tests move it.
	now func() time.Time
	// cfg caches the configuration objects and serialises their writes.
	cfg map[Section]*configSlot
	// lists serialises read-modify-writes of the sensor and device lists.
	lists listLocks
	// learnPoll is how often a registration re-reads the list; tests
	// shorten it.
	learnPoll time.Duration
}

// New returns a Panel for cfg. It sends nothing.
func New(cfg Config) (*Panel, error) {
	c, err := client.New(client.Config{
		Host: cfg.Host, Port: cfg.Port, Timeout: cfg.Timeout, Retries: cfg.Retries,
		ListenPacket: cfg.ListenPacket, Logger: cfg.Logger, Progress: cfg.Progress, Carrier: cfg.Carrier, Fallback: cfg.Fallback,
	})
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Panel{c: c, log: log, rebootGap: time.Second, now: time.Now, cfg: newConfigSlots(), learnPoll: time.Second}, nil
}

// Client returns the underlying protocol client.
func (p *Panel) Client() *client.Client { return p.c }

// Addr returns the panel's address as host:port.
func (p *Panel) Addr() string { return p.c.Panel() }

// get sends a parameterless GET and decodes the reply into a new T.
func get[T any, PT interface {
	*T
	protocol.Record
}](ctx context.Context, p *Panel, code protocol.Code, what string) (T, error) {
	var rec T
	resp, err := p.c.Exchange(ctx, protocol.NewRequest(code))
	if err == nil && resp.Empty() {
		err = fmt.Errorf("%w: empty reply to %v", protocol.ErrMissingData, code)
	}
	if err == nil {
		err = protocol.Decode(PT(&rec), resp.Data)
	}
	if err != nil {
		return rec, fmt.Errorf("get %s: %w", what, err)
	}
	return rec, nil
}

// set sends a command whose reply is the empty body.
func (p *Panel) set(ctx context.Context, what string, req protocol.Request) error {
	resp, err := p.c.Exchange(ctx, req)
	if err == nil && !resp.Empty() {
		err = fmt.Errorf("%w: %v answered with data %v", protocol.ErrMalformed, req.Code, protocol.ArrayValue(resp.Data...))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Info reads the panel's host information (spec: local-protocol.md 3.3).
func (p *Panel) Info(ctx context.Context) (protocol.HostInfo, error) {
	return get[protocol.HostInfo](ctx, p, protocol.GetHostInfo, "host info")
}

// Status reads the arm state and identity (spec: local-protocol.md 3.1).
func (p *Panel) Status(ctx context.Context) (protocol.HostStatus, error) {
	return get[protocol.HostStatus](ctx, p, protocol.GetHostStatus, "host status")
}

// UserDataCRC reads the database checksums (spec: local-protocol.md 3.4).
func (p *Panel) UserDataCRC(ctx context.Context) (protocol.UserDataCRC, error) {
	return get[protocol.UserDataCRC](ctx, p, protocol.GetUserDataCRC, "user data CRC")
}

// Arm arms the panel away or home (spec: local-protocol.md 3.2).
func (p *Panel) Arm(ctx context.Context, state protocol.ArmState) error {
	if state != protocol.ArmAway && state != protocol.ArmHome {
		return fmt.Errorf("arm: state %v: want away or home", state)
	}
	return p.set(ctx, "arm "+state.String(), protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(int(state))))
}

// Disarm disarms the panel (spec: local-protocol.md 3.2).
func (p *Panel) Disarm(ctx context.Context) error {
	return p.set(ctx, "disarm", protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(int(protocol.Disarmed))))
}
