package sim

import (
	"encoding/hex"
	"net"

	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
)

// notification returns the datagram [170,[kind,[…]]]\0 (spec:
// notifications-and-cloud.md A.2, A.3).
func notification(n notify.Notification) []byte {
	m := notify.Message{Code: protocol.CodeNotification, Notification: n}
	return m.Append(nil)
}

// alertDatagram returns [208,[type,event_id,source,state,name,guid,time,0,[""]]]\0
// for a history record (spec: notifications-and-cloud.md A.4; in alerts
// "other" is a one-element list, unlike history).
func alertDatagram(a protocol.HistoryEntry, guid string) []byte {
	m := notify.Message{Code: protocol.CodeAlert, Alert: notify.Alert{
		Type: a.Type, EventID: a.EventID, Source: a.Source, State: a.State, Name: a.Name,
		GUID: guid, UnixTime: int64(a.UnixTime), // Reserved 0 and Other [""] by default
	}}
	return m.Append(nil)
}

func armNote(s protocol.ArmState) notify.Notification {
	return notify.Notification{Kind: notify.KindArmDisarm, State: s}
}

func activityNote(r protocol.PeripheralRecord) notify.Notification {
	return notify.Notification{Kind: notify.KindSensorActivity, Index: r.Index, Name: r.Name}
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
