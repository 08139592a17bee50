package sim

import (
	"encoding/hex"
	"net"

	"github.com/g90alarm/g90/protocol"
)

// Notification kinds the simulator sends (spec:
// notifications-and-cloud.md A.3).
const (
	notifyArmDisarm      = 1
	notifySensorChange   = 4
	notifySensorActivity = 5
	sensorAdded          = 1 // sensor change action
)

// notification returns the datagram [170,payload]\0 (spec:
// notifications-and-cloud.md A.2: JSON followed by one NUL, no markers).
func notification(payload protocol.Value) []byte {
	b := protocol.ArrayValue(protocol.IntValue(int(protocol.CodeNotification)), payload).AppendJSON(nil)
	return append(b, 0)
}

// alertDatagram returns [208,[type,event_id,source,state,name,guid,time,0,[""]]]\0
// for a history record (spec: notifications-and-cloud.md A.4; in alerts
// "other" is a one-element list, unlike history).
func alertDatagram(a protocol.HistoryEntry, guid string) []byte {
	data := protocol.ArrayValue(
		protocol.IntValue(int(a.Type)), protocol.IntValue(a.EventID), protocol.IntValue(int(a.Source)),
		protocol.IntValue(a.State), protocol.StringValue(a.Name), protocol.StringValue(guid),
		protocol.IntValue(a.UnixTime), protocol.IntValue(0), protocol.ArrayValue(protocol.StringValue("")),
	)
	b := protocol.ArrayValue(protocol.IntValue(int(protocol.CodeAlert)), data).AppendJSON(nil)
	return append(b, 0)
}

func armNote(s protocol.ArmState) protocol.Value {
	return protocol.ArrayValue(protocol.IntValue(notifyArmDisarm), protocol.ArrayValue(protocol.IntValue(int(s))))
}

func activityNote(r protocol.PeripheralRecord) protocol.Value {
	return protocol.ArrayValue(protocol.IntValue(notifySensorActivity),
		protocol.ArrayValue(protocol.IntValue(r.Index), protocol.StringValue(r.Name)))
}

// sendNotifications sends datagrams to the notification address, if one
// is configured. The caller holds notifyMu, so datagrams keep their order.
// Like the panel's broadcasts, nothing is resent when one is lost.
func (p *Panel) sendNotifications(datagrams [][]byte) {
	if p.notify == nil || p.notifyTo == nil {
		return
	}
	for _, d := range datagrams {
		if _, err := p.notify.WriteTo(d, p.notifyTo); err != nil {
			p.logger.Debug("sim: notification not sent", "to", p.notifyTo, "err", err, "bytes", hex.EncodeToString(d))
		}
	}
}

// bindNotify opens the socket notifications leave from: on the command
// socket's IP, so a listener filtering on the panel's address accepts
// them (spec: notifications-and-cloud.md A.7.1), with an ephemeral port
// where the panel uses 45000.
func (p *Panel) bindNotify(cfg Config) error {
	if cfg.NotifyConn != nil {
		p.notify = cfg.NotifyConn
	}
	if cfg.Notify == "" {
		return nil
	}
	to, err := net.ResolveUDPAddr("udp", cfg.Notify)
	if err != nil {
		return err
	}
	p.notifyTo = to
	if p.notify != nil {
		return nil
	}
	local := &net.UDPAddr{}
	if a, ok := p.conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsUnspecified() {
		local.IP = a.IP
	}
	p.notify, err = net.ListenUDP("udp", local)
	return err
}
