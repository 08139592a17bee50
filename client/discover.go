package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"time"

	"github.com/g90alarm/g90/internal/floodlog"
	"github.com/g90alarm/g90/internal/sockopt"
	"github.com/g90alarm/g90/protocol"
)

// Discovery defaults (spec: local-protocol.md 6.1, 6.2, 1.7).
const (
	DefaultDiscoverAddr   = "255.255.255.255:12368"
	DefaultDiscoverWindow = 10 * time.Second
	DefaultProbeAddr      = "255.255.255.255:12900"
	DefaultProbeLocal     = ":12901"
	DefaultProbeWindow    = 30 * time.Second
)

// DiscoverConfig configures Discover and Probe. The zero value of every
// field means its default.
type DiscoverConfig struct {
	// Addr is where the request goes: the limited broadcast address by
	// default (":12368" for Discover, ":12900" for Probe); a unicast
	// address asks one host.
	Addr string
	// Local is the local address to send from and listen on. Discover
	// uses an ephemeral port; Probe uses ":12901" like the reference.
	Local string
	// Window is how long replies are collected: 10 s for Discover, 30 s
	// for Probe.
	Window time.Duration
	// ListenPacket opens the socket; nil means net.ListenConfig with
	// SO_REUSEADDR, so Probe can share port 12901 with a notification
	// listener.
	ListenPacket ListenPacketFunc
	// Logger receives one line per ignored datagram; nil is silent.
	Logger *slog.Logger
}

// Found is one panel that answered broadcast discovery.
type Found struct {
	Addr *net.UDPAddr // the panel's address: the reply's source
	Info protocol.HostInfo
}

// Probed is one panel that answered targeted discovery.
type Probed struct {
	Addr *net.UDPAddr
	GUID string // from the request (spec: local-protocol.md 6.2)
	Ack  protocol.ProbeAck
}

// Discover sends GETHOSTINFO once to the broadcast address and collects
// every valid answer for the whole window (spec: local-protocol.md 6.1).
// Invalid datagrams are ignored. It returns early only if ctx ends, with
// the panels found until then.
func Discover(ctx context.Context, cfg DiscoverConfig) ([]Found, error) {
	var found []Found
	for f, err := range DiscoverEach(ctx, cfg) {
		if err != nil {
			return found, err
		}
		found = append(found, f)
	}
	return found, nil
}

// DiscoverEach is Discover that yields each panel as soon as it answers,
// once per address, instead of a list when the window has closed. An
// error ends the sequence; so does ending the loop early, which closes
// the socket at once.
//
//	for f, err := range client.DiscoverEach(ctx, cfg) {
//		if err != nil { ... }
//		fmt.Println(f.Addr, f.Info.GUID)
//	}
func DiscoverEach(ctx context.Context, cfg DiscoverConfig) iter.Seq2[Found, error] {
	cfg = discoverDefaults(cfg, DefaultDiscoverAddr, ":0", DefaultDiscoverWindow)
	return func(yield func(Found, error) bool) {
		seen := map[string]bool{}
		err := collect(ctx, cfg, protocol.NewRequest(protocol.GetHostInfo).Append(nil), func(from *net.UDPAddr, b []byte) (bool, error) {
			resp, err := protocol.ParseResponse(b)
			if err == nil && resp.Code != protocol.GetHostInfo {
				err = fmt.Errorf("%w: got %v", ErrWrongCode, resp.Code)
			}
			var info protocol.HostInfo
			if err == nil {
				err = protocol.Decode(&info, resp.Data)
			}
			if err != nil || seen[from.String()] {
				return true, err
			}
			seen[from.String()] = true
			return yield(Found{Addr: from, Info: info}, nil), nil
		})
		if err != nil {
			yield(Found{}, err)
		}
	}
}

// Probe looks for the panel with the given GUID by targeted discovery and
// collects answers for the whole window (spec: local-protocol.md 6.2).
func Probe(ctx context.Context, guid string, cfg DiscoverConfig) ([]Probed, error) {
	var found []Probed
	for p, err := range ProbeEach(ctx, guid, cfg) {
		if err != nil {
			return found, err
		}
		found = append(found, p)
	}
	return found, nil
}

// ProbeEach is Probe that yields each answer as soon as it arrives, once
// per address. Only the panel with that GUID answers (spec:
// local-protocol.md 6.2), so a caller looking for it can stop at the
// first: ending the loop early closes the socket at once.
func ProbeEach(ctx context.Context, guid string, cfg DiscoverConfig) iter.Seq2[Probed, error] {
	cfg = discoverDefaults(cfg, DefaultProbeAddr, DefaultProbeLocal, DefaultProbeWindow)
	return func(yield func(Probed, error) bool) {
		if guid == "" {
			yield(Probed{}, errors.New("client: probe needs a GUID"))
			return
		}
		seen := map[string]bool{}
		err := collect(ctx, cfg, protocol.AppendProbe(nil, guid), func(from *net.UDPAddr, b []byte) (bool, error) {
			ack, err := protocol.ParseProbeAck(b)
			if err != nil || seen[from.String()] {
				return true, err
			}
			seen[from.String()] = true
			return yield(Probed{Addr: from, GUID: guid, Ack: ack}, nil), nil
		})
		if err != nil {
			yield(Probed{}, err)
		}
	}
}

func discoverDefaults(cfg DiscoverConfig, addr, local string, window time.Duration) DiscoverConfig {
	if cfg.Addr == "" {
		cfg.Addr = addr
	}
	if cfg.Local == "" {
		cfg.Local = local
	}
	if cfg.Window == 0 {
		cfg.Window = window
	}
	if cfg.ListenPacket == nil {
		// SO_REUSEADDR: Probe's port 12901 is also the notification port,
		// and a notification listener may hold it (spec:
		// notifications-and-cloud.md A.1).
		cfg.ListenPacket = sockopt.ListenPacket
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// collect sends payload from an unconnected socket (Go sets SO_BROADCAST
// on UDP sockets) and hands every datagram to accept until the window
// closes, ctx ends or accept says to stop. An error from accept is about
// the datagram: it is logged and ignored.
func collect(ctx context.Context, cfg DiscoverConfig, payload []byte, accept func(*net.UDPAddr, []byte) (more bool, err error)) error {
	to, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("client: discovery address %q: %w", cfg.Addr, err)
	}
	network := "udp4"
	if to.IP.To4() == nil {
		network = "udp6"
	}
	conn, err := cfg.ListenPacket(ctx, network, cfg.Local)
	if err != nil {
		return fmt.Errorf("client: discovery socket %s: %w", cfg.Local, err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(cfg.Window)); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.WriteTo(payload, to); err != nil {
		return fmt.Errorf("client: discovery to %s: %w", to, err)
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return nil // the window closed
			}
			return fmt.Errorf("client: discovery: %w", err)
		}
		u, _ := from.(*net.UDPAddr)
		if u == nil {
			continue
		}
		more, err := accept(u, buf[:n])
		if err != nil {
			cfg.Logger.Debug("ignored discovery reply", "from", from, "err", err, "bytes", floodlog.Bytes(buf[:n]))
		}
		if !more {
			return nil
		}
	}
}
