package peripheral_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// record decodes a read record written as in the spec's wire examples.
func record(t testing.TB, text string) protocol.PeripheralRecord {
	t.Helper()
	v, err := protocol.ParseValue([]byte(text))
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	var rec protocol.PeripheralRecord
	if err := protocol.Decode(&rec, v.Arr); err != nil {
		t.Fatalf("decode %s: %v", text, err)
	}
	return rec
}

func TestSensor(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want peripheral.SensorInfo
		// JSON of Info, exact bytes
		json string
	}{
		{
			name: "wireless remote, spec 20.1",
			rec:  `["Remote 1",10,0,10,1,0,32,0,0,16,1,0,""]`,
			want: peripheral.SensorInfo{Index: 10, Name: "Remote 1", Type: "Remote: RMC08", TypeID: 10, Subtype: 1, Protocol: "rf_1527",
				Enabled: false, Wireless: true, AlertMode: "alert_when_away_and_home", Flags: []string{"alert_when_away_and_home"}, UserFlags: 32, NodeCount: 1},
			json: `{"index":10,"name":"Remote 1","type":"Remote: RMC08","type_id":10,"subtype":1,"protocol":"rf_1527","enabled":false,"wireless":true,"alert_mode":"alert_when_away_and_home","flags":["alert_when_away_and_home"],"user_flags":32,"node_count":1}`,
		},
		{
			name: "wired door input, spec 20.4",
			rec:  `["Cord 2",10,0,126,1,0,63,0,5,16,1,0,""]`,
			want: peripheral.SensorInfo{Index: 10, Name: "Cord 2", Type: "Door Sensor: Wired", TypeID: 126, Subtype: 1, Protocol: "cord",
				Enabled: true, Wireless: false, AlertMode: "alert_when_away_and_home",
				Flags: []string{"enabled", "arm_delay", "detect_door", "door_chime", "independent_zone", "alert_when_away_and_home"}, UserFlags: 63, NodeCount: 1},
		},
		{
			name: "unknown type 255, spec 20.5",
			rec:  `["Unsupported",10,0,255,0,0,33,0,0,17,1,0,""]`,
			want: peripheral.SensorInfo{Index: 10, Name: "Unsupported", Type: "unknown (type 255 subtype 0 protocol 0)", TypeID: 255, Protocol: "rf_1527",
				Enabled: true, Wireless: true, AlertMode: "alert_when_away_and_home", Flags: []string{"enabled", "alert_when_away_and_home"}, UserFlags: 33, NodeCount: 1},
			json: `{"index":10,"name":"Unsupported","type":"unknown (type 255 subtype 0 protocol 0)","type_id":255,"subtype":0,"protocol":"rf_1527","enabled":true,"wireless":true,"alert_mode":"alert_when_away_and_home","flags":["enabled","alert_when_away_and_home"],"user_flags":33,"node_count":1}`,
		},
		{
			name: "unlisted type and protocol, invalid alert mode, unnamed bit",
			rec:  `["X",3,0,77,9,0,1632,0,42,0,1,0,""]`,
			want: peripheral.SensorInfo{Index: 3, Name: "X", Type: "unknown (type 77 subtype 9 protocol 42)", TypeID: 77, Subtype: 9, Protocol: "unknown(42)",
				Wireless: true, AlertMode: "invalid", Flags: []string{"alert_when_away_and_home", "alert_when_away", "supports_updating_subtype"}, UserFlags: 1632, NodeCount: 1},
		},
		{
			name: "no flags: an empty list, not null",
			rec:  `["Off",4,0,1,3,0,0,0,0,0,1,0,""]`,
			want: peripheral.SensorInfo{Index: 4, Name: "Off", Type: "Door Sensor: WRDS01", TypeID: 1, Subtype: 3, Protocol: "rf_1527",
				Wireless: true, AlertMode: "alert_always", Flags: []string{}, NodeCount: 1},
			json: `{"index":4,"name":"Off","type":"Door Sensor: WRDS01","type_id":1,"subtype":3,"protocol":"rf_1527","enabled":false,"wireless":true,"alert_mode":"alert_always","flags":[],"user_flags":0,"node_count":1}`,
		},
		{
			// Sensors are never expanded, but keep the #n rule
			// (spec: peripherals.md 15).
			name: "sensor with two nodes",
			rec:  `["Touch",5,0,143,2,0,1,960,0,17,2,0,""]`,
			want: peripheral.SensorInfo{Index: 5, Name: "Touch#1", Type: "Switch: 2.4G Type 2", TypeID: 143, Subtype: 2, Protocol: "rf_1527",
				Enabled: true, Wireless: true, AlertMode: "alert_always", Flags: []string{"enabled"}, UserFlags: 1, NodeCount: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := peripheral.NewSensor(7, record(t, tt.rec))
			if diff := cmp.Diff(tt.want, s.Info()); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
			if s.Position != 7 {
				t.Errorf("Position = %d, want 7", s.Position)
			}
			if tt.json != "" {
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != tt.json {
					t.Errorf("json.Marshal =\n%s\nwant\n%s", b, tt.json)
				}
			}
		})
	}
}

func TestSensorAccessors(t *testing.T) {
	s := peripheral.NewSensor(2, record(t, `["Cord 2",10,0,126,1,0,63,0,5,16,1,0,""]`))
	if !s.SupportsUpdates() || s.Definition == nil || s.Definition.Name != "Door Sensor: Wired" {
		t.Errorf("definition: %v", s.Definition)
	}
	if s.Index() != 10 || s.ParentName() != "Cord 2" || s.Name() != "Cord 2" {
		t.Errorf("Index %d ParentName %q Name %q", s.Index(), s.ParentName(), s.Name())
	}
	if s.Type() != peripheral.TypeCordSensor || s.Protocol() != peripheral.ProtocolCord || s.Wireless() {
		t.Errorf("Type %v Protocol %v Wireless %v", s.Type(), s.Protocol(), s.Wireless())
	}
	if !s.Enabled() || !s.Flag(peripheral.FlagDoorChime) || s.Flag(peripheral.FlagAlertWhenAway) || s.Flags() != 63 {
		t.Errorf("flags: %v", s.Flags())
	}
	if m, err := s.AlertMode(); err != nil || m != peripheral.AlertWhenAwayAndHome {
		t.Errorf("AlertMode = %v, %v", m, err)
	}
	want := peripheral.Key{Type: 126, Subtype: 1, Protocol: 5, Index: 10, Subindex: 0}
	if diff := cmp.Diff(want, s.Key()); diff != "" {
		t.Errorf("Key (-want +got):\n%s", diff)
	}
	// The name is not part of the key (spec: peripherals.md 16.3).
	renamed := peripheral.NewSensor(1, record(t, `["Renamed",10,0,126,1,0,33,0,5,16,1,0,""]`))
	if renamed.Key() != s.Key() {
		t.Errorf("renaming changed the key: %v vs %v", renamed.Key(), s.Key())
	}

	u := peripheral.NewSensor(1, record(t, `["Unsupported",10,0,255,0,0,97,0,0,17,1,0,""]`))
	if u.SupportsUpdates() || u.Definition != nil {
		t.Errorf("type 255 has a definition: %v", u.Definition)
	}
	if _, err := u.AlertMode(); !errors.Is(err, peripheral.ErrInvalidAlertMode) {
		t.Errorf("AlertMode of flags 97: %v", err)
	}
	if _, err := u.WriteRecord(); !errors.Is(err, peripheral.ErrNoDefinition) {
		t.Errorf("Write without definition: %v", err)
	}
	// A device-table triple in the sensor list has no definition.
	if d := peripheral.NewSensor(1, record(t, `["Socket",10,0,128,3,0,32,1190,0,17,1,0,""]`)).Definition; d != nil {
		t.Errorf("sensor-list socket found %q", d.Name)
	}
}

// TestSensorOwnsRecord checks an entity does not share the extras slice
// of the reply it was built from.
func TestSensorOwnsRecord(t *testing.T) {
	rec := record(t, `["Cord 2",10,0,126,1,0,63,0,5,16,1,0,"",7]`)
	s := peripheral.NewSensor(1, rec)
	rec.Extra[0] = protocol.IntValue(8)
	if diff := cmp.Diff([]protocol.Value{protocol.IntValue(7)}, s.Record.Extra); diff != "" {
		t.Errorf("Extra (-want +got):\n%s", diff)
	}
}

func TestExpandDevice(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		want []peripheral.DeviceNodeInfo
	}{
		{
			name: "4-channel relay, spec 20.3",
			rec:  `["Relay",10,0,128,0,0,32,1480,0,17,4,0,""]`,
			want: []peripheral.DeviceNodeInfo{
				{Index: 10, Node: 0, Name: "Relay#1", Type: "Socket: JDQ"},
				{Index: 10, Node: 1, Name: "Relay#2", Type: "Socket: JDQ"},
				{Index: 10, Node: 2, Name: "Relay#3", Type: "Socket: JDQ"},
				{Index: 10, Node: 3, Name: "Relay#4", Type: "Socket: JDQ"},
			},
		},
		{
			name: "synthetic node_count 2, spec 20.3",
			rec:  `["Switch",10,0,10,1,0,32,0,0,16,2,0,""]`,
			want: []peripheral.DeviceNodeInfo{
				{Index: 10, Node: 0, Name: "Switch#1", Type: "unknown (type 10 subtype 1 protocol 0)"},
				{Index: 10, Node: 1, Name: "Switch#2", Type: "unknown (type 10 subtype 1 protocol 0)"},
			},
		},
		{
			name: "single socket keeps its name",
			rec:  `["Socket",10,0,128,3,0,32,1190,0,17,1,0,""]`,
			want: []peripheral.DeviceNodeInfo{{Index: 10, Node: 0, Name: "Socket", Type: "Socket: S07"}},
		},
		{
			name: "node_count 0 gives one node named #1",
			rec:  `["Odd",3,0,128,1,0,1,1480,0,17,0,0,""]`,
			want: []peripheral.DeviceNodeInfo{{Index: 3, Node: 0, Name: "Odd#1", Type: "Socket: Single channel"}},
		},
		{
			name: "negative node_count",
			rec:  `["Neg",3,0,7,0,0,1,0,0,0,-2,0,""]`,
			want: []peripheral.DeviceNodeInfo{{Index: 3, Node: 0, Name: "Neg#1", Type: "unknown (type 7 subtype 0 protocol 0)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := peripheral.ExpandDevice(4, record(t, tt.rec))
			var got []peripheral.DeviceNodeInfo
			for _, n := range nodes {
				got = append(got, n.Info())
				if n.Position != 4 {
					t.Errorf("node %d: Position %d, want 4", n.Subindex, n.Position)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeviceNodes(t *testing.T) {
	d := peripheral.NewDevice(1, record(t, `["Relay",10,0,128,0,0,32,1480,0,17,4,0,""]`))
	nodes := d.Nodes()
	if len(nodes) != 4 {
		t.Fatalf("%d nodes, want 4", len(nodes))
	}
	// Nodes share one record, so a change made through one is seen by all
	// (spec: peripherals.md 10.3, recommendation).
	nodes[0].Record.Name = "Renamed"
	if got := nodes[2].Name(); got != "Renamed#3" {
		t.Errorf("node 2 after renaming the record through node 0: %q", got)
	}
	if nodes[3].ParentName() != "Renamed" || nodes[3].Enabled() || !nodes[3].SupportsUpdates() {
		t.Errorf("promoted accessors: %q %v %v", nodes[3].ParentName(), nodes[3].Enabled(), nodes[3].SupportsUpdates())
	}
	want := peripheral.Key{Type: 128, Subtype: 0, Protocol: 0, Index: 10, Subindex: 2}
	if diff := cmp.Diff(want, nodes[2].Key()); diff != "" {
		t.Errorf("Key (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(nodes)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `[{"index":10,"node":0,"name":"Renamed#1","type":"Socket: JDQ"},{"index":10,"node":1,"name":"Renamed#2","type":"Socket: JDQ"},` +
		`{"index":10,"node":2,"name":"Renamed#3","type":"Socket: JDQ"},{"index":10,"node":3,"name":"Renamed#4","type":"Socket: JDQ"}]`
	if string(b) != wantJSON {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", b, wantJSON)
	}

	// The device table is searched for devices, never the sensor table;
	// captured example: a device of type 7 (spec: peripherals.md 10.1).
	if d := peripheral.NewDevice(1, record(t, `["Leak",10,0,7,0,0,1,0,0,0,1,0,""]`)); d.Definition != nil {
		t.Errorf("device of type 7 found %q", d.Definition.Name)
	}
	if d := peripheral.NewDevice(1, record(t, `["Cord 2",10,0,126,1,0,63,0,5,16,1,0,""]`)); d.Definition != nil {
		t.Errorf("device-list wired sensor found %q", d.Definition.Name)
	}
}

func TestExpandDeviceBounded(t *testing.T) {
	rec := record(t, `["Huge",1,0,128,0,0,1,0,0,17,2147483647,0,""]`)
	nodes := peripheral.ExpandDevice(1, rec)
	if len(nodes) != 255 {
		t.Fatalf("%d nodes from node_count 2147483647, want the bound 255", len(nodes))
	}
	if got := nodes[254].Name(); got != "Huge#255" {
		t.Errorf("last node %q", got)
	}
}
