package peripheral_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// FuzzEntity builds entities from arbitrary records, as a panel may send
// them: nothing may panic, and what is built must be consistent.
func FuzzEntity(f *testing.F) {
	for _, s := range []string{
		`["Remote 1",10,0,10,1,0,32,0,0,16,1,0,""]`,
		`["Cord 2",10,0,126,1,0,63,0,5,16,1,0,""]`,
		`["Socket",10,0,128,3,0,32,1190,0,17,1,0,""]`,
		`["Relay",10,0,128,0,0,32,1480,0,17,4,0,""]`,
		`["Switch",10,0,10,1,0,32,0,0,16,2,0,""]`,
		`["Unsupported",10,0,255,0,0,33,0,0,17,1,0,""]`,
		`["Curtain",1,0,130,1,0,97,500,3,33,0,0,"x"]`,
		`["\u0000\uFFFD",-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,"\""]`,
	} {
		r := record(f, s)
		f.Add(r.Name, r.Index, r.RoomID, r.TypeID, r.Subtype, r.Timeout, r.UserFlags, r.Baudrate, r.ProtocolID, r.ReservedData, r.NodeCount, r.Mask, r.PrivateData)
	}
	f.Fuzz(func(t *testing.T, name string, index, room, typ, sub, timeout, flags, baud, proto, reserved, nodes, mask int, pd string) {
		rec := protocol.PeripheralRecord{
			Name: name, Index: index, RoomID: room, TypeID: typ, Subtype: sub, Timeout: timeout, UserFlags: flags,
			Baudrate: baud, ProtocolID: proto, ReservedData: reserved, NodeCount: nodes, Mask: mask, PrivateData: pd,
		}
		s := peripheral.NewSensor(1, rec)
		checkPeripheral(t, peripheral.KindSensor, &s.Peripheral)
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("marshal sensor: %v", err)
		}
		if s.Key().Subindex != 0 || s.Key().Index != index {
			t.Errorf("sensor key %+v", s.Key())
		}

		d := peripheral.NewDevice(1, rec)
		checkPeripheral(t, peripheral.KindDevice, &d.Peripheral)
		ns := d.Nodes()
		if len(ns) < 1 || len(ns) > 255 || (nodes >= 1 && nodes <= 255 && len(ns) != nodes) {
			t.Fatalf("node_count %d gave %d nodes", nodes, len(ns))
		}
		seen := map[string]bool{}
		for k, n := range ns {
			if n.Subindex != k || n.Device != d || n.Key().Subindex != k {
				t.Errorf("node %d: subindex %d, key %+v", k, n.Subindex, n.Key())
			}
			want := name
			if nodes != 1 {
				want = name + "#" + strconv.Itoa(k+1)
			}
			if got := n.Name(); got != want {
				t.Errorf("node %d of %d: name %q, want %q", k, nodes, got, want)
			}
			seen[n.Name()] = true
		}
		if len(seen) != len(ns) {
			t.Errorf("node names are not distinct: %v", seen)
		}
		if _, err := json.Marshal(ns); err != nil {
			t.Fatalf("marshal nodes: %v", err)
		}
	})
}

func checkPeripheral(t *testing.T, k peripheral.Kind, p *peripheral.Peripheral) {
	t.Helper()
	r := p.Record
	if def := p.Definition; def != nil {
		if def.Kind != k || int(def.TypeID) != r.TypeID || def.Subtype != r.Subtype || int(def.ProtocolID) != r.ProtocolID {
			t.Fatalf("%v definition %q does not match record %+v", k, def.Name, r)
		}
		if p.TypeName() != def.Name || !p.SupportsUpdates() {
			t.Errorf("TypeName %q SupportsUpdates %v", p.TypeName(), p.SupportsUpdates())
		}
		w, err := p.WriteRecord()
		if err != nil {
			t.Fatal(err)
		}
		// The write record encodes and decodes back to itself.
		var back protocol.PeripheralWrite
		if err := protocol.Decode(&back, protocol.EncodeWrite(&w)); err != nil {
			t.Fatalf("decode own write record: %v", err)
		}
		if back.Name != r.Name || back.UserFlags != r.UserFlags || back.Baudrate != r.Baudrate || back.ReservedData != def.ReservedData ||
			back.PrivateData != def.PrivateData || len(back.Extra) != 0 {
			t.Errorf("write record %+v from %+v", back, r)
		}
	} else {
		if p.SupportsUpdates() || p.TypeName() == "" {
			t.Errorf("no definition: SupportsUpdates %v, TypeName %q", p.SupportsUpdates(), p.TypeName())
		}
		if _, err := p.WriteRecord(); !errors.Is(err, peripheral.ErrNoDefinition) {
			t.Errorf("Write without definition: %v", err)
		}
	}
	m, err := p.AlertMode()
	switch {
	case r.UserFlags&96 == 96:
		if !errors.Is(err, peripheral.ErrInvalidAlertMode) {
			t.Errorf("flags %d: AlertMode %v, %v", r.UserFlags, m, err)
		}
	case err != nil || m.String() == "" || m < 0 || m > 2:
		t.Errorf("flags %d: AlertMode %v, %v", r.UserFlags, m, err)
	}
	if p.Enabled() != (r.UserFlags&1 == 1) || p.Wireless() != (r.ProtocolID != 5) {
		t.Errorf("Enabled %v Wireless %v for %+v", p.Enabled(), p.Wireless(), r)
	}
	_ = p.Type().String() + p.Protocol().String() + p.Flags().String()
}

// FuzzParseNames checks the name parsers accept exactly the names the
// String methods produce.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"enabled", "door_chime", "supports_updating_subtype", "alert_always", "alert_when_away_and_home", "", "Enabled", "unknown(3)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fl, ok := peripheral.ParseFlagName(s); ok {
			if names := fl.Names(); len(names) != 1 || names[0] != s {
				t.Errorf("ParseFlagName(%q) = %d, named %v", s, fl, names)
			}
		}
		if m, ok := peripheral.ParseAlertMode(s); ok {
			if m.String() != s {
				t.Errorf("ParseAlertMode(%q) = %d, named %q", s, m, m.String())
			}
		}
	})
}

// FuzzFirstFreeIndex checks the answer against the definition: a free
// non-negative index with every smaller non-negative index taken.
func FuzzFirstFreeIndex(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{10, 11})
	f.Add([]byte{0, 10, 11})
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var idx []int
		for _, c := range b {
			idx = append(idx, int(int8(c))) // negatives too
		}
		got := peripheral.FirstFreeIndex(idx)
		if got < 0 || slices.Contains(idx, got) {
			t.Fatalf("FirstFreeIndex(%v) = %d, not free", idx, got)
		}
		for i := range got {
			if !slices.Contains(idx, i) {
				t.Fatalf("FirstFreeIndex(%v) = %d, but %d is free", idx, got, i)
			}
		}
	})
}
