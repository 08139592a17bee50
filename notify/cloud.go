package notify

import (
	"strings"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/protocol"
)

// StatusAlert converts a cloud status change (M4) to the alert it stands for, carrying
// guid, the GUID stored from the connection's hello (spec: D.10.1). ok is
// false for types other than 2, 3 and 4, which the spec skips silently
// (spec: D.4). An M4c alarm gets source 0 (DEVICE), as in the reference:
// its byte 14 is the peripheral type, not an alert source (spec: D.5.6,
// G.1). A name that is not UTF-8 gets U+FFFD for its bad bytes, as local
// notifications do.
func StatusAlert(s *cloudproto.StatusChange, guid string) (a Alert, ok bool) {
	a = Alert{GUID: guid, UnixTime: int64(s.UnixTime)}
	switch s.Type {
	case cloudproto.StatusState:
		a.Type, a.EventID, a.State = protocol.TypeStateChange, int(s.StateChange), int(s.StateChange)
		return a, true
	case cloudproto.StatusSensor:
		a.Type, a.Source = protocol.TypeSensorActivity, protocol.AlertSource(s.Source)
	case cloudproto.StatusAlarm:
		a.Type, a.Source = protocol.TypeAlarm, protocol.SourceDevice
	default:
		return Alert{}, false
	}
	a.EventID, a.State, a.Name = int(s.Index), int(s.State), strings.ToValidUTF8(s.Name, "\uFFFD")
	return a, true
}

// FromCloud returns the local notification or alert the cloud message m
// carries, so that it goes through the same Message.Events as a local
// datagram: a
// status change converted to an alert (spec: D.10.1), or the datagram a
// notification wraps, decoded (spec: D.5.7). ok is false for every other
// kind and for status changes the spec skips. guid is the GUID stored
// from the connection's hello or discovery; a wrapped alert for another
// GUID is an error wrapping ErrWrongDevice (spec: D.10.4). A
// wrapped datagram that does not decode is a *DecodeError.
func FromCloud(m *cloudproto.Message, guid string) (nm Message, ok bool, err error) {
	switch m.Kind {
	case cloudproto.KindStatusChange:
		a, ok := StatusAlert(&m.Status, guid)
		if !ok {
			return Message{}, false, nil
		}
		return Message{Code: protocol.CodeAlert, Alert: a}, true, nil
	case cloudproto.KindNotification:
		nm, err := Decode(m.Body)
		if err != nil {
			return Message{}, false, err
		}
		if err := nm.CheckGUID(guid); err != nil {
			return Message{}, false, err
		}
		return nm, true, nil
	}
	return Message{}, false, nil
}
