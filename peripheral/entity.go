package peripheral

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/g90alarm/g90/protocol"
)

// ErrNoDefinition: the peripheral's (type, subtype, protocol) is not in
// the catalogue, so it cannot be written; the reference then sends
// nothing (spec: peripherals.md 10.1).
var ErrNoDefinition = errors.New("peripheral: no definition for this type, subtype and protocol")

// Peripheral is one record of the sensor or device list with its
// definition; Sensor and Device embed it. Any record makes a usable
// Peripheral: unknown types and models only lack a Definition.
type Peripheral struct {
	// Position is the 1-based list position, used to re-read the
	// record before a write (spec: peripherals.md 1, 10.3).
	Position int
	// Record is the record as read.
	Record protocol.PeripheralRecord
	// Definition is the catalogue entry for the record's type, subtype
	// and protocol, or nil if there is none (spec: peripherals.md 10.1).
	Definition *Definition
}

func newPeripheral(k Kind, pos int, rec protocol.PeripheralRecord) Peripheral {
	rec.Extra = slices.Clone(rec.Extra) // entities outlive the reply they came from
	return Peripheral{
		Position:   pos,
		Record:     rec,
		Definition: Lookup(k, Type(rec.TypeID), rec.Subtype, Protocol(rec.ProtocolID)),
	}
}

// Index returns the panel's slot number, the id used by every
// per-peripheral command and event (spec: peripherals.md 1).
func (p *Peripheral) Index() int { return p.Record.Index }

// ParentName returns the name stored on the panel, without any #n
// node suffix (spec: peripherals.md 15).
func (p *Peripheral) ParentName() string { return p.Record.Name }

// Type returns the record's type_id.
func (p *Peripheral) Type() Type { return Type(p.Record.TypeID) }

// Protocol returns the record's protocol_id.
func (p *Peripheral) Protocol() Protocol { return Protocol(p.Record.ProtocolID) }

// Flags returns the record's user_flags.
func (p *Peripheral) Flags() UserFlags { return UserFlags(p.Record.UserFlags) }

// Flag reports whether every bit of f is set in the user flags.
func (p *Peripheral) Flag(f UserFlags) bool { return p.Flags().Has(f) }

// Enabled reports whether the peripheral is active (spec: peripherals.md 7.4).
func (p *Peripheral) Enabled() bool { return p.Flag(FlagEnabled) }

// Wireless reports whether the peripheral is not wired to the panel
// (spec: peripherals.md 7.2).
func (p *Peripheral) Wireless() bool { return p.Protocol().Wireless() }

// AlertMode returns the alert mode, or ErrInvalidAlertMode
// (spec: peripherals.md 7.4).
func (p *Peripheral) AlertMode() (AlertMode, error) { return p.Flags().AlertMode() }

// SupportsUpdates reports whether the peripheral can be modified, that is
// whether it has a definition (spec: peripherals.md 10.1).
func (p *Peripheral) SupportsUpdates() bool { return p.Definition != nil }

// TypeName returns the definition's name, e.g. "Socket: S07", or for a
// peripheral without one "unknown (type T subtype S protocol P)".
func (p *Peripheral) TypeName() string {
	if p.Definition != nil {
		return p.Definition.Name
	}
	return fmt.Sprintf("unknown (type %d subtype %d protocol %d)", p.Record.TypeID, p.Record.Subtype, p.Record.ProtocolID)
}

// WriteRecord returns the write record for the current Record, or
// ErrNoDefinition. Change Record (name, flags) first; see SensorWrite.
func (p *Peripheral) WriteRecord() (protocol.PeripheralWrite, error) {
	if p.Definition == nil {
		return protocol.PeripheralWrite{}, fmt.Errorf("%w (%s)", ErrNoDefinition, p.TypeName())
	}
	return SensorWrite(p.Record, p.Definition), nil
}

func (p *Peripheral) key(subindex int) Key {
	return Key{Type: p.Type(), Subtype: p.Record.Subtype, Protocol: p.Protocol(), Index: p.Record.Index, Subindex: subindex}
}

// Key identifies an entity across list refreshes. The name is not part of
// it, so a renamed peripheral stays the same entity (spec: peripherals.md
// 16.3).
type Key struct {
	Type     Type
	Subtype  int
	Protocol Protocol
	Index    int
	Subindex int
}

// nodeName is the entity name of node k (spec: peripherals.md 15).
func nodeName(parent string, nodeCount, k int) string {
	if nodeCount == 1 {
		return parent
	}
	return parent + "#" + strconv.Itoa(k+1)
}

// Sensor is an entry of the sensor list (command 102). Sensors are never
// expanded into nodes (spec: peripherals.md 15).
type Sensor struct {
	Peripheral
}

// NewSensor returns the sensor read at 1-based list position pos, with its
// definition from the sensor table if there is one.
func NewSensor(pos int, rec protocol.PeripheralRecord) *Sensor {
	return &Sensor{newPeripheral(KindSensor, pos, rec)}
}

// Name returns the entity name: the panel's name, with the #1 suffix if
// the record's node_count is not 1 (spec: peripherals.md 15).
func (s *Sensor) Name() string { return nodeName(s.Record.Name, s.Record.NodeCount, 0) }

// Key returns the sensor's identity; its subindex is always 0.
func (s *Sensor) Key() Key { return s.key(0) }

// SensorInfo is what a user is shown about a sensor; it marshals with the
// spec's snake_case names.
type SensorInfo struct {
	Index     int      `json:"index"`
	Name      string   `json:"name"`
	Type      string   `json:"type"` // TypeName
	TypeID    int      `json:"type_id"`
	Subtype   int      `json:"subtype"`
	Protocol  string   `json:"protocol"`
	Enabled   bool     `json:"enabled"`
	Wireless  bool     `json:"wireless"`
	AlertMode string   `json:"alert_mode"` // "invalid" if both mode bits are set
	Flags     []string `json:"flags"`      // names of the set flags, in bit order
	UserFlags int      `json:"user_flags"` // raw, including unnamed bits
	NodeCount int      `json:"node_count"`
}

// Info returns the sensor's user-facing fields.
func (s *Sensor) Info() SensorInfo {
	mode := "invalid"
	if m, err := s.AlertMode(); err == nil {
		mode = m.String()
	}
	return SensorInfo{
		Index:     s.Record.Index,
		Name:      s.Name(),
		Type:      s.TypeName(),
		TypeID:    s.Record.TypeID,
		Subtype:   s.Record.Subtype,
		Protocol:  s.Protocol().String(),
		Enabled:   s.Enabled(),
		Wireless:  s.Wireless(),
		AlertMode: mode,
		Flags:     s.Flags().Names(),
		UserFlags: s.Record.UserFlags,
		NodeCount: s.Record.NodeCount,
	}
}

// MarshalJSON encodes the sensor's Info.
func (s *Sensor) MarshalJSON() ([]byte, error) { return json.Marshal(s.Info()) }

// Device is an entry of the device list (command 138): one record, which
// may stand for several independently switched nodes.
type Device struct {
	Peripheral
}

// NewDevice returns the device read at 1-based list position pos, with its
// definition from the device table if there is one.
func NewDevice(pos int, rec protocol.PeripheralRecord) *Device {
	return &Device{newPeripheral(KindDevice, pos, rec)}
}

// maxNodes bounds the expansion of one record. The catalogue's largest
// node_count is 4; the bound only keeps a corrupt record from making
// millions of entities.
const maxNodes = 255

// Nodes returns one entity per node: node_count of them, at least one and
// at most 255 (spec: peripherals.md 15). They share d, so a change to the
// record through one node is seen by all (spec: peripherals.md 10.3 REC).
func (d *Device) Nodes() []DeviceNode {
	n := min(max(d.Record.NodeCount, 1), maxNodes)
	nodes := make([]DeviceNode, n)
	for k := range nodes {
		nodes[k] = DeviceNode{Device: d, Subindex: k}
	}
	return nodes
}

// ExpandDevice returns the node entities of the device record read at
// list position pos; see Device.Nodes.
func ExpandDevice(pos int, rec protocol.PeripheralRecord) []DeviceNode {
	return NewDevice(pos, rec).Nodes()
}

// DeviceNode is one node (channel) of a device, the entity a user
// switches (spec: peripherals.md 14, 15). Renaming or deleting it acts on
// the whole Device. Get nodes from Device.Nodes or ExpandDevice; a zero
// DeviceNode has no Device.
type DeviceNode struct {
	*Device
	// Subindex is the 0-based node number sent with control_device.
	Subindex int
}

// Name returns the entity name: the panel's name if the device has
// exactly one node, else name#(Subindex+1), e.g. Relay#3
// (spec: peripherals.md 15).
func (n DeviceNode) Name() string { return nodeName(n.Record.Name, n.Record.NodeCount, n.Subindex) }

// Key returns the node's identity.
func (n DeviceNode) Key() Key { return n.key(n.Subindex) }

// DeviceNodeInfo is what a user is shown about a device node; it marshals
// with the spec's snake_case names.
type DeviceNodeInfo struct {
	Index int    `json:"index"`
	Node  int    `json:"node"` // Subindex
	Name  string `json:"name"`
	Type  string `json:"type"` // TypeName
}

// Info returns the node's user-facing fields.
func (n DeviceNode) Info() DeviceNodeInfo {
	return DeviceNodeInfo{Index: n.Record.Index, Node: n.Subindex, Name: n.Name(), Type: n.TypeName()}
}

// MarshalJSON encodes the node's Info.
func (n DeviceNode) MarshalJSON() ([]byte, error) { return json.Marshal(n.Info()) }
