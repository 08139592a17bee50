package peripheral

import "strconv"

// Kind says which list a peripheral comes from, and so which definition
// table applies to it (spec: peripherals.md 0, 19).
type Kind uint8

// Kinds. The zero Kind is neither and has no definitions.
const (
	KindSensor Kind = iota + 1 // sensor list (102), sensor table
	KindDevice                 // device list (138), device table
)

// String returns sensor, device, or kind(N).
func (k Kind) String() string {
	switch k {
	case KindSensor:
		return "sensor"
	case KindDevice:
		return "device"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Definition is a catalogue entry for a peripheral model: what is needed
// to write a record back and to register a new one (spec: peripherals.md
// 19). The panel never reports RX, TX, PrivateData or ReservedData on
// read, which is why a write needs a definition (spec: peripherals.md 5).
type Definition struct {
	Name string // registration key, matched exactly
	Kind Kind   // the table holding the definition

	// TypeID, Subtype and ProtocolID are the lookup key.
	TypeID     Type
	Subtype    int
	ProtocolID Protocol

	Baudrate    int    // sent on registration only (spec 7.5)
	NodeCount   int    // channels; sent on registration
	RX, TX      int    // write positions 11 and 12
	PrivateData string // write position 13, verbatim, case preserved; may be empty

	RWMode       RWMode
	MatchMode    MatchMode
	ReservedData int // MatchMode<<4 | RWMode, write position 9
	Timeout      int // sent on registration; 0 everywhere
}

func table(k Kind) []Definition {
	switch k {
	case KindSensor:
		return sensorDefinitions[:]
	case KindDevice:
		return deviceDefinitions[:]
	}
	return nil
}

// Definitions returns a copy of the definition table of kind k in table
// order, or nil for an unknown kind.
func Definitions(k Kind) []Definition {
	return append([]Definition(nil), table(k)...)
}

// Lookup returns the first definition in the table of kind k whose
// (type, subtype, protocol) match, or nil: a peripheral without a
// definition is valid but cannot be written (spec: peripherals.md 10.1,
// 19). The result is a copy the caller may keep or change.
func Lookup(k Kind, typeID Type, subtype int, protocolID Protocol) *Definition {
	for _, d := range table(k) {
		if d.TypeID == typeID && d.Subtype == subtype && d.ProtocolID == protocolID {
			return &d
		}
	}
	return nil
}

// LookupName returns the definition of kind k with exactly this name
// (case-sensitive, spec: peripherals.md 12.1, 19), or nil.
func LookupName(k Kind, name string) *Definition {
	for _, d := range table(k) {
		if d.Name == name {
			return &d
		}
	}
	return nil
}
