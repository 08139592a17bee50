//go:build linux

package notify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// pktinfoSupported says whether this system can tell the interface a
// datagram arrived on.
const pktinfoSupported = true

// oobSize holds one IP_PKTINFO and one IPV6_PKTINFO control message.
var oobSize = syscall.CmsgSpace(syscall.SizeofInet4Pktinfo) + syscall.CmsgSpace(syscall.SizeofInet6Pktinfo)

// enablePktinfo asks the kernel to report, with every datagram, the
// interface it arrived on: IP_PKTINFO for IPv4 (also on a dual-stack IPv6
// socket, which gets IPv4 datagrams), IPV6_RECVPKTINFO on an IPv6 socket.
func enablePktinfo(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		sa, err := syscall.Getsockname(int(fd))
		if err != nil {
			serr = err
			return
		}
		if _, v6 := sa.(*syscall.SockaddrInet6); v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO, 1)
			// A v6-only socket refuses IP_PKTINFO; it gets no IPv4 anyway.
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// pktinfoIfindex returns the arrival interface from a datagram's control
// messages, or 0 if they do not say. It is syscall.ParseSocketControlMessage
// without the allocation: it runs once per datagram.
func pktinfoIfindex(oob []byte) int {
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		data := oob[hdr:l]
		switch {
		case h.Level == syscall.IPPROTO_IP && h.Type == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			return int((*syscall.Inet4Pktinfo)(unsafe.Pointer(&data[0])).Ifindex)
		case h.Level == syscall.IPPROTO_IPV6 && h.Type == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			return int((*syscall.Inet6Pktinfo)(unsafe.Pointer(&data[0])).Ifindex)
		}
		next := syscall.CmsgSpace(l - hdr)
		if next >= len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}

// routeInterface asks the kernel which interface its route to dst goes
// out of, as `ip route get dst` does (one RTM_GETROUTE over netlink). It
// opens its socket in the calling thread's network namespace.
func routeInterface(dst netip.Addr) (int, error) {
	dst = dst.Unmap()
	family, bits := syscall.AF_INET, 32
	if dst.Is6() {
		family, bits = syscall.AF_INET6, 128
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return 0, fmt.Errorf("netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: 1}); err != nil {
		return 0, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink bind: %w", err)
	}
	a := dst.AsSlice()
	attr := syscall.SizeofRtAttr + len(a)
	msg := make([]byte, syscall.SizeofNlMsghdr+syscall.SizeofRtMsg+attr)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], syscall.RTM_GETROUTE)
	ne.PutUint16(msg[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(msg[8:], 1) // sequence
	rt := msg[syscall.SizeofNlMsghdr:]
	rt[0], rt[1] = byte(family), byte(bits) // rtm_family, rtm_dst_len
	at := rt[syscall.SizeofRtMsg:]
	ne.PutUint16(at[0:], uint16(attr))
	ne.PutUint16(at[2:], syscall.RTA_DST)
	copy(at[syscall.SizeofRtAttr:], a)
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 8192)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("netlink receive: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("netlink reply: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		switch m.Header.Type {
		case syscall.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if e := int32(ne.Uint32(m.Data)); e != 0 {
					return 0, fmt.Errorf("route to %v: %w", dst, syscall.Errno(-e))
				}
			}
		case syscall.RTM_NEWROUTE:
			attrs, err := syscall.ParseNetlinkRouteAttr(m)
			if err != nil {
				return 0, fmt.Errorf("netlink route: %w", err)
			}
			for _, a := range attrs {
				if a.Attr.Type == syscall.RTA_OIF && len(a.Value) >= 4 {
					return int(ne.Uint32(a.Value)), nil
				}
			}
		}
	}
	return 0, errors.New("no interface in the route to " + dst.String())
}
