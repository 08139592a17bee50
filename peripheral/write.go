package peripheral

import (
	"slices"

	"github.com/g90alarm/g90/protocol"
)

// Registration flags (spec: peripherals.md 7.4, 12.2, 13).
const (
	sensorRegistrationFlags = FlagEnabled | FlagAlertWhenAwayAndHome // 33
	deviceRegistrationFlags = FlagEnabled                            // 1
)

// SensorWrite returns the 14-field write record that sets a sensor or
// device to rec, the parameters of SETSINGLESENSOR (103) or
// SETSINGLEDEVICE (140). Everything comes from rec except reserved_data,
// rx, tx and private_data, which the panel never reports and which come
// from def (spec: peripherals.md 9); rec's baudrate is kept although the
// definition may differ (spec: peripherals.md 7.5). rec's mask, read
// private_data and extras are not written.
//
// def must be the definition of rec (Peripheral.Definition); a record
// without one must not be written (spec: peripherals.md 10.1), and a nil
// def panics. Peripheral.WriteRecord checks for that.
func SensorWrite(rec protocol.PeripheralRecord, def *Definition) protocol.PeripheralWrite {
	return protocol.PeripheralWrite{
		Name:         rec.Name,
		Index:        rec.Index,
		RoomID:       rec.RoomID,
		TypeID:       rec.TypeID,
		Subtype:      rec.Subtype,
		Timeout:      rec.Timeout,
		UserFlags:    rec.UserFlags,
		Baudrate:     rec.Baudrate,
		ProtocolID:   rec.ProtocolID,
		ReservedData: def.ReservedData,
		NodeCount:    rec.NodeCount,
		RX:           def.RX,
		TX:           def.TX,
		PrivateData:  def.PrivateData,
	}
}

// NewRegistration returns the record of ADDSENSOR (156) or ADDDEVICE (134)
// that learns a new peripheral of model def into slot index, in room 0.
// An empty name means the definition's name. User flags are 33 (enabled,
// alert when away and home) for a sensor-table definition and 1 (enabled)
// for a device-table one; every other field comes from def
// (spec: peripherals.md 12.2, 13). The panel may assign another index; its
// answer is authoritative. A nil def panics.
func NewRegistration(def *Definition, name string, index int) protocol.PeripheralWrite {
	if name == "" {
		name = def.Name
	}
	flags := sensorRegistrationFlags
	if def.Kind == KindDevice {
		flags = deviceRegistrationFlags
	}
	return protocol.PeripheralWrite{
		Name:         name,
		Index:        index,
		RoomID:       0,
		TypeID:       int(def.TypeID),
		Subtype:      def.Subtype,
		Timeout:      def.Timeout,
		UserFlags:    int(flags),
		Baudrate:     def.Baudrate,
		ProtocolID:   int(def.ProtocolID),
		ReservedData: def.ReservedData,
		NodeCount:    def.NodeCount,
		RX:           def.RX,
		TX:           def.TX,
		PrivateData:  def.PrivateData,
	}
}

// FirstFreeIndex returns the index to request when registering, given the
// indexes in use (of all entities of the kind, unavailable ones included):
// the lowest gap below the largest index, else the largest plus one, or 0
// for none. That is the smallest non-negative integer not in indexes.
// Negative values and duplicates are ignored.
//
// The reference falls back to the number of entities instead of max+1,
// which overshoots with multi-node devices; this follows the spec's
// recommendation (spec: peripherals.md 16.7 REC).
func FirstFreeIndex(indexes []int) int {
	// The answer is at most len(indexes), so larger values cannot matter.
	used := make([]bool, len(indexes)+1)
	for _, i := range indexes {
		if i >= 0 && i < len(used) {
			used[i] = true
		}
	}
	return slices.Index(used, false)
}
