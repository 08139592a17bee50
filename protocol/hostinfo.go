package protocol

import "strconv"

// Names of the HostInfo status codes (spec: local-protocol.md 3.3).
var (
	gsmStatusNames    = []string{"powered_off", "no_sim", "no_signal", "operational"}
	wifiStatusNames   = []string{"powered_off", "not_connected", "no_server", "operational"}
	wifiProgressNames = []string{"idle", "connecting", "ok", "wrong_ssid", "wrong_password", "connection_error", "wifi_error"}
)

func codeName(names []string, v int) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return "unknown(" + strconv.Itoa(v) + ")"
}

// GSMStatusName names GSMStatus: powered_off, no_sim, no_signal or
// operational.
func (h *HostInfo) GSMStatusName() string { return codeName(gsmStatusNames, h.GSMStatus) }

// WiFiStatusName names WiFiStatus: powered_off, not_connected, no_server
// (connected, but not to the cloud server) or operational.
func (h *HostInfo) WiFiStatusName() string { return codeName(wifiStatusNames, h.WiFiStatus) }

// WiFiSetupName names WiFiSetupProgress.
func (h *HostInfo) WiFiSetupName() string { return codeName(wifiProgressNames, h.WiFiSetupProgress) }

// BatteryMillivolts returns the backup battery voltage, or false if the
// panel sent something that is not a number.
func (h *HostInfo) BatteryMillivolts() (int, bool) {
	n, err := strconv.Atoi(h.BatteryVoltage)
	return n, err == nil
}
