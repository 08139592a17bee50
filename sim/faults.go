package sim

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// maxDelayMS bounds Faults.DelayMS: longer than any client timeout is
// pointless.
const maxDelayMS = 60_000

// Faults makes the simulated panel misbehave the ways real panels and
// networks do (spec: local-protocol.md 7.2), to test clients. The zero
// value is a well-behaved panel. Faults apply to every datagram the panel
// sends: command replies and targeted-discovery answers.
type Faults struct {
	// Drop is the share of replies not sent at all, 0 to 1.
	Drop float64 `json:"drop"`
	// DelayMS delays every reply by this many milliseconds, 0 to 60000.
	// Other requests are answered meanwhile.
	DelayMS int `json:"delay_ms"`
	// Duplicate is the share of replies sent twice, 0 to 1.
	Duplicate float64 `json:"duplicate"`
	// Stray sends, before each command reply, a plausible reply to a
	// different command from another socket: 127.0.0.2 when the client is
	// on IPv4 loopback and that address can be bound, else another port on
	// the panel's own address. A client must reject it by its sender
	// (spec: local-protocol.md 1.5 step 2).
	Stray bool `json:"stray"`
	// Silent suppresses every reply, as a panel that has gone away.
	Silent bool `json:"silent"`
	// DropCode, when not 0, suppresses every reply to that command code
	// while the command is still carried out: the reply is lost on its
	// way back. Clients must then read the panel to learn what happened.
	DropCode int `json:"drop_code,omitempty"`
	// IgnoreCode, when not 0, makes the panel neither carry out nor
	// answer commands with that code: the request is lost on its way in.
	IgnoreCode int `json:"ignore_code,omitempty"`
	// Unreachable makes the command port take nothing: every request
	// over UDP is lost on its way in, as to a panel behind someone
	// else's router. Its cloud link still carries commands (M12).
	Unreachable bool `json:"unreachable,omitempty"`
}

// Validate reports a fault setting out of range.
func (f Faults) Validate() error {
	switch {
	case !(f.Drop >= 0 && f.Drop <= 1): // also rejects NaN
		return fmt.Errorf("sim: drop %v is outside 0..1", f.Drop)
	case !(f.Duplicate >= 0 && f.Duplicate <= 1):
		return fmt.Errorf("sim: duplicate %v is outside 0..1", f.Duplicate)
	case f.DelayMS < 0 || f.DelayMS > maxDelayMS:
		return fmt.Errorf("sim: delay_ms %d is outside 0..%d", f.DelayMS, maxDelayMS)
	case f.DropCode < 0 || f.DropCode > 65535:
		return fmt.Errorf("sim: drop_code %d is not a command code", f.DropCode)
	case f.IgnoreCode < 0 || f.IgnoreCode > 65535:
		return fmt.Errorf("sim: ignore_code %d is not a command code", f.IgnoreCode)
	}
	return nil
}

// ignored reports whether a request with code is lost on its way in.
func (p *Panel) ignored(code protocol.Code) bool {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	return p.faults.IgnoreCode != 0 && int(code) == p.faults.IgnoreCode
}

// unreachable reports whether the command port takes nothing.
func (p *Panel) unreachable() bool {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	return p.faults.Unreachable
}

// SetFaults replaces the fault settings; they apply to the next reply.
func (p *Panel) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	p.faultMu.Lock()
	p.faults = f
	p.faultMu.Unlock()
	p.logger.Info("sim: faults set", "faults", fmt.Sprintf("%+v", f))
	return nil
}

// Faults returns the current fault settings.
func (p *Panel) Faults() Faults {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	return p.faults
}

// send transmits b to the request's source with the faults applied. A
// delayed reply is sent by its own goroutine, which ends early when ctx is
// cancelled; the caller must be one of Serve's goroutines.
func (p *Panel) send(ctx context.Context, conn net.PacketConn, to net.Addr, b []byte, code protocol.Code, commandReply bool) {
	p.faultMu.Lock()
	f := p.faults
	drop := f.Drop > 0 && p.rng.Float64() < f.Drop
	copies := 1
	if f.Duplicate > 0 && p.rng.Float64() < f.Duplicate {
		copies = 2
	}
	p.faultMu.Unlock()
	if commandReply && f.DropCode != 0 && int(code) == f.DropCode {
		drop = true
	}
	if f.Silent || drop {
		p.logger.Debug("sim: reply suppressed by fault", "to", to, "silent", f.Silent)
		return
	}
	deliver := func() {
		if f.Stray && commandReply {
			p.sendStray(to, code)
		}
		for range copies {
			if _, err := conn.WriteTo(b, to); err != nil {
				p.logger.Warn("sim: send reply", "to", to, "err", err)
				return
			}
		}
	}
	if f.DelayMS == 0 {
		deliver()
		return
	}
	p.wg.Go(func() {
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			deliver()
		case <-ctx.Done():
		}
	})
}

// sendStray sends a valid reply to a command other than code, so that
// only the sender check can tell it from the real reply.
func (p *Panel) sendStray(to net.Addr, code protocol.Code) {
	conn := p.strayConn(to)
	if conn == nil {
		return
	}
	p.mu.Lock()
	var bogus protocol.Response
	if code != protocol.GetHostStatus {
		bogus = protocol.Response{Code: protocol.GetHostStatus, Data: protocol.Encode(&protocol.HostStatus{
			State: p.state.Arm, PhoneNumber: p.state.AlarmPhones.PanelPhoneNumber, ProductName: p.state.Host.ProductName,
			MCUHWVersion: p.state.Host.MCUHWVersion, WiFiHWVersion: p.state.Host.WiFiHWVersion,
		})}
	} else {
		bogus = protocol.Response{Code: protocol.GetHostInfo, Data: protocol.Encode(hostInfo(p.state.Host))}
	}
	p.mu.Unlock()
	if _, err := conn.WriteTo(bogus.Append(nil), to); err != nil {
		p.logger.Warn("sim: send stray datagram", "to", to, "err", err)
	}
}

// strayConn binds, once, the socket stray datagrams come from.
func (p *Panel) strayConn(to net.Addr) net.PacketConn {
	p.strayMu.Lock()
	defer p.strayMu.Unlock()
	if p.stray != nil || p.strayFailed {
		return p.stray
	}
	var candidates []string
	if ua, ok := to.(*net.UDPAddr); ok && ua.IP.IsLoopback() && ua.IP.To4() != nil {
		candidates = append(candidates, "127.0.0.2:0") // all of 127/8 is loopback on Linux
	}
	own := "127.0.0.1"
	if ua, ok := p.conn.LocalAddr().(*net.UDPAddr); ok {
		own = ua.IP.String()
	}
	candidates = append(candidates, net.JoinHostPort(own, "0"))
	for _, addr := range candidates {
		c, err := net.ListenPacket("udp", addr)
		if err == nil {
			p.logger.Debug("sim: stray datagrams come from", "addr", c.LocalAddr())
			p.stray = c
			return c
		}
		p.logger.Debug("sim: cannot bind stray socket", "addr", addr, "err", err)
	}
	p.strayFailed = true
	return nil
}
