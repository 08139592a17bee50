package cloudproto

import (
	"net/netip"
	"time"
)

// Payload bytes of M8 and M9 (spec: D.5.10).
const (
	helloAckValue      = 0x01
	helloResponseValue = 0x1F
)

// ReplyParams are the values a standalone server puts in its replies
// (spec: E.1).
type ReplyParams struct {
	// LocalPort is the port the server listens on, sent in M10 ([REF],
	// spec: D.5.10, G.4).
	LocalPort int
	// Advertise is the cloud_ip and cloud_port sent in M11: where the
	// panel should connect. It must be reachable from the panel.
	Advertise netip.AddrPort
	// Now is the server's current time, sent in M11; the panel sets its
	// clock from it.
	Now time.Time
}

// PingReply returns M7, the reply to a ping: the ping itself (spec:
// D.5.10).
func PingReply() Message {
	return Message{Kind: KindPing, Header: KindPing.Header()}
}

// HelloReplies returns M8, M9 and M10, the replies to a hello, with
// sequences 1, 2, 3 (spec: D.5.10).
func HelloReplies(localPort int) [3]Message {
	r := [3]Message{
		{Kind: KindHelloAck, Header: KindHelloAck.Header(), Value: helloAckValue},
		{Kind: KindHelloResponse, Header: KindHelloResponse.Header(), Value: helloResponseValue},
		{Kind: KindHelloInfo, Header: KindHelloInfo.Header(), Port: int32(localPort)},
	}
	for i := range r {
		r[i].Header.Sequence = uint16(i + 1)
	}
	return r
}

// DiscoveryReply returns M11, the reply to a hello discovery: the
// address the panel should use and the current UTC time (spec: D.5.10,
// D.8). An address longer than 16 bytes of text is truncated ([REF]); an
// IPv4 address always fits.
func DiscoveryReply(advertise netip.AddrPort, now time.Time) Message {
	return Message{Kind: KindDiscoveryResponse, Header: KindDiscoveryResponse.Header(), Discovery: DiscoveryResponse{
		ServerIP:   advertise.Addr().Unmap().String(),
		ServerPort: int32(advertise.Port()),
		Timestamp:  int32(now.Unix()),
	}}
}

// AppendReplies appends to dst the replies a standalone server sends for
// m, in order, and returns the extended slice: M7 for a ping, M8 M9 M10
// for a hello, M11 for a hello discovery, nothing for anything else
// (spec: D.7).
func AppendReplies(dst []byte, m *Message, p ReplyParams) []byte {
	switch m.Kind {
	case KindPing:
		r := PingReply()
		return r.Append(dst)
	case KindHello:
		for _, r := range HelloReplies(p.LocalPort) {
			dst = r.Append(dst)
		}
		return dst
	case KindDiscovery:
		r := DiscoveryReply(p.Advertise, p.Now)
		return r.Append(dst)
	}
	return dst
}
