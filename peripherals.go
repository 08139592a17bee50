package g90

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// Errors of the sensor and device writes; test with errors.Is.
var (
	// ErrNotFound: no sensor or device matches the index or name given.
	ErrNotFound = errors.New("g90: no such peripheral")
	// ErrChanged: the record at the peripheral's list position is no
	// longer the one read, because someone changed, replaced or deleted
	// it, or the list shifted; nothing was written. Read the list again
	// and retry (spec: peripherals.md 10.3).
	ErrChanged = errors.New("g90: changed on the panel since it was read")
	// ErrNotRegistered: a new sensor or device did not appear on the panel
	// in time.
	ErrNotRegistered = errors.New("g90: registration did not complete")
	// ErrUnknownDefinition: no definition of that name in the table.
	ErrUnknownDefinition = errors.New("g90: no such definition")
)

// DefaultRegistrationTimeout is how long a registration waits for the
// new peripheral (spec: local-protocol.md 1.7).
const DefaultRegistrationTimeout = 30 * time.Second

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

// listSpec is how one peripheral list is read and written.
type listSpec struct {
	kind           peripheral.Kind
	list, set, del protocol.Code
}

var (
	sensorList = listSpec{peripheral.KindSensor, protocol.GetSensorList, protocol.SetSingleSensor, protocol.DelSensor}
	deviceList = listSpec{peripheral.KindDevice, protocol.GetDeviceList, protocol.SetSingleDevice, protocol.DelDevice}
)

// listLocks serialises the read-modify-writes of one Panel's sensor and
// device lists, and remembers what this Panel wrote.
type listLocks struct {
	sensors, devices sync.Mutex
	// written holds, per list and index, the records this Panel's own
	// writes went through, oldest first; guarded by that list's lock.
	written map[writtenKey][]protocol.PeripheralRecord
}

type writtenKey struct {
	kind  peripheral.Kind
	index int
}

// maxLineage bounds the records remembered per peripheral.
const maxLineage = 16

// ours reports whether fresh is what this Panel's own writes made of
// cached: then a caller holding cached is not overwriting anyone else's
// change, and two callers of one Panel changing different things of one
// peripheral both succeed. The caller holds the list's lock.
func (p *Panel) ours(l listSpec, cached, fresh protocol.PeripheralRecord) bool {
	lin := p.lists.written[writtenKey{l.kind, fresh.Index}]
	if len(lin) < 2 || !lin[len(lin)-1].Equal(fresh) {
		return false
	}
	for _, r := range lin[:len(lin)-1] {
		if r.Equal(cached) {
			return true
		}
	}
	return false
}

// wrote records that this Panel changed a peripheral from before to
// after. The caller holds the list's lock.
func (p *Panel) wrote(l listSpec, before, after protocol.PeripheralRecord) {
	if p.lists.written == nil {
		p.lists.written = map[writtenKey][]protocol.PeripheralRecord{}
	}
	k := writtenKey{l.kind, after.Index}
	lin := p.lists.written[k]
	if len(lin) == 0 || !lin[len(lin)-1].Equal(before) {
		lin = []protocol.PeripheralRecord{before}
	}
	lin = append(lin, after)
	if len(lin) > maxLineage {
		lin = lin[len(lin)-maxLineage:]
	}
	p.lists.written[k] = lin
}

func (p *Panel) listLock(l listSpec) *sync.Mutex {
	if l.kind == peripheral.KindDevice {
		return &p.lists.devices
	}
	return &p.lists.sensors
}

// PeripheralChange is what UpdateSensor and UpdateDevice change; the zero
// value changes nothing. Only the name and the user-settable flags can be
// changed (spec: peripherals.md 10.4).
type PeripheralChange struct {
	// Name, if not nil, is the new name; see peripheral.ValidateName.
	Name *string
	// Set and Clear are user flags to set and to clear; both must be
	// within peripheral.UserSettableFlags, and must not overlap.
	Set, Clear peripheral.UserFlags
	// AlertMode, if not nil, is the new alert mode; it is applied after
	// Set and Clear.
	AlertMode *peripheral.AlertMode
}

// check validates c without the panel.
func (c PeripheralChange) check() error {
	if c.Name != nil {
		if err := peripheral.ValidateName(*c.Name); err != nil {
			return err
		}
	}
	if bad := (c.Set | c.Clear) &^ peripheral.UserSettableFlags; bad != 0 {
		return fmt.Errorf("flags %v cannot be changed: only %v can", bad, peripheral.UserSettableFlags)
	}
	if both := c.Set & c.Clear; both != 0 {
		return fmt.Errorf("flags %v both set and cleared", both)
	}
	if c.AlertMode != nil {
		if _, err := peripheral.UserFlags(0).WithAlertMode(*c.AlertMode); err != nil {
			return err
		}
	}
	return nil
}

// apply returns rec with c applied (spec: peripherals.md 10.2).
func (c PeripheralChange) apply(rec protocol.PeripheralRecord) (protocol.PeripheralRecord, error) {
	if c.Name != nil {
		rec.Name = *c.Name
	}
	cur := peripheral.UserFlags(rec.UserFlags)
	flags := peripheral.ApplyUserFlags(cur, (cur|c.Set)&^c.Clear)
	if c.AlertMode != nil {
		var err error
		if flags, err = flags.WithAlertMode(*c.AlertMode); err != nil {
			return rec, err
		}
	}
	rec.UserFlags = int(flags)
	return rec, nil
}

// UpdateSensor changes a sensor read with Sensors or FindSensor, by the
// spec's read-modify-write (spec: peripherals.md 10.3): it re-reads the
// record at the sensor's list position, refuses with ErrChanged if that
// is not exactly the record s holds (another sensor now, or changed by
// someone else; changes made through this Panel since s was read do not
// count), applies c to it, sends SETSINGLESENSOR once if anything
// changed, and reads the record back to verify. A lost reply is resolved
// by that read-back, never by a blind resend. A sensor without a
// definition cannot be written (peripheral.ErrNoDefinition). It returns
// the sensor as the panel then holds it.
func (p *Panel) UpdateSensor(ctx context.Context, s *peripheral.Sensor, c PeripheralChange) (*peripheral.Sensor, error) {
	what := fmt.Sprintf("update sensor %q (index %d)", s.Record.Name, s.Record.Index)
	pos, rec, err := p.updatePeripheral(ctx, sensorList, &s.Peripheral, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return peripheral.NewSensor(pos, rec), nil
}

// UpdateDevice changes a device the way UpdateSensor changes a sensor,
// with SETSINGLEDEVICE. A name belongs to the whole device, every node
// (spec: peripherals.md 15).
func (p *Panel) UpdateDevice(ctx context.Context, d *peripheral.Device, c PeripheralChange) (*peripheral.Device, error) {
	what := fmt.Sprintf("update device %q (index %d)", d.Record.Name, d.Record.Index)
	pos, rec, err := p.updatePeripheral(ctx, deviceList, &d.Peripheral, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return peripheral.NewDevice(pos, rec), nil
}

func (p *Panel) updatePeripheral(ctx context.Context, l listSpec, e *peripheral.Peripheral, c PeripheralChange) (int, protocol.PeripheralRecord, error) {
	if err := c.check(); err != nil {
		return 0, protocol.PeripheralRecord{}, err
	}
	if e.Definition == nil {
		return 0, protocol.PeripheralRecord{}, fmt.Errorf("%w (%s)", peripheral.ErrNoDefinition, e.TypeName())
	}
	mu := p.listLock(l)
	mu.Lock()
	defer mu.Unlock()
	fresh, err := p.recheck(ctx, l, e)
	if err != nil {
		return 0, fresh, err
	}
	want, err := c.apply(fresh)
	if err != nil {
		return 0, fresh, err
	}
	if want.Equal(fresh) {
		return e.Position, fresh, nil // nothing to change, nothing sent
	}
	w := peripheral.SensorWrite(want, e.Definition)
	attempts := max(1, p.c.Config().Retries)
	for attempt := 1; ; attempt++ {
		sendErr := p.sendOnce(ctx, protocol.NewRequest(l.set, protocol.EncodeWrite(&w)...))
		if sendErr != nil && !errors.Is(sendErr, client.ErrTimeout) {
			return 0, fresh, sendErr
		}
		got, ok, err := p.readAt(ctx, l, e.Position)
		switch {
		case err != nil:
			return 0, fresh, fmt.Errorf("sent, but reading it back failed, so whether the panel stored it is unknown: %w", errors.Join(sendErr, err))
		case !ok:
			return 0, fresh, fmt.Errorf("%w: after the write there is no record at list position %d", ErrChanged, e.Position)
		}
		diff := recordDiff(want, got)
		if len(diff) == 0 {
			p.wrote(l, fresh, got)
			return e.Position, got, nil
		}
		if sendErr == nil {
			return 0, got, fmt.Errorf("%w: the panel acknowledged, but reads back different %s", ErrNotStored, strings.Join(diff, ", "))
		}
		if !got.Equal(fresh) || attempt >= attempts {
			return 0, got, fmt.Errorf("%w: %d attempt(s) got no reply and the panel reads back different %s: %w", ErrNotStored, attempt, strings.Join(diff, ", "), sendErr)
		}
		p.log.Debug("peripheral write not stored after a lost reply, writing again", "panel", p.Addr(), "index", want.Index, "attempt", attempt)
	}
}

// recheck re-reads the record at e's list position and returns it if it
// is still exactly e's record (spec: peripherals.md 10.3 steps 2–4).
func (p *Panel) recheck(ctx context.Context, l listSpec, e *peripheral.Peripheral) (protocol.PeripheralRecord, error) {
	fresh, ok, err := p.readAt(ctx, l, e.Position)
	switch {
	case err != nil:
		return fresh, err
	case !ok:
		return fresh, fmt.Errorf("%w: no record at list position %d any more", ErrChanged, e.Position)
	case fresh.Index != e.Record.Index || fresh.TypeID != e.Record.TypeID || fresh.Subtype != e.Record.Subtype || fresh.ProtocolID != e.Record.ProtocolID:
		return fresh, fmt.Errorf("%w: list position %d now holds %q (index %d), another %v", ErrChanged, e.Position, fresh.Name, fresh.Index, l.kind)
	case !fresh.Equal(e.Record) && !p.ours(l, e.Record, fresh):
		return fresh, fmt.Errorf("%w: its record now has %s", ErrChanged, strings.Join(recordDiff(fresh, e.Record), ", "))
	}
	return fresh, nil
}

// readAt reads the one record at 1-based list position pos; ok is false
// when there is none.
func (p *Panel) readAt(ctx context.Context, l listSpec, pos int) (protocol.PeripheralRecord, bool, error) {
	var rec protocol.PeripheralRecord
	page, err := p.c.ReadPage(ctx, l.list, pos, pos)
	if err != nil {
		return rec, false, err
	}
	if page.Count == 0 || len(page.Records) == 0 {
		return rec, false, nil
	}
	if err := protocol.Decode(&rec, page.Records[0].Arr); err != nil {
		return rec, false, err
	}
	return rec, true, nil
}

// recordDiff names the fields a write can change in which got differs
// from want: what read-back verification compares. reserved_data, mask
// and private_data are left out: the panel reports them in its own way.
func recordDiff(want, got protocol.PeripheralRecord) []string {
	var out []string
	add := func(name string, w, g any) {
		if w != g {
			out = append(out, fmt.Sprintf("%s (want %v, panel has %v)", name, w, g))
		}
	}
	add("name", strconv.Quote(want.Name), strconv.Quote(got.Name))
	add("index", want.Index, got.Index)
	add("room_id", want.RoomID, got.RoomID)
	add("type_id", want.TypeID, got.TypeID)
	add("subtype", want.Subtype, got.Subtype)
	add("user_flags", want.UserFlags, got.UserFlags)
	add("baudrate", want.Baudrate, got.Baudrate)
	add("protocol_id", want.ProtocolID, got.ProtocolID)
	add("node_count", want.NodeCount, got.NodeCount)
	return out
}

// DeleteSensor deletes a sensor read with Sensors or FindSensor. Like a
// write, it first checks that the sensor's list position still holds
// exactly that sensor (ErrChanged otherwise), so a sensor that was
// replaced is never deleted by mistake; then it sends DELSENSOR once and
// reads the list to verify the sensor is gone (spec: local-protocol.md
// 3.8).
func (p *Panel) DeleteSensor(ctx context.Context, s *peripheral.Sensor) error {
	if err := p.deletePeripheral(ctx, sensorList, &s.Peripheral); err != nil {
		return fmt.Errorf("delete sensor %q (index %d): %w", s.Record.Name, s.Record.Index, err)
	}
	return nil
}

// DeleteDevice deletes a device, all its nodes, as DeleteSensor deletes a
// sensor (spec: local-protocol.md 3.14, peripherals.md 11).
func (p *Panel) DeleteDevice(ctx context.Context, d *peripheral.Device) error {
	if err := p.deletePeripheral(ctx, deviceList, &d.Peripheral); err != nil {
		return fmt.Errorf("delete device %q (index %d): %w", d.Record.Name, d.Record.Index, err)
	}
	return nil
}

func (p *Panel) deletePeripheral(ctx context.Context, l listSpec, e *peripheral.Peripheral) error {
	mu := p.listLock(l)
	mu.Lock()
	defer mu.Unlock()
	if _, err := p.recheck(ctx, l, e); err != nil {
		return err
	}
	attempts := max(1, p.c.Config().Retries)
	for attempt := 1; ; attempt++ {
		sendErr := p.sendOnce(ctx, protocol.NewRequest(l.del, protocol.IntValue(e.Record.Index)))
		if sendErr != nil && !errors.Is(sendErr, client.ErrTimeout) {
			return sendErr
		}
		still := false
		err := p.readList(ctx, l.list, func(_ int, rec protocol.PeripheralRecord) {
			still = still || rec.Index == e.Record.Index
		})
		switch {
		case err != nil:
			return fmt.Errorf("sent, but reading the list back failed, so whether it is deleted is unknown: %w", errors.Join(sendErr, err))
		case !still:
			delete(p.lists.written, writtenKey{l.kind, e.Record.Index})
			return nil
		case sendErr == nil:
			return fmt.Errorf("%w: the panel acknowledged, but still lists index %d", ErrNotStored, e.Record.Index)
		case attempt >= attempts:
			return fmt.Errorf("%w: %d attempt(s) got no reply and the panel still lists index %d: %w", ErrNotStored, attempt, e.Record.Index, sendErr)
		}
	}
}

// FindSensor reads the sensor list and returns the sensor whose index is
// key (a decimal number) or whose name is key. A name that several
// sensors share is an error: use the index.
func (p *Panel) FindSensor(ctx context.Context, key string) (*peripheral.Sensor, error) {
	sensors, err := p.Sensors(ctx)
	if err != nil {
		return nil, err
	}
	var found []*peripheral.Sensor
	n, numErr := strconv.Atoi(key)
	for _, s := range sensors {
		if (numErr == nil && s.Index() == n) || (numErr != nil && (s.Name() == key || s.ParentName() == key)) {
			found = append(found, s)
		}
	}
	return only(found, "sensor", key)
}

// FindDevice reads the device list and returns the device node whose
// index is key (node 0), whose index and node are key as INDEX:NODE, or
// whose name is key: the device's name, or a node's name such as
// "Relay#3" (spec: peripherals.md 15).
func (p *Panel) FindDevice(ctx context.Context, key string) (peripheral.DeviceNode, error) {
	devices, err := p.Devices(ctx)
	if err != nil {
		return peripheral.DeviceNode{}, err
	}
	node := 0
	is, ns, hasNode := strings.Cut(key, ":")
	index, numErr := strconv.Atoi(is)
	if numErr == nil && hasNode {
		node, numErr = strconv.Atoi(ns)
	}
	var found []peripheral.DeviceNode
	for _, d := range devices {
		for _, n := range d.Nodes() {
			match := numErr == nil && d.Index() == index && n.Subindex == node
			if numErr != nil {
				match = n.Name() == key || (n.Subindex == 0 && d.ParentName() == key)
			}
			if match {
				found = append(found, n)
			}
		}
	}
	return only(found, "device", key)
}

func only[T any](found []T, kind, key string) (T, error) {
	var zero T
	switch len(found) {
	case 0:
		return zero, fmt.Errorf("%w: no %s with index or name %q", ErrNotFound, kind, key)
	case 1:
		return found[0], nil
	}
	return zero, fmt.Errorf("%w: %d %ss are named %q; give the index", ErrNotFound, len(found), kind, key)
}

// Registration asks the panel to learn a new sensor or device.
type Registration struct {
	// Definition is the exact name of a definition of the sensor or device
	// table, e.g. "Door Sensor: WDS07" or "Socket: S07"
	// (spec: peripherals.md 12.1, 19).
	Definition string
	// Name is the new peripheral's name; empty means the definition's.
	Name string
	// Timeout bounds the wait for the new peripheral; 0 means
	// DefaultRegistrationTimeout. Cancelling the context ends the wait too.
	Timeout time.Duration
}

// prepare looks up r's definition and checks its name.
func (r Registration) prepare(k peripheral.Kind) (*peripheral.Definition, string, error) {
	def := peripheral.LookupName(k, r.Definition)
	if def == nil {
		return nil, "", fmt.Errorf("%w: no %v definition named %q", ErrUnknownDefinition, k, r.Definition)
	}
	name := r.Name
	if name == "" {
		name = def.Name
	}
	return def, name, peripheral.ValidateName(name)
}

func (r Registration) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultRegistrationTimeout
}

// AddSensor registers a new sensor (spec: local-protocol.md 3.9,
// peripherals.md 12): it sends ADDSENSOR with the definition and a free
// index, after which the panel waits for the physical sensor to transmit,
// and then re-reads the sensor list until a new sensor of that definition
// appears, the panel choosing its index. The list is polled rather than
// waiting for the sensor-change notification, so it also works where
// notifications do not reach this host.
//
// If nothing appears within r.Timeout, or ctx is cancelled, the result is
// ErrNotRegistered. The panel may then still be in learning mode: the
// command that would cancel it is undocumented (spec: local-protocol.md
// 3.9 step 5), so nothing is sent.
func (p *Panel) AddSensor(ctx context.Context, r Registration) (*peripheral.Sensor, error) {
	def, name, err := r.prepare(peripheral.KindSensor)
	if err != nil {
		return nil, fmt.Errorf("add sensor: %w", err)
	}
	what := fmt.Sprintf("add sensor %q (%s)", name, def.Name)
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	before, free, err := p.listIndexes(ctx, sensorList)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// Resending ADDSENSOR only restarts learning of the same sensor, so
	// the client's retries are safe here.
	if err := p.set(ctx, what, protocol.NewRequest(protocol.AddSensor, protocol.EncodeWrite(new(peripheral.NewRegistration(def, name, free)))...)); err != nil {
		return nil, err
	}
	pos, rec, err := p.awaitNew(ctx, sensorList, def, name, before, -1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; the panel may still be waiting for the sensor to transmit", what, err)
	}
	return peripheral.NewSensor(pos, rec), nil
}

// AddDevice registers a new device (spec: local-protocol.md 3.13,
// peripherals.md 13): ADDDEVICE with the definition and a free index,
// then SENDREGDEVICERESULT to confirm, whose reply is the index the panel
// chose; then the device list is re-read until that index appears. The
// confirmation is sent once: repeated after a lost reply it would find
// nothing pending and fail, so a lost reply is resolved by looking for a
// new device of that definition in the list instead.
func (p *Panel) AddDevice(ctx context.Context, r Registration) (*peripheral.Device, error) {
	def, name, err := r.prepare(peripheral.KindDevice)
	if err != nil {
		return nil, fmt.Errorf("add device: %w", err)
	}
	what := fmt.Sprintf("add device %q (%s)", name, def.Name)
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	before, free, err := p.listIndexes(ctx, deviceList)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := p.set(ctx, what, protocol.NewRequest(protocol.AddDevice, protocol.EncodeWrite(new(peripheral.NewRegistration(def, name, free)))...)); err != nil {
		return nil, err
	}
	index := -1
	resp, err := p.c.ExchangeOnce(ctx, protocol.NewRequest(protocol.SendRegDeviceResult, protocol.IntValue(1)))
	switch {
	case errors.Is(err, client.ErrTimeout):
		p.log.Debug("no reply to the registration confirmation; looking for the device", "panel", p.Addr())
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case resp.Empty() || len(resp.Data) == 0 || resp.Data[0].Kind != protocol.Int:
		return nil, fmt.Errorf("%s: %w: the panel assigned no index (reply %v)", what, ErrNotRegistered, protocol.ArrayValue(resp.Data...))
	default:
		index = int(resp.Data[0].Int)
	}
	pos, rec, err := p.awaitNew(ctx, deviceList, def, name, before, index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return peripheral.NewDevice(pos, rec), nil
}

// listIndexes reads a list and returns the indexes in use and the index
// to propose for a new entry (spec: peripherals.md 16.7).
func (p *Panel) listIndexes(ctx context.Context, l listSpec) (map[int]bool, int, error) {
	used := map[int]bool{}
	var idx []int
	err := p.readList(ctx, l.list, func(_ int, rec protocol.PeripheralRecord) {
		used[rec.Index] = true
		idx = append(idx, rec.Index)
	})
	return used, peripheral.FirstFreeIndex(idx), err
}

// awaitNew re-reads list l every learnPoll until a new record appears:
// the one with index, if index ≥ 0, else one whose index was not in
// before and whose type, subtype and protocol are def's, preferring one
// named name. When ctx ends it looks one last time.
func (p *Panel) awaitNew(ctx context.Context, l listSpec, def *peripheral.Definition, name string, before map[int]bool, index int) (int, protocol.PeripheralRecord, error) {
	look := func(ctx context.Context) (pos int, rec protocol.PeripheralRecord, ok bool, err error) {
		err = p.readList(ctx, l.list, func(at int, r protocol.PeripheralRecord) {
			var match bool
			if index >= 0 {
				match = r.Index == index
			} else {
				match = !before[r.Index] && r.TypeID == int(def.TypeID) && r.Subtype == def.Subtype && r.ProtocolID == int(def.ProtocolID)
			}
			if match && (!ok || (rec.Name != name && r.Name == name)) {
				pos, rec, ok = at, r, true
			}
		})
		return pos, rec, ok, err
	}
	t := time.NewTicker(p.learnPoll)
	defer t.Stop()
	for {
		pos, rec, ok, err := look(ctx)
		if ok {
			return pos, rec, nil
		}
		if err != nil && ctx.Err() == nil {
			p.log.Debug("registration: list read failed, polling on", "panel", p.Addr(), "err", err)
		}
		select {
		case <-ctx.Done():
			// The peripheral may have appeared just as the wait ended.
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.c.Config().Timeout)
			defer cancel()
			if pos, rec, ok, err := look(last); ok {
				return pos, rec, nil
			} else if err != nil {
				return 0, rec, fmt.Errorf("%w: %w, and the last look at the list failed: %w", ErrNotRegistered, ctx.Err(), err)
			}
			return 0, rec, fmt.Errorf("%w: none appeared: %w", ErrNotRegistered, ctx.Err())
		case <-t.C:
		}
	}
}
