package peripheral_test

import (
	"testing"

	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// wire returns the exact JSON of a write record's parameters.
func wire(w protocol.PeripheralWrite) string {
	return protocol.ArrayValue(protocol.EncodeWrite(&w)...).String()
}

// TestSensorWrite replays the modify exchanges of spec: peripherals.md 9,
// 20.4, 20.6 and 20.7: read record, change, exact write parameters.
func TestSensorWrite(t *testing.T) {
	const cord2 = `["Cord 2",10,0,126,1,0,63,0,5,16,1,0,""]`
	setFlag := func(f peripheral.UserFlags, on bool) func(*protocol.PeripheralRecord) error {
		return func(r *protocol.PeripheralRecord) error {
			cur := peripheral.UserFlags(r.UserFlags)
			r.UserFlags = int(peripheral.ApplyUserFlags(cur, cur.With(f, on)))
			return nil
		}
	}
	setMode := func(m peripheral.AlertMode) func(*protocol.PeripheralRecord) error {
		return func(r *protocol.PeripheralRecord) error {
			u, err := peripheral.UserFlags(r.UserFlags).WithAlertMode(m)
			r.UserFlags = int(u)
			return err
		}
	}
	rename := func(name string) func(*protocol.PeripheralRecord) error {
		return func(r *protocol.PeripheralRecord) error { r.Name = name; return nil }
	}
	tests := []struct {
		name   string
		kind   peripheral.Kind
		read   string
		change func(*protocol.PeripheralRecord) error
		want   string
	}{
		{"disable", peripheral.KindSensor, cord2, setFlag(peripheral.FlagEnabled, false), `["Cord 2",10,0,126,1,0,62,0,5,16,1,0,0,"00"]`},
		{"arm_delay off", peripheral.KindSensor, cord2, setFlag(peripheral.FlagArmDelay, false), `["Cord 2",10,0,126,1,0,61,0,5,16,1,0,0,"00"]`},
		{"detect_door off", peripheral.KindSensor, cord2, setFlag(peripheral.FlagDetectDoor, false), `["Cord 2",10,0,126,1,0,59,0,5,16,1,0,0,"00"]`},
		{"door_chime off", peripheral.KindSensor, cord2, setFlag(peripheral.FlagDoorChime, false), `["Cord 2",10,0,126,1,0,55,0,5,16,1,0,0,"00"]`},
		{"independent_zone off", peripheral.KindSensor, cord2, setFlag(peripheral.FlagIndependentZone, false), `["Cord 2",10,0,126,1,0,47,0,5,16,1,0,0,"00"]`},
		{"alert_always", peripheral.KindSensor, cord2, setMode(peripheral.AlertAlways), `["Cord 2",10,0,126,1,0,31,0,5,16,1,0,0,"00"]`},
		{"alert_when_away", peripheral.KindSensor, cord2, setMode(peripheral.AlertWhenAway), `["Cord 2",10,0,126,1,0,95,0,5,16,1,0,0,"00"]`},
		{
			"set_user_flags 16|2|512 on 33", peripheral.KindSensor, `["Cord 2",10,0,126,1,0,33,0,5,16,1,0,""]`,
			func(r *protocol.PeripheralRecord) error {
				r.UserFlags = int(peripheral.ApplyUserFlags(peripheral.UserFlags(r.UserFlags), 16|2|512))
				return nil
			},
			`["Cord 2",10,0,126,1,0,18,0,5,16,1,0,0,"00"]`,
		},
		{"rename sensor", peripheral.KindSensor, `["Cord 2",10,0,126,1,0,33,0,5,16,1,0,""]`, rename("Renamed"), `["Renamed",10,0,126,1,0,33,0,5,16,1,0,0,"00"]`},
		{"rename socket S07", peripheral.KindDevice, `["Socket",10,0,128,3,0,32,1190,0,17,1,0,""]`, rename("Renamed socket"), `["Renamed socket",10,0,128,3,0,32,1190,0,17,1,0,2,"060A0600"]`},
		{"rename relay JDQ", peripheral.KindDevice, `["Relay",10,0,128,0,0,32,1480,0,17,4,0,""]`, rename("Renamed"), `["Renamed",10,0,128,0,0,32,1480,0,17,4,0,2,"0707070B0B0D0D0E0E00"]`},
		// reserved_data comes from the definition even when the read
		// value differs (spec: peripherals.md 7.3: a socket listed with
		// 16), and read mask, private_data and extras are not written.
		{"definition wins over read reserved_data", peripheral.KindDevice, `["Socket",11,2,128,3,7,32,0,0,16,1,9,"AB",5]`, rename("Socket"), `["Socket",11,2,128,3,7,32,0,0,17,1,0,2,"060A0600"]`},
		// Case of private_data is preserved.
		{"mixed-case private_data", peripheral.KindSensor, `["Door",21,0,1,0,0,1,0,1,32,1,0,""]`, rename("Door"), `["Door",21,0,1,0,0,1,0,1,32,1,5,0,"F100f5017d02f803f90400"]`},
		{"empty private_data", peripheral.KindSensor, `["Leak",22,0,7,1,0,33,0,0,0,1,0,""]`, rename("Leak"), `["Leak",22,0,7,1,0,33,0,0,0,1,0,0,""]`},
		{"non-ASCII name is escaped", peripheral.KindSensor, cord2, rename("Дверь"), `["\u0414\u0432\u0435\u0440\u044c",10,0,126,1,0,63,0,5,16,1,0,0,"00"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record(t, tt.read)
			var p *peripheral.Peripheral
			if tt.kind == peripheral.KindSensor {
				p = &peripheral.NewSensor(2, rec).Peripheral
			} else {
				p = &peripheral.NewDevice(2, rec).Peripheral
			}
			if p.Definition == nil {
				t.Fatalf("no definition for %s", tt.read)
			}
			if err := tt.change(&rec); err != nil {
				t.Fatal(err)
			}
			if got := wire(peripheral.SensorWrite(rec, p.Definition)); got != tt.want {
				t.Errorf("SensorWrite =\n%s\nwant\n%s", got, tt.want)
			}
			// The entity's own WriteRecord gives the same record.
			p.Record = rec
			w, err := p.WriteRecord()
			if err != nil {
				t.Fatal(err)
			}
			if got := wire(w); got != tt.want {
				t.Errorf("WriteRecord =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestNewRegistration replays spec: peripherals.md 20.9 and 20.10.
func TestNewRegistration(t *testing.T) {
	tests := []struct {
		kind       peripheral.Kind
		definition string
		name       string
		index      int
		want       string
	}{
		{peripheral.KindSensor, "Door Sensor: WRDS01", "Test sensor", 0, `["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]`},
		{peripheral.KindDevice, "Socket: S07", "Test socket", 0, `["Test socket",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]`},
		{peripheral.KindDevice, "Socket: JDQ", "Test socket", 0, `["Test socket",0,0,128,0,0,1,1480,0,17,4,0,2,"0707070B0B0D0D0E0E00"]`},
		// The name defaults to the definition's; baudrate comes from it
		// on registration (spec: peripherals.md 7.5).
		{peripheral.KindSensor, "Door Sensor: Wired", "", 3, `["Door Sensor: Wired",3,0,126,1,0,33,1480,5,16,1,0,0,"00"]`},
		{peripheral.KindSensor, "Gas Valve Sensor: WGD02", "Valve", 12, `["Valve",12,0,18,0,0,33,1600,0,16,1,2,1,"09000801ff0e0e"]`},
		{peripheral.KindDevice, "Curtain", "", 1, `["Curtain",1,0,130,1,0,1,500,3,33,1,0,7,"0804010200"]`},
		// Sensor-table outputs still register as sensors, flags 33.
		{peripheral.KindSensor, "Switch: 2.4G Type 3", "Hall", 2, `["Hall",2,0,143,3,0,33,960,0,17,3,0,0,"00"]`},
	}
	for _, tt := range tests {
		def := peripheral.LookupName(tt.kind, tt.definition)
		if def == nil {
			t.Fatalf("no definition %q", tt.definition)
		}
		if got := wire(peripheral.NewRegistration(def, tt.name, tt.index)); got != tt.want {
			t.Errorf("NewRegistration(%q, %q, %d) =\n%s\nwant\n%s", tt.definition, tt.name, tt.index, got, tt.want)
		}
	}
}

func TestFirstFreeIndex(t *testing.T) {
	tests := []struct {
		indexes []int
		want    int
	}{
		// spec: peripherals.md 16.7.
		{nil, 0},
		{[]int{}, 0},
		{[]int{0}, 1},
		{[]int{10, 11}, 0},
		{[]int{0, 10, 11}, 1},
		{[]int{0, 1, 2}, 3},
		// The max+1 fallback, not the entity count: one 4-node device
		// at 0 (four entities) and a device at 1 gives 2.
		{[]int{0, 0, 0, 0, 1}, 2},
		{[]int{2, 1, 0, 4}, 3},
		{[]int{3, 10, 11, 12, 21, 26, 100, 0, 1, 2}, 4},
		{[]int{-1, -5}, 0},
		{[]int{-1, 0}, 1},
		{[]int{1 << 40}, 0},
	}
	for _, tt := range tests {
		if got := peripheral.FirstFreeIndex(tt.indexes); got != tt.want {
			t.Errorf("FirstFreeIndex(%v) = %d, want %d", tt.indexes, got, tt.want)
		}
	}
}
