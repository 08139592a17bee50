package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Frame markers (spec: local-protocol.md 1.3, 1.4).
const (
	startMarker = "ISTART"
	endMarker   = "IEND\x00"
)

// Sentinel errors of the frame codec. Parse functions wrap them with
// detail; test with errors.Is.
var (
	ErrMissingStartMarker = errors.New("protocol: missing start marker")
	ErrMissingEndMarker   = errors.New("protocol: missing end marker")
	ErrMalformed          = errors.New("protocol: malformed message")
	ErrMissingCode        = errors.New("protocol: response without a command code")
	ErrMissingData        = errors.New("protocol: response without data")
	ErrCommandFailed      = errors.New("protocol: panel reported failure")
	ErrCommandRejected    = errors.New("protocol: panel rejected the command")
)

// PanelError is a "fail" or "error…" reply from the panel
// (spec: local-protocol.md 1.4). It matches ErrCommandFailed or
// ErrCommandRejected with errors.Is.
type PanelError struct {
	Code    Code   // the command that was answered, when known
	Failure bool   // body was exactly "fail"
	Text    string // text after "error"
}

func (e *PanelError) Error() string {
	if e.Failure {
		return fmt.Sprintf("protocol: panel reported failure for %v", e.Code)
	}
	return fmt.Sprintf("protocol: panel rejected %v: %q", e.Code, e.Text)
}

// Is maps the error to ErrCommandFailed or ErrCommandRejected.
func (e *PanelError) Is(target error) bool {
	return (e.Failure && target == ErrCommandFailed) || (!e.Failure && target == ErrCommandRejected)
}

// Request is one command datagram (spec: local-protocol.md 1.3).
type Request struct {
	Code Code
	// Params holds the positional parameters of shape B/C as an Array.
	// The zero Value means shape A: no parameters, sent as "".
	Params Value
	// System holds the AT command of a system request (shape D, code 0,
	// sub-code 100; spec: local-protocol.md 5.1). Empty otherwise.
	System string
}

// systemSubCode is the sub-code of the AT^IWT wrapper.
const systemSubCode = 100

// NewRequest returns a request for code with the given positional
// parameters; with none it is a shape A request.
func NewRequest(code Code, params ...Value) Request {
	if len(params) == 0 {
		return Request{Code: code}
	}
	return Request{Code: code, Params: ArrayValue(params...)}
}

// AppendBinary appends the request datagram to dst.
func (r Request) AppendBinary(dst []byte) ([]byte, error) {
	return r.Append(dst), nil
}

// Append appends the request datagram to dst: ISTART[code,sub-code,
// params]IEND and a NUL (spec: local-protocol.md 1.3).
func (r Request) Append(dst []byte) []byte {
	dst = append(dst, startMarker...)
	dst = append(dst, '[')
	code, sub := r.Codes()
	dst = appendCode(dst, code)
	dst = append(dst, ',')
	dst = appendCode(dst, sub)
	dst = append(dst, ',')
	dst = r.AppendParams(dst)
	dst = append(dst, ']')
	return append(dst, endMarker...)
}

// Codes returns the request's code and sub-code: the code twice, or 0
// and 100 for a system request (spec: local-protocol.md 1.3, 5.1).
func (r Request) Codes() (code, sub Code) {
	if r.System != "" {
		return 0, systemSubCode
	}
	return r.Code, r.Code
}

// AppendParams appends the request's third element, its parameters:
// "" (shape A), [code,[p1,…]] (shapes B, C) or the AT string (shape D)
// (spec: local-protocol.md 1.3).
func (r Request) AppendParams(dst []byte) []byte {
	switch {
	case r.System != "":
		// The reference writes the AT string unescaped (spec 5.1); our
		// values never contain '"' or '\', and appendString agrees then.
		return appendString(dst, r.System)
	case r.Params.Kind == Array:
		dst = append(dst, '[')
		dst = appendCode(dst, r.Code)
		dst = append(dst, ',')
		dst = r.Params.AppendJSON(dst)
		return append(dst, ']')
	}
	return append(dst, `""`...)
}

// Frame appends body between the markers, as a datagram carries it
// (spec: local-protocol.md 1.3): for a body another carrier brought.
func Frame(dst, body []byte) []byte {
	dst = append(dst, startMarker...)
	dst = append(dst, body...)
	return append(dst, endMarker...)
}

func appendCode(dst []byte, c Code) []byte { return IntValue(int(c)).AppendJSON(dst) }

// Unframe checks the markers of a datagram and returns what lies between
// them (spec: local-protocol.md 1.5 step 3).
func Unframe(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(startMarker)) {
		return nil, ErrMissingStartMarker
	}
	if len(b) < len(startMarker)+len(endMarker) || !bytes.HasSuffix(b, []byte(endMarker)) {
		return nil, ErrMissingEndMarker
	}
	return b[len(startMarker) : len(b)-len(endMarker)], nil
}

// ParseRequest decodes a command datagram, as the panel (simulator) does.
func ParseRequest(b []byte) (Request, error) {
	raw, err := Unframe(b)
	if err != nil {
		return Request{}, err
	}
	v, err := ParseValue(raw)
	if err != nil {
		return Request{}, err
	}
	if v.Kind != Array || len(v.Arr) != 3 || v.Arr[0].Kind != Int || v.Arr[1].Kind != Int {
		return Request{}, fmt.Errorf("%w: request is not [code,code,params]", ErrMalformed)
	}
	code, sub := v.Arr[0].Int, v.Arr[1].Int
	p := v.Arr[2]
	if code == 0 && sub == systemSubCode {
		if p.Kind != String || p.Str == "" {
			return Request{}, fmt.Errorf("%w: system request without a command string", ErrMalformed)
		}
		return Request{System: p.Str}, nil
	}
	if code != sub || code <= 0 || code > 0xFFFF {
		return Request{}, fmt.Errorf("%w: request code %d with sub-code %d", ErrMalformed, code, sub)
	}
	r := Request{Code: Code(code)}
	switch {
	case p.Kind == String && p.Str == "":
		return r, nil
	case p.Kind == Array && len(p.Arr) == 2 && p.Arr[0].Kind == Int && p.Arr[0].Int == code && p.Arr[1].Kind == Array:
		r.Params = p.Arr[1]
		return r, nil
	}
	return Request{}, fmt.Errorf("%w: request parameters of %v are neither \"\" nor [code,[...]]", ErrMalformed, r.Code)
}

// Response is a decoded reply datagram. An empty body gives a Response
// with Code 0 and nil Data (spec: local-protocol.md 1.4).
type Response struct {
	Code Code
	Data []Value
}

// Empty reports whether the response had an empty body.
func (r Response) Empty() bool { return r.Code == 0 && r.Data == nil }

// Append appends the reply datagram to dst. A Response with nil Data is
// encoded as the empty body.
func (r Response) Append(dst []byte) []byte {
	dst = append(dst, startMarker...)
	if r.Data != nil {
		dst = append(dst, '[')
		dst = appendCode(dst, r.Code)
		dst = append(dst, ',')
		dst = ArrayValue(r.Data...).AppendJSON(dst)
		dst = append(dst, ']')
	}
	return append(dst, endMarker...)
}

// AppendFail appends the panel's "fail" reply.
func AppendFail(dst []byte) []byte {
	return append(append(append(dst, startMarker...), "fail"...), endMarker...)
}

// AppendError appends the panel's "error<text>" reply.
func AppendError(dst []byte, text string) []byte {
	dst = append(append(dst, startMarker...), "error"...)
	return append(append(dst, text...), endMarker...)
}

// ParseResponse decodes a reply datagram following the validation order
// of spec: local-protocol.md 1.5 (steps 3–11). It does not compare the code
// with the request's; see Response.Code.
func ParseResponse(b []byte) (Response, error) {
	raw, err := Unframe(b)
	if err != nil {
		return Response{}, err
	}
	if len(raw) == 0 {
		return Response{}, nil
	}
	if string(raw) == "fail" {
		return Response{}, &PanelError{Failure: true}
	}
	if bytes.HasPrefix(raw, []byte("error")) {
		return Response{}, &PanelError{Text: strings.ToValidUTF8(string(raw[5:]), "\uFFFD")}
	}
	v, err := ParseValue(raw)
	if err != nil {
		return Response{}, err
	}
	if v.Kind != Array || len(v.Arr) > 2 {
		return Response{}, fmt.Errorf("%w: response is not [code,data]", ErrMalformed)
	}
	if len(v.Arr) == 0 || v.Arr[0].Kind != Int || v.Arr[0].Int == 0 {
		return Response{}, ErrMissingCode
	}
	if v.Arr[0].Int < 0 || v.Arr[0].Int > 0xFFFF {
		return Response{}, fmt.Errorf("%w: response code %d", ErrMalformed, v.Arr[0].Int)
	}
	code := Code(v.Arr[0].Int)
	if len(v.Arr) < 2 {
		return Response{}, fmt.Errorf("%w (code %v)", ErrMissingData, code)
	}
	d := v.Arr[1]
	switch {
	case d.Kind == Array && len(d.Arr) > 0:
		return Response{Code: code, Data: d.Arr}, nil
	case d.Kind == Array || (d.Kind == String && d.Str == ""):
		return Response{}, fmt.Errorf("%w (code %v)", ErrMissingData, code)
	}
	return Response{}, fmt.Errorf("%w: data of %v is a %v, not an array", ErrMalformed, code, d.Kind)
}

// System commands (spec: local-protocol.md 5.2).
const (
	SysSetConfiguration = 1
	SysWiFiReboot       = 1006
	SysMCUReboot        = 1123
	SysGSMReboot        = 1129
	sysServerAddress    = 78 // sub-command of SysSetConfiguration
)

// SystemRequest returns the AT^IWT wrapper for system command cmd with
// optional data (spec: local-protocol.md 5.1).
func SystemRequest(cmd int, data string) Request {
	s := fmt.Sprintf("AT^IWT=%d", cmd)
	if data != "" {
		s += "," + data
	}
	return Request{System: s + ",IWT"}
}

// SetServerRequest returns the system request that points the panel's
// cloud connection at primary:port (spec: local-protocol.md 5.3). The
// reference sets the secondary address to the primary; so do we.
func SetServerRequest(ip string, port int) Request {
	return SystemRequest(SysSetConfiguration, fmt.Sprintf("%d=%s&%s&%d", sysServerAddress, ip, ip, port))
}

// SystemCommand is a decoded AT^IWT command.
type SystemCommand struct {
	Cmd  int
	Data string // text between the first ',' and ",IWT"; empty if none
}

// ServerAddress returns the primary IP, secondary IP and port of a "set
// server address" command.
func (s SystemCommand) ServerAddress() (primary, secondary string, port int, err error) {
	rest, ok := strings.CutPrefix(s.Data, fmt.Sprintf("%d=", sysServerAddress))
	if s.Cmd != SysSetConfiguration || !ok {
		return "", "", 0, fmt.Errorf("%w: not a server address command: %q", ErrMalformed, s.Data)
	}
	parts := strings.Split(rest, "&")
	if len(parts) != 3 {
		return "", "", 0, fmt.Errorf("%w: server address %q wants ip&ip&port", ErrMalformed, rest)
	}
	// Decimal digits only: Sscanf would take "1234abc" or "+1234".
	port, err = strconv.Atoi(parts[2])
	if err != nil || port <= 0 || port > 65535 || strconv.Itoa(port) != parts[2] {
		return "", "", 0, fmt.Errorf("%w: server port %q", ErrMalformed, parts[2])
	}
	return parts[0], parts[1], port, nil
}

// ParseSystem decodes the AT string of a system request.
func ParseSystem(s string) (SystemCommand, error) {
	rest, ok := strings.CutPrefix(s, "AT^IWT=")
	if ok {
		rest, ok = strings.CutSuffix(rest, ",IWT")
	}
	if !ok {
		return SystemCommand{}, fmt.Errorf("%w: system command %q is not AT^IWT=…,IWT", ErrMalformed, s)
	}
	num, data, _ := strings.Cut(rest, ",")
	var cmd int
	if _, err := fmt.Sscanf(num, "%d", &cmd); err != nil || fmt.Sprint(cmd) != num {
		return SystemCommand{}, fmt.Errorf("%w: system command number %q", ErrMalformed, num)
	}
	return SystemCommand{Cmd: cmd, Data: data}, nil
}

// Targeted discovery (spec: local-protocol.md 6.2).
const (
	probePrefix = "IWTAC_PROBE_DEVICE,"
	probeAck    = "IWTAC_PROBE_DEVICE_ACK"
)

// AppendProbe appends the targeted-discovery datagram for guid.
func AppendProbe(dst []byte, guid string) []byte {
	return append(append(append(dst, probePrefix...), guid...), 0)
}

// ParseProbe decodes a targeted-discovery datagram and returns its GUID.
func ParseProbe(b []byte) (string, error) {
	s, ok := bytes.CutSuffix(b, []byte{0})
	if !ok || !utf8.Valid(s) {
		return "", fmt.Errorf("%w: probe is not NUL-terminated UTF-8", ErrMalformed)
	}
	guid, ok := bytes.CutPrefix(s, []byte(probePrefix))
	if !ok || len(guid) == 0 {
		return "", fmt.Errorf("%w: probe lacks %q and a GUID", ErrMalformed, probePrefix)
	}
	return string(guid), nil
}

// ProbeAck is a panel's answer to targeted discovery: 12 text fields after
// the marker, kept as strings (spec: local-protocol.md 6.2).
type ProbeAck struct {
	ProductName          string `json:"product_name"`
	WiFiProtocolVersion  string `json:"wifi_protocol_version"`
	CloudProtocolVersion string `json:"cloud_protocol_version"`
	MCUHWVersion         string `json:"mcu_hw_version"`
	FWVersion            string `json:"fw_version"`
	GSMStatus            string `json:"gsm_status"`
	WiFiStatus           string `json:"wifi_status"`
	ServerStatus         string `json:"server_status"`
	Reserved1            string `json:"reserved1"`
	Reserved2            string `json:"reserved2"`
	GSMSignalLevel       string `json:"gsm_signal_level"`
	WiFiSignalLevel      string `json:"wifi_signal_level"`
}

func (a *ProbeAck) fields() []*string {
	return []*string{&a.ProductName, &a.WiFiProtocolVersion, &a.CloudProtocolVersion,
		&a.MCUHWVersion, &a.FWVersion, &a.GSMStatus, &a.WiFiStatus, &a.ServerStatus,
		&a.Reserved1, &a.Reserved2, &a.GSMSignalLevel, &a.WiFiSignalLevel}
}

// Append appends the acknowledgement datagram. A ',' inside a field
// cannot be represented and is dropped. A NUL is kept: only the last byte
// terminates the datagram, so ParseProbeAck gives every field back.
func (a ProbeAck) Append(dst []byte) []byte {
	dst = append(dst, probeAck...)
	for _, f := range a.fields() {
		dst = append(dst, ',')
		dst = append(dst, strings.ReplaceAll(*f, ",", "")...)
	}
	return append(dst, 0)
}

// ParseProbeAck decodes an acknowledgement, applying the reference's
// validation in the spec's order: valid UTF-8, NUL-terminated, exactly 13
// comma-separated fields, and field #0 exactly the marker.
func ParseProbeAck(b []byte) (ProbeAck, error) {
	if !utf8.Valid(b) {
		return ProbeAck{}, fmt.Errorf("%w: probe reply is not valid UTF-8", ErrMalformed)
	}
	s, ok := bytes.CutSuffix(b, []byte{0})
	if !ok {
		return ProbeAck{}, fmt.Errorf("%w: probe reply is not NUL-terminated", ErrMalformed)
	}
	parts := strings.Split(string(s), ",")
	if len(parts) != 13 {
		return ProbeAck{}, fmt.Errorf("%w: probe reply has %d fields, want 13", ErrMalformed, len(parts))
	}
	if parts[0] != probeAck {
		return ProbeAck{}, fmt.Errorf("%w: probe reply marker %q", ErrMalformed, parts[0])
	}
	var a ProbeAck
	for i, f := range a.fields() {
		*f = parts[i+1]
	}
	return a, nil
}
