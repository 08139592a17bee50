package protocol

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// spec: local-protocol.md 5.1, 5.2.
func TestSystemRequest(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{SystemRequest(SysMCUReboot, ""), `ISTART[0,100,"AT^IWT=1123,IWT"]IEND` + "\x00"},
		{SystemRequest(SysGSMReboot, ""), `ISTART[0,100,"AT^IWT=1129,IWT"]IEND` + "\x00"},
		{SystemRequest(SysWiFiReboot, ""), `ISTART[0,100,"AT^IWT=1006,IWT"]IEND` + "\x00"},
		{SystemRequest(0, ""), `ISTART[0,100,"AT^IWT=0,IWT"]IEND` + "\x00"},
		{SystemRequest(SysSetConfiguration, "78=10.0.0.1&10.0.0.2&5678"), `ISTART[0,100,"AT^IWT=1,78=10.0.0.1&10.0.0.2&5678,IWT"]IEND` + "\x00"},
		// spec 5.3: the secondary address repeats the primary.
		{SetServerRequest("127.0.0.1", 1234), `ISTART[0,100,"AT^IWT=1,78=127.0.0.1&127.0.0.1&1234,IWT"]IEND` + "\x00"},
	} {
		if got := string(tc.req.Append(nil)); got != tc.want {
			t.Errorf("Append(%+v) = %q, want %q", tc.req, got, tc.want)
		}
		if got, err := tc.req.AppendBinary([]byte("x")); err != nil || string(got) != "x"+tc.want {
			t.Errorf("AppendBinary = %q, %v", got, err)
		}
		back, err := ParseRequest([]byte(tc.want))
		if err != nil || !cmp.Equal(back, tc.req) {
			t.Errorf("ParseRequest(%q) = %+v, %v; want %+v", tc.want, back, err, tc.req)
		}
	}
}

func TestParseSystem(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SystemCommand
	}{
		{"AT^IWT=1123,IWT", SystemCommand{Cmd: 1123}},
		{"AT^IWT=0,IWT", SystemCommand{Cmd: 0}},
		{"AT^IWT=1,78=127.0.0.1&127.0.0.1&1234,IWT", SystemCommand{Cmd: 1, Data: "78=127.0.0.1&127.0.0.1&1234"}},
		{"AT^IWT=1,a,b,IWT", SystemCommand{Cmd: 1, Data: "a,b"}},
	} {
		got, err := ParseSystem(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSystem(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "AT^IWT=1123", "IWT=1123,IWT", "at^iwt=1123,IWT", "AT^IWT=,IWT",
		"AT^IWT=x,IWT", "AT^IWT=01,IWT", "AT^IWT=+1,IWT", "AT^IWT= 1,IWT", "AT^IWT=1x,IWT",
	} {
		if got, err := ParseSystem(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseSystem(%q) = %+v, %v; want ErrMalformed", in, got, err)
		}
	}
}

func TestServerAddress(t *testing.T) {
	cmd := SystemCommand{Cmd: SysSetConfiguration, Data: "78=10.0.0.1&10.0.0.2&5678"}
	p, s, port, err := cmd.ServerAddress()
	if err != nil || p != "10.0.0.1" || s != "10.0.0.2" || port != 5678 {
		t.Errorf("ServerAddress() = %q, %q, %d, %v", p, s, port, err)
	}
	for _, cmd := range []SystemCommand{
		{Cmd: SysMCUReboot, Data: "78=1.1.1.1&1.1.1.1&1"},
		{Cmd: SysSetConfiguration, Data: ""},
		{Cmd: SysSetConfiguration, Data: "79=1.1.1.1&1.1.1.1&1"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&1&2"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&0"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&65536"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&-1"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&port"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&"},
		// The port is decimal and nothing else (spec 5.3).
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&1234abc"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1& 1234"},
		{Cmd: SysSetConfiguration, Data: "78=1.1.1.1&1.1.1.1&+1234"},
	} {
		if p, s, port, err := cmd.ServerAddress(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v.ServerAddress() = %q, %q, %d, %v; want ErrMalformed", cmd, p, s, port, err)
		}
	}
}

func TestParseRequestMalformed(t *testing.T) {
	for _, in := range []string{
		`ISTART[206,206,""]IEND`,          // no NUL
		`[206,206,""]IEND` + "\x00",       // no ISTART
		`ISTART[206,206]IEND` + "\x00",    // two elements
		`ISTART[206,207,""]IEND` + "\x00", // sub-code differs
		`ISTART[0,0,""]IEND` + "\x00",     // code 0 outside the system wrapper
		`ISTART[-1,-1,""]IEND` + "\x00",
		`ISTART[65536,65536,""]IEND` + "\x00",
		`ISTART["206",206,""]IEND` + "\x00",
		`ISTART[206,206,"x"]IEND` + "\x00",       // params neither "" nor [code,[...]]
		`ISTART[101,101,[101,1]]IEND` + "\x00",   // inner params not an array
		`ISTART[101,101,[102,[1]]]IEND` + "\x00", // inner code differs
		`ISTART[101,101,[101]]IEND` + "\x00",
		`ISTART[101,101,[101,[1],2]]IEND` + "\x00",
		`ISTART[0,100,""]IEND` + "\x00", // system without a command
		`ISTART[0,100,[1]]IEND` + "\x00",
		`ISTART{"a":1}IEND` + "\x00",
		`ISTART[206,206,""` + "\x00", // IEND missing
	} {
		if r, err := ParseRequest([]byte(in)); err == nil {
			t.Errorf("ParseRequest(%q) = %+v, want an error", in, r)
		}
	}
	if _, err := ParseRequest([]byte("ISTART[IEND\x00")); !errors.As(err, new(*SyntaxError)) {
		t.Errorf("ParseRequest of bad JSON: %v, want a *SyntaxError", err)
	}
}

func TestRequestShapes(t *testing.T) {
	// spec: local-protocol.md 1.3, shapes A to C.
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{NewRequest(GetHostInfo), `ISTART[206,206,""]IEND` + "\x00"},
		{NewRequest(SetHostStatus, IntValue(1)), `ISTART[101,101,[101,[1]]]IEND` + "\x00"},
		{PageRequest(GetSensorList, 1, 10), `ISTART[102,102,[102,[1,10]]]IEND` + "\x00"},
		{Request{Code: SetHostStatus, Params: ArrayValue()}, `ISTART[101,101,[101,[]]]IEND` + "\x00"},
		{NewRequest(SetSingleSensor, StringValue("Дверь")), `ISTART[103,103,[103,["\u0414\u0432\u0435\u0440\u044c"]]]IEND` + "\x00"},
	} {
		if got := string(tc.req.Append(nil)); got != tc.want {
			t.Errorf("Append = %q, want %q", got, tc.want)
		}
		back, err := ParseRequest([]byte(tc.want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.req, back); diff != "" {
			t.Errorf("ParseRequest(%q) (-want +got):\n%s", tc.want, diff)
		}
	}
}

func TestParseResponseMalformed(t *testing.T) {
	for _, tc := range []struct {
		in     string
		target error
	}{
		{"ISTART\"x\"IEND\x00", ErrMalformed},           // not an array
		{"ISTART[206,[1],2]IEND\x00", ErrMalformed},     // more than [code,data]
		{"ISTART[-5,[1]]IEND\x00", ErrMalformed},        // negative code
		{"ISTART[65536,[1]]IEND\x00", ErrMalformed},     // code beyond 16 bits
		{"ISTART[206,5]IEND\x00", ErrMalformed},         // data not an array
		{"ISTART[206,\"x\"]IEND\x00", ErrMalformed},     // data a non-empty string
		{"ISTART[0,[1]]IEND\x00", ErrMissingCode},       // spec 1.5 step 10: code 0
		{"ISTART[\"206\",[1]]IEND\x00", ErrMissingCode}, // code not an int
		{"ISTART[206,[]]IEND\x00", ErrMissingData},      // spec 1.5 step 11
		{"ISTART[206,\"\"]IEND\x00", ErrMissingData},
		{"ISTARTIEND", ErrMissingEndMarker},
		{"ISTARTEND\x00", ErrMissingEndMarker}, // markers may not overlap
		{"ISTART", ErrMissingEndMarker},
		{"", ErrMissingStartMarker},
		{"istart[206,[1]]IEND\x00", ErrMissingStartMarker},
		{"ISTARTfailIEND", ErrMissingEndMarker}, // markers come first
	} {
		if _, err := ParseResponse([]byte(tc.in)); !errors.Is(err, tc.target) {
			t.Errorf("ParseResponse(%q) error = %v, want %v", tc.in, err, tc.target)
		}
	}
	// "fail " is neither exactly "fail" nor "error…" (spec 1.5 steps 6, 7),
	// so it goes to the JSON parser.
	if _, err := ParseResponse([]byte("ISTARTfail IEND\x00")); !errors.As(err, new(*SyntaxError)) {
		t.Errorf("ParseResponse(fail+space) error = %v, want a *SyntaxError", err)
	}
}

func TestPanelError(t *testing.T) {
	_, err := ParseResponse([]byte("ISTARTerror\xffbad [1]IEND\x00"))
	var pe *PanelError
	if !errors.As(err, &pe) || pe.Text != "\uFFFDbad [1]" {
		t.Fatalf("error = %#v, want a PanelError with the text after \"error\"", err)
	}
	pe.Code = GetHostInfo
	if got, want := pe.Error(), "protocol: panel rejected GETHOSTINFO(206): \"\uFFFDbad [1]\""; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	fail := &PanelError{Code: GetHostInfo, Failure: true}
	if got, want := fail.Error(), "protocol: panel reported failure for GETHOSTINFO(206)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if _, err := ParseResponse([]byte("ISTARTerrorIEND\x00")); !errors.As(err, &pe) || pe.Text != "" || pe.Failure {
		t.Errorf("bare error body: %#v", err)
	}
}

func TestResponseAppend(t *testing.T) {
	for _, tc := range []struct {
		resp Response
		want string
	}{
		{Response{}, "ISTARTIEND\x00"},
		{Response{Code: GetNoticeFlags, Data: []Value{IntValue(1)}}, "ISTART[117,[1]]IEND\x00"},
		{Response{Code: GetSensorList, Data: PageData(PageHeader{Total: 1, Start: 1, Count: 1}, []Value{jv("Remote", 10)})}, `ISTART[102,[[1,1,1],["Remote",10]]]IEND` + "\x00"},
	} {
		if got := string(tc.resp.Append(nil)); got != tc.want {
			t.Errorf("Append(%+v) = %q, want %q", tc.resp, got, tc.want)
		}
	}
	if got := string(AppendFail([]byte("x"))); got != "xISTARTfailIEND\x00" {
		t.Errorf("AppendFail = %q", got)
	}
	if got := string(AppendError(nil, "dummy")); got != "ISTARTerrordummyIEND\x00" {
		t.Errorf("AppendError = %q", got)
	}
}

func TestPage(t *testing.T) {
	if _, _, err := ParsePageParams(NewRequest(GetSensorList)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParsePageParams of shape A: %v", err)
	}
	if _, _, err := ParsePageParams(NewRequest(GetSensorList, IntValue(1), StringValue("10"))); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParsePageParams of [1,\"10\"]: %v", err)
	}
	for _, tc := range []struct {
		data       Value
		start, end int
		err        error
		n          int
	}{
		{jv(jv(3, 1, 3), jv(), jv(), jv()), 1, 10, nil, 3},
		{jv(jv(3, 1, 3), jv(), jv(), jv()), 1, 3, nil, 3},
		{jv(jv(3, 1, 3), jv(), jv(), jv()), 1, 2, ErrPageCount, 0},
		{jv(jv(3, 1, 2), jv(), jv(), jv()), 1, 10, ErrPageCount, 0},
		{jv(jv(3, 1, 4), jv(), jv(), jv()), 1, 10, ErrPageCount, 0},
		{jv(jv(3, 1, 0)), 5, 4, nil, 0}, // nothing asked, nothing given
		{jv(jv(3, 1)), 1, 10, ErrPageHeader, 0},
		{jv(jv(3, 1, 1, 1), jv()), 1, 10, ErrPageHeader, 0},
		{jv(jv(3, 1, "1"), jv()), 1, 10, ErrPageHeader, 0},
		{jv(3, 1, 1), 1, 10, ErrPageHeader, 0},
		{jv(), 1, 10, nil, 0}, // the empty body (spec 4.2)
	} {
		p, err := ParsePage(tc.data.Arr, tc.start, tc.end)
		if !errors.Is(err, tc.err) || err == nil && len(p.Records) != tc.n {
			t.Errorf("ParsePage(%v, %d, %d) = %d records, %v; want %d, %v", tc.data, tc.start, tc.end, len(p.Records), err, tc.n, tc.err)
		}
	}
}

func TestCode(t *testing.T) {
	for c, want := range map[Code]string{GetHostInfo: "GETHOSTINFO(206)", 118: "SETFACTORY(118)", 0: "SYSTEM(0)", 999: "code(999)", CodeAlert: "ALERT(208)"} {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", int(c), got, want)
		}
	}
	var paged []Code
	for c := Code(0); c < 300; c++ {
		if c.Paginated() {
			paged = append(paged, c)
		}
	}
	// spec: local-protocol.md 4: the paginated commands the client uses.
	if diff := cmp.Diff([]Code{GetSensorList, GetDeviceList, GetHistory}, paged); diff != "" {
		t.Errorf("Paginated (-want +got):\n%s", diff)
	}
}

func TestProbe(t *testing.T) {
	if got := string(AppendProbe(nil, "GUID")); got != "IWTAC_PROBE_DEVICE,GUID\x00" {
		t.Errorf("AppendProbe = %q", got)
	}
	for _, in := range []string{"IWTAC_PROBE_DEVICE,\x00", "IWTAC_PROBE_DEVICE,GUID", "IWTAC_PROBE_DEVICE;GUID\x00", "IWTAC_PROBE_DEVICE,\xff\x00", ""} {
		if g, err := ParseProbe([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseProbe(%q) = %q, %v; want ErrMalformed", in, g, err)
		}
	}
	ack := "IWTAC_PROBE_DEVICE_ACK,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100"
	for _, tc := range []struct{ in, why string }{
		{strings.Replace(ack, ",100", ",100,x", 1) + "\x00", "14 fields"},
		{strings.Replace(ack, ",100", "", 1) + "\x00", "12 fields"},
		{"\x00", "1 fields"},
		{"iwtac_probe_device_ack" + ack[len("IWTAC_PROBE_DEVICE_ACK"):] + "\x00", "marker"},
	} {
		if _, err := ParseProbeAck([]byte(tc.in)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseProbeAck(%q) error = %v, want one naming %q", tc.in, err, tc.why)
		}
	}
	// Empty fields are kept as they are.
	a, err := ParseProbeAck([]byte("IWTAC_PROBE_DEVICE_ACK,,,,,,,,,,,,\x00"))
	if err != nil || a != (ProbeAck{}) {
		t.Errorf("empty fields: %+v, %v", a, err)
	}
	// A comma cannot travel inside a field; Append drops it.
	if got := string(ProbeAck{ProductName: "a,b"}.Append(nil)); got != "IWTAC_PROBE_DEVICE_ACK,ab,,,,,,,,,,,\x00" {
		t.Errorf("Append = %q", got)
	}
}
