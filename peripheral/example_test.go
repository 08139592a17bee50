package peripheral_test

import (
	"fmt"

	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
)

// Disabling the wired door input "Cord 2" (spec: peripherals.md 20.4).
func ExampleSensorWrite() {
	rec := protocol.PeripheralRecord{Name: "Cord 2", Index: 10, TypeID: 126, Subtype: 1, UserFlags: 63, ProtocolID: 5, ReservedData: 16, NodeCount: 1}
	s := peripheral.NewSensor(2, rec)
	fmt.Println(s.Name(), "is a", s.TypeName(), "flags", s.Flags())

	rec.UserFlags = int(peripheral.ApplyUserFlags(s.Flags(), s.Flags().With(peripheral.FlagEnabled, false)))
	w := peripheral.SensorWrite(rec, s.Definition)
	fmt.Println(protocol.ArrayValue(protocol.EncodeWrite(&w)...))
	// Output:
	// Cord 2 is a Door Sensor: Wired flags enabled|arm_delay|detect_door|door_chime|independent_zone|alert_when_away_and_home
	// ["Cord 2",10,0,126,1,0,62,0,5,16,1,0,0,"00"]
}

// A 4-channel relay is one record and four entities (spec: peripherals.md
// 15, 20.3).
func ExampleExpandDevice() {
	rec := protocol.PeripheralRecord{Name: "Relay", Index: 10, TypeID: 128, UserFlags: 32, Baudrate: 1480, ReservedData: 17, NodeCount: 4}
	for _, n := range peripheral.ExpandDevice(1, rec) {
		fmt.Println(n.Index(), n.Subindex, n.Name(), n.TypeName())
	}
	// Output:
	// 10 0 Relay#1 Socket: JDQ
	// 10 1 Relay#2 Socket: JDQ
	// 10 2 Relay#3 Socket: JDQ
	// 10 3 Relay#4 Socket: JDQ
}

// Registering a socket into the first free slot (spec: peripherals.md
// 20.10).
func ExampleNewRegistration() {
	def := peripheral.LookupName(peripheral.KindDevice, "Socket: S07")
	w := peripheral.NewRegistration(def, "Test socket", peripheral.FirstFreeIndex([]int{11}))
	fmt.Println(protocol.ArrayValue(protocol.EncodeWrite(&w)...))
	// Output:
	// ["Test socket",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]
}

// An unknown model is still listed; it just cannot be written.
func ExampleLookup() {
	fmt.Println(peripheral.Lookup(peripheral.KindDevice, peripheral.TypeCurtain, 1, peripheral.ProtocolRFSlider).Name)
	fmt.Println(peripheral.Lookup(peripheral.KindSensor, 255, 0, 0) == nil)
	// Output:
	// Curtain
	// true
}
