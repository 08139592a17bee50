package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/g90alarm/g90/protocol"
)

// Sentinel errors of the checks a receiver applies before mapping a
// datagram to events (spec: A.7).
var (
	// ErrWrongHost: the datagram came from another address than the
	// panel's (spec: A.7.1).
	ErrWrongHost = errors.New("notify: datagram from wrong host")
	// ErrWrongDevice: an alert carries another GUID than the panel's
	// (spec: A.7.2).
	ErrWrongDevice = errors.New("notify: alert from wrong device")
)

// CheckSender applies the source address filter of spec: A.7.1 to a
// datagram from sender, for a panel at host. An invalid host (none
// configured) or the IPv4 broadcast address disables the filter ([REC]:
// the reference would drop every datagram for a broadcast host). The
// source port is not checked. Resolving a host name is the caller's job.
func CheckSender(host, sender netip.Addr) error {
	if !host.IsValid() || host.Unmap() == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil
	}
	if host.Unmap() != sender.Unmap() {
		return fmt.Errorf("%w: %q, expected %q", ErrWrongHost, sender, host)
	}
	return nil
}

// CheckGUID applies the device GUID filter of spec: A.7.2: an alert whose
// device_id differs from guid, the panel's GUID, is an error wrapping
// ErrWrongDevice. Notifications carry no GUID and always pass, and so does
// everything while the GUID is unknown (empty or white space).
func (m *Message) CheckGUID(guid string) error {
	// Equal first, the answer for every alert of the panel: the white
	// space test costs more than the comparison (issue 20.3).
	if m.Code != protocol.CodeAlert || m.Alert.GUID == guid || strings.TrimSpace(guid) == "" {
		return nil
	}
	return fmt.Errorf("%w: expected %q, got %q", ErrWrongDevice, guid, m.Alert.GUID)
}
