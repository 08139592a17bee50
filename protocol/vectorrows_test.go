package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The rows of TestVectors, one per vector of spec: local-protocol.md 9, in
// the spec's order, and the helpers that rebuild requests from decoded
// records.

// definition is the part of an Appendix A entry a write takes from the
// table (spec: local-protocol.md 3.5.2, Appendix A).
type definition struct {
	typeID, subtype, protocol, baudrate, nodes, reserved, rx, tx int
	private                                                      string
}

// The Appendix A entries the vectors use.
var (
	defDoorWired  = definition{126, 1, 5, 1480, 1, 16, 0, 0, "00"}
	defDoorWRDS01 = definition{1, 3, 0, 0, 1, 0, 0, 0, "00"}
	defSocketS07  = definition{128, 3, 0, 1190, 1, 17, 0, 2, "060A0600"}
	defSocketJDQ  = definition{128, 0, 0, 1480, 4, 17, 0, 2, "0707070B0B0D0D0E0E00"}
)

// modify builds the write layout for SET from a read record (spec 3.5.2):
// baudrate and node count from the read, reserved data, rx, tx and private
// data from the definition.
func modify(t *testing.T, rec PeripheralRecord, def definition) PeripheralWrite {
	t.Helper()
	if rec.TypeID != def.typeID || rec.Subtype != def.subtype || rec.ProtocolID != def.protocol {
		t.Fatalf("record %+v does not match definition %+v", rec, def)
	}
	return PeripheralWrite{
		Name: rec.Name, Index: rec.Index, RoomID: rec.RoomID, TypeID: rec.TypeID,
		Subtype: rec.Subtype, Timeout: rec.Timeout, UserFlags: rec.UserFlags,
		Baudrate: rec.Baudrate, ProtocolID: rec.ProtocolID, ReservedData: def.reserved,
		NodeCount: rec.NodeCount, RX: def.rx, TX: def.tx, PrivateData: def.private,
	}
}

// add builds the write layout of ADDSENSOR/ADDDEVICE from a definition
// (spec 3.9, 3.13).
func add(name string, index, flags int, def definition) PeripheralWrite {
	return PeripheralWrite{
		Name: name, Index: index, TypeID: def.typeID, Subtype: def.subtype,
		UserFlags: flags, Baudrate: def.baudrate, ProtocolID: def.protocol,
		ReservedData: def.reserved, NodeCount: def.nodes, RX: def.rx, TX: def.tx,
		PrivateData: def.private,
	}
}

func writeRequest(code Code, w PeripheralWrite) Request {
	return NewRequest(code, EncodeWrite(&w)...)
}

// userFlagsMask is the user-settable part of user_flags; other bits are
// kept as read (spec: local-protocol.md 3.5.4).
const userFlagsMask = 127

func setUserFlags(old, want int) int { return old&^userFlagsMask | want&userFlagsMask }

// historyWant is one row of the worked example of spec 3.15.6 and the
// decoded values of vector history.ten.
type historyWant struct {
	typ    AlertType
	source AlertSource
	state  HistoryState
	sensor int // -1: none
	time   string
}

func checkHistory(t *testing.T, e HistoryEntry, w historyWant) {
	t.Helper()
	if e.Type != w.typ || e.Source != w.source {
		t.Errorf("%+v: type/source = %v/%v, want %v/%v", e, e.Type, e.Source, w.typ, w.source)
	}
	if got := e.HistoryState(); got != w.state {
		t.Errorf("%+v: HistoryState() = %q, want %q", e, got, w.state)
	}
	idx, ok := e.SensorIndex()
	if w.sensor < 0 && ok || w.sensor >= 0 && (!ok || idx != w.sensor) {
		t.Errorf("%+v: SensorIndex() = %d, %v; want %d", e, idx, ok, w.sensor)
	}
	if w.time != "" {
		if got := time.Unix(int64(e.UnixTime), 0).UTC().Format(time.RFC3339); got != w.time {
			t.Errorf("%+v: time %s, want %s", e, got, w.time)
		}
	}
}

func historyEntries(t *testing.T, p Page) []HistoryEntry {
	t.Helper()
	out := make([]HistoryEntry, len(p.Records))
	for i, v := range p.Records {
		if v.Kind != Array {
			t.Fatalf("record %d is a %v", i+1, v.Kind)
		}
		out[i] = decodeRecord[*HistoryEntry](t, v.Arr)
	}
	return out
}

// alertFields decodes an alert message [208,[type,event_id,source,state,
// name,guid,unix_time,resv4,other]] (spec: local-protocol.md 8) and
// classifies it like a history entry.
func checkAlert(t *testing.T, v Value, w historyWant, guid string) {
	t.Helper()
	if v.Kind != Array || len(v.Arr) != 2 || !v.Arr[0].Equal(IntValue(int(CodeAlert))) || v.Arr[1].Kind != Array || len(v.Arr[1].Arr) != 9 {
		t.Fatalf("alert %v is not [208,[9 fields]]", v)
	}
	f := v.Arr[1].Arr
	// The alert minus GUID and resv4 is a history record (spec 3.15.1).
	hist := []Value{f[0], f[1], f[2], f[3], f[4], f[6], f[8]}
	e := decodeRecord[*HistoryEntry](t, hist)
	checkHistory(t, e, w)
	if !f[5].Equal(StringValue(guid)) {
		t.Errorf("alert GUID %v, want %q", f[5], guid)
	}
	if !e.Other.Equal(jv("")) {
		t.Errorf("alert other = %v, want [\"\"]", e.Other)
	}
}

// notification checks a [170,[kind,[data...]]] message (spec 8).
func wantNotification(t *testing.T, v Value, kind int, data Value) {
	t.Helper()
	if want := jv(int(CodeNotification), jv(kind, data)); !v.Equal(want) {
		t.Errorf("notification %v, want %v", v, want)
	}
}

var vectorRows = []vectorRow{
	// 9.1 Framing and generic response handling.
	{id: "generic.empty_body", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetHostInfo))
	}},
	{id: "generic.fail", replies: []outcome{panelFailure()}},
	{id: "generic.error_with_text", replies: []outcome{panelRejected("dummy")}},
	{id: "generic.missing_code", replies: []outcome{fails(ErrMissingCode)}},
	{id: "generic.missing_data", replies: []outcome{fails(ErrMissingData)}},
	{id: "generic.bad_json", replies: []outcome{syntaxError()}},
	{id: "generic.no_start_marker", replies: []outcome{fails(ErrMissingStartMarker)}},
	{id: "generic.no_end_marker_nul", replies: []outcome{fails(ErrMissingEndMarker)}},
	{id: "generic.invalid_utf8", replies: []outcome{syntaxError()}, check: func(t *testing.T, r *run) {
		// spec 1.5 step 4: the body decodes with replacement; it is
		// still not JSON.
		_, err := ParseValue([]byte("\uFFFDadbeef"))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != 0 {
			t.Errorf("ParseValue(U+FFFD adbeef) error = %v, want a syntax error at 0", err)
		}
	}},
	{id: "generic.wrong_code_then_success", replies: []outcome{dataCode(GetHostConfig), data()}, check: func(t *testing.T, r *run) {
		if !bytes.Equal(r.sends[0], r.sends[1]) {
			t.Error("the retry is not the same datagram")
		}
		if got := ArrayValue(r.data(t, 1)...); !got.Equal(jv("")) {
			t.Errorf("result %v, want [\"\"]", got)
		}
	}},
	{id: "generic.wrong_code_exhausted", replies: []outcome{dataCode(GetHostConfig), dataCode(GetHostConfig)}, check: func(t *testing.T, r *run) {
		if !bytes.Equal(r.sends[0], r.sends[1]) {
			t.Error("the retry is not the same datagram")
		}
	}},
	{id: "generic.timeout", check: func(t *testing.T, r *run) {
		if len(r.sends) != 2 || !bytes.Equal(r.sends[0], r.sends[1]) {
			t.Errorf("want 2 identical requests, got %q", r.sends)
		}
	}},

	// 9.2 Status, information, checksums.
	{id: "host_status", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetHostStatus))
		got := decodeRecord[*HostStatus](t, r.data(t, 0))
		want := HostStatus{State: Disarmed, PhoneNumber: "PHONE", ProductName: "PRODUCT", MCUHWVersion: "206", WiFiHWVersion: "206"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("HostStatus (-want +got):\n%s", diff)
		}
		if got.State.String() != "disarmed" {
			t.Errorf("state %v, want disarmed", got.State)
		}
	}},
	{id: "host_info", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetHostInfo))
		got := decodeRecord[*HostInfo](t, r.data(t, 0))
		want := HostInfo{
			GUID: "DUMMYGUID", ProductName: "DUMMYPRODUCT", WiFiProtocolVersion: "1.2",
			CloudProtocolVersion: "1.1", MCUHWVersion: "206", WiFiHWVersion: "206",
			GSMStatus: 3, WiFiStatus: 3, GPRS3GActive: 0, WiFiSetupProgress: 2,
			BatteryVoltage: "4242", GSMSignalLevel: 50, WiFiSignalLevel: 100,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("HostInfo (-want +got):\n%s", diff)
		}
	}},
	{id: "host_info.empty_guid", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		got := decodeRecord[*HostInfo](t, r.data(t, 0))
		if got.GUID != "" || got.ProductName != "DUMMYPRODUCT" {
			t.Errorf("HostInfo = %+v, want an empty GUID", got)
		}
	}},
	{id: "user_data_crc", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetUserDataCRC))
		got := decodeRecord[*UserDataCRC](t, r.data(t, 0))
		want := UserDataCRC{SensorList: "1", DeviceList: "0xab", HistoryList: "3", SceneList: "4", IFTTTList: "5", FingerprintList: "6"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UserDataCRC (-want +got):\n%s", diff)
		}
	}},

	// 9.3 Arm and disarm.
	{id: "arm_away", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(SetHostStatus, IntValue(int(ArmAway))))
	}},
	{id: "arm_home", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(SetHostStatus, IntValue(int(ArmHome))))
	}},
	{id: "disarm", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(SetHostStatus, IntValue(int(Disarmed))))
	}},

	// 9.4 Sensors.
	{id: "sensors.single", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, PageRequest(GetSensorList, 1, PageSize))
		p := r.page(t, 0)
		if p.PageHeader != (PageHeader{Total: 1, Start: 1, Count: 1}) {
			t.Errorf("header %+v", p.PageHeader)
		}
		want := PeripheralRecord{Name: "Remote", Index: 10, TypeID: 10, Subtype: 1, UserFlags: 32, ReservedData: 16, NodeCount: 1}
		if diff := cmp.Diff(want, pageRecords(t, p)[0]); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
	}},
	{id: "sensors.three_in_one_page", replies: []outcome{records(3)}, check: func(t *testing.T, r *run) {
		recs := pageRecords(t, r.page(t, 0))
		for i, idx := range []int{10, 11, 12} {
			if recs[i].Index != idx {
				t.Errorf("record %d index %d, want %d", i+1, recs[i].Index, idx)
			}
		}
		if recs[2].Name != "Cord 1" || recs[2].ProtocolID != 5 || recs[0].ProtocolID != 0 || recs[1].ProtocolID != 0 {
			t.Errorf("protocols %d %d %d, want 0 0 5 (CORD)", recs[0].ProtocolID, recs[1].ProtocolID, recs[2].ProtocolID)
		}
	}},
	{id: "sensors.two_pages", replies: []outcome{records(10), records(1)}, check: func(t *testing.T, r *run) {
		first := r.page(t, 0)
		// spec 4.4: the second request is clamped to the total learned
		// from the first page.
		r.wantSend(t, 1, PageRequest(GetSensorList, 1+PageSize, first.Total))
		second := r.page(t, 1)
		recs := append(pageRecords(t, first), pageRecords(t, second)...)
		if len(recs) != 11 || first.Total != 11 || second.Start != 11 {
			t.Fatalf("%d records, headers %+v %+v", len(recs), first.PageHeader, second.PageHeader)
		}
		for i, rec := range recs {
			if rec.Index != 10+i || rec.Name != fmt.Sprintf("Remote %d", i+1) {
				t.Errorf("position %d: %+v", i+1, rec)
			}
		}
	}},
	{id: "sensors.clear_enabled", replies: []outcome{records(2), records(1), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 1, PageRequest(GetSensorList, 2, 2))
		listed := pageRecords(t, r.page(t, 0))[1]
		reread := pageRecords(t, r.page(t, 1))[0]
		if !listed.Equal(reread) {
			t.Errorf("re-read %+v differs from %+v", reread, listed)
		}
		w := modify(t, reread, defDoorWired)
		w.UserFlags = setUserFlags(reread.UserFlags, reread.UserFlags&^1) // clear ENABLED
		if w.UserFlags != 62 {
			t.Errorf("user_flags %d, want 62", w.UserFlags)
		}
		r.wantSend(t, 2, writeRequest(SetSingleSensor, w))
	}},
	{id: "sensors.alert_mode_when_away", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.other(t, "sensors.clear_enabled").page(t, 1))[0]
		w := modify(t, rec, defDoorWired)
		w.UserFlags = setUserFlags(rec.UserFlags, rec.UserFlags&^32|64)
		r.wantSend(t, 0, writeRequest(SetSingleSensor, w))
	}},
	{id: "sensors.alert_mode_always", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.other(t, "sensors.clear_enabled").page(t, 1))[0]
		w := modify(t, rec, defDoorWired)
		w.UserFlags = setUserFlags(rec.UserFlags, rec.UserFlags&^(32|64))
		r.wantSend(t, 0, writeRequest(SetSingleSensor, w))
	}},
	{id: "sensors.set_user_flags_masked", replies: []outcome{records(1), records(1), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 1, PageRequest(GetSensorList, 1, 1))
		rec := pageRecords(t, r.page(t, 1))[0]
		w := modify(t, rec, defDoorWired)
		w.UserFlags = setUserFlags(rec.UserFlags, 16|2|512)
		r.wantSend(t, 2, writeRequest(SetSingleSensor, w))
	}},
	{id: "sensors.externally_modified_abort", replies: []outcome{records(2), records(1)}, check: func(t *testing.T, r *run) {
		listed := pageRecords(t, r.page(t, 0))[1]
		reread := pageRecords(t, r.page(t, 1))[0]
		if listed.Equal(reread) {
			t.Errorf("re-read %+v equals the listed record; the vector wants them to differ", reread)
		}
		if len(r.sends) != 2 {
			t.Errorf("%d requests, want no 103 after the re-read", len(r.sends))
		}
	}},
	{id: "sensors.not_found_on_refresh", replies: []outcome{records(2), records(0)}},
	{id: "sensors.unsupported_no_definition", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.page(t, 0))[0]
		if rec.TypeID != 255 || rec.Subtype != 0 || rec.ProtocolID != 0 {
			t.Errorf("definition key (%d,%d,%d), want (255,0,0)", rec.TypeID, rec.Subtype, rec.ProtocolID)
		}
	}},
	{id: "sensors.rename", replies: []outcome{records(1), records(1), empty(), records(1)}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.page(t, 1))[0]
		w := modify(t, rec, defDoorWired)
		w.Name = "Renamed"
		r.wantSend(t, 2, writeRequest(SetSingleSensor, w))
		if after := pageRecords(t, r.page(t, 3))[0]; after.Name != "Renamed" || after.Index != rec.Index {
			t.Errorf("after the rename: %+v", after)
		}
	}},
	{id: "sensors.delete", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(DelSensor, IntValue(10)))
	}},
	{id: "sensors.register", replies: []outcome{records(2), empty(), records(3)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 1, writeRequest(AddSensor, add("Test sensor", 0, 33, defDoorWRDS01)))
		wantNotification(t, r.notifies[0], 4, jv(3, "Test sensor", 1))
		recs := pageRecords(t, r.page(t, 2))
		if got := recs[2]; got.Index != 3 || got.Name != "Test sensor" || got.UserFlags != 33 {
			t.Errorf("registered record %+v, want index 3 named Test sensor", got)
		}
	}},

	// 9.5 Devices.
	{id: "devices.single", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, PageRequest(GetDeviceList, 1, PageSize))
		if rec := pageRecords(t, r.page(t, 0))[0]; rec.Name != "Switch" || rec.NodeCount != 1 {
			t.Errorf("record %+v", rec)
		}
	}},
	{id: "devices.multinode", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		if rec := pageRecords(t, r.page(t, 0))[0]; rec.NodeCount != 2 {
			t.Errorf("node_count %d, want 2", rec.NodeCount)
		}
	}},
	{id: "devices.control_on_off", replies: []outcome{empty(), empty()}, check: func(t *testing.T, r *run) {
		// spec 3.11: action 0 is ON, 1 is OFF.
		r.wantSend(t, 0, NewRequest(ControlDevice, IntValue(10), IntValue(0), IntValue(0)))
		r.wantSend(t, 1, NewRequest(ControlDevice, IntValue(10), IntValue(1), IntValue(0)))
	}},
	{id: "devices.rename", replies: []outcome{records(1), records(1), empty(), records(1)}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.page(t, 1))[0]
		w := modify(t, rec, defSocketS07)
		w.Name = "Renamed socket"
		r.wantSend(t, 2, writeRequest(SetSingleDevice, w))
	}},
	{id: "devices.rename_multinode", replies: []outcome{records(1), records(1), empty(), records(1)}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.page(t, 1))[0]
		w := modify(t, rec, defSocketJDQ)
		w.Name = "Renamed"
		r.wantSend(t, 2, writeRequest(SetSingleDevice, w))
	}},
	{id: "devices.unsupported_no_definition", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		rec := pageRecords(t, r.page(t, 0))[0]
		if rec.TypeID != 7 || rec.Subtype != 0 || rec.ProtocolID != 0 {
			t.Errorf("definition key (%d,%d,%d), want (7,0,0)", rec.TypeID, rec.Subtype, rec.ProtocolID)
		}
	}},
	{id: "devices.delete", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(DelDevice, IntValue(10)))
	}},
	{id: "devices.register", replies: []outcome{records(1), empty(), data(), records(2)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 1, writeRequest(AddDevice, add("Test socket", 0, 1, defSocketS07)))
		r.wantSend(t, 2, NewRequest(SendRegDeviceResult, IntValue(1)))
		if got := ArrayValue(r.data(t, 2)...); !got.Equal(jv(0)) {
			t.Errorf("assigned index %v, want [0]", got)
		}
		// The header [1,1,2] is inconsistent, but count matches the
		// records, which is all the reference checks (spec 4.3 rule 4).
		p := r.page(t, 3)
		if p.PageHeader != (PageHeader{Total: 1, Start: 1, Count: 2}) || pageRecords(t, p)[1].Index != 0 {
			t.Errorf("page %+v", p)
		}
	}},
	{id: "devices.register_no_index", replies: []outcome{records(1), empty(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 2, NewRequest(SendRegDeviceResult, IntValue(1)))
	}},
	{id: "devices.register_multinode", replies: []outcome{records(1), empty(), data(), records(2)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 1, writeRequest(AddDevice, add("Test socket", 0, 1, defSocketJDQ)))
		if rec := pageRecords(t, r.page(t, 3))[1]; rec.NodeCount != 4 {
			t.Errorf("new record node_count %d, want 4", rec.NodeCount)
		}
	}},

	// 9.6 History.
	{id: "history.ten", replies: []outcome{records(10)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, PageRequest(GetHistory, 1, 10))
		p := r.page(t, 0)
		if p.PageHeader != (PageHeader{Total: 50, Start: 1, Count: 10}) {
			t.Errorf("header %+v", p.PageHeader)
		}
		es := historyEntries(t, p)
		// The worked example of spec 3.15.6.
		for i, w := range []historyWant{
			{TypeAlarm, SourceSensor, StateDoorOpen, 33, "2021-08-28T10:41:25Z"},
			{TypeStateChange, SourceDevice, StateDisarm, -1, "2021-08-28T09:27:57Z"},
			{TypeStateChange, SourceDevice, StateArmHome, -1, "2021-08-28T09:27:51Z"},
			{TypeStateChange, SourceDevice, StateArmAway, -1, "2021-08-28T09:25:57Z"},
			{TypeAlarm, SourceSensor, StateDoorOpen, 100, "2021-08-28T09:18:17Z"},
			{TypeAlarm, SourceRemote, StateRemoteSOS, -1, "2024-12-14T11:50:48Z"},
			{TypeHostSOS, SourceDevice, StateNone, -1, "2024-12-14T11:17:29Z"},
			{TypeSensorActivity, SourceRFID, "rfid_card_1", 15, "2026-01-04T11:18:25Z"},
			{TypeAlarm, SourceInfrared, StateTamper, 34, "2026-01-08T20:00:27Z"},
			{TypeAlarm, SourceInfrared, StateMotionDetected, 34, "2026-01-08T20:00:28Z"},
		} {
			checkHistory(t, es[i], w)
			if !es[i].Other.Equal(StringValue("")) {
				t.Errorf("rec%d other = %v", i+1, es[i].Other)
			}
		}
		if es[0].Name != "Sensor 1" || es[9].Name != "Infrared sensor 1" {
			t.Errorf("names %q, %q", es[0].Name, es[9].Name)
		}
		// spec 3.15: the reference sorts by time, newest first.
		order := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		slices.SortStableFunc(order, func(a, b int) int { return es[b].UnixTime - es[a].UnixTime })
		if diff := cmp.Diff([]int{9, 8, 7, 5, 6, 0, 1, 2, 3, 4}, order); diff != "" {
			t.Errorf("newest-first order (-want +got):\n%s", diff)
		}
	}},
	{id: "history.unknown_values", replies: []outcome{records(3)}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, PageRequest(GetHistory, 1, 5))
		es := historyEntries(t, r.page(t, 0))
		if s := es[0].HistoryState(); s != StateUnknown {
			t.Errorf("rec1 state %q, want unknown", s)
		}
		if es[0].Source.Known() || es[1].Source.Known() || es[1].Source.String() != "unknown(254)" {
			t.Errorf("sources %v, %v should be unknown", es[0].Source, es[1].Source)
		}
		if got := es[2].Type.String(); got != "unknown(254)" {
			t.Errorf("rec3 type %s, want unknown(254)", got)
		}
		if s := es[2].HistoryState(); s != StateUnknown {
			t.Errorf("rec3 state %q, want unknown", s)
		}
	}},
	{id: "history.empty", replies: []outcome{records(0)}, check: func(t *testing.T, r *run) {
		if p := r.page(t, 0); p.Total != 0 {
			t.Errorf("header %+v", p.PageHeader)
		}
	}},
	{id: "history.one", replies: []outcome{records(1)}, check: func(t *testing.T, r *run) {
		checkHistory(t, historyEntries(t, r.page(t, 0))[0], historyWant{TypeStateChange, SourceDevice, StateArmHome, -1, ""})
	}},

	// 9.7 Configuration.
	{id: "host_config.save_cellular", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetHostConfig))
		got := decodeRecord[*HostConfig](t, r.data(t, 0))
		want := HostConfig{
			AlarmSirenDuration: 900, BacklightDuration: 1, AlarmVolumeLevel: 2,
			SpeechVolumeLevel: 2, RingDuration: 60, SpeechLanguage: 2,
			TimezoneOffsetM: 60, RingVolumeLevel: ptr(2),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("HostConfig (-want +got):\n%s", diff)
		}
		saveHostConfig(t, r, "alarm_siren_duration", "600")
	}},
	{id: "host_config.save_no_cellular", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		got := decodeRecord[*HostConfig](t, r.data(t, 0))
		if got.RingVolumeLevel != nil || len(Encode(&got)) != 10 {
			t.Errorf("ring volume %v with 10 fields, want none", got.RingVolumeLevel)
		}
		if err := SetField(&got, "ring_volume_level", "1"); err == nil {
			t.Error("SetField(ring_volume_level) succeeded on a panel without it")
		}
		saveHostConfig(t, r, "alarm_siren_duration", "600")
	}},
	{id: "host_config.speech_language_zero_roundtrip", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		if got := decodeRecord[*HostConfig](t, r.data(t, 0)); got.SpeechLanguage != 0 {
			t.Errorf("speech_language %d, want 0", got.SpeechLanguage)
		}
		saveHostConfig(t, r, "", "")
	}},
	{id: "host_config.set_language_chinese_female", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		saveHostConfig(t, r, "speech_language", "3")
	}},
	{id: "alarm_phones.save", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetAlarmPhones))
		got := decodeRecord[*AlarmPhones](t, r.data(t, 0))
		want := AlarmPhones{PanelPassword: "1234", PanelPhoneNumber: "11111111", SMSPushNumbers: [2]string{"87654321", "12345678"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AlarmPhones (-want +got):\n%s", diff)
		}
		rec := decodeRecord[*AlarmPhones](t, r.data(t, 1))
		setAndValidate(t, &rec, "panel_password", "5678")
		r.wantSend(t, 2, NewRequest(SetAlarmPhones, EncodeWrite(&rec)...))
	}},
	{id: "alert_flags.get", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetNoticeFlags))
		if got := decodeRecord[*AlertConfig](t, r.data(t, 0)); got.Flags != AlertACPowerFailure {
			t.Errorf("flags %d, want AC_POWER_FAILURE", got.Flags)
		}
	}},
	{id: "alert_flags.set_bit", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		if got := decodeRecord[*AlertConfig](t, r.data(t, 0)); got.Flags&AlertACPowerFailure == 0 {
			t.Errorf("flags %d lack AC_POWER_FAILURE; the vector sends nothing for it", got.Flags)
		}
		cfg := decodeRecord[*AlertConfig](t, r.data(t, 1))
		cfg.Flags |= AlertHostLowVoltage
		r.wantSend(t, 2, NewRequest(SetNoticeFlags, EncodeWrite(&cfg)...))
	}},
	{id: "alert_flags.sms_push_on_arm", replies: []outcome{data(), empty()}, check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 1, jv(int(ArmAway)))
		cfg := decodeRecord[*AlertConfig](t, r.data(t, 0))
		cfg.Flags |= AlertSMSPush
		r.wantSend(t, 1, NewRequest(SetNoticeFlags, EncodeWrite(&cfg)...))
		cfg.Flags &^= AlertSMSPush // the reverse on disarm
		if got := NewRequest(SetNoticeFlags, EncodeWrite(&cfg)...).Append(nil); string(got) != "ISTART[116,116,[116,[1]]]IEND\x00" {
			t.Errorf("disarm request %q", got)
		}
	}},
	{id: "net_config.save_cellular", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetAPInfo))
		got := decodeRecord[*NetConfig](t, r.data(t, 0))
		want := NetConfig{
			APPassword: "123456789", WiFiEnabled: 1, GPRSEnabled: 1, APNName: "apn.a.net",
			APNUser: "user", APNPassword: "pwd", APNAuth: 3, GSMOperator: "54321", HasGSMOperator: true,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("NetConfig (-want +got):\n%s", diff)
		}
		saveNetConfig(t, r, r, "ap_enabled", "1")
	}},
	{id: "net_config.save_no_cellular", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		if got := decodeRecord[*NetConfig](t, r.data(t, 0)); got.HasGSMOperator || got.GSMOperator != "" {
			t.Errorf("gsm_operator %q present=%v, want absent", got.GSMOperator, got.HasGSMOperator)
		}
		saveNetConfig(t, r, r, "ap_enabled", "1")
	}},
	{id: "net_config.empty_apn_roundtrip", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		saveNetConfig(t, r, r, "", "")
	}},
	{id: "net_config.invalid_apn_auth_kept", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		rec := decodeRecord[*NetConfig](t, r.data(t, 1))
		if rec.APNAuth != 333 {
			t.Errorf("apn_auth %d, want 333", rec.APNAuth)
		}
		// Values read are trusted (spec 3.22); only a change is checked.
		var fe *FieldError
		if err := Validate(&rec); !errors.As(err, &fe) || fe.Field != "apn_auth" {
			t.Errorf("Validate = %v, want a FieldError for apn_auth", err)
		}
		r.wantSend(t, 2, NewRequest(SetAPInfo, EncodeWrite(&rec)...))
	}},
	{id: "net_config.invalid_apn_auth_replaced", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		saveNetConfig(t, r.other(t, "net_config.invalid_apn_auth_kept"), r, "apn_auth", "1")
	}},
	{id: "net_config.rmw_keeps_external_change", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		saveNetConfig(t, r, r, "ap_enabled", "1")
	}},
	{id: "sia.save_with_heartbeat", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetSIA))
		got := decodeRecord[*SIAConfig](t, r.data(t, 0))
		want := SIAConfig{
			Host: "127.0.0.1", Port: 12345, Account: "ACCT1", Receiver: "RCVR1", Prefix: "PFX",
			AESKey: "001122334455667788", Encryption: 1, Enabled: 1, EventFlags: "0000FFFF",
			HeartbeatInterval: ptr(60),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SIAConfig (-want +got):\n%s", diff)
		}
		saveSIA(t, r)
	}},
	{id: "sia.save_without_heartbeat", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		if got := decodeRecord[*SIAConfig](t, r.data(t, 0)); got.HeartbeatInterval != nil {
			t.Errorf("heartbeat %v, want none", *got.HeartbeatInterval)
		}
		saveSIA(t, r)
	}},
	{id: "sia.rmw_takes_fresh_heartbeat", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		if got := decodeRecord[*SIAConfig](t, r.data(t, 1)); got.HeartbeatInterval == nil || *got.HeartbeatInterval != 120 || got.EventFlags != "11111111" {
			t.Errorf("fresh read %+v, want heartbeat 120 and flags 11111111", got)
		}
		saveSIA(t, r)
	}},
	{id: "cid.save", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, NewRequest(GetCID))
		got := decodeRecord[*CIDConfig](t, r.data(t, 0))
		want := CIDConfig{Phone1: "+1234567890", Phone2: "+0987654321", User: "USER1", Enabled: 1, EventFlags: "000F"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CIDConfig (-want +got):\n%s", diff)
		}
		rec := decodeRecord[*CIDConfig](t, r.data(t, 1))
		setAndValidate(t, &rec, "phone1", "+1111111111")
		setAndValidate(t, &rec, "enabled", "0")
		r.wantSend(t, 2, NewRequest(SetCID, EncodeWrite(&rec)...))
	}},
	{id: "cid.rmw_keeps_external_change", replies: []outcome{data(), data(), empty()}, check: func(t *testing.T, r *run) {
		rec := decodeRecord[*CIDConfig](t, r.data(t, 1))
		setAndValidate(t, &rec, "enabled", "0")
		r.wantSend(t, 2, NewRequest(SetCID, EncodeWrite(&rec)...))
	}},

	// 9.8 Pagination edge cases.
	{id: "page.missing_header", replies: []outcome{pageFails(ErrPageHeader)}},
	{id: "page.truncated", replies: []outcome{pageFails(ErrPageCount)}},
	{id: "page.truncated_then_ok", replies: []outcome{pageFails(ErrPageCount), records(1)}, check: func(t *testing.T, r *run) {
		if got := ArrayValue(r.page(t, 1).Records...); !got.Equal(jv(jv(""))) {
			t.Errorf("records %v, want [[\"\"]]", got)
		}
	}},
	{id: "page.fewer_than_requested", replies: []outcome{records(1)}},
	{id: "page.extra", replies: []outcome{pageFails(ErrPageCount)}},
	{id: "page.zero_count", replies: []outcome{records(0)}},
	{id: "page.start_beyond_end", replies: []outcome{empty()}, check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, PageRequest(GetSensorList, 11, 20))
	}},

	// 9.9 System commands.
	{id: "system.mcu_reboot", check: func(t *testing.T, r *run) { wantSystem(t, r, SysMCUReboot) }},
	{id: "system.gsm_reboot", check: func(t *testing.T, r *run) { wantSystem(t, r, SysGSMReboot) }},
	{id: "system.wifi_reboot", check: func(t *testing.T, r *run) { wantSystem(t, r, SysWiFiReboot) }},
	{id: "system.full_reboot", check: func(t *testing.T, r *run) {
		// spec 5.2: GSM, then MCU, then Wi-Fi.
		wantSystem(t, r, SysGSMReboot, SysMCUReboot, SysWiFiReboot)
	}},
	{id: "system.set_cloud_server", check: func(t *testing.T, r *run) {
		r.wantSend(t, 0, SetServerRequest("127.0.0.1", 1234))
		cmd, err := ParseSystem(r.reqs[0].System)
		if err != nil {
			t.Fatal(err)
		}
		p, s, port, err := cmd.ServerAddress()
		if err != nil || p != "127.0.0.1" || s != "127.0.0.1" || port != 1234 {
			t.Errorf("ServerAddress() = %q, %q, %d, %v", p, s, port, err)
		}
	}},

	// 9.10 Discovery.
	{id: "discovery.broadcast", replies: []outcome{data()}, check: func(t *testing.T, r *run) {
		if r.v.Dest != "255.255.255.255:12368" {
			t.Errorf("dest %q", r.v.Dest)
		}
		r.wantSend(t, 0, NewRequest(GetHostInfo))
		if diff := cmp.Diff(HostInfo{GUID: "DUMMYGUID1"}, decodeRecord[*HostInfo](t, r.data(t, 0))); diff != "" {
			t.Errorf("HostInfo (-want +got):\n%s", diff)
		}
	}},
	{id: "discovery.targeted", replies: []outcome{probeAccepted()}, check: func(t *testing.T, r *run) {
		if r.v.Dest != "255.255.255.255:12900" || r.v.Opts["local_port"] != "12901" {
			t.Errorf("dest %q opts %v", r.v.Dest, r.v.Opts)
		}
		if guid, err := ParseProbe(r.sends[0]); err != nil || guid != "DUMMYGUID" {
			t.Errorf("ParseProbe = %q, %v", guid, err)
		}
		got, err := ParseProbeAck(r.replies[0].raw)
		if err != nil {
			t.Fatal(err)
		}
		want := ProbeAck{
			ProductName: "TSV018-3SIA", WiFiProtocolVersion: "1.2", CloudProtocolVersion: "1.1",
			MCUHWVersion: "206", FWVersion: "1.8", GSMStatus: "3", WiFiStatus: "3", ServerStatus: "1",
			Reserved1: "0", Reserved2: "2", GSMSignalLevel: "50", WiFiSignalLevel: "100",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ProbeAck (-want +got):\n%s", diff)
		}
	}},
	{id: "discovery.targeted_bad_marker", replies: []outcome{probeRejected("marker")}},
	{id: "discovery.targeted_no_nul", replies: []outcome{probeRejected("NUL")}},
	{id: "discovery.targeted_invalid_utf8", replies: []outcome{probeRejected("UTF-8")}},

	// 9.11 Notifications.
	{id: "notify.sensor_added", check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 4, jv(3, "Test sensor", 1))
	}},
	{id: "notify.arm_away", check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 1, jv(int(ArmAway)))
	}},
	{id: "notify.disarm", check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 1, jv(int(Disarmed)))
	}},
	{id: "notify.sensor_activity", check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 5, jv(10, "Remote"))
	}},
	{id: "notify.door_open_when_arming", check: func(t *testing.T, r *run) {
		wantNotification(t, r.notifies[0], 6, jv(21, "Hall"))
	}},
	{id: "alert.door_open", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeSensorActivity, SourceSensor, StateDoorOpen, 100, "2021-09-13T14:59:49Z"}, "DUMMYGUID")
	}},
	{id: "alert.door_close", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeSensorActivity, SourceSensor, StateDoorClose, 100, ""}, "DUMMYGUID")
	}},
	{id: "alert.host_sos", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeHostSOS, SourceDevice, StateNone, -1, ""}, "DUMMYGUID")
	}},
	{id: "alert.remote_sos", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeAlarm, SourceRemote, StateRemoteSOS, -1, ""}, "DUMMYGUID")
	}},
	{id: "alert.infrared_motion_alarm", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeAlarm, SourceInfrared, StateMotionDetected, 103, ""}, "DUMMYGUID")
	}},
	{id: "alert.state_change_arm_away", check: func(t *testing.T, r *run) {
		checkAlert(t, r.notifies[0], historyWant{TypeStateChange, SourceDevice, StateArmAway, -1, ""}, "DUMMYGUID")
	}},
}

// setAndValidate applies a user's change the way a client does: SetField,
// then Validate (spec: local-protocol.md 3.22).
func setAndValidate(t *testing.T, rec Record, name, text string) {
	t.Helper()
	if name == "" {
		return
	}
	if err := SetField(rec, name, text); err != nil {
		t.Fatalf("SetField(%s, %q): %v", name, text, err)
	}
	if err := Validate(rec); err != nil {
		t.Fatalf("Validate after setting %s: %v", name, err)
	}
}

// saveHostConfig checks the GET, GET, SET of a host config save (spec
// 3.22): the SET is the second read with one field changed, with as many
// fields as were read.
func saveHostConfig(t *testing.T, r *run, name, text string) {
	t.Helper()
	r.wantSend(t, 1, NewRequest(GetHostConfig))
	rec := decodeRecord[*HostConfig](t, r.data(t, 1))
	setAndValidate(t, &rec, name, text)
	w := EncodeWrite(&rec)
	if len(w) != len(r.data(t, 1)) {
		t.Errorf("write has %d fields, read had %d", len(w), len(r.data(t, 1)))
	}
	r.wantSend(t, 2, NewRequest(SetHostConfig, w...))
}

// saveNetConfig checks a net config SET built from the second read of
// from: gsm_operator is never written (spec 3.19).
func saveNetConfig(t *testing.T, from, r *run, name, text string) {
	t.Helper()
	rec := decodeRecord[*NetConfig](t, from.data(t, 1))
	setAndValidate(t, &rec, name, text)
	w := EncodeWrite(&rec)
	if len(w) != 8 {
		t.Errorf("write has %d fields, want 8", len(w))
	}
	r.wantSend(t, len(r.sends)-1, NewRequest(SetAPInfo, w...))
}

// saveSIA checks a SIA save turning encryption off: event_flags is
// forced to FFFFFFFF and the heartbeat is written only if read (spec
// 3.20).
func saveSIA(t *testing.T, r *run) {
	t.Helper()
	rec := decodeRecord[*SIAConfig](t, r.data(t, 1))
	setAndValidate(t, &rec, "encryption", "0")
	r.wantSend(t, 2, NewRequest(SetSIA, EncodeWrite(&rec)...))
	if rec.EventFlags == "FFFFFFFF" {
		t.Error("EncodeWrite changed the record's event_flags")
	}
}

// wantSystem checks the vector's sends are the given system commands.
func wantSystem(t *testing.T, r *run, cmds ...int) {
	t.Helper()
	if len(r.sends) != len(cmds) || len(r.replies) != 0 {
		t.Fatalf("%d sends and %d replies, want %d sends and no reply", len(r.sends), len(r.replies), len(cmds))
	}
	for i, c := range cmds {
		r.wantSend(t, i, SystemRequest(c, ""))
		got, err := ParseSystem(r.reqs[i].System)
		if err != nil || got != (SystemCommand{Cmd: c}) {
			t.Errorf("ParseSystem(%q) = %+v, %v; want command %d", r.reqs[i].System, got, err, c)
		}
	}
}
