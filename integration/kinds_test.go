package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/bridge"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/peripheral"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// everyKind is a simulated panel with one sensor of every sensor
// definition of the catalogue and one relay of every device definition,
// enabled, in catalogue order, indexes counting from 1; and after them
// sensors without a definition: a door of a subtype the catalogue lacks,
// which is still a door, and a wired input that stands for no known type.
func everyKind() *sim.State {
	st := sim.DefaultState()
	st.Sensors, st.Devices, st.Relays, st.OpenDoors = nil, nil, nil, nil
	record := func(name string, index int, d peripheral.Definition) protocol.PeripheralRecord {
		return protocol.PeripheralRecord{
			Name: name, Index: index, TypeID: int(d.TypeID), Subtype: d.Subtype, ProtocolID: int(d.ProtocolID),
			Baudrate: d.Baudrate, ReservedData: d.ReservedData, NodeCount: d.NodeCount,
		}
	}
	for i, d := range peripheral.Definitions(peripheral.KindSensor) {
		r := record("Sensor "+strconv.Itoa(i+1), i+1, d)
		r.UserFlags = int(peripheral.FlagEnabled | peripheral.FlagAlertWhenAwayAndHome)
		st.Sensors = append(st.Sensors, r)
	}
	for _, d := range []peripheral.Definition{
		{TypeID: peripheral.TypeDoor, Subtype: 9, ProtocolID: peripheral.ProtocolRF1527, NodeCount: 1},
		{TypeID: peripheral.TypeCordSensor, Subtype: 99, ProtocolID: peripheral.ProtocolCord, NodeCount: 1},
	} {
		n := len(st.Sensors) + 1
		r := record("Sensor "+strconv.Itoa(n), n, d)
		r.UserFlags = int(peripheral.FlagEnabled | peripheral.FlagAlertWhenAwayAndHome)
		st.Sensors = append(st.Sensors, r)
	}
	for i, d := range peripheral.Definitions(peripheral.KindDevice) {
		r := record("Relay "+strconv.Itoa(i+1), i+1, d)
		r.UserFlags = int(peripheral.FlagEnabled)
		st.Devices = append(st.Devices, r)
	}
	return &st
}

// retainedDiscovery is every retained discovery payload, by topic, as
// mosquitto_sub gets it.
func retainedDiscovery(t *testing.T, sub, host, port string) map[string]string {
	t.Helper()
	out, err := exec.Command(sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", "homeassistant/device/+/config",
		"--retained-only", "-W", "3", "-v").Output()
	if err != nil && len(out) == 0 {
		return nil
	}
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if topic, payload, ok := strings.Cut(line, " "); ok {
			got[topic] = payload
		}
	}
	return got
}

// Home Assistant's discovery of every kind of the catalogue, on mosquitto
// and read by mosquitto_sub: each sensor's and relay's payload has the
// main entity, device class, event types, device triggers and user-flag
// switches its row of the kind table gives (spec: home-assistant.md
// §2e), checked here on the JSON as well as by bridge.CheckDiscovery; a
// fob's and a keypad's presses reach their press topic, not retained.
func TestHomeAssistantEveryKind(t *testing.T) {
	sub := mosquittoClient(t, "mosquitto_sub")
	m := startMosquitto(t, "")
	st := everyKind()
	r := startDaemonState(t, st, "  url: "+m.url()+"\n")
	host, port, _ := net.SplitHostPort(m.addr())
	guid := strings.ToLower(r.guid)
	devices := 1 + len(st.Sensors) + len(st.Devices)
	var disc map[string]string
	eventually.True(t, "every discovery payload", func() bool {
		disc = retainedDiscovery(t, sub, host, port)
		return len(disc) >= devices
	})

	for _, rec := range st.Sensors {
		name := fmt.Sprintf("no definition, type %d subtype %d", rec.TypeID, rec.Subtype)
		if def := peripheral.Lookup(peripheral.KindSensor, peripheral.Type(rec.TypeID), rec.Subtype, peripheral.Protocol(rec.ProtocolID)); def != nil {
			name = def.Name
		}
		want, ok := bridge.KindOf(peripheral.KindSensor, peripheral.Type(rec.TypeID), rec.Subtype)
		if !ok && rec.TypeID != int(peripheral.TypeCordSensor) {
			t.Fatalf("%s: no row", name)
		}
		id := fmt.Sprintf("g90_%s_sensor_%d", guid, rec.Index)
		payload := disc["homeassistant/device/"+id+"/config"]
		t.Run(name, func(t *testing.T) { checkKindPayload(t, id, payload, want) })
	}
	for _, rec := range st.Devices {
		def := peripheral.Lookup(peripheral.KindDevice, peripheral.Type(rec.TypeID), rec.Subtype, peripheral.Protocol(rec.ProtocolID))
		want, ok := bridge.KindOf(peripheral.KindDevice, peripheral.Type(rec.TypeID), rec.Subtype)
		if def == nil || !ok {
			t.Fatalf("relay %d: definition %v, row %v", rec.Index, def, ok)
		}
		id := fmt.Sprintf("g90_%s_relay_%d", guid, rec.Index)
		payload := disc["homeassistant/device/"+id+"/config"]
		t.Run("relay "+def.Name, func(t *testing.T) { checkKindPayload(t, id, payload, want) })
	}

	// Presses, as a client we did not write reads them.
	for _, press := range []struct {
		def string
		in  sim.Injection
		typ string
	}{
		{"Remote: RMC07", sim.Injection{Event: "remote_button", Button: "disarm"}, "disarm"},
		{"RFID: K07", sim.Injection{Event: "rfid", Card: new(2)}, "card_2"},
	} {
		i := slices.IndexFunc(st.Sensors, func(r protocol.PeripheralRecord) bool {
			d := peripheral.Lookup(peripheral.KindSensor, peripheral.Type(r.TypeID), r.Subtype, peripheral.Protocol(r.ProtocolID))
			return d != nil && d.Name == press.def
		})
		in := press.in
		in.Sensor = &st.Sensors[i].Index
		topic := fmt.Sprintf("g90/%s/sensor/%d/press", r.guid, *in.Sensor)
		if got := pressedOnce(t, r, sub, host, port, topic, in); got != `{"event_type":"`+press.typ+`"}` {
			t.Errorf("%s: %s got %q", press.def, topic, got)
		}
		out, _ := exec.Command(sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", topic, "--retained-only", "-C", "1", "-W", "1").Output()
		if len(out) != 0 {
			t.Errorf("%s: retained %q", topic, out)
		}
	}
}

// pressedOnce runs mosquitto_sub for one message on topic, and injects in
// until it has one: there is no telling when mosquitto_sub has
// subscribed, and a press is not retained.
func pressedOnce(t *testing.T, r *rig, sub, host, port, topic string, in sim.Injection) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sub, "-h", host, "-p", port, "-V", "mqttv311", "-t", topic, "-C", "1")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := r.sim.Inject(in); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("mosquitto_sub %s: %v", topic, err)
			}
			return strings.TrimSpace(out.String())
		case <-tick.C:
		}
	}
}

// checkKindPayload checks the discovery payload of the sensor or relay
// with object id id against its row of the kind table, on the JSON.
func checkKindPayload(t *testing.T, id, payload string, want bridge.PeripheralKind) {
	t.Helper()
	if payload == "" {
		t.Fatalf("no discovery payload for %s", id)
	}
	d, err := bridge.CheckDiscovery([]byte(payload))
	if err != nil {
		t.Error(err)
	}
	if d.Kind.Type != want.Type || d.Kind.Subtype != want.Subtype {
		t.Errorf("the checker took the row of %v/%d", d.Kind.Type, d.Kind.Subtype)
	}
	var p struct {
		Components map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		t.Fatal(err)
	}
	str := func(c map[string]any, k string) string { s, _ := c[k].(string); return s }
	if want.Kind == peripheral.KindDevice {
		for cid, c := range p.Components {
			if str(c, "platform") == "switch" && str(c, "device_class") != want.DeviceClass {
				t.Errorf("%s: device_class %q, want %q", cid, str(c, "device_class"), want.DeviceClass)
			}
		}
		return
	}
	main := id
	if want.Platform == "event" {
		main += "_press"
		if c := p.Components[id]; len(c) != 1 || str(c, "platform") != "binary_sensor" {
			t.Errorf("the binary sensor of earlier versions is not removed: %v", c)
		}
	}
	c := p.Components[main]
	if str(c, "platform") != want.Platform || str(c, "device_class") != want.DeviceClass {
		t.Errorf("main entity %s: %s %q, want %s %q", main, str(c, "platform"), str(c, "device_class"), want.Platform, want.DeviceClass)
	}
	var types []string
	raw, _ := c["event_types"].([]any)
	for _, x := range raw {
		s, _ := x.(string)
		types = append(types, s)
	}
	if !slices.Equal(types, want.EventTypes) {
		t.Errorf("event types %v, want %v", types, want.EventTypes)
	}
	var triggers []string
	for _, c := range p.Components {
		if str(c, "platform") == "device_automation" {
			if str(c, "topic") != str(p.Components[main], "state_topic") || str(c, "payload") != `{"event_type":"`+str(c, "subtype")+`"}` {
				t.Errorf("trigger %v: not the press topic and payload", c)
			}
			triggers = append(triggers, str(c, "subtype"))
		}
	}
	slices.Sort(triggers)
	if w := slices.Sorted(slices.Values(want.EventTypes)); !slices.Equal(triggers, w) {
		t.Errorf("device triggers %v, want %v", triggers, w)
	}
	// The flag switches, where the sensor has a definition to write it by.
	if _, updatable := p.Components[id+"_enabled"]; !updatable {
		for _, key := range []string{"arm_delay", "detect_door", "door_chime", "independent_zone", "alert_mode"} {
			if c, ok := p.Components[id+"_"+key]; ok && len(c) > 1 {
				t.Errorf("switch %s of a sensor without a definition", key)
			}
		}
		return
	}
	for key, flag := range map[string]peripheral.UserFlags{
		"arm_delay": peripheral.FlagArmDelay, "detect_door": peripheral.FlagDetectDoor,
		"door_chime": peripheral.FlagDoorChime, "independent_zone": peripheral.FlagIndependentZone,
	} {
		c, ok := p.Components[id+"_"+key]
		if has := ok && len(c) > 1; has != want.Offers(flag) {
			t.Errorf("switch %s: present %v, the row offers it %v", key, has, want.Offers(flag))
		}
	}
	if c, ok := p.Components[id+"_alert_mode"]; (ok && len(c) > 1) != want.AlertMode {
		t.Errorf("alert mode: %v, the row offers it %v", c, want.AlertMode)
	}
}
