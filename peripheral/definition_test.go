package peripheral_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/peripheral"
)

// TestCatalogue checks the generated tables against the facts of spec:
// peripherals.md 19 independently of the generator's own checks.
func TestCatalogue(t *testing.T) {
	sensors := peripheral.Definitions(peripheral.KindSensor)
	devices := peripheral.Definitions(peripheral.KindDevice)
	if len(sensors) != 56 || len(devices) != 22 || len(sensors)+len(devices) != 78 {
		t.Fatalf("tables hold %d sensor and %d device definitions, want 56 and 22 (78)", len(sensors), len(devices))
	}
	names := map[string]string{}
	keys := map[string]string{}
	for _, tbl := range []struct {
		kind peripheral.Kind
		defs []peripheral.Definition
	}{{peripheral.KindSensor, sensors}, {peripheral.KindDevice, devices}} {
		for i, d := range tbl.defs {
			where := fmt.Sprintf("%v[%d] %q", tbl.kind, i, d.Name)
			if d.Kind != tbl.kind {
				t.Errorf("%s: kind %v", where, d.Kind)
			}
			if want := int(d.MatchMode)<<4 | int(d.RWMode); d.ReservedData != want {
				t.Errorf("%s: reserved_data %d, want match<<4|rw = %d", where, d.ReservedData, want)
			}
			if d.NodeCount < 1 || d.Timeout != 0 {
				t.Errorf("%s: node_count %d timeout %d", where, d.NodeCount, d.Timeout)
			}
			// Unique within a table, and no overlap across tables.
			if other, dup := names[d.Name]; dup {
				t.Errorf("%s: name also used by %s", where, other)
			}
			names[d.Name] = where
			key := fmt.Sprint(d.TypeID, d.Subtype, d.ProtocolID)
			if other, dup := keys[key]; dup {
				t.Errorf("%s: key %s also used by %s", where, key, other)
			}
			keys[key] = where
		}
	}

	// Spot checks of rows of spec: peripherals.md 19.2 and 19.3.
	want := []peripheral.Definition{
		{Name: "Door Sensor: Wired", Kind: peripheral.KindSensor, TypeID: 126, Subtype: 1, ProtocolID: 5, Baudrate: 1480, NodeCount: 1, PrivateData: "00", RWMode: 0, MatchMode: 1, ReservedData: 16},
		{Name: "Door Sensor: WDS07", Kind: peripheral.KindSensor, TypeID: 1, Subtype: 0, ProtocolID: 1, NodeCount: 1, RX: 5, PrivateData: "F100f5017d02f803f90400", MatchMode: 2, ReservedData: 32},
		{Name: "Water Leak Sensor: LSTC02", Kind: peripheral.KindSensor, TypeID: 7, Subtype: 1, ProtocolID: 0, NodeCount: 1, PrivateData: ""},
		{Name: "Remote: RMC2.4G", Kind: peripheral.KindSensor, TypeID: 17, Subtype: 4, ProtocolID: 0, NodeCount: 1, RX: 4, PrivateData: "00", MatchMode: 1, ReservedData: 16},
		{Name: "Gas Valve Sensor: WGD02", Kind: peripheral.KindSensor, TypeID: 18, Subtype: 0, ProtocolID: 0, Baudrate: 1600, NodeCount: 1, RX: 2, TX: 1, PrivateData: "09000801ff0e0e", MatchMode: 1, ReservedData: 16},
		{Name: "Switch: 2.4G Type 4", Kind: peripheral.KindSensor, TypeID: 143, Subtype: 4, ProtocolID: 0, Baudrate: 960, NodeCount: 4, PrivateData: "00", RWMode: 1, MatchMode: 1, ReservedData: 17},
		{Name: "Socket: JDQ", Kind: peripheral.KindDevice, TypeID: 128, Subtype: 0, ProtocolID: 0, Baudrate: 1480, NodeCount: 4, TX: 2, PrivateData: "0707070B0B0D0D0E0E00", RWMode: 1, MatchMode: 1, ReservedData: 17},
		{Name: "Curtain", Kind: peripheral.KindDevice, TypeID: 130, Subtype: 1, ProtocolID: 3, Baudrate: 500, NodeCount: 1, TX: 7, PrivateData: "0804010200", RWMode: 1, MatchMode: 2, ReservedData: 33},
		{Name: "Curtain: 2.4G", Kind: peripheral.KindDevice, TypeID: 144, Subtype: 1, ProtocolID: 0, Baudrate: 960, NodeCount: 1, PrivateData: "00", RWMode: 1, MatchMode: 1, ReservedData: 17},
	}
	for _, w := range want {
		if diff := cmp.Diff(&w, peripheral.LookupName(w.Kind, w.Name)); diff != "" {
			t.Errorf("definition %q (-want +got):\n%s", w.Name, diff)
		}
	}
	if sensors[0].Name != "Door Sensor: Wired" || sensors[55].Name != "Remote: RMC2.4G" ||
		devices[0].Name != "Wired" || devices[21].Name != "Curtain: 2.4G" {
		t.Errorf("table order: sensors %q..%q, devices %q..%q", sensors[0].Name, sensors[55].Name, devices[0].Name, devices[21].Name)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		kind               peripheral.Kind
		typ, sub, protocol int
		want               string // definition name; "" for none
	}{
		{peripheral.KindSensor, 126, 1, 5, "Door Sensor: Wired"},
		{peripheral.KindSensor, 10, 1, 0, "Remote: RMC08"},
		{peripheral.KindSensor, 1, 3, 0, "Door Sensor: WRDS01"},
		{peripheral.KindDevice, 128, 3, 0, "Socket: S07"},
		{peripheral.KindDevice, 128, 0, 0, "Socket: JDQ"},
		// The protocol is part of the key (spec: peripherals.md 10.1).
		{peripheral.KindDevice, 130, 1, 3, "Curtain"},
		{peripheral.KindDevice, 130, 1, 0, "Curtain: Sliding"},
		{peripheral.KindDevice, 130, 1, 5, ""},
		// Only the table of the entity's kind is searched.
		{peripheral.KindDevice, 126, 1, 5, ""},
		{peripheral.KindSensor, 128, 3, 0, ""},
		{peripheral.KindSensor, 143, 2, 0, "Switch: 2.4G Type 2"},
		{peripheral.KindDevice, 143, 2, 0, ""},
		// Captured unknowns: a sensor of type 255, a device of type 7.
		{peripheral.KindSensor, 255, 0, 0, ""},
		{peripheral.KindDevice, 7, 0, 0, ""},
		{peripheral.KindSensor, 10, 1, 1, ""},
		{peripheral.KindSensor, -1, -1, -1, ""},
		{0, 126, 1, 5, ""},
		{9, 128, 3, 0, ""},
	}
	for _, tt := range tests {
		d := peripheral.Lookup(tt.kind, peripheral.Type(tt.typ), tt.sub, peripheral.Protocol(tt.protocol))
		got := ""
		if d != nil {
			got = d.Name
			if int(d.TypeID) != tt.typ || d.Subtype != tt.sub || int(d.ProtocolID) != tt.protocol || d.Kind != tt.kind {
				t.Errorf("Lookup(%v, %d, %d, %d) = %+v, key or kind differs", tt.kind, tt.typ, tt.sub, tt.protocol, d)
			}
		}
		if got != tt.want {
			t.Errorf("Lookup(%v, %d, %d, %d) = %q, want %q", tt.kind, tt.typ, tt.sub, tt.protocol, got, tt.want)
		}
	}
}

func TestLookupName(t *testing.T) {
	tests := []struct {
		kind peripheral.Kind
		name string
		want bool
	}{
		{peripheral.KindSensor, "Door Sensor: WRDS01", true},
		{peripheral.KindSensor, "Remote: RMC2.4G", true},
		{peripheral.KindDevice, "Socket Switch", true},
		{peripheral.KindDevice, "Socket: S07", true},
		{peripheral.KindDevice, "socket: s07", false}, // case-sensitive
		{peripheral.KindDevice, "Socket: S07 ", false},
		{peripheral.KindDevice, "Socket:S07", false},
		{peripheral.KindDevice, "Socket Switch:", false},
		{peripheral.KindSensor, "Socket: S07", false}, // wrong table
		{peripheral.KindDevice, "Door Sensor: WRDS01", false},
		{peripheral.KindSensor, "", false},
		{0, "Socket: S07", false},
	}
	for _, tt := range tests {
		d := peripheral.LookupName(tt.kind, tt.name)
		if (d != nil) != tt.want {
			t.Errorf("LookupName(%v, %q) = %v, want found %v", tt.kind, tt.name, d, tt.want)
		}
		if d != nil && (d.Name != tt.name || d.Kind != tt.kind) {
			t.Errorf("LookupName(%v, %q) = %q of %v", tt.kind, tt.name, d.Name, d.Kind)
		}
	}
}

// TestDefinitionsAreCopies makes sure no caller can corrupt the catalogue.
func TestDefinitionsAreCopies(t *testing.T) {
	d := peripheral.LookupName(peripheral.KindDevice, "Socket: S07")
	d.PrivateData = "FF"
	ds := peripheral.Definitions(peripheral.KindDevice)
	ds[1].PrivateData = "FF"
	l := peripheral.Lookup(peripheral.KindDevice, peripheral.TypeSocket, 3, peripheral.ProtocolRF1527)
	l.RX = 99
	if got := peripheral.LookupName(peripheral.KindDevice, "Socket: S07"); got.PrivateData != "060A0600" || got.RX != 0 {
		t.Errorf("catalogue changed through a returned value: %+v", got)
	}
	if peripheral.Definitions(0) != nil {
		t.Error("Definitions(0) is not nil")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[peripheral.Kind]string{peripheral.KindSensor: "sensor", peripheral.KindDevice: "device", 0: "kind(0)", 7: "kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
