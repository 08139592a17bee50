package notify

import (
	"errors"
	"testing"

	"github.com/g90alarm/g90/protocol"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeErrors covers the shape errors the vectors do not: each names
// the record, and the field and its position when one is wrong.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		text, record, field string
		pos                 int
	}{
		{`"x"`, "message", "", -1},
		{`[170,[1,[1]],3]`, "message", "", -1},
		{`["170",[1,[1]]]`, "message", "code", 0},
		{`[1.5,[1,[1]]]`, "message", "code", 0},
		{`[170,"x"]`, "notification", "", -1},
		{`[170,[1,[1],2]]`, "notification", "", -1},
		{`[170,[null,[1]]]`, "notification", "kind", 0},
		{`[170,[1,1]]`, "arm/disarm", "", -1},
		{`[170,[1,[]]]`, "arm/disarm", "", -1},
		{`[170,[1,["1"]]]`, "arm/disarm", "state", 0},
		{`[170,[4,[1,"a"]]]`, "sensor change", "", -1},
		{`[170,[4,[1,"a","1"]]]`, "sensor change", "action", 2},
		{`[170,[5,[1,2]]]`, "sensor activity", "sensor_name", 1},
		{`[170,[5,[99999999999999999999,"a"]]]`, "sensor activity", "sensor_index", 0},
		{`[170,[6,["1","a"]]]`, "door open when arming", "sensor_index", 0},
		{`[208,{}]`, "alert", "", -1},
		{`[208,[1,2,3,4,"a","g",1,0]]`, "alert", "", -1},
		{`[208,[1,2,3,4,"a","g",1,0,[""],5]]`, "alert", "", -1},
		{`[208,["4",2,3,4,"a","g",1,0,[""]]]`, "alert", "type", 0},
		{`[208,[4,true,3,4,"a","g",1,0,[""]]]`, "alert", "event_id", 1},
		{`[208,[4,2,[3],4,"a","g",1,0,[""]]]`, "alert", "source", 2},
		{`[208,[4,2,3,-1e3,"a","g",1,0,[""]]]`, "alert", "state", 3},
		{`[208,[4,2,3,4,5,"g",1,0,[""]]]`, "alert", "zone_name", 4},
		{`[208,[4,2,3,4,"a",null,1,0,[""]]]`, "alert", "device_id", 5},
		{`[208,[4,2,3,4,"a","g","1",0,[""]]]`, "alert", "unix_time", 6},
	} {
		m, err := Decode(append([]byte(tc.text), 0))
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%s) = %+v, %v; want a malformed-message DecodeError", tc.text, m, err)
			continue
		}
		if de.Record != tc.record || de.Field != tc.field || de.Pos != tc.pos || de.Offset != -1 {
			t.Errorf("Decode(%s): %q: record %q field %q pos %d offset %d, want %q %q %d -1",
				tc.text, err, de.Record, de.Field, de.Pos, de.Offset, tc.record, tc.field, tc.pos)
		}
	}
}

func TestDecodeErrorText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[208,[4,2,3,4,5,\"g\",1,0,[\"\"]]]\x00", `notify: malformed message: alert field zone_name (#4): want a string, got int 5`},
		{"[208,[]]\x00", `notify: malformed message: alert: want 9 fields, got 0`},
		{"[170,[1,[1]]]", `notify: missing end marker at byte 13: datagram does not end with a NUL byte`},
		{"[170,[1,[1]]]\x00\x00", `notify: invalid JSON at byte 13: unexpected '\x00' after the value`},
	} {
		_, err := Decode([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Decode(%q) error %q, want %q", tc.in, err, tc.want)
		}
	}
	_, err := Decode([]byte("[1\x00"))
	var se *protocol.SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
		t.Errorf("Decode of broken JSON: %v; want ErrSyntax wrapping a *protocol.SyntaxError", err)
	}
}

// TestDecodeLenient: what the spec lets through that a strict decoder
// would reject.
func TestDecodeLenient(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Message
	}{
		{ // white space anywhere JSON allows it (spec: A.2 step 3)
			" [ 170 ,\n[ 5,\t[ 7 , \"Hall\" ] ] ]\r\n\x00",
			Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindSensorActivity, Index: 7, Name: "Hall"}},
		},
		{ // a name with a byte that is not UTF-8 (spec: local-protocol.md 1.5 step 4)
			"[170,[6,[2,\"K\xfcche\"]]]\x00",
			Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindDoorOpenWhenArming, Index: 2, Name: "K\uFFFDche"}},
		},
		{ // ignored alert fields of any type (spec: A.4 reserved, other)
			"[208,[4,1,1,1,\"a\",\"g\",5,\"x\",{\"k\":[1]}]]\x00",
			Message{Code: protocol.CodeAlert, Alert: Alert{Type: 4, EventID: 1, Source: 1, State: 1, Name: "a", GUID: "g", UnixTime: 5,
				Reserved: protocol.StringValue("x"), Other: protocol.Value{Kind: protocol.Literal, Str: `{"k":[1]}`}}},
		},
		{ // an unknown code, kind or type keeps its raw data
			"[171,{\"a\":null}]\x00",
			Message{Code: 171, Data: protocol.Value{Kind: protocol.Literal, Str: `{"a":null}`}},
		},
		{
			"[170,[9,[1,\"x\",[]]]]\x00",
			Message{Code: protocol.CodeNotification, Notification: Notification{Kind: 9,
				Payload: protocol.ArrayValue(protocol.IntValue(1), protocol.StringValue("x"), protocol.ArrayValue())}},
		},
		{ // firmware updating: opaque payload (spec: B.9, G.3)
			"[170,[8,\"50%\"]]\x00",
			Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindFirmwareUpdating, Payload: protocol.StringValue("50%")}},
		},
		{ // an out-of-range arm state decodes (spec: A.3 notes)
			"[170,[1,[-3]]]\x00",
			Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindArmDisarm, State: -3}},
		},
	} {
		m, err := Decode([]byte(tc.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, m); diff != "" {
			t.Errorf("Decode(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// TestAppend covers messages built by hand, as the simulator builds them:
// the zero Value of an opaque field gets the observed wire value.
func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Code: protocol.CodeAlert, Alert: Alert{Type: 4, EventID: 100, Source: 1, State: 1, Name: "Door", GUID: "G", UnixTime: 1631545189}},
			`[208,[4,100,1,1,"Door","G",1631545189,0,[""]]]`},
		{Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindSensorChange, Index: 3, Name: "Küche \"1\"", Action: 1}},
			`[170,[4,[3,"K\u00fcche \"1\"",1]]]`},
		{Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindArmDisarm, State: protocol.Disarmed}},
			`[170,[1,[3]]]`},
		{Message{Code: protocol.CodeNotification, Notification: Notification{Kind: KindFirmwareUpdating}}, `[170,[8,[]]]`},
		{Message{Code: 999}, `[999,[]]`},
	} {
		got := tc.m.Append([]byte("x"))
		if string(got) != "x"+tc.want+"\x00" {
			t.Errorf("Append = %q, want %q", got, tc.want+"\x00")
			continue
		}
		back, err := Decode(got[1:])
		if err != nil {
			t.Errorf("Decode(Append) of %s: %v", tc.want, err)
		}
		if back.Code == protocol.CodeAlert && (back.Alert.Name != tc.m.Alert.Name || back.Alert.UnixTime != tc.m.Alert.UnixTime) {
			t.Errorf("Decode(Append) = %+v, want %+v", back, tc.m)
		}
		if back.Code == protocol.CodeNotification && back.Notification.Name != tc.m.Notification.Name {
			t.Errorf("Decode(Append) name %q, want %q", back.Notification.Name, tc.m.Notification.Name)
		}
	}
}

func TestKindString(t *testing.T) {
	if got := KindDoorOpenWhenArming.String(); got != "door open when arming" {
		t.Errorf("String = %q", got)
	}
	if got := Kind(42).String(); got != "kind(42)" || Kind(42).Known() || !KindFirmwareUpdating.Known() {
		t.Errorf("Kind(42) = %q, Known %v", got, Kind(42).Known())
	}
}
