package integration

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/protocol"
)

// No secret anywhere it could leak (issue 15.10): a run of the daemon
// with a PIN and a broker password, arming and disarming with wrong and
// right PINs from MQTT and the web, and setting the panel password from
// MQTT. Then every log line, every file in the state directory (the
// journal, the MQTT queue, the switches), /metrics and every retained
// message are searched for each secret.
func TestNoSecretsLeak(t *testing.T) {
	const (
		pin, wrongPIN  = "80417", "80418"
		brokerPassword = "Broker-Secret-9b1c"
		panelPassword  = "7319" // 4 digits, the panel's rule
	)
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		mosquittoClient(t, "mosquitto_passwd") // skips, or fails with G90_REQUIRE_MOSQUITTO
	}
	if out, err := exec.Command(bin, "-b", "-c", pw, "g90", brokerPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	m := startMosquitto(t, "allow_anonymous false\npassword_file "+pw+"\n")
	r := startDaemon(t, "  url: "+m.url()+"\n  username: g90\n  password: "+brokerPassword+"\n  allow_config_changes: true\n", "    pin: \""+pin+"\"\n")
	base := "g90/" + r.guid
	w := mqtttest.WatchAuth(t, m.addr(), "g90", brokerPassword, "#")
	w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))

	w.Publish(t, base+"/alarm/set", `{"action":"ARM_AWAY","code":"`+wrongPIN+`"}`)
	w.Publish(t, base+"/alarm/set", `{"action":"ARM_AWAY","code":"`+pin+`"}`)
	w.WaitFor(t, base+"/alarm", mqtttest.Is("armed_away"))
	w.Publish(t, base+"/panel_password/set", panelPassword)
	eventually.True(t, "the panel password set", func() bool { return r.sim.Snapshot().AlarmPhones.PanelPassword == panelPassword })
	post := func(path, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", r.ep.Web+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/panels/home/disarm", `{"pin":"`+wrongPIN+`"}`); code != http.StatusForbidden {
		t.Fatalf("disarm with a wrong PIN: %d", code)
	}
	if code := post("/api/panels/home/disarm", `{"pin":"`+pin+`"}`); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("disarm with the PIN: %d", code)
	}
	eventually.True(t, "disarmed", func() bool { return r.sim.Snapshot().Arm == protocol.Disarmed })
	w.WaitFor(t, base+"/alarm", mqtttest.Is("disarmed"))

	resp, err := http.Get(r.ep.Web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	retained := mqtttest.WatchAuth(t, m.addr(), "g90", brokerPassword, "#")
	eventually.True(t, "the retained states", func() bool { _, ok := retained.Get(base + "/alarm"); return ok })
	var kept bytes.Buffer
	for _, msg := range retained.All("") {
		kept.WriteString(msg.Topic + " " + msg.Payload + "\n")
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	places := map[string][]byte{"the log": []byte(r.logs.String()), "/metrics": metrics, "the retained messages": kept.Bytes()}
	filepath.WalkDir(r.cfg.StateDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
			places[path] = b
		}
		return nil
	})
	if len(places) < 5 {
		t.Fatalf("searched only %d places: the state directory is empty?", len(places))
	}
	for _, secret := range []string{pin, wrongPIN, brokerPassword, panelPassword} {
		// A whole word: 7319 in a port 47319 is no leak.
		re := regexp.MustCompile(`\b` + secret + `\b`)
		for where, b := range places {
			if loc := re.FindIndex(b); loc != nil {
				t.Errorf("%q is in %s: …%q…", secret, where, b[max(0, loc[0]-60):min(len(b), loc[1]+20)])
			}
		}
	}
}
