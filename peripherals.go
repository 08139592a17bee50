package g90

import (
	"context"
	"errors"
	"fmt"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// readList reads a whole peripheral list. A record that does not decode is
// skipped with a log line instead of failing the list (spec:
// peripherals.md 8, recommendation).
func (p *Panel) readList(ctx context.Context, code protocol.Code, add func(pos int, rec protocol.PeripheralRecord)) error {
	return p.c.ReadAll(ctx, code, 1, 0, func(pos int, v protocol.Value) error {
		var rec protocol.PeripheralRecord
		if err := protocol.Decode(&rec, v.Arr); err != nil {
			p.log.Warn("skipping peripheral record", "panel", p.Addr(), "command", code, "position", pos, "record", v.String(), "err", err)
			return nil
		}
		add(pos, rec)
		return nil
	})
}

// Sensors reads the sensor list (spec: local-protocol.md 3.6).
func (p *Panel) Sensors(ctx context.Context) ([]*peripheral.Sensor, error) {
	var out []*peripheral.Sensor
	err := p.readList(ctx, protocol.GetSensorList, func(pos int, rec protocol.PeripheralRecord) {
		out = append(out, peripheral.NewSensor(pos, rec))
	})
	if err != nil {
		return nil, fmt.Errorf("sensors: %w", err)
	}
	return out, nil
}

// Devices reads the device list (relays, sockets, sirens…; spec:
// local-protocol.md 3.10).
func (p *Panel) Devices(ctx context.Context) ([]*peripheral.Device, error) {
	var out []*peripheral.Device
	err := p.readList(ctx, protocol.GetDeviceList, func(pos int, rec protocol.PeripheralRecord) {
		out = append(out, peripheral.NewDevice(pos, rec))
	})
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	return out, nil
}

// SetRelay switches node (0-based channel; 0 for single-channel devices)
// of the device with the given index on or off. The panel's values are
// inverted: 0 is on (spec: local-protocol.md 3.11).
//
// The command is sent once, never resent: relays in toggle mode use one
// RF code for on and off (spec: local-protocol.md 3.11, 7.2), so a repeat
// after a lost reply could switch the relay back, and no command reads a
// relay's state to check. Without a reply the error says that the relay
// may or may not have switched.
func (p *Panel) SetRelay(ctx context.Context, index, node int, on bool) error {
	if index < 0 || node < 0 {
		return fmt.Errorf("relay %d:%d: index and node must not be negative", index, node)
	}
	action := 1
	if on {
		action = 0
	}
	state := map[bool]string{true: "on", false: "off"}[on]
	err := p.sendOnce(ctx, protocol.NewRequest(protocol.ControlDevice, protocol.IntValue(index), protocol.IntValue(action), protocol.IntValue(node)))
	switch {
	case errors.Is(err, client.ErrTimeout):
		return fmt.Errorf("relay %d:%d %s: no reply, so the relay may or may not have switched; not resent, as a toggle-mode relay would switch back: %w", index, node, state, err)
	case err != nil:
		return fmt.Errorf("relay %d:%d %s: %w", index, node, state, err)
	}
	return nil
}
