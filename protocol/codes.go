package protocol

import "strconv"

// Code is a local-protocol command code; only the number travels on the
// wire (spec: local-protocol.md 2).
type Code int

// Command codes the client sends (spec: local-protocol.md 2, "used").
const (
	GetHostStatus         Code = 100
	SetHostStatus         Code = 101
	GetSensorList         Code = 102
	SetSingleSensor       Code = 103
	GetHostConfig         Code = 106
	SetHostConfig         Code = 107
	SetAlarmPhones        Code = 108
	GetAlarmPhones        Code = 114
	SetNoticeFlags        Code = 116
	GetNoticeFlags        Code = 117
	DelSensor             Code = 131
	AddDevice             Code = 134
	DelDevice             Code = 136
	ControlDevice         Code = 137
	GetDeviceList         Code = 138
	SetSingleDevice       Code = 140
	AddSensor             Code = 156
	GetUserDataCRC        Code = 160
	SendRegDeviceResult   Code = 162
	GetHistory            Code = 200
	GetHostInfo           Code = 206
	GetAPInfo             Code = 212
	SetAPInfo             Code = 213
	GetSIA                Code = 230
	SetSIA                Code = 231
	GetCID                Code = 232
	SetCID                Code = 233
	CodeNotification      Code = 170 // panel → client, port 12901 (spec 8)
	CodeAlert             Code = 208 // panel → client, port 12901 (spec 8)
	codeSystemPlaceholder Code = 0
)

var codeNames = map[Code]string{
	GetHostStatus: "GETHOSTSTATUS", SetHostStatus: "SETHOSTSTATUS",
	GetSensorList: "GETSENSORLIST", SetSingleSensor: "SETSINGLESENSOR",
	GetHostConfig: "GETHOSTCONFIG", SetHostConfig: "SETHOSTCONFIG",
	SetAlarmPhones: "SETALMPHONE", 109: "SETAUTOARM", 110: "GETSIREN", 111: "SETSIREN",
	GetAlarmPhones: "GETALMPHONE", 115: "GETAUTOARM",
	SetNoticeFlags: "SETNOTICEFLAG", GetNoticeFlags: "GETNOTICEFLAG",
	118: "SETFACTORY", 119: "GETALARM",
	DelSensor: "DELSENSOR", AddDevice: "ADDDEVICE", 135: "REGDEVICE",
	DelDevice: "DELDEVICE", ControlDevice: "CONTROLDEVICE",
	GetDeviceList: "GETDEVICELIST", 139: "GETSINGLEDEVICE",
	SetSingleDevice: "SETSINGLEDEVICE", AddSensor: "ADDSENSOR", 157: "LEARNSENSOR",
	GetUserDataCRC: "GETUSERDATACRC", SendRegDeviceResult: "SENDREGDEVICERESULT",
	163: "CANCELLEARNSENSOR", CodeNotification: "NOTIFICATION",
	GetHistory: "GETHISTORY", GetHostInfo: "GETHOSTINFO", CodeAlert: "ALERT",
	GetAPInfo: "GETAPINFO", SetAPInfo: "SETAPINFO",
	GetSIA: "GETSIA", SetSIA: "SETSIA", GetCID: "GETCID", SetCID: "SETCID",
	codeSystemPlaceholder: "SYSTEM",
}

// String returns the conventional name and number, e.g. "GETHOSTINFO(206)".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n + "(" + strconv.Itoa(int(c)) + ")"
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// Paginated reports whether the command's reply carries a pagination
// header (spec: local-protocol.md 4).
func (c Code) Paginated() bool {
	return c == GetSensorList || c == GetDeviceList || c == GetHistory
}
