// Package notify is the pure codec of the panel's local notifications and
// alerts: the JSON datagrams a G90 panel broadcasts from UDP port 45000 to
// port 12901 (spec: notifications-and-cloud.md A), and their mapping to
// the normalised protocol events every event source produces (spec:
// notifications-and-cloud.md B). The codec has no sockets, goroutines or
// clock; Listener (listen.go) is the UDP listener on top of it, handing
// each decoded message to a Sink such as g90.Monitor, which keeps the
// panel's state and delivers the events.
//
// Comments cite the specification as "spec: A.5" for sections of
// spec/notifications-and-cloud.md.
//
// Handling one datagram:
//
//	m, err := notify.Decode(datagram)
//	if err != nil {
//		// a *DecodeError: ErrMissingEndMarker, ErrSyntax or ErrMalformed
//		log.Warn("bad notification", "err", err, "raw", datagram)
//		return
//	}
//	if err := m.CheckGUID(panelGUID); err != nil { // ErrWrongDevice
//		return
//	}
//	evs, err := m.Events(evs[:0])
//	if err != nil {
//		// ErrUnknown: a code, kind or alert the spec drops; m still
//		// holds every raw value.
//		return
//	}
//	for _, ev := range evs {
//		ev.Source = event.SourceLocal
//		if ev.Time.IsZero() {
//			ev.Time = received
//		}
//		handle(ev)
//	}
//
// Message.Append is the inverse of Decode; the simulator uses it to send
// notifications.
package notify
