package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func hostConfig11() HostConfig {
	return HostConfig{
		AlarmSirenDuration: 900, BacklightDuration: 1, AlarmVolumeLevel: 2,
		SpeechVolumeLevel: 2, RingDuration: 60, SpeechLanguage: 2,
		TimezoneOffsetM: 60, RingVolumeLevel: ptr(2),
	}
}

func wantFieldError(t *testing.T, err error, field string, msg ...string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a *FieldError for %s", err, field)
	}
	if fe.Field != field {
		t.Errorf("error names field %q, want %q (%v)", fe.Field, field, err)
	}
	for _, m := range append(msg, field) {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

// The ranges of spec: local-protocol.md 7.3.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rec   Record
		field string // "" means valid
		msg   []string
	}{
		{"host config as read", ptr(hostConfig11()), "", nil},
		{"siren 999", func() Record { c := hostConfig11(); c.AlarmSirenDuration = 999; return &c }(), "", nil},
		{"siren 1000", func() Record { c := hostConfig11(); c.AlarmSirenDuration = 1000; return &c }(), "alarm_siren_duration", []string{"1000", "0..999", "#0"}},
		{"siren -1", func() Record { c := hostConfig11(); c.AlarmSirenDuration = -1; return &c }(), "alarm_siren_duration", []string{"0..999"}},
		{"arm delay 256", func() Record { c := hostConfig11(); c.ArmDelay = 256; return &c }(), "arm_delay", []string{"0..255"}},
		{"language 19", func() Record { c := hostConfig11(); c.SpeechLanguage = 19; return &c }(), "speech_language", []string{"0..18"}},
		{"language 0", func() Record { c := hostConfig11(); c.SpeechLanguage = 0; return &c }(), "", nil},
		{"timezone -720", func() Record { c := hostConfig11(); c.TimezoneOffsetM = -720; return &c }(), "", nil},
		{"timezone 721", func() Record { c := hostConfig11(); c.TimezoneOffsetM = 721; return &c }(), "timezone_offset_m", []string{"-720..720"}},
		{"ring volume 3", func() Record { c := hostConfig11(); c.RingVolumeLevel = ptr(3); return &c }(), "ring_volume_level", []string{"0..2", "#10"}},
		{"no ring volume", func() Record { c := hostConfig11(); c.RingVolumeLevel = nil; return &c }(), "", nil},

		{"password 4", &AlarmPhones{PanelPassword: "1234"}, "", nil},
		{"password of 4 Cyrillic letters", &AlarmPhones{PanelPassword: "Двер"}, "panel_password", []string{"want digits only"}},
		{"password 0x10", &AlarmPhones{PanelPassword: "0x10"}, "panel_password", []string{`"0x10": want digits only`}},
		{"phone with +", &AlarmPhones{PanelPassword: "1234", PhoneNumbers: [6]string{0: "+4915112345678"}}, "", nil},
		{"phone in letters", &AlarmPhones{PanelPassword: "1234", PhoneNumbers: [6]string{1: "名前テスト"}}, "phone_number_2", []string{"want a phone number"}},
		{"phone with + inside", &AlarmPhones{PanelPassword: "1234", SMSPushNumbers: [2]string{0: "49+151"}}, "sms_push_number_1", []string{"want a phone number"}},
		{"password 3", &AlarmPhones{PanelPassword: "123"}, "panel_password", []string{"length 3", "exactly 4 characters"}},
		{"password 5", &AlarmPhones{PanelPassword: "12345"}, "panel_password", []string{"exactly 4"}},
		{"phone 15", &AlarmPhones{PanelPassword: "1234", PhoneNumbers: [6]string{5: "123456789012345"}}, "phone_number_6", []string{"length 15", "0..14 characters"}},
		{"push number 15", &AlarmPhones{PanelPassword: "1234", SMSPushNumbers: [2]string{1: "123456789012345"}}, "sms_push_number_2", []string{"0..14"}},

		{"net config", &NetConfig{APPassword: "123456789", APNAuth: 3}, "", nil},
		{"AP password 8", &NetConfig{APPassword: "12345678"}, "ap_password", []string{"9..64"}},
		{"apn_auth 333", &NetConfig{APPassword: "123456789", APNAuth: 333}, "apn_auth", []string{"333", "0..3"}},
		{"ap_enabled 2", &NetConfig{APEnabled: 2, APPassword: "123456789"}, "ap_enabled", []string{"0..1"}},
		{"apn name 101", &NetConfig{APPassword: "123456789", APNName: strings.Repeat("a", 101)}, "apn_name", []string{"0..100"}},

		{"SIA", &SIAConfig{Port: 65535, EventFlags: "0000FFFF", HeartbeatInterval: ptr(1)}, "", nil},
		{"SIA port", &SIAConfig{Port: 65536}, "port", []string{"0..65535"}},
		{"SIA host 24", &SIAConfig{Host: strings.Repeat("h", 24)}, "host", []string{"0..23"}},
		{"SIA flags 9", &SIAConfig{EventFlags: "0000FFFFF"}, "event_flags", []string{"0..8"}},

		{"CID", &CIDConfig{User: "1234567", EventFlags: "000F"}, "", nil},
		{"CID user 8", &CIDConfig{User: "12345678"}, "user", []string{"0..7"}},
		{"CID phone", &CIDConfig{Phone1: "0800-123"}, "phone1", []string{"want a phone number"}},
		{"CID enabled 2", &CIDConfig{Enabled: 2}, "enabled", []string{"0..1"}},

		// Records without write ranges always pass.
		{"history entry", &HistoryEntry{Type: 254, State: -5}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.rec)
			if tc.field == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			wantFieldError(t, err, tc.field, tc.msg...)
		})
	}
}

func TestSetField(t *testing.T) {
	c := hostConfig11()
	if err := SetField(&c, "alarm_siren_duration", "600"); err != nil || c.AlarmSirenDuration != 600 {
		t.Errorf("SetField(alarm_siren_duration) = %v, value %d", err, c.AlarmSirenDuration)
	}
	if err := SetField(&c, "timezone_offset_m", "-60"); err != nil || c.TimezoneOffsetM != -60 {
		t.Errorf("SetField(timezone_offset_m) = %v, value %d", err, c.TimezoneOffsetM)
	}
	if err := SetField(&c, "ring_volume_level", "0"); err != nil || *c.RingVolumeLevel != 0 {
		t.Errorf("SetField(ring_volume_level) = %v", err)
	}
	// SetField does not validate; Validate does.
	if err := SetField(&c, "arm_delay", "9999"); err != nil {
		t.Errorf("SetField(arm_delay, 9999) = %v", err)
	}
	wantFieldError(t, Validate(&c), "arm_delay")

	n := NetConfig{APPassword: "123456789", GSMOperator: "54321", HasGSMOperator: true}
	if err := SetField(&n, "apn_name", "Дверь"); err != nil || n.APNName != "Дверь" {
		t.Errorf("SetField(apn_name) = %v, value %q", err, n.APNName)
	}

	for _, tc := range []struct {
		name        string
		rec         Record
		field, text string
		msg         string
	}{
		{"unknown field", ptr(hostConfig11()), "siren", "600", "no such field"},
		{"not an integer", ptr(hostConfig11()), "arm_delay", "ten", `want an integer, got "ten"`},
		{"float", ptr(hostConfig11()), "arm_delay", "1.5", "want an integer"},
		{"empty", ptr(hostConfig11()), "arm_delay", "", "want an integer"},
		{"read-only gsm_operator", &n, "gsm_operator", "1", "read-only"},
		{"absent ring volume", &HostConfig{}, "ring_volume_level", "1", "not supported by this panel"},
		{"absent heartbeat", &SIAConfig{}, "heartbeat_interval", "60", "not supported by this panel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SetField(tc.rec, tc.field, tc.text)
			wantFieldError(t, err, tc.field, tc.msg)
		})
	}
	if n.GSMOperator != "54321" {
		t.Errorf("failed SetField changed gsm_operator to %q", n.GSMOperator)
	}
}

func TestDecodeExtraFields(t *testing.T) {
	// Newer firmware may append fields; they survive a read-modify-write.
	data := []Value{IntValue(900), IntValue(0), IntValue(0), IntValue(1), IntValue(2), IntValue(2), IntValue(60), IntValue(2), IntValue(0), IntValue(60), IntValue(2), IntValue(7), StringValue("new")}
	var c HostConfig
	if err := Decode(&c, data); err != nil {
		t.Fatal(err)
	}
	if got := ArrayValue(c.Extra...); !got.Equal(jv(7, "new")) {
		t.Errorf("Extra = %v, want [7,\"new\"]", got)
	}
	if got := ArrayValue(Encode(&c)...); !got.Equal(ArrayValue(data...)) {
		t.Errorf("Encode = %v, want %v", got, ArrayValue(data...))
	}
	if got := ArrayValue(EncodeWrite(&c)...); !got.Equal(ArrayValue(data...)) {
		t.Errorf("EncodeWrite = %v, want %v", got, ArrayValue(data...))
	}
	// The decoded Extra does not alias the caller's data.
	data[11] = IntValue(8)
	if !c.Extra[0].Equal(IntValue(7)) {
		t.Error("Extra aliases the decoded data")
	}

	// Net config: extras follow the read-only gsm_operator, so they are
	// read but, like it, never written (spec: local-protocol.md 3.19).
	nd := []Value{IntValue(0), StringValue("123456789"), IntValue(1), IntValue(1), StringValue("apn"), StringValue("u"), StringValue("p"), IntValue(3), StringValue("54321"), IntValue(5)}
	var n NetConfig
	if err := Decode(&n, nd); err != nil {
		t.Fatal(err)
	}
	if !ArrayValue(n.Extra...).Equal(jv(5)) || !ArrayValue(Encode(&n)...).Equal(ArrayValue(nd...)) {
		t.Errorf("Extra %v, Encode %v", ArrayValue(n.Extra...), ArrayValue(Encode(&n)...))
	}
	if w := EncodeWrite(&n); !ArrayValue(w...).Equal(ArrayValue(nd[:8]...)) {
		t.Errorf("EncodeWrite = %v, want the first 8 fields", ArrayValue(w...))
	}

	// Decoding a shorter reply into the same record forgets the extras.
	if err := Decode(&c, data[:10]); err != nil {
		t.Fatal(err)
	}
	if c.Extra != nil || c.RingVolumeLevel != nil {
		t.Errorf("after a 10-field decode: Extra %v, ring volume %v", c.Extra, c.RingVolumeLevel)
	}
}

// An optional field absent from a later reply must not keep the value of
// an earlier one.
func TestDecodeForgetsAbsentOptional(t *testing.T) {
	nine := []Value{IntValue(0), StringValue("123456789"), IntValue(1), IntValue(1), StringValue(""), StringValue(""), StringValue(""), IntValue(3), StringValue("54321")}
	var n NetConfig
	if err := Decode(&n, nine); err != nil || n.GSMOperator != "54321" || !n.HasGSMOperator {
		t.Fatalf("9-field decode: %v, %+v", err, n)
	}
	if err := Decode(&n, nine[:8]); err != nil {
		t.Fatal(err)
	}
	var fresh NetConfig
	if err := Decode(&fresh, nine[:8]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fresh, n); diff != "" {
		t.Errorf("re-decode differs from a fresh decode (-fresh +reused):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	hostInfo := []Value{StringValue("GUID"), StringValue("P"), StringValue("1.2"), StringValue("1.1"), StringValue("206"), StringValue("206"), IntValue(3), IntValue(3), IntValue(0), IntValue(2), StringValue("4242"), IntValue(50), IntValue(100)}
	with := func(i int, v Value) []Value {
		d := append([]Value(nil), hostInfo...)
		d[i] = v
		return d
	}
	for _, tc := range []struct {
		name  string
		data  []Value
		field string
		msg   string
	}{
		{"int for string", with(0, IntValue(1)), "host_guid", "want string, got int 1"},
		{"string for int", with(6, StringValue("3")), "gsm_status", `want int, got string "3"`},
		{"array for int", with(12, jv(1)), "wifi_signal_level", "want int, got array [1]"},
		{"literal for int", with(11, Value{Kind: Literal, Str: "50.5"}), "gsm_signal_level", "want int, got literal 50.5"},
		{"int beyond 32 bits", with(7, Value{Kind: Int, Int: 1 << 40}), "wifi_status", "out of range"},
		{"too few fields", hostInfo[:12], "wifi_signal_level", "missing (12 fields received)"},
		{"no fields", nil, "host_guid", "missing (0 fields received)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h HostInfo
			err := Decode(&h, tc.data)
			wantFieldError(t, err, tc.field, tc.msg, "host info")
		})
	}
	// Optional fields are optional only at the end.
	var c HostConfig
	wantFieldError(t, Decode(&c, []Value{IntValue(1)}), "arm_delay", "missing")
	var s SIAConfig
	wantFieldError(t, Decode(&s, []Value{StringValue("h"), IntValue(1), StringValue(""), StringValue(""), StringValue(""), StringValue(""), IntValue(0), IntValue(0), StringValue(""), StringValue("60")}), "heartbeat_interval", "want int")
}

func TestMarshalRecord(t *testing.T) {
	c := hostConfig11()
	c.Extra = []Value{IntValue(7)}
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"host config", &c, `{"alarm_siren_duration":900,"arm_delay":0,"alarm_delay":0,"backlight_duration":1,"alarm_volume_level":2,"speech_volume_level":2,"ring_duration":60,"speech_language":2,"key_tone_volume_level":0,"timezone_offset_m":60,"ring_volume_level":2,"extra":[7]}`},
		{"host config without ring volume", &HostConfig{TimezoneOffsetM: -60}, `{"alarm_siren_duration":0,"arm_delay":0,"alarm_delay":0,"backlight_duration":0,"alarm_volume_level":0,"speech_volume_level":0,"ring_duration":0,"speech_language":0,"key_tone_volume_level":0,"timezone_offset_m":-60}`},
		{"net config with operator", &NetConfig{APPassword: "Дверь\"", APNAuth: 333, GSMOperator: "54321", HasGSMOperator: true}, `{"ap_enabled":0,"ap_password":"Дверь\"","wifi_enabled":0,"gprs_enabled":0,"apn_name":"","apn_user":"","apn_password":"","apn_auth":333,"gsm_operator":"54321"}`},
		{"net config without operator", &NetConfig{GSMOperator: "stale"}, `{"ap_enabled":0,"ap_password":"","wifi_enabled":0,"gprs_enabled":0,"apn_name":"","apn_user":"","apn_password":"","apn_auth":0}`},
		{"SIA with heartbeat", &SIAConfig{HeartbeatInterval: ptr(60)}, `{"host":"","port":0,"account":"","receiver":"","prefix":"","aes_key":"","encryption":0,"enabled":0,"event_flags":"","heartbeat_interval":60}`},
		{"CID", &CIDConfig{Phone1: "+1", EventFlags: "000F"}, `{"phone1":"+1","phone2":"","user":"","enabled":0,"event_flags":"000F"}`},
		{"alert flags", &AlertConfig{Flags: 9}, `{"flags":9}`},
		{"history entry", &HistoryEntry{Type: 3, Name: "x", Other: jv("")}, `{"type":3,"event_id":0,"source":0,"state":0,"name":"x","unix_time":0,"other":[""]}`},
		{"only extras", &AlertConfig{Extra: []Value{StringValue("é")}}, `{"flags":0,"extra":["\u00e9"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalRecord(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("MarshalRecord (-want +got):\n%s", diff)
			}
			if !json.Valid(got) {
				t.Errorf("MarshalRecord gave invalid JSON %s", got)
			}
		})
	}
	// The MarshalJSON methods go through MarshalRecord.
	got, err := json.Marshal(&UserDataCRC{SensorList: "1", DeviceList: "0xab"})
	if want := `{"sensor_list":"1","device_list":"0xab","history_list":"","scene_list":"","ifttt_list":"","fingerprint_list":""}`; err != nil || string(got) != want {
		t.Errorf("json.Marshal(UserDataCRC) = %s, %v; want %s", got, err, want)
	}
}

func TestFields(t *testing.T) {
	var names []string
	for _, f := range Fields(&NetConfig{}) {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"ap_enabled", "ap_password", "wifi_enabled", "gprs_enabled", "apn_name", "apn_user", "apn_password", "apn_auth", "gsm_operator"}, names); diff != "" {
		t.Errorf("NetConfig field names (-want +got):\n%s", diff)
	}
	fs := Fields(&NetConfig{})
	if f := fs[1]; f.Kind != FieldString || !f.Ranged || f.Min != 9 || f.Max != 64 {
		t.Errorf("ap_password info %+v", f)
	}
	if f := fs[8]; !f.Optional || !f.ReadOnly || f.Kind != FieldString {
		t.Errorf("gsm_operator info %+v", f)
	}
	sia := Fields(&SIAConfig{})
	if f := sia[8]; f.Name != "event_flags" || f.WriteAs != "FFFFFFFF" {
		t.Errorf("SIA event_flags info %+v", f)
	}
	if f := sia[9]; f.Name != "heartbeat_interval" || !f.Optional || f.Ranged {
		t.Errorf("SIA heartbeat info %+v", f)
	}
	if f := Fields(&CIDConfig{})[4]; f.WriteAs != "FFFF" {
		t.Errorf("CID event_flags info %+v", f)
	}
	if f := Fields(&HistoryEntry{})[6]; f.Name != "other" || f.Kind != FieldAny {
		t.Errorf("history other info %+v", f)
	}
	for _, tc := range []struct {
		rec Record
		n   int
	}{
		{&HostStatus{}, 5}, {&HostInfo{}, 13}, {&UserDataCRC{}, 6}, {&HostConfig{}, 11},
		{&AlarmPhones{}, 10}, {&AlertConfig{}, 1}, {&NetConfig{}, 9}, {&SIAConfig{}, 10},
		{&CIDConfig{}, 5}, {&HistoryEntry{}, 7}, {&PeripheralRecord{}, 13}, {&PeripheralWrite{}, 14},
	} {
		if got := len(Fields(tc.rec)); got != tc.n {
			t.Errorf("%T has %d fields, want %d", tc.rec, got, tc.n)
		}
	}
}

func TestFieldErrorText(t *testing.T) {
	err := &FieldError{Record: "host config", Field: "arm_delay", Pos: 1, Msg: "300 is outside 0..255"}
	if got, want := err.Error(), "protocol: host config field arm_delay (#1): 300 is outside 0..255"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestArmState(t *testing.T) {
	for s, name := range map[ArmState]string{ArmAway: "away", ArmHome: "home", Disarmed: "disarmed", ArmAlarm: "alarm"} {
		if s.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(s), s, name)
		}
		if got, ok := ParseArmState(name); !ok || got != s {
			t.Errorf("ParseArmState(%q) = %v, %v", name, got, ok)
		}
	}
	for s, want := range map[ArmState]string{0: "unknown(0)", 5: "unknown(5)", -1: "unknown(-1)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s, want)
		}
	}
	for _, name := range []string{"", "unknown(0)", "Away"} {
		if _, ok := ParseArmState(name); ok {
			t.Errorf("ParseArmState(%q) succeeded", name)
		}
	}
}

func TestPeripheralRecordEqual(t *testing.T) {
	a := PeripheralRecord{Name: "Cord 2", Index: 10, TypeID: 126, UserFlags: 33}
	b := a
	if !a.Equal(b) {
		t.Error("copy differs")
	}
	b.UserFlags = 1
	if a.Equal(b) {
		t.Error("records with different user_flags are equal")
	}
	b = a
	b.Extra = []Value{IntValue(0)}
	if a.Equal(b) {
		t.Error("records with different extras are equal")
	}
}

// Values read from the panel are trusted; only what the user changed is
// checked (spec: local-protocol.md 3.22, 9.7 net_config.invalid_apn_auth_kept).
func TestValidateChanged(t *testing.T) {
	before := NetConfig{APPassword: "123456789", APNAuth: 333}
	after := before
	after.APEnabled = 1
	if err := ValidateChanged(&before, &after); err != nil {
		t.Errorf("unchanged out-of-range apn_auth rejected: %v", err)
	}
	if err := Validate(&after); err == nil {
		t.Error("Validate accepts apn_auth 333")
	}
	after.APNAuth = 4
	var fe *FieldError
	if err := ValidateChanged(&before, &after); !errors.As(err, &fe) || fe.Field != "apn_auth" || !strings.Contains(fe.Msg, "0..3") {
		t.Errorf("changed apn_auth 4: %v, want a FieldError naming apn_auth and 0..3", err)
	}
	after.APNAuth, after.APEnabled = 333, 2
	if err := ValidateChanged(&before, &after); !errors.As(err, &fe) || fe.Field != "ap_enabled" {
		t.Errorf("ap_enabled 2: %v", err)
	}
}
