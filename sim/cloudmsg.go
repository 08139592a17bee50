package sim

import (
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/protocol"
)

// The messages a panel sends its cloud server (spec:
// notifications-and-cloud.md D.4, D.5).

// pingMessage is M1 (spec: D.5.1).
func pingMessage() []byte {
	m := cloudproto.Message{Kind: cloudproto.KindPing, Header: cloudproto.KindPing.Header()}
	return m.Append(nil)
}

// helloMessage is M2 for guid, with the values captured from a panel in
// the fields nobody interprets (spec: D.5.2, "Observed"; F.4 C-HELLO
// decoded, with the likely capture's 7, 30, 30 at the end, G.9).
func helloMessage(guid string) []byte {
	m := cloudproto.Message{Kind: cloudproto.KindHello, Header: cloudproto.KindHello.Header(), Hello: cloudproto.Hello{
		GUID: guid, Unknown3: 2, Unknown4: 0x7000, FirmwareVersion: "207",
		Unknown5: 0x2000BA58, Unknown6: 0x30, Unknown8: 7, Unknown9: 30, Unknown10: 30,
	}}
	return m.Append(nil)
}

// discoveryMessage is M3 for guid: byte for byte F.4 C-DISCOVERY but for
// the GUID (spec: D.5.3).
func discoveryMessage(guid string) []byte {
	m := cloudproto.Message{Kind: cloudproto.KindDiscovery, Header: cloudproto.KindDiscovery.Header(), Hello: cloudproto.Hello{
		GUID: guid, Unknown3: 1, Unknown4: 0x7000, FirmwareVersion: "207",
		Unknown5: 0x05050505, Unknown6: 0x06060030, Unknown7: 0x07070707,
	}}
	return m.Append(nil)
}

// stateResidue is how much of the last notification's text an M4a
// carries: its payload bytes 2 to 35 (spec: D.5.4).
const stateResidue = 36

// wrapNotification returns M5, a local notification datagram as the
// panel sends it over the cloud (spec: D.5.7), and remembers the
// datagram as the panel's text buffer, the tail of which shows up in M4a
// (spec: D.5.4, D.10.3). p.mu is held.
func (p *Panel) wrapNotification(datagram []byte) []byte {
	copy(p.cloudText[:], datagram) // text and NUL; older bytes stay after it
	m := cloudproto.Message{Kind: cloudproto.KindNotification, Header: cloudproto.KindNotification.Header(), Body: datagram}
	return m.Append(nil)
}

// statusChange returns the status change a panel sends over the cloud
// for alert a, the inverse of spec: D.10.1: M4a for a state change (its
// code in state_change), M4b for sensor activity, M4c for an alarm, with
// the sensor's peripheral type where the alert has its source (spec:
// D.5.6, A.6.10). The panel's SOS goes out as type 1, which servers skip
// (spec: D.4). p.mu is held.
func (p *Panel) statusChange(a protocol.HistoryEntry) []byte {
	s := cloudproto.StatusChange{
		Type: cloudproto.StatusType(a.Type), Index: uint8(a.EventID), Source: uint8(a.Source),
		State: uint8(a.State), Name: a.Name, UnixTime: int32(a.UnixTime),
	}
	switch a.Type {
	case protocol.TypeStateChange:
		s = cloudproto.StatusChange{Type: cloudproto.StatusState, StateChange: uint8(a.EventID), UnixTime: int32(a.UnixTime)}
	case protocol.TypeAlarm:
		s.Source = 0
		if i := find(p.state.Sensors, a.EventID); i >= 0 {
			s.Source = uint8(kind(p.state.Sensors[i]))
		}
	}
	m := cloudproto.Message{Kind: cloudproto.KindStatusChange, Header: cloudproto.KindStatusChange.Header(), Status: s}
	b := m.Append(nil)
	if s.Type == cloudproto.StatusState {
		// [PANEL] bytes 14..47 are what the panel's buffer held: the
		// tail of its last notification text (spec: D.5.4).
		copy(b[cloudproto.VersionedHeaderSize+2:cloudproto.VersionedHeaderSize+stateResidue], p.cloudText[2:])
	}
	return b
}
