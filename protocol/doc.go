// Package protocol is the pure codec of the G90 panel's local UDP
// protocol: framing (ISTART…IEND\0), command codes, typed records for
// every request and reply the client uses, pagination, system (AT^IWT)
// commands and discovery datagrams. It has no sockets, goroutines or clock;
// package client does the I/O.
//
// The specification lives in spec/local-protocol.md; comments cite it as
// "spec: local-protocol.md <section>".
//
// Encoding a request and decoding its reply:
//
//	req := protocol.NewRequest(protocol.GetHostInfo)
//	datagram := req.Append(nil) // ISTART[206,206,""]IEND\0
//	// ... send it, read the reply into b ...
//	resp, err := protocol.ParseResponse(b)
//	var info protocol.HostInfo
//	err = protocol.Decode(&info, resp.Data)
package protocol
