package bridge

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

func smsPush(s sim.State) bool   { return s.AlertFlags&protocol.AlertSMSPush != 0 }
func noSMSPush(s sim.State) bool { return !smsPush(s) }

// savedSwitchesOf reads the rig's state file.
func savedSwitchesOf(t *testing.T, r *rig) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile(r.b.cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]bool
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// SMS alert when armed (spec: home-assistant.md §2a): while on, the
// panel's SMS push alert flag follows the arm state, whoever arms.
// Switched on while disarmed it clears the flag; arming from MQTT or from
// a key fob sets it, disarming clears it. Off, the flag is left alone.
// The switch is saved.
func TestSMSAlertWhenArmed(t *testing.T) {
	r := startRig(t, "")
	r.w.Publish(t, base+"alert_sms_push/set", "ON")
	waitSim(t, r.sim, "SMS push on", smsPush)
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("OFF"))

	r.w.Publish(t, base+keySMSWhenArmed+"/set", "ON")
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("ON"))
	waitSim(t, r.sim, "SMS push off: the panel is disarmed", noSMSPush)
	r.w.WaitFor(t, base+"alert_sms_push", mqtttest.Is("OFF"))

	r.w.Publish(t, base+"alarm/set", "ARM_AWAY")
	waitSim(t, r.sim, "SMS push on: armed from MQTT", smsPush)
	r.w.WaitFor(t, base+"alert_sms_push", mqtttest.Is("ON"))
	fob := func(button string) {
		t.Helper()
		if _, err := r.sim.Inject(sim.Injection{Event: "remote_button", Sensor: new(20), Button: button}); err != nil {
			t.Fatal(err)
		}
	}
	fob("disarm")
	waitSim(t, r.sim, "SMS push off: disarmed by the key fob", noSMSPush)
	fob("home")
	waitSim(t, r.sim, "SMS push on: armed home by the key fob", smsPush)

	r.w.Publish(t, base+keySMSWhenArmed+"/set", "OFF")
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("OFF"))
	fob("disarm")
	// The bridge has seen the disarming once it shows it; the flag stays.
	r.w.WaitFor(t, base+"alarm", mqtttest.Is("disarmed"))
	r.w.WaitFor(t, base+"alert_sms_push", mqtttest.Is("ON"))
	if !smsPush(r.sim.Snapshot()) {
		t.Error("switched off, the bridge still cleared the SMS push flag")
	}
	if got := savedSwitchesOf(t, r); !cmp.Equal(got, map[string]map[string]bool{r.guid: {keySMSWhenArmed: false}}) {
		t.Errorf("state file %v", got)
	}
	if st := r.b.Stats(); st.CommandErrors != 0 || st.RejectedCommand != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The history switch pauses and resumes the panel's history poller, and
// is saved.
func TestHistorySwitch(t *testing.T) {
	r := startRig(t, "")
	r.w.WaitFor(t, base+keyHistory, mqtttest.Is("OFF"))
	r.w.Publish(t, base+keyHistory+"/set", "ON")
	r.w.WaitFor(t, base+keyHistory, mqtttest.Is("ON"))
	eventually.True(t, "the history read", func() bool {
		_, ok := r.mon.State().LastPacket[event.SourceHistory]
		return ok
	})
	// Replayed history beside working notifications: the door opening
	// the history replays is merged into the live one (issue 16.1): an
	// update that adds "history" to its sources, never an event again.
	sub := r.mon.SubscribeState("test", 64)
	defer sub.Close()
	if _, err := r.sim.Inject(sim.Injection{Event: "door_open", Sensor: new(1)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	opens := 0
	for seen := false; !seen; {
		select {
		case <-sub.Ready():
			batch, _ := sub.Take(nil)
			for _, d := range batch {
				if d.Event.Type == event.DoorOpen && !d.Update {
					opens++
				}
				seen = seen || d.Update && d.Event.Type == event.DoorOpen && d.Event.Sources.Has(event.SourceHistory)
			}
		case <-deadline:
			t.Fatal("the history's report was not merged into the live event")
		}
	}
	if opens != 1 {
		t.Fatalf("%d door_open events, want 1", opens)
	}
	r.w.Publish(t, base+keyHistory+"/set", "OFF")
	r.w.WaitFor(t, base+keyHistory, mqtttest.Is("OFF"))
	if r.history.Enabled() {
		t.Error("the poller still runs")
	}
	if got := savedSwitchesOf(t, r); !cmp.Equal(got, map[string]map[string]bool{r.guid: {keyHistory: false}}) {
		t.Errorf("state file %v", got)
	}
}

// The switches come back as saved: the history poller runs, and SMS
// alerts follow the arm state from the start.
func TestSwitchesRestored(t *testing.T) {
	r := startRigWith(t, "", func(c *Config, _ *g90.MonitorConfig) {
		saved := `{"SIMPANEL0001": {"history_alerts": true, "sms_alert_when_armed": true}, "OTHER": {"history_alerts": false}}`
		if err := os.WriteFile(c.StateFile, []byte(saved), 0o600); err != nil {
			t.Fatal(err)
		}
	}, func(s *sim.Panel) {
		st := s.Snapshot()
		st.AlertFlags |= protocol.AlertSMSPush
		if err := s.SetState(st); err != nil {
			t.Fatal(err)
		}
	})
	r.w.WaitFor(t, base+keyHistory, mqtttest.Is("ON"))
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("ON"))
	if !r.history.Enabled() {
		t.Error("the history poller is paused")
	}
	// Disarmed at start: the flag goes off without waiting for an event.
	waitSim(t, r.sim, "SMS push off", noSMSPush)
}

// A state file that cannot be parsed does not stop the bridge: the
// switches start from their defaults, and the next change writes it anew.
func TestSwitchesBadStateFile(t *testing.T) {
	r := startRigWith(t, "", func(c *Config, _ *g90.MonitorConfig) {
		if err := os.WriteFile(c.StateFile, []byte(`{"SIMPANEL0001": `), 0o600); err != nil {
			t.Fatal(err)
		}
	}, nil)
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("OFF"))
	r.w.Publish(t, base+keySMSWhenArmed+"/set", "ON")
	r.w.WaitFor(t, base+keySMSWhenArmed, mqtttest.Is("ON"))
	if got := savedSwitchesOf(t, r); !got[r.guid][keySMSWhenArmed] {
		t.Errorf("state file %v", got)
	}
}

// Secrets stay off the broker by default: their text entities have no
// state topic, a value retained by an earlier run is removed, and a new
// password still reaches the panel.
func TestSecretsNotPublished(t *testing.T) {
	r := startRigWith(t, "", func(c *Config, _ *g90.MonitorConfig) {
		u, err := url.Parse(c.MQTT.URL)
		if err != nil {
			t.Fatal(err)
		}
		mqtttest.Watch(t, u.Host, "none").PublishRetained(t, base+"panel_password", "1234")
	}, nil)
	d, err := CheckDiscovery([]byte(r.w.WaitFor(t, panelDisc, func(p string) bool { return strings.Contains(p, "sia_aes_key") })))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"panel_password", "ap_password", "apn_password", "sia_aes_key"} {
		e, ok := d.Entities["g90_simpanel0001_"+key]
		if !ok || !e.Secret || !e.Command {
			t.Errorf("%s: %+v", key, e)
		}
	}
	if strings.Contains(r.w.WaitFor(t, panelDisc, anyPayload), base+"panel_password\"") {
		t.Error("the panel password has a state topic")
	}
	r.w.WaitFor(t, base+"panel_password", mqtttest.Is(""))

	r.w.Publish(t, base+"panel_password/set", "4321")
	waitSim(t, r.sim, "the new password", func(s sim.State) bool { return s.AlarmPhones.PanelPassword == "4321" })
	waitStat(t, r.b, "the password command sent to the panel", func(s Stats) bool { return s.Commands == 1 })
	for _, m := range r.w.All("g90/") {
		if (m.Payload == "4321" || m.Payload == "simpanel123") && !strings.HasSuffix(m.Topic, "/set") {
			t.Errorf("a secret published on %s", m.Topic)
		}
	}
}

// With PublishSecrets, the secrets are states like any other.
func TestSecretsPublished(t *testing.T) {
	r := startRigWith(t, "", func(c *Config, _ *g90.MonitorConfig) { c.PublishSecrets = true }, nil)
	r.w.WaitFor(t, base+"panel_password", mqtttest.Is("1234"))
	r.w.WaitFor(t, base+"ap_password", mqtttest.Is("simpanel123"))
	r.w.Publish(t, base+"panel_password/set", "4321")
	r.w.WaitFor(t, base+"panel_password", mqtttest.Is("4321"))
	if _, err := CheckDiscovery([]byte(r.w.WaitFor(t, panelDisc, anyPayload))); err != nil {
		t.Fatal(err)
	}
}

// savedSwitches writes the whole map, atomically, and reads it back.
func TestSavedSwitchesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "switches.json")
	s, err := loadSwitches(file)
	if err != nil || len(s.get("A")) != 0 {
		t.Fatalf("%v %v", s, err)
	}
	if err := s.set("A", keyHistory, true); err != nil {
		t.Fatal(err)
	}
	if err := s.set("B", keySMSWhenArmed, false); err != nil {
		t.Fatal(err)
	}
	again, err := loadSwitches(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{keyHistory: true}, again.get("A")); diff != "" {
		t.Error(diff)
	}
	if _, err := loadSwitches(filepath.Join(t.TempDir())); err == nil {
		t.Error("a directory read as a state file")
	}
}
