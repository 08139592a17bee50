//go:build linux

package notify

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// A listener on loopback learns that the route to a panel at 127.0.0.1
// leaves by lo, reads the arrival interface of every datagram, and
// accepts the panel's.
func TestListenerLoopbackInterface(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			host := netip.MustParseAddrPort(addr).Addr()
			l, sink := runListenerOn(t, addr, host)
			lo, err := net.InterfaceByIndex(1)
			if err != nil {
				t.Fatal(err)
			}
			if st := l.Stats(); st.Interface != lo.Name || l.udp == nil {
				t.Fatalf("Interface %q, check on %v: want %q and on", st.Interface, l.udp != nil, lo.Name)
			}
			sendTo(t, l.Addr(), []byte("[170,[5,[100,\"Hall\"]]]\x00"))
			select {
			case <-sink.msgs:
			case <-time.After(10 * time.Second):
				t.Fatalf("nothing arrived: %+v", l.Stats())
			}
		})
	}
}

// pktinfoIfindex agrees with syscall.ParseSocketControlMessage on real
// control messages (IPv4 and IPv4-mapped on a dual-stack socket, IPv6),
// and reads nothing from truncated or foreign ones.
func TestPktinfoIfindex(t *testing.T) {
	for _, tc := range []struct{ network, listen, dial string }{
		{"udp4", "127.0.0.1:0", "127.0.0.1"},
		{"udp", "[::]:0", "127.0.0.1"},
		{"udp6", "[::1]:0", "::1"},
	} {
		c, err := net.ListenPacket(tc.network, tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		u := c.(*net.UDPConn)
		if err := enablePktinfo(u); err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(c.LocalAddr().String())
		s, err := net.Dial("udp", net.JoinHostPort(tc.dial, port))
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("x"))
		s.Close()
		oob := make([]byte, oobSize)
		u.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, oobn, _, _, err := u.ReadMsgUDPAddrPort(make([]byte, 8), oob)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			t.Fatalf("%s: %d control messages, %v", tc.listen, len(msgs), err)
		}
		want := 0
		switch m := msgs[0]; {
		case m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_PKTINFO:
			want = int(int32(m.Data[0]) | int32(m.Data[1])<<8 | int32(m.Data[2])<<16 | int32(m.Data[3])<<24)
		case m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_PKTINFO:
			want = int(uint32(m.Data[16]) | uint32(m.Data[17])<<8 | uint32(m.Data[18])<<16 | uint32(m.Data[19])<<24)
		default:
			t.Fatalf("%s: control message %+v", tc.listen, m.Header)
		}
		if got := pktinfoIfindex(oob[:oobn]); got != want || got == 0 {
			t.Fatalf("%s: pktinfoIfindex = %d, ParseSocketControlMessage says %d", tc.listen, got, want)
		}
		for n := range oobn {
			if got := pktinfoIfindex(oob[:n]); got != 0 && n < syscall.CmsgLen(syscall.SizeofInet4Pktinfo) {
				t.Fatalf("%s: truncated to %d bytes: %d", tc.listen, n, got)
			}
		}
	}
	if got := pktinfoIfindex(nil); got != 0 {
		t.Fatalf("no control message: %d", got)
	}
}
