package sim

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/g90alarm/g90/protocol"
)

// maxPageRecords bounds one paginated reply so it stays a modest datagram.
// Clients ask for 10 (spec: local-protocol.md 4.4); the panel's own limit
// is not documented.
const maxPageRecords = 50

// errParams is a request whose parameters do not fit its command.
var errParams = errors.New("sim: wrong parameters")

// handle answers one command datagram. It returns the reply datagram, or
// nil when the panel sends nothing: for malformed datagrams and system
// commands (spec: local-protocol.md 5.1). code is the request's code.
func (p *Panel) handle(b []byte) (reply []byte, code protocol.Code) {
	req, err := protocol.ParseRequest(b)
	if err != nil {
		p.logger.Warn("sim: malformed datagram, not answered", "err", err, "data", quote(b))
		return nil, 0
	}
	if p.ignored(req.Code) {
		p.logger.Debug("sim: request lost by fault", "code", req.Code)
		return nil, 0
	}
	if req.System != "" {
		p.system(req.System)
		return nil, 0
	}
	resp, known, err := p.dispatch(req)
	switch {
	case !known:
		// The panel's answer to an unknown code is undocumented (spec:
		// local-protocol.md 1.4); the simulator rejects it with error<text>.
		p.logger.Info("sim: unsupported command", "code", req.Code)
		return protocol.AppendError(nil, "unsupported command "+strconv.Itoa(int(req.Code))), req.Code
	case err != nil:
		p.logger.Info("sim: command failed", "code", req.Code, "params", req.Params.String(), "err", err)
		return protocol.AppendFail(nil), req.Code
	}
	return resp.Append(nil), req.Code
}

// dispatch runs the command. A zero Response is the empty body.
func (p *Panel) dispatch(req protocol.Request) (resp protocol.Response, known bool, err error) {
	get := func(data func(st *State) []protocol.Value) (protocol.Response, bool, error) {
		if req.Params.Kind != protocol.Invalid {
			return protocol.Response{}, true, fmt.Errorf("%w: %v takes none", errParams, req.Code)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return protocol.Response{Code: req.Code, Data: data(&p.state)}, true, nil
	}
	do := func(ev event, err error) (protocol.Response, bool, error) {
		if err == nil {
			_, err = p.apply(ev)
		}
		return protocol.Response{}, true, err
	}
	switch req.Code {
	case protocol.GetHostStatus:
		return get(func(st *State) []protocol.Value {
			return protocol.Encode(&protocol.HostStatus{
				State: st.Arm, PhoneNumber: st.AlarmPhones.PanelPhoneNumber, ProductName: st.Host.ProductName,
				MCUHWVersion: st.Host.MCUHWVersion, WiFiHWVersion: st.Host.WiFiHWVersion,
			})
		})
	case protocol.GetHostInfo:
		return get(func(st *State) []protocol.Value { return protocol.Encode(hostInfo(st.Host)) })
	case protocol.GetUserDataCRC:
		return get(p.userDataCRC)
	case protocol.GetHostConfig:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&st.HostConfig) })
	case protocol.GetAlarmPhones:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&st.AlarmPhones) })
	case protocol.GetNoticeFlags:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&protocol.AlertConfig{Flags: st.AlertFlags}) })
	case protocol.GetAPInfo:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&st.NetConfig) })
	case protocol.GetSIA:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&st.SIA) })
	case protocol.GetCID:
		return get(func(st *State) []protocol.Value { return protocol.Encode(&st.CID) })

	case protocol.GetSensorList:
		return pageOf(p, req, func(st *State) []protocol.PeripheralRecord { return st.Sensors }, encodePeripherals)
	case protocol.GetDeviceList:
		return pageOf(p, req, func(st *State) []protocol.PeripheralRecord { return st.Devices }, encodePeripherals)
	case protocol.GetHistory:
		return pageOf(p, req, func(st *State) []protocol.HistoryEntry { return st.History }, historyValues)

	case protocol.SetHostStatus:
		n, err := intArgs(req, 1)
		return do(armEvent{state: protocol.ArmState(n[0])}, err)
	case protocol.SetHostConfig:
		return do(setConfig(req, "host config", func(st *State) protocol.Record { return &st.HostConfig }), nil)
	case protocol.SetAlarmPhones:
		return do(setConfig(req, "alarm phones", func(st *State) protocol.Record { return &st.AlarmPhones }), nil)
	case protocol.SetNoticeFlags:
		n, err := intArgs(req, 1)
		return do(configEvent{name: "alert flags", set: func(st *State) error {
			st.AlertFlags = protocol.AlertFlags(n[0])
			return nil
		}}, err)
	case protocol.SetAPInfo:
		return do(configEvent{name: "net config", set: func(st *State) error {
			// SETAPINFO carries the first 8 fields; the operator code is
			// read-only (spec: local-protocol.md 3.19).
			var c protocol.NetConfig
			if err := decodeExact(&c, req, len(protocol.EncodeWrite(&st.NetConfig))); err != nil {
				return err
			}
			c.GSMOperator, c.HasGSMOperator = st.NetConfig.GSMOperator, st.NetConfig.HasGSMOperator
			st.NetConfig = c
			return nil
		}}, nil)
	case protocol.SetSIA:
		return do(setConfig(req, "SIA", func(st *State) protocol.Record { return &st.SIA }), nil)
	case protocol.SetCID:
		return do(setConfig(req, "CID", func(st *State) protocol.Record { return &st.CID }), nil)

	case protocol.SetSingleSensor:
		rec, err := peripheralArg(req)
		return do(writeEvent{kind: sensorList, rec: rec}, err)
	case protocol.SetSingleDevice:
		rec, err := peripheralArg(req)
		return do(writeEvent{kind: deviceList, rec: rec}, err)
	case protocol.DelSensor:
		n, err := intArgs(req, 1)
		return do(deleteEvent{kind: sensorList, index: n[0]}, err)
	case protocol.DelDevice:
		n, err := intArgs(req, 1)
		return do(deleteEvent{kind: deviceList, index: n[0]}, err)
	case protocol.AddSensor:
		rec, err := peripheralArg(req)
		return do(learnEvent{rec: rec}, err)
	case protocol.AddDevice:
		rec, err := peripheralArg(req)
		return do(announceEvent{rec: rec}, err)
	case protocol.SendRegDeviceResult:
		n, err := intArgs(req, 1)
		if err == nil && n[0] != 0 && n[0] != 1 {
			err = fmt.Errorf("%w: result %d, want 0 or 1", errParams, n[0])
		}
		if err != nil {
			return protocol.Response{}, true, err
		}
		out, err := p.apply(registerEvent{confirm: n[0] == 1})
		if err != nil || !out.stored {
			return protocol.Response{}, true, err
		}
		// spec: local-protocol.md 3.13: data is [<index>]
		return protocol.Response{Code: req.Code, Data: []protocol.Value{protocol.IntValue(out.index)}}, true, nil
	case protocol.ControlDevice:
		n, err := intArgs(req, 3)
		if err == nil && n[1] != 0 && n[1] != 1 {
			err = fmt.Errorf("%w: action %d, want 0 (on) or 1 (off)", errParams, n[1])
		}
		if err != nil {
			return protocol.Response{}, true, err
		}
		// spec: local-protocol.md 3.11: 0 = on, 1 = off
		return do(relayEvent{index: n[0], on: n[1] == 0, node: n[2]}, nil)
	}
	return protocol.Response{}, false, nil
}

// page answers a paginated read (spec: local-protocol.md 4.2): the header
// echoes the requested start and counts the records sent; a start past
// the end gives the empty body; an empty list gives [[0,0,0]], as the
// empty-history capture shows (spec: local-protocol.md 9.6 history.empty).
// pageOf answers a paginated read of list, encoding only the records of
// the page asked for (spec: local-protocol.md 4).
func pageOf[T any](p *Panel, req protocol.Request, list func(st *State) []T, enc func([]T) []protocol.Value) (protocol.Response, bool, error) {
	start, end, err := protocol.ParsePageParams(req)
	if err == nil && (start < 1 || end < start) {
		err = fmt.Errorf("%w: records %d..%d", errParams, start, end)
	}
	if err != nil {
		return protocol.Response{}, true, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	all := list(&p.state)
	total := len(all)
	switch {
	case total == 0:
		return protocol.Response{Code: req.Code, Data: protocol.PageData(protocol.PageHeader{}, nil)}, true, nil
	case start > total:
		return protocol.Response{}, true, nil
	}
	last := min(end, total, start+maxPageRecords-1)
	recs := enc(all[start-1 : last])
	h := protocol.PageHeader{Total: total, Start: start, Count: len(recs)}
	return protocol.Response{Code: req.Code, Data: protocol.PageData(h, recs)}, true, nil
}

func encodePeripherals(list []protocol.PeripheralRecord) []protocol.Value {
	out := make([]protocol.Value, len(list))
	for i := range list {
		out[i] = protocol.ArrayValue(protocol.Encode(&list[i])...)
	}
	return out
}

func hostInfo(h Host) *protocol.HostInfo {
	return &protocol.HostInfo{
		GUID: h.GUID, ProductName: h.ProductName,
		WiFiProtocolVersion: h.WiFiProtocolVersion, CloudProtocolVersion: h.CloudProtocolVersion,
		MCUHWVersion: h.MCUHWVersion, WiFiHWVersion: h.WiFiHWVersion,
		GSMStatus: h.GSMStatus, WiFiStatus: h.WiFiStatus, GPRS3GActive: h.GPRS3GActive,
		WiFiSetupProgress: h.WiFiSetupProgress, BatteryVoltage: h.BatteryVoltage,
		GSMSignalLevel: h.GSMSignalLevel, WiFiSignalLevel: h.WiFiSignalLevel,
	}
}

// userDataCRC checksums each database. Like the firmware, the sensor and
// device checksums change on every call (spec: local-protocol.md 3.4);
// the others only when their list does. Lists the simulator does not have
// (scenes, if-then rules, fingerprint locks) checksum as empty.
// The caller holds p.mu.
func (p *Panel) userDataCRC(st *State) []protocol.Value {
	p.crcCalls++
	sum := func(vs []protocol.Value, salt int) protocol.Value {
		b := protocol.ArrayValue(vs...).AppendJSON(nil)
		if salt != 0 {
			b = strconv.AppendInt(b, int64(salt), 10)
		}
		return protocol.StringValue(strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	}
	return []protocol.Value{
		sum(encodePeripherals(st.Sensors), p.crcCalls),
		sum(encodePeripherals(st.Devices), p.crcCalls),
		sum(historyValues(st.History), 0),
		sum(nil, 0), sum(nil, 0), sum(nil, 0),
	}
}

func historyValues(h []protocol.HistoryEntry) []protocol.Value {
	out := make([]protocol.Value, len(h))
	for i := range h {
		out[i] = protocol.ArrayValue(protocol.Encode(&h[i])...)
	}
	return out
}

// intArgs returns the n integer parameters of req.
func intArgs(req protocol.Request, n int) ([]int, error) {
	out := make([]int, n) // never nil, so callers may index before checking err
	p := req.Params
	if p.Kind != protocol.Array || len(p.Arr) != n {
		return out, fmt.Errorf("%w: %v wants %d integers, got %v", errParams, req.Code, n, p)
	}
	for i, v := range p.Arr {
		if v.Kind != protocol.Int || v.Int < -1<<31 || v.Int > 1<<31-1 {
			return out, fmt.Errorf("%w: %v parameter #%d is %v, want an integer", errParams, req.Code, i, v)
		}
		out[i] = int(v.Int)
	}
	return out, nil
}

// decodeExact decodes the parameters of req into r, which must have
// exactly n fields: a SET writes back as many fields as the GET sent
// (spec: local-protocol.md 3.16, 3.19, 3.20).
func decodeExact(r protocol.Record, req protocol.Request, n int) error {
	p := req.Params
	if p.Kind != protocol.Array || len(p.Arr) != n {
		return fmt.Errorf("%w: %v wants %d fields, got %v", errParams, req.Code, n, p)
	}
	if err := protocol.Decode(r, p.Arr); err != nil {
		return fmt.Errorf("%w: %w", errParams, err)
	}
	return nil
}

// setConfig stores a configuration object of the same shape as the one
// the panel holds. SIA and CID event flags are stored as sent.
func setConfig(req protocol.Request, name string, target func(st *State) protocol.Record) configEvent {
	return configEvent{name: name, set: func(st *State) error {
		cur := target(st)
		n := len(protocol.Encode(cur))
		// Decode into a scratch copy so a bad request leaves the state alone.
		var scratch protocol.Record
		switch cur.(type) {
		case *protocol.HostConfig:
			scratch = &protocol.HostConfig{}
		case *protocol.AlarmPhones:
			scratch = &protocol.AlarmPhones{}
		case *protocol.SIAConfig:
			scratch = &protocol.SIAConfig{}
		case *protocol.CIDConfig:
			scratch = &protocol.CIDConfig{}
		default:
			return fmt.Errorf("sim: no setter for %s", name)
		}
		if err := decodeExact(scratch, req, n); err != nil {
			return err
		}
		return protocol.Decode(cur, protocol.Encode(scratch))
	}}
}

// peripheralArg decodes the 14-field write layout of 103, 140, 156 and 134
// and turns it into the read layout the panel lists: rx, tx and the
// written private_data are not reported back, mask is 0 and private_data
// "" (spec: local-protocol.md 3.5.1, 3.5.2).
func peripheralArg(req protocol.Request) (protocol.PeripheralRecord, error) {
	var w protocol.PeripheralWrite
	if err := decodeExact(&w, req, 14); err != nil {
		return protocol.PeripheralRecord{}, err
	}
	return protocol.PeripheralRecord{
		Name: w.Name, Index: w.Index, RoomID: w.RoomID, TypeID: w.TypeID, Subtype: w.Subtype,
		Timeout: w.Timeout, UserFlags: w.UserFlags, Baudrate: w.Baudrate, ProtocolID: w.ProtocolID,
		ReservedData: w.ReservedData, NodeCount: w.NodeCount,
	}, nil
}

// system handles an AT^IWT command; the panel never answers one
// (spec: local-protocol.md 5.1).
func (p *Panel) system(at string) {
	cmd, err := protocol.ParseSystem(at)
	if err != nil {
		p.logger.Warn("sim: malformed system command", "err", err, "command", at)
		return
	}
	var ev event
	switch cmd.Cmd {
	case protocol.SysMCUReboot:
		ev = rebootEvent{module: moduleMCU}
	case protocol.SysGSMReboot:
		ev = rebootEvent{module: moduleGSM}
	case protocol.SysWiFiReboot:
		ev = rebootEvent{module: moduleWiFi}
	case protocol.SysSetConfiguration:
		primary, secondary, port, err := cmd.ServerAddress()
		if err != nil {
			p.logger.Warn("sim: unsupported configuration command", "err", err, "command", at)
			return
		}
		ev = serverEvent{server: CloudServer{Primary: primary, Secondary: secondary, Port: port}}
	default:
		p.logger.Info("sim: unsupported system command, ignored", "command", at)
		return
	}
	if _, err := p.apply(ev); err != nil {
		p.logger.Warn("sim: system command failed", "command", at, "err", err)
		return
	}
	p.logger.Info("sim: system command", "command", at)
}

// quote renders a datagram for logs, truncated.
func quote(b []byte) string {
	const limit = 200
	if len(b) > limit {
		return strconv.Quote(string(b[:limit])) + "…"
	}
	return strconv.Quote(string(b))
}
