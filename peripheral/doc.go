// Package peripheral models the panel's sensors and devices (relays,
// sockets, sirens, curtains): the definition catalogue, the enumerations
// of the peripheral record, the user flags and alert mode, entities built
// from list records, and the write records that modify or register a
// peripheral. It is pure: no sockets, goroutines or clock; package client
// reads and writes the records.
//
// The specification lives in spec/peripherals.md; comments cite it as
// "spec: peripherals.md <section>". The definitions and enumerations in
// zdefinitions.go are generated from spec/peripheral-types.json.
//
// Reading a list and disabling a sensor:
//
//	for i, rec := range records { // 102 reply, list position i+1
//		s := peripheral.NewSensor(i+1, rec)
//		fmt.Println(s.Name(), s.TypeName(), s.Enabled())
//	}
//	// Re-read the record at s.Position, check it is unchanged, then:
//	if !s.SupportsUpdates() {
//		return // no definition: the panel cannot be written (spec 10.1)
//	}
//	rec := s.Record
//	rec.UserFlags = int(peripheral.ApplyUserFlags(s.Flags(), s.Flags().With(peripheral.FlagEnabled, false)))
//	w := peripheral.SensorWrite(rec, s.Definition) // parameters of SETSINGLESENSOR
//
// Devices expand into one entity per node:
//
//	for _, n := range peripheral.ExpandDevice(pos, rec) {
//		fmt.Println(n.Name(), n.Subindex) // Relay#1 0, Relay#2 1, ...
//	}
//
// Registering a device:
//
//	def := peripheral.LookupName(peripheral.KindDevice, "Socket: S07")
//	w := peripheral.NewRegistration(def, "Kitchen", peripheral.FirstFreeIndex(indexes))
package peripheral

//go:generate go run ./internal/gen
