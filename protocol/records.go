package protocol

import "strconv"

// Record is a typed positional record of the local protocol. Each record
// declares its layout once; Decode, Encode, EncodeWrite, Validate,
// SetField, Fields and MarshalRecord are all driven by it.
type Record interface {
	layout() (name string, fs []field, extra *[]Value)
}

// Decode fills r from the positional data of a reply or request.
func Decode(r Record, data []Value) error {
	name, fs, extra := r.layout()
	return decodeFields(name, data, fs, extra)
}

// Encode returns r as positional data, every field and extra included, as
// the panel sends it.
func Encode(r Record) []Value {
	_, fs, extra := r.layout()
	return encodeFields(fs, *extra, false)
}

// EncodeWrite returns r as the parameters of its SET command: read-only
// fields are left out and forced values applied.
func EncodeWrite(r Record) []Value {
	_, fs, extra := r.layout()
	return encodeFields(fs, *extra, true)
}

// Validate checks every field of r against the range the reference
// enforces on writes (spec: local-protocol.md 7.3).
func Validate(r Record) error {
	name, fs, _ := r.layout()
	return validateFields(name, fs, nil)
}

// ValidateChanged checks only the fields of after whose value differs
// from before, which must be the same record type. Values read from the
// panel are trusted even when they break the write ranges, and must be
// written back as they are (spec: local-protocol.md 3.22, 7.3; for
// example apn_auth 333 in 3.19).
func ValidateChanged(before, after Record) error {
	name, fs, _ := after.layout()
	_, bfs, _ := before.layout()
	old, cur := Encode(before), Encode(after)
	return validateFields(name, fs, func(pos int) bool {
		if pos >= len(bfs) || bfs[pos].Name != fs[pos].Name {
			return true
		}
		if pos >= len(old) || pos >= len(cur) {
			return pos < len(cur) // a field that appeared is new
		}
		return !old[pos].Equal(cur[pos])
	})
}

// SetField parses text into the field with the given spec name.
func SetField(r Record, name, text string) error {
	rec, fs, _ := r.layout()
	return setField(rec, fs, name, text)
}

// Fields describes the fields of r in wire order.
func Fields(r Record) []FieldInfo {
	_, fs, _ := r.layout()
	return infos(fs)
}

// MarshalRecord encodes r as a JSON object keyed by the spec's field names.
func MarshalRecord(r Record) ([]byte, error) {
	_, fs, extra := r.layout()
	return fieldsJSON(fs, *extra)
}

// ArmState is the panel's arm state (spec: local-protocol.md 3.1, 3.2).
type ArmState int

// Arm states. ArmAlarm only appears in status reports.
const (
	ArmAway     ArmState = 1
	ArmHome     ArmState = 2
	Disarmed    ArmState = 3
	ArmAlarm    ArmState = 4
	armStateMax          = ArmAlarm
)

var armStateNames = [...]string{ArmAway: "away", ArmHome: "home", Disarmed: "disarmed", ArmAlarm: "alarm"}

// String returns away, home, disarmed, alarm, or unknown(N) for a value
// newer firmware might send.
func (s ArmState) String() string {
	if s >= ArmAway && s <= armStateMax {
		return armStateNames[s]
	}
	return "unknown(" + strconv.Itoa(int(s)) + ")"
}

// ParseArmState is the inverse of ArmState.String for the named states.
func ParseArmState(s string) (ArmState, bool) {
	for i, n := range armStateNames {
		if n != "" && n == s {
			return ArmState(i), true
		}
	}
	return 0, false
}

// HostStatus is the reply to GETHOSTSTATUS (spec: local-protocol.md 3.1).
type HostStatus struct {
	State         ArmState
	PhoneNumber   string
	ProductName   string
	MCUHWVersion  string
	WiFiHWVersion string
	Extra         []Value
}

func (h *HostStatus) layout() (string, []field, *[]Value) {
	return "host status", []field{
		fInt("host_status", (*int)(&h.State)),
		fStr("host_phone_number", &h.PhoneNumber),
		fStr("product_name", &h.ProductName),
		fStr("mcu_hw_version", &h.MCUHWVersion),
		fStr("wifi_hw_version", &h.WiFiHWVersion),
	}, &h.Extra
}

// HostInfo is the reply to GETHOSTINFO (spec: local-protocol.md 3.3).
type HostInfo struct {
	GUID                 string
	ProductName          string
	WiFiProtocolVersion  string
	CloudProtocolVersion string
	MCUHWVersion         string
	WiFiHWVersion        string
	GSMStatus            int
	WiFiStatus           int
	GPRS3GActive         int
	WiFiSetupProgress    int
	BatteryVoltage       string // millivolts as decimal text
	GSMSignalLevel       int
	WiFiSignalLevel      int
	Extra                []Value
}

func (h *HostInfo) layout() (string, []field, *[]Value) {
	return "host info", []field{
		fStr("host_guid", &h.GUID),
		fStr("product_name", &h.ProductName),
		fStr("wifi_protocol_version", &h.WiFiProtocolVersion),
		fStr("cloud_protocol_version", &h.CloudProtocolVersion),
		fStr("mcu_hw_version", &h.MCUHWVersion),
		fStr("wifi_hw_version", &h.WiFiHWVersion),
		fInt("gsm_status", &h.GSMStatus),
		fInt("wifi_status", &h.WiFiStatus),
		fInt("gprs_3g_active", &h.GPRS3GActive),
		fInt("wifi_setup_progress", &h.WiFiSetupProgress),
		fStr("battery_voltage", &h.BatteryVoltage),
		fInt("gsm_signal_level", &h.GSMSignalLevel),
		fInt("wifi_signal_level", &h.WiFiSignalLevel),
	}, &h.Extra
}

// UserDataCRC is the reply to GETUSERDATACRC (spec: local-protocol.md
// 3.4). The sensor and device checksums change on every call on some
// firmware; do not use them to detect changes.
type UserDataCRC struct {
	SensorList, DeviceList, HistoryList, SceneList, IFTTTList, FingerprintList string
	Extra                                                                      []Value
}

func (c *UserDataCRC) layout() (string, []field, *[]Value) {
	return "user data CRC", []field{
		fStr("sensor_list", &c.SensorList),
		fStr("device_list", &c.DeviceList),
		fStr("history_list", &c.HistoryList),
		fStr("scene_list", &c.SceneList),
		fStr("ifttt_list", &c.IFTTTList),
		fStr("fingerprint_list", &c.FingerprintList),
	}, &c.Extra
}

// MarshalJSON encodes the checksums keyed by spec field names.
func (c *UserDataCRC) MarshalJSON() ([]byte, error) { return MarshalRecord(c) }

// HostConfig is the panel's settings object, read with GETHOSTCONFIG and
// written with SETHOSTCONFIG (spec: local-protocol.md 3.16).
type HostConfig struct {
	AlarmSirenDuration int
	ArmDelay           int
	AlarmDelay         int
	BacklightDuration  int
	AlarmVolumeLevel   int
	SpeechVolumeLevel  int
	RingDuration       int
	SpeechLanguage     int
	KeyToneVolumeLevel int
	TimezoneOffsetM    int
	RingVolumeLevel    *int // only panels with a GSM module send it
	Extra              []Value
}

// The values of the host, net, SIA and CID fields that take one of a
// few (spec: local-protocol.md 3.16, 3.19–3.21), and the help naming
// them.
var (
	volumeChoices   = []Choice{{0, "mute"}, {1, "low"}, {2, "high"}}
	volumeHelp      = choiceHelp(volumeChoices)
	languageChoices = []Choice{
		{0, "none"}, {1, "English female"}, {2, "English male"}, {3, "Chinese female"}, {4, "Chinese male"},
		{5, "German female"}, {6, "German male"}, {7, "Spanish female"}, {8, "Spanish male"},
		{9, "Dutch female"}, {10, "Dutch male"}, {11, "Swedish female"}, {12, "Swedish male"},
		{13, "French female"}, {14, "French male"}, {15, "Turkish female"}, {16, "Turkish male"},
		{17, "Russian female"}, {18, "Russian male"},
	}
	languageHelp   = choiceHelp(languageChoices)
	apnAuthChoices = []Choice{{0, "none"}, {1, "PAP"}, {2, "CHAP"}, {3, "PAP or CHAP"}}
	apnAuthHelp    = choiceHelp(apnAuthChoices)
	offOn          = []Choice{{0, "off"}, {1, "on"}}
)

func (c *HostConfig) layout() (string, []field, *[]Value) {
	return "host config", []field{
		fInt("alarm_siren_duration", &c.AlarmSirenDuration).rng(0, 999).help("seconds the siren sounds"),
		fInt("arm_delay", &c.ArmDelay).rng(0, 255).help("seconds before arming"),
		fInt("alarm_delay", &c.AlarmDelay).rng(0, 255).help("seconds before the alarm triggers"),
		fInt("backlight_duration", &c.BacklightDuration).rng(0, 255).help("seconds the backlight stays on"),
		fInt("alarm_volume_level", &c.AlarmVolumeLevel).rng(0, 2).enum(volumeChoices).help(volumeHelp),
		fInt("speech_volume_level", &c.SpeechVolumeLevel).rng(0, 2).enum(volumeChoices).help(volumeHelp),
		fInt("ring_duration", &c.RingDuration).rng(0, 255).help("seconds of ringing"),
		fInt("speech_language", &c.SpeechLanguage).rng(0, 18).enum(languageChoices).help(languageHelp),
		fInt("key_tone_volume_level", &c.KeyToneVolumeLevel).rng(0, 2).enum(volumeChoices).help(volumeHelp),
		fInt("timezone_offset_m", &c.TimezoneOffsetM).rng(-720, 720).help("minutes from UTC"),
		fOptInt("ring_volume_level", &c.RingVolumeLevel).rng(0, 2).enum(volumeChoices).help(volumeHelp + "; GSM panels only"),
	}, &c.Extra
}

// MarshalJSON encodes the config keyed by spec field names.
func (c *HostConfig) MarshalJSON() ([]byte, error) { return MarshalRecord(c) }

// AlarmPhones holds the SMS/call password and phone numbers
// (spec: local-protocol.md 3.17).
type AlarmPhones struct {
	PanelPassword    string
	PanelPhoneNumber string
	PhoneNumbers     [6]string
	SMSPushNumbers   [2]string
	Extra            []Value
}

func (a *AlarmPhones) layout() (string, []field, *[]Value) {
	const num = "country code + number; empty disables"
	return "alarm phones", []field{
		fStr("panel_password", &a.PanelPassword).rng(4, 4).text(TextDigits).help("password for SMS/call control, 4 digits").secret(),
		fStr("panel_phone_number", &a.PanelPhoneNumber).rng(0, 14).text(TextPhone).help("the panel's own SIM number"),
		fStr("phone_number_1", &a.PhoneNumbers[0]).rng(0, 14).text(TextPhone).help(num),
		fStr("phone_number_2", &a.PhoneNumbers[1]).rng(0, 14).text(TextPhone).help(num),
		fStr("phone_number_3", &a.PhoneNumbers[2]).rng(0, 14).text(TextPhone).help(num),
		fStr("phone_number_4", &a.PhoneNumbers[3]).rng(0, 14).text(TextPhone).help(num),
		fStr("phone_number_5", &a.PhoneNumbers[4]).rng(0, 14).text(TextPhone).help(num),
		fStr("phone_number_6", &a.PhoneNumbers[5]).rng(0, 14).text(TextPhone).help(num),
		fStr("sms_push_number_1", &a.SMSPushNumbers[0]).rng(0, 14).text(TextPhone).help(num),
		fStr("sms_push_number_2", &a.SMSPushNumbers[1]).rng(0, 14).text(TextPhone).help(num),
	}, &a.Extra
}

// MarshalJSON encodes the phones keyed by spec field names.
func (a *AlarmPhones) MarshalJSON() ([]byte, error) { return MarshalRecord(a) }

// AlertConfig is the alert flag bitmask read with GETNOTICEFLAG and
// written with SETNOTICEFLAG (spec: local-protocol.md 3.18).
type AlertConfig struct {
	Flags AlertFlags
	Extra []Value
}

func (a *AlertConfig) layout() (string, []field, *[]Value) {
	return "alert flags", []field{fInt("flags", (*int)(&a.Flags))}, &a.Extra
}

// NetConfig is the access point, Wi-Fi and GPRS configuration
// (spec: local-protocol.md 3.19).
type NetConfig struct {
	APEnabled      int
	APPassword     string
	WiFiEnabled    int
	GPRSEnabled    int
	APNName        string
	APNUser        string
	APNPassword    string
	APNAuth        int    // 0 none, 1 PAP, 2 CHAP, 3 either; some panels send 333
	GSMOperator    string // only GSM panels send it; never written
	HasGSMOperator bool
	Extra          []Value
}

func (n *NetConfig) layout() (string, []field, *[]Value) {
	return "net config", []field{
		fInt("ap_enabled", &n.APEnabled).rng(0, 1).enum(offOn).help("0/1: the panel's own access point"),
		fStr("ap_password", &n.APPassword).rng(9, 64).help("access point password").secret(),
		fInt("wifi_enabled", &n.WiFiEnabled).rng(0, 1).enum(offOn).help("0/1: join a Wi-Fi network"),
		fInt("gprs_enabled", &n.GPRSEnabled).rng(0, 1).enum(offOn).help("0/1: cellular data"),
		fStr("apn_name", &n.APNName).rng(0, 100).help("mobile operator APN"),
		fStr("apn_user", &n.APNUser).rng(0, 64),
		fStr("apn_password", &n.APNPassword).rng(0, 64).secret(),
		fInt("apn_auth", &n.APNAuth).rng(0, 3).enum(apnAuthChoices).help(apnAuthHelp),
		fOptStr("gsm_operator", &n.GSMOperator, &n.HasGSMOperator).readOnly().help("operator code; read-only"),
	}, &n.Extra
}

// MarshalJSON encodes the config keyed by spec field names.
func (n *NetConfig) MarshalJSON() ([]byte, error) { return MarshalRecord(n) }

// SIAConfig is SIA Internet reporting (spec: local-protocol.md 3.20).
type SIAConfig struct {
	Host              string
	Port              int
	Account           string
	Receiver          string
	Prefix            string
	AESKey            string
	Encryption        int
	Enabled           int
	EventFlags        string
	HeartbeatInterval *int // only some panels send it
	Extra             []Value
}

func (s *SIAConfig) layout() (string, []field, *[]Value) {
	return "SIA config", []field{
		fStr("host", &s.Host).rng(0, 23).help("receiver IP address or host name"),
		fInt("port", &s.Port).rng(0, 65535),
		fStr("account", &s.Account).rng(0, 30),
		fStr("receiver", &s.Receiver).rng(0, 15),
		fStr("prefix", &s.Prefix).rng(0, 15),
		fStr("aes_key", &s.AESKey).rng(0, 19).secret(),
		fInt("encryption", &s.Encryption).rng(0, 1).enum(offOn).help("0/1"),
		fInt("enabled", &s.Enabled).rng(0, 1).enum(offOn).help("0/1"),
		fStr("event_flags", &s.EventFlags).rng(0, 8).writeAs("FFFFFFFF").help("always written as FFFFFFFF"),
		fOptInt("heartbeat_interval", &s.HeartbeatInterval).help("seconds; some panels only"),
	}, &s.Extra
}

// MarshalJSON encodes the config keyed by spec field names.
func (s *SIAConfig) MarshalJSON() ([]byte, error) { return MarshalRecord(s) }

// CIDConfig is Contact ID phone reporting (spec: local-protocol.md 3.21).
type CIDConfig struct {
	Phone1     string
	Phone2     string
	User       string
	Enabled    int
	EventFlags string
	Extra      []Value
}

func (c *CIDConfig) layout() (string, []field, *[]Value) {
	return "CID config", []field{
		fStr("phone1", &c.Phone1).rng(0, 15).text(TextPhone),
		fStr("phone2", &c.Phone2).rng(0, 15).text(TextPhone),
		fStr("user", &c.User).rng(0, 7),
		fInt("enabled", &c.Enabled).rng(0, 1).enum(offOn).help("0/1"),
		fStr("event_flags", &c.EventFlags).rng(0, 4).writeAs("FFFF").help("always written as FFFF"),
	}, &c.Extra
}

// MarshalJSON encodes the config keyed by spec field names.
func (c *CIDConfig) MarshalJSON() ([]byte, error) { return MarshalRecord(c) }

// HistoryEntry is one record of GETHISTORY (spec: local-protocol.md
// 3.15.1). Interpret it with Describe.
type HistoryEntry struct {
	Type     AlertType
	EventID  int
	Source   AlertSource
	State    int
	Name     string
	UnixTime int
	Other    Value
	Extra    []Value
}

func (h *HistoryEntry) layout() (string, []field, *[]Value) {
	return "history entry", []field{
		fInt("type", (*int)(&h.Type)),
		fInt("event_id", &h.EventID),
		fInt("source", (*int)(&h.Source)),
		fInt("state", &h.State),
		fStr("name", &h.Name),
		fInt("unix_time", &h.UnixTime),
		fAny("other", &h.Other),
	}, &h.Extra
}

// PeripheralRecord is the 13-field read layout of a sensor or device
// (spec: local-protocol.md 3.5.1).
type PeripheralRecord struct {
	Name         string
	Index        int
	RoomID       int
	TypeID       int
	Subtype      int
	Timeout      int
	UserFlags    int
	Baudrate     int
	ProtocolID   int
	ReservedData int
	NodeCount    int
	Mask         int
	PrivateData  string
	Extra        []Value
}

func (p *PeripheralRecord) layout() (string, []field, *[]Value) {
	return "peripheral record", []field{
		fStr("name", &p.Name),
		fInt("index", &p.Index),
		fInt("room_id", &p.RoomID),
		fInt("type_id", &p.TypeID),
		fInt("subtype", &p.Subtype),
		fInt("timeout", &p.Timeout),
		fInt("user_flags", &p.UserFlags),
		fInt("baudrate", &p.Baudrate),
		fInt("protocol_id", &p.ProtocolID),
		fInt("reserved_data", &p.ReservedData),
		fInt("node_count", &p.NodeCount),
		fInt("mask", &p.Mask),
		fStr("private_data", &p.PrivateData),
	}, &p.Extra
}

// Equal reports whether p and q are the same record, field by field,
// extras included (spec: peripherals.md 10.3 step 4).
func (p PeripheralRecord) Equal(q PeripheralRecord) bool {
	return ArrayValue(Encode(&p)...).Equal(ArrayValue(Encode(&q)...))
}

// PeripheralWrite is the 14-field layout of SETSINGLESENSOR,
// SETSINGLEDEVICE, ADDSENSOR and ADDDEVICE (spec: local-protocol.md 3.5.2).
type PeripheralWrite struct {
	Name         string
	Index        int
	RoomID       int
	TypeID       int
	Subtype      int
	Timeout      int
	UserFlags    int
	Baudrate     int
	ProtocolID   int
	ReservedData int
	NodeCount    int
	RX           int
	TX           int
	PrivateData  string
	Extra        []Value
}

func (p *PeripheralWrite) layout() (string, []field, *[]Value) {
	return "peripheral write record", []field{
		fStr("name", &p.Name),
		fInt("index", &p.Index),
		fInt("room_id", &p.RoomID),
		fInt("type_id", &p.TypeID),
		fInt("subtype", &p.Subtype),
		fInt("timeout", &p.Timeout),
		fInt("user_flags", &p.UserFlags),
		fInt("baudrate", &p.Baudrate),
		fInt("protocol_id", &p.ProtocolID),
		fInt("reserved_data", &p.ReservedData),
		fInt("node_count", &p.NodeCount),
		fInt("rx", &p.RX),
		fInt("tx", &p.TX),
		fStr("private_data", &p.PrivateData),
	}, &p.Extra
}
