package g90

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

func ptr[T any](v T) *T { return &v }

// simSensor returns the simulator's sensor with index, or fails.
func simSensor(t *testing.T, s *sim.Panel, index int) protocol.PeripheralRecord {
	t.Helper()
	for _, r := range s.Snapshot().Sensors {
		if r.Index == index {
			return r
		}
	}
	t.Fatalf("simulator has no sensor %d", index)
	return protocol.PeripheralRecord{}
}

func findSensor(t *testing.T, p *Panel, key string) *peripheral.Sensor {
	t.Helper()
	sn, err := p.FindSensor(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func TestUpdateSensor(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	sn := findSensor(t, p, "Back door") // WRDS01, index 2, flags 33
	idx := sn.Index()

	steps := []struct {
		change    PeripheralChange
		wantName  string
		wantFlags peripheral.UserFlags
	}{
		{PeripheralChange{Name: ptr("Patio door")}, "Patio door", 33},
		{PeripheralChange{Clear: peripheral.FlagEnabled}, "Patio door", 32},
		{PeripheralChange{Set: peripheral.FlagEnabled | peripheral.FlagDoorChime | peripheral.FlagArmDelay}, "Patio door", 43},
		{PeripheralChange{AlertMode: ptr(peripheral.AlertWhenAway)}, "Patio door", 75},
		{PeripheralChange{AlertMode: ptr(peripheral.AlertAlways), Clear: peripheral.FlagDoorChime}, "Patio door", 3},
		{PeripheralChange{Name: ptr("Дверь"), Set: peripheral.FlagIndependentZone}, "Дверь", 19},
	}
	for _, st := range steps {
		got, err := p.UpdateSensor(ctx, sn, st.change)
		if err != nil {
			t.Fatalf("%+v: %v", st.change, err)
		}
		rec := simSensor(t, s, idx)
		if rec.Name != st.wantName || peripheral.UserFlags(rec.UserFlags) != st.wantFlags {
			t.Errorf("%+v: panel has %q flags %v, want %q %v", st.change, rec.Name, peripheral.UserFlags(rec.UserFlags), st.wantName, st.wantFlags)
		}
		if !got.Record.Equal(rec) || got.Position != sn.Position {
			t.Errorf("returned %+v at %d, panel has %+v", got.Record, got.Position, rec)
		}
		sn = got
	}

	// Nothing to change: only the re-read is sent.
	n := p.Client().Stats().Commands
	if _, err := p.UpdateSensor(ctx, sn, PeripheralChange{Set: peripheral.FlagEnabled}); err != nil {
		t.Fatal(err)
	}
	if d := p.Client().Stats().Commands - n; d != 1 {
		t.Errorf("a change to nothing sent %d commands, want the 1 re-read", d)
	}
}

// Bad input is refused before anything is sent.
func TestUpdateSensorBadInput(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	sn := findSensor(t, p, "2")
	before := s.Snapshot()
	for _, c := range []struct {
		change PeripheralChange
		want   error
		msg    string
	}{
		{PeripheralChange{Name: ptr(strings.Repeat("x", 32))}, peripheral.ErrBadName, "at most 31"},
		{PeripheralChange{Name: ptr("")}, peripheral.ErrBadName, "empty"},
		{PeripheralChange{Name: ptr("two\nlines")}, peripheral.ErrBadName, "control characters"},
		{PeripheralChange{Name: ptr(`a "quote"`)}, peripheral.ErrBadName, `"`},
		{PeripheralChange{Set: peripheral.FlagSupportsUpdatingSubtype}, nil, "cannot be changed"},
		{PeripheralChange{Set: peripheral.FlagDoorChime, Clear: peripheral.FlagDoorChime}, nil, "both set and cleared"},
		{PeripheralChange{AlertMode: ptr(peripheral.AlertMode(7))}, peripheral.ErrUnknownAlertMode, "unknown alert mode"},
	} {
		n := p.Client().Stats().Commands
		_, err := p.UpdateSensor(ctx, sn, c.change)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: err = %v, want %v containing %q", c.change, err, c.want, c.msg)
		}
		if d := p.Client().Stats().Commands - n; d != 0 {
			t.Errorf("%+v: %d commands sent for refused input", c.change, d)
		}
	}
	for _, key := range []string{"999", "No such sensor", "-1"} {
		if _, err := p.FindSensor(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindSensor(%q): %v, want ErrNotFound", key, err)
		}
	}
	if !slices.EqualFunc(before.Sensors, s.Snapshot().Sensors, protocol.PeripheralRecord.Equal) {
		t.Error("refused changes changed the sensors")
	}
}

// A sensor replaced, changed or deleted between read and write is never
// written or deleted in its place (spec: peripherals.md 10.3).
func TestSensorChangedBetweenReadAndWrite(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		edit func(st *sim.State, pos int)
		msg  string
	}{
		{"replaced", func(st *sim.State, pos int) {
			st.Sensors[pos-1] = protocol.PeripheralRecord{Name: "Intruder", Index: 99, TypeID: 1, Subtype: 3, NodeCount: 1, UserFlags: 33}
		}, `now holds "Intruder" (index 99)`},
		{"flags changed", func(st *sim.State, pos int) { st.Sensors[pos-1].UserFlags = 1 }, "user_flags"},
		{"renamed", func(st *sim.State, pos int) { st.Sensors[pos-1].Name = "Elsewhere" }, "name"},
		{"deleted", func(st *sim.State, pos int) { st.Sensors = slices.Delete(st.Sensors, pos-1, pos) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetState(sim.DefaultState()); err != nil {
				t.Fatal(err)
			}
			sn := findSensor(t, p, "Hall PIR")
			st := s.Snapshot()
			tc.edit(&st, sn.Position)
			if err := s.SetState(st); err != nil {
				t.Fatal(err)
			}
			_, err := p.UpdateSensor(ctx, sn, PeripheralChange{Name: ptr("Mine")})
			if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("update: %v, want ErrChanged saying %q", err, tc.msg)
			}
			if err := p.DeleteSensor(ctx, sn); !errors.Is(err, ErrChanged) {
				t.Errorf("delete: %v, want ErrChanged", err)
			}
			if after := s.Snapshot(); !slices.EqualFunc(st.Sensors, after.Sensors, protocol.PeripheralRecord.Equal) {
				t.Errorf("the panel's sensors changed:\n%v\n%v", st.Sensors, after.Sensors)
			}
		})
	}
	// A sensor without a definition is never written.
	st := sim.DefaultState()
	st.Sensors = append(st.Sensors, protocol.PeripheralRecord{Name: "Odd", Index: 77, TypeID: 255, NodeCount: 1})
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpdateSensor(ctx, findSensor(t, p, "77"), PeripheralChange{Name: ptr("x")}); !errors.Is(err, peripheral.ErrNoDefinition) {
		t.Errorf("no definition: %v", err)
	}
}

// Lost replies to writes and deletes are resolved by reading back; a
// write the panel never gets is reported, and nothing changes.
func TestSensorWritesLostReply(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 200*time.Millisecond, 3)
	ctx := context.Background()
	sn := findSensor(t, p, "Hall PIR")

	s.SetFaults(sim.Faults{DropCode: int(protocol.SetSingleSensor)})
	before := p.Client().Stats()
	got, err := p.UpdateSensor(ctx, sn, PeripheralChange{Name: ptr("Hallway")})
	if err != nil {
		t.Fatalf("rename with a lost reply: %v", err)
	}
	if simSensor(t, s, sn.Index()).Name != "Hallway" || got.Record.Name != "Hallway" {
		t.Error("rename not on the panel")
	}
	if st := p.Client().Stats(); st.Attempts-before.Attempts != 3 {
		t.Errorf("%d datagrams, want 3: re-read, one write, read-back", st.Attempts-before.Attempts)
	}

	s.SetFaults(sim.Faults{IgnoreCode: int(protocol.SetSingleSensor)})
	_, err = p.UpdateSensor(ctx, got, PeripheralChange{Clear: peripheral.FlagEnabled})
	if !errors.Is(err, ErrNotStored) || !strings.Contains(err.Error(), "user_flags") {
		t.Errorf("write never received: %v, want ErrNotStored naming user_flags", err)
	}
	if simSensor(t, s, sn.Index()).UserFlags != got.Record.UserFlags {
		t.Error("the panel changed")
	}

	s.SetFaults(sim.Faults{DropCode: int(protocol.DelSensor)})
	if err := p.DeleteSensor(ctx, got); err != nil {
		t.Fatalf("delete with a lost reply: %v", err)
	}
	if slices.ContainsFunc(s.Snapshot().Sensors, func(r protocol.PeripheralRecord) bool { return r.Index == sn.Index() }) {
		t.Error("sensor not deleted")
	}
	other := findSensor(t, p, "Kitchen smoke")
	s.SetFaults(sim.Faults{IgnoreCode: int(protocol.DelSensor)})
	if err := p.DeleteSensor(ctx, other); !errors.Is(err, ErrNotStored) {
		t.Errorf("delete never received: %v, want ErrNotStored", err)
	}
	if !slices.ContainsFunc(s.Snapshot().Sensors, func(r protocol.PeripheralRecord) bool { return r.Index == other.Index() }) {
		t.Error("sensor deleted although the panel never got the command")
	}
}

// whileLearning runs register on a goroutine of its own, waits on the
// test's goroutine (so that it may fail the test) until the simulator is
// learning a sensor, and returns a function that waits for register's
// error. register must use a context from t.Context, which ends with the
// test, so that it stops if the test fails first; a cleanup waits for it.
func whileLearning(t *testing.T, s *sim.Panel, register func() error) (wait func() error) {
	t.Helper()
	var err error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err = register()
	}()
	t.Cleanup(func() { <-finished })
	eventually.True(t, "the simulator learning a sensor", func() bool { return s.Snapshot().PendingSensor != nil })
	return func() error {
		<-finished
		return err
	}
}

func TestAddAndDeleteSensor(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	p.learnPoll = 10 * time.Millisecond
	ctx := context.Background()

	var sn *peripheral.Sensor
	added := whileLearning(t, s, func() (err error) {
		sn, err = p.AddSensor(t.Context(), Registration{Definition: "Door Sensor: WRDS01", Name: "Shed door"})
		return err
	})
	if _, err := s.Inject(sim.Injection{Event: "learn", Type: "Door Sensor: WRDS01"}); err != nil {
		t.Fatal(err)
	}
	if err := added(); err != nil {
		t.Fatal(err)
	}
	rec := simSensor(t, s, sn.Index())
	if !rec.Equal(sn.Record) || rec.Name != "Shed door" || sn.TypeName() != "Door Sensor: WRDS01" || !sn.Enabled() {
		t.Errorf("added %+v, panel has %+v", sn.Record, rec)
	}
	if m, _ := sn.AlertMode(); m != peripheral.AlertWhenAwayAndHome {
		t.Errorf("alert mode %v", m)
	}
	// The new sensor can be changed and deleted like any other.
	sn, err := p.UpdateSensor(ctx, sn, PeripheralChange{Name: ptr("Garden shed")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteSensor(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if _, err := p.FindSensor(ctx, "Garden shed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted sensor still found: %v", err)
	}

	// The default name is the definition's.
	added = whileLearning(t, s, func() (err error) {
		sn, err = p.AddSensor(t.Context(), Registration{Definition: "Smoke Sensor: WSD02"})
		return err
	})
	if _, err := s.CompleteLearn(); err != nil {
		t.Fatal(err)
	}
	if err := added(); err != nil || sn.Name() != "Smoke Sensor: WSD02" {
		t.Fatalf("default name: %v %v", sn, err)
	}
}

func TestAddSensorFailures(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 200*time.Millisecond, 3)
	p.learnPoll = 10 * time.Millisecond
	ctx := context.Background()
	n := p.Client().Stats().Commands
	for _, r := range []Registration{
		{Definition: "Toaster"},
		{Definition: "Socket: S07"}, // a device, not a sensor
		{Definition: "Door Sensor: WRDS01", Name: strings.Repeat("n", 40)},
	} {
		if _, err := p.AddSensor(ctx, r); err == nil {
			t.Errorf("AddSensor(%+v) succeeded", r)
		}
	}
	if _, err := p.AddSensor(ctx, Registration{Definition: "nope"}); !errors.Is(err, ErrUnknownDefinition) {
		t.Errorf("unknown definition: %v", err)
	}
	if d := p.Client().Stats().Commands - n; d != 0 {
		t.Errorf("%d commands sent for refused registrations", d)
	}
	sensors := len(s.Snapshot().Sensors)

	// No sensor transmits: the wait times out, and says so.
	_, err := p.AddSensor(ctx, Registration{Definition: "Door Sensor: WRDS01", Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrNotRegistered) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "may still be waiting") {
		t.Errorf("timeout: %v", err)
	}
	// The caller cancels. The panel is still learning from the last try;
	// end that first.
	st := s.Snapshot()
	st.PendingSensor = nil
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(t.Context())
	added := whileLearning(t, s, func() error {
		_, err := p.AddSensor(cctx, Registration{Definition: "Door Sensor: WRDS01"})
		return err
	})
	cancel()
	if err := added(); !errors.Is(err, ErrNotRegistered) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	if got := len(s.Snapshot().Sensors); got != sensors {
		t.Errorf("%d sensors after failed registrations, want %d", got, sensors)
	}
}

func TestDevices(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 200*time.Millisecond, 3)
	p.learnPoll = 10 * time.Millisecond
	ctx := context.Background()

	// Every node of every device can be switched.
	devices, err := p.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false} {
		for _, d := range devices {
			for _, n := range d.Nodes() {
				if err := p.SetRelay(ctx, n.Index(), n.Subindex, on); err != nil {
					t.Fatal(err)
				}
				if got := s.Snapshot().Relays[n.Index()][n.Subindex]; got != on {
					t.Errorf("%s: relay %v, want %v", n.Name(), got, on)
				}
			}
		}
	}

	// A rename through a node renames the device, every node.
	node, err := p.FindDevice(ctx, "Relay board#3")
	if err != nil || node.Subindex != 2 {
		t.Fatalf("FindDevice: %v %v", node, err)
	}
	d, err := p.UpdateDevice(ctx, node.Device, PeripheralChange{Name: ptr("Pump relays")})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.FindDevice(ctx, "Pump relays#4"); err != nil || n.Index() != d.Index() {
		t.Errorf("renamed node: %v %v", n, err)
	}
	if n, err := p.FindDevice(ctx, "6:3"); err != nil || n.Name() != "Pump relays#4" {
		t.Errorf("INDEX:NODE: %v %v", n, err)
	}
	if _, err := p.UpdateDevice(ctx, d, PeripheralChange{Name: ptr("x\x00y")}); !errors.Is(err, peripheral.ErrBadName) {
		t.Errorf("bad device name: %v", err)
	}

	// Register a socket; the confirmation's reply is lost, and the device
	// is found in the list instead of confirming twice.
	s.SetFaults(sim.Faults{DropCode: int(protocol.SendRegDeviceResult)})
	added, err := p.AddDevice(ctx, Registration{Definition: "Socket: S07", Name: "Heater"})
	if err != nil {
		t.Fatal(err)
	}
	s.SetFaults(sim.Faults{})
	if added.ParentName() != "Heater" || added.TypeName() != "Socket: S07" || !added.Enabled() {
		t.Errorf("added %+v", added.Record)
	}
	added2, err := p.AddDevice(ctx, Registration{Definition: "Socket: JDQ"})
	if err != nil || len(added2.Nodes()) != 4 {
		t.Fatalf("multi-node device: %v %v", added2, err)
	}
	if err := p.SetRelay(ctx, added2.Index(), 3, true); err != nil || !s.Snapshot().Relays[added2.Index()][3] {
		t.Errorf("new relay node 3: %v", err)
	}

	// Delete: the device and all its nodes are gone.
	if err := p.DeleteDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := p.FindDevice(ctx, "Pump relays#1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted device found: %v", err)
	}
	if _, ok := s.Snapshot().Relays[d.Index()]; ok {
		t.Error("deleted device still has relays")
	}
	if _, err := p.AddDevice(ctx, Registration{Definition: "Door Sensor: WDS07"}); !errors.Is(err, ErrUnknownDefinition) {
		t.Errorf("sensor definition as a device: %v", err)
	}
}

// Writers of different sensors through one Panel do not disturb each
// other.
func TestConcurrentSensorWriters(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	sensors, err := p.Sensors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, len(sensors))
	for _, sn := range sensors {
		go func() {
			_, err := p.UpdateSensor(ctx, sn, PeripheralChange{Name: ptr("S" + sn.Name()[:3])})
			errs <- err
		}()
	}
	for range sensors {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, r := range s.Snapshot().Sensors {
		if !strings.HasPrefix(r.Name, "S") || len(r.Name) != 4 {
			t.Errorf("sensor %d named %q", r.Index, r.Name)
		}
	}
}

// Callers of one Panel that read a sensor at the same time and change
// different things of it all succeed: the Panel knows the change it sees
// on re-reading is its own. A change by anyone else is still refused.
func TestConcurrentWritersOfOneSensor(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	sn := findSensor(t, p, "Front door") // flags 63
	changes := []PeripheralChange{
		{Name: ptr("Main door")},
		{Clear: peripheral.FlagDoorChime},
		{Clear: peripheral.FlagArmDelay},
		{AlertMode: ptr(peripheral.AlertWhenAway)},
	}
	errs := make(chan error, len(changes))
	for _, c := range changes {
		go func() {
			_, err := p.UpdateSensor(ctx, sn, c) // every caller holds the same, soon stale, read
			errs <- err
		}()
	}
	for range changes {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	rec := simSensor(t, s, sn.Index())
	if rec.Name != "Main door" || rec.UserFlags != 1|4|16|64 {
		t.Errorf("panel has %q flags %v, want every change", rec.Name, peripheral.UserFlags(rec.UserFlags))
	}
	// Someone else changes it: the stale read is refused again.
	st := s.Snapshot()
	for i := range st.Sensors {
		if st.Sensors[i].Index == sn.Index() {
			st.Sensors[i].UserFlags = 1
		}
	}
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpdateSensor(ctx, sn, PeripheralChange{Name: ptr("Late")}); !errors.Is(err, ErrChanged) {
		t.Errorf("after an external change: %v, want ErrChanged", err)
	}
}

// A relay command is sent once: without a reply the caller learns that
// the relay may have switched, and it is not switched a second time.
func TestRelayCommandIsNotRepeated(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 100*time.Millisecond, 3)
	s.SetFaults(sim.Faults{DropCode: int(protocol.ControlDevice)})
	before := p.Client().Stats()
	err := p.SetRelay(context.Background(), 6, 2, true)
	if err == nil || !strings.Contains(err.Error(), "may or may not have switched") {
		t.Errorf("err = %v", err)
	}
	if d := p.Client().Stats().Attempts - before.Attempts; d != 1 {
		t.Errorf("%d datagrams, want 1", d)
	}
	if !s.Snapshot().Relays[6][2] {
		t.Error("the relay command was not carried out")
	}
}

// The simulator keeps every peripheral change in its state file.
func TestPeripheralChangesPersist(t *testing.T) {
	file := t.TempDir() + "/state.json"
	s := startSim(t, sim.Config{Seed: 1, StateFile: file})
	p := newPanel(t, s, time.Second, 3)
	p.learnPoll = 10 * time.Millisecond
	ctx := context.Background()
	if _, err := p.UpdateSensor(ctx, findSensor(t, p, "Hall PIR"), PeripheralChange{Name: ptr("Landing PIR"), Clear: peripheral.FlagEnabled}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteSensor(ctx, findSensor(t, p, "Bathroom leak")); err != nil {
		t.Fatal(err)
	}
	d, err := p.FindDevice(ctx, "Porch siren")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteDevice(ctx, d.Device); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddDevice(ctx, Registration{Definition: "Socket: S07", Name: "Fan"}); err != nil {
		t.Fatal(err)
	}
	want := s.Snapshot()
	again, err := sim.New(sim.Config{Listen: "127.0.0.1:0", StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got := again.Snapshot()
	if !slices.EqualFunc(want.Sensors, got.Sensors, protocol.PeripheralRecord.Equal) || !slices.EqualFunc(want.Devices, got.Devices, protocol.PeripheralRecord.Equal) {
		t.Errorf("state file lists\n%v\n%v\nthe panel has\n%v\n%v", got.Sensors, got.Devices, want.Sensors, want.Devices)
	}
}
