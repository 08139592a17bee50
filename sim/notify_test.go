package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/notify"
	"github.com/g90alarm/g90/protocol"
)

// listener receives the simulator's notifications on loopback.
type listener struct {
	t    *testing.T
	conn net.PacketConn
}

func listen(t *testing.T) *listener {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &listener{t: t, conn: c}
}

// next returns the next datagram without its NUL, checking the framing
// (spec: notifications-and-cloud.md A.2) and the sender's IP.
func (l *listener) next(panel net.Addr) string {
	l.t.Helper()
	buf := make([]byte, 4096)
	l.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	n, from, err := l.conn.ReadFrom(buf)
	if err != nil {
		l.t.Fatalf("no notification: %v", err)
	}
	if !from.(*net.UDPAddr).IP.Equal(panel.(*net.UDPAddr).IP) {
		l.t.Errorf("notification from %v, want the panel's IP %v", from, panel)
	}
	// What the simulator sends, the decoder understands completely.
	m, err := notify.Decode(buf[:n])
	if err != nil {
		l.t.Fatalf("datagram %q does not decode: %v", buf[:n], err)
	}
	if _, err := m.Events(nil); err != nil || !m.Known() {
		l.t.Errorf("datagram %q maps to no known event: %v", buf[:n], err)
	}
	d, _ := bytes.CutSuffix(buf[:n], []byte{0})
	return string(d)
}

func (l *listener) expect(panel net.Addr, want ...string) {
	l.t.Helper()
	for _, w := range want {
		if got := l.next(panel); got != w {
			l.t.Errorf("notification\n got %s\nwant %s", got, w)
		}
	}
}

func (l *listener) expectNothing() {
	l.t.Helper()
	buf := make([]byte, 4096)
	l.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := l.conn.ReadFrom(buf); err == nil {
		l.t.Errorf("unexpected notification %q", buf[:n])
	}
}

func intp(i int) *int { return &i }

func TestArmCommandNotifies(t *testing.T) {
	l := listen(t)
	p := start(t, Config{Notify: l.conn.LocalAddr().String()})
	c := newClient(t, p.Addr())
	c.expect(`ISTART[101,101,[101,[1]]]IEND`, `ISTARTIEND`)
	// spec: notifications-and-cloud.md A.3 kind 1, A.4; local-protocol.md 9.11
	l.expect(p.Addr(),
		`[170,[1,[1]]]`,
		fmt.Sprintf(`[208,[2,4,0,0,"","SIMPANEL0001",%d,0,[""]]]`, testNow.Unix()))
}

// Arming with doors left open: each whose "check open when arming" flag
// is on is reported after the arm state's notification and alert (spec:
// notifications-and-cloud.md A.3 kind 6); a door without the flag, one
// closed again and disarming are not.
func TestArmWithDoorOpen(t *testing.T) {
	l := listen(t)
	p := start(t, Config{Notify: l.conn.LocalAddr().String()})
	c := newClient(t, p.Addr())
	sent := 0
	for _, in := range []Injection{
		{Event: "door_open", Sensor: intp(1)}, // Front door: checked
		{Event: "door_open", Sensor: intp(2)}, // Back door: not checked
		{Event: "door_open", Sensor: intp(4)}, // Garage door: checked, closed again
		{Event: "door_close", Sensor: intp(4)},
	} {
		d, err := p.Inject(in)
		if err != nil {
			t.Fatal(err)
		}
		sent += len(d)
	}
	if st := p.Snapshot(); !slices.Equal(st.OpenDoors, []int{1, 2}) {
		t.Fatalf("open doors %v, want [1 2]", st.OpenDoors)
	}
	for range sent {
		l.next(p.Addr())
	}
	c.expect(`ISTART[101,101,[101,[2]]]IEND`, `ISTARTIEND`)
	l.expect(p.Addr(), `[170,[1,[2]]]`, fmt.Sprintf(`[208,[2,5,0,0,"","SIMPANEL0001",%d,0,[""]]]`, testNow.Unix()), `[170,[6,[1,"Front door"]]]`)
	l.expectNothing()
	c.expect(`ISTART[101,101,[101,[3]]]IEND`, `ISTARTIEND`)
	l.expect(p.Addr(), `[170,[1,[3]]]`, fmt.Sprintf(`[208,[2,3,0,0,"","SIMPANEL0001",%d,0,[""]]]`, testNow.Unix()))
	l.expectNothing()
}

func TestInjectedEventsNotifyLikeAPanel(t *testing.T) {
	l := listen(t)
	p := start(t, Config{Notify: l.conn.LocalAddr().String()})
	ts := testNow.Unix()
	alert := func(typ, idx, src, state int, name string) string {
		guid := "SIMPANEL0001"
		return fmt.Sprintf(`[208,[%d,%d,%d,%d,"%s","%s",%d,0,[""]]]`, typ, idx, src, state, name, guid, ts)
	}
	// The default home is disarmed: a door opening is activity, not an alarm.
	steps := []struct {
		in   Injection
		want []string
		arm  protocol.ArmState
	}{
		{Injection{Event: "door_open", Sensor: intp(1)}, []string{`[170,[5,[1,"Front door"]]]`, alert(4, 1, 1, 1, "Front door")}, protocol.Disarmed},
		{Injection{Event: "door_close", Sensor: intp(1)}, []string{alert(4, 1, 1, 0, "Front door")}, protocol.Disarmed},
		{Injection{Event: "motion", Sensor: intp(7)}, []string{`[170,[5,[7,"Hall PIR"]]]`}, protocol.Disarmed},
		{Injection{Event: "low_battery", Sensor: intp(2)}, []string{alert(4, 2, 1, 4, "Back door")}, protocol.Disarmed},
		{Injection{Event: "rfid", Sensor: intp(25), Card: intp(1)}, []string{alert(4, 25, 11, 7, "Entry keypad")}, protocol.Disarmed},
		{Injection{Event: "ac_power_failure"}, []string{alert(2, 1, 0, 0, "")}, protocol.Disarmed},
		{Injection{Event: "wifi_disconnected"}, []string{alert(2, 8, 0, 0, "")}, protocol.Disarmed},
		// A key fob arms the panel: the button, then the arm state change.
		{Injection{Event: "remote_button", Sensor: intp(20), Button: "away"}, []string{`[170,[1,[1]]]`, alert(4, 20, 10, 0, "Key fob Anna"), alert(2, 4, 0, 0, "")}, protocol.ArmAway},
		// Armed away, motion is an alarm (infrared: state 0 = motion).
		{Injection{Event: "motion", Sensor: intp(7)}, []string{`[170,[5,[7,"Hall PIR"]]]`, `[170,[1,[4]]]`, alert(3, 7, 8, 0, "Hall PIR")}, protocol.ArmAlarm},
		{Injection{Event: "tamper", Sensor: intp(8)}, []string{alert(3, 8, 8, 1, "Living room PIR")}, protocol.ArmAlarm},
		{Injection{Event: "rfid", Sensor: intp(25), Action: "disarm"}, []string{`[170,[1,[3]]]`, alert(4, 25, 11, 2, "Entry keypad"), alert(2, 3, 0, 0, "")}, protocol.Disarmed},
		// Smoke is an "alert always" zone: an alarm even when disarmed.
		{Injection{Event: "door_open", Sensor: intp(11)}, []string{`[170,[5,[11,"Kitchen smoke"]]]`, `[170,[1,[4]]]`, alert(3, 11, 1, 1, "Kitchen smoke")}, protocol.ArmAlarm},
		{Injection{Event: "sos"}, []string{alert(1, 1, 0, 0, "")}, protocol.ArmAlarm},
		{Injection{Event: "remote_button", Sensor: intp(21), Button: "sos"}, []string{alert(3, 21, 10, 3, "Key fob Ben")}, protocol.ArmAlarm},
	}
	history := len(p.Snapshot().History)
	for _, s := range steps {
		sent, err := p.Inject(s.in)
		if err != nil {
			t.Fatalf("%+v: %v", s.in, err)
		}
		if len(sent) != len(s.want) {
			t.Errorf("%+v: sent %d datagrams, want %d", s.in, len(sent), len(s.want))
		}
		l.expect(p.Addr(), s.want...)
		if st := p.Snapshot(); st.Arm != s.arm {
			t.Errorf("%+v: arm state %v, want %v", s.in, st.Arm, s.arm)
		}
	}
	// Every alert is also in the history, newest first.
	st := p.Snapshot()
	if got := len(st.History) - history; got != 15 {
		t.Errorf("%d history records added, want 15", got)
	}
	if h := st.History[0]; h.Type != protocol.TypeAlarm || h.Source != protocol.SourceRemote || h.EventID != 21 {
		t.Errorf("newest history record %+v", h)
	}
}

func TestAlertFlagsGateAlertsNotNotifications(t *testing.T) {
	l := listen(t)
	st := DefaultState()
	st.AlertFlags = 0
	p2 := start(t, Config{Notify: l.conn.LocalAddr().String(), State: &st})
	history := len(p2.Snapshot().History)
	if _, err := p2.Inject(Injection{Event: "door_open", Sensor: intp(1)}); err != nil {
		t.Fatal(err)
	}
	// spec: notifications-and-cloud.md A.1: notifications always, alerts
	// (and history) only for enabled categories.
	l.expect(p2.Addr(), `[170,[5,[1,"Front door"]]]`)
	l.expectNothing()
	if len(p2.Snapshot().History) != history {
		t.Error("door open recorded although its alert flag is off")
	}
}

func TestLearnCompletionNotifies(t *testing.T) {
	l := listen(t)
	p := start(t, Config{Notify: l.conn.LocalAddr().String()})
	c := newClient(t, p.Addr())
	c.expect(`ISTART[156,156,[156,["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]]]IEND`, `ISTARTIEND`)
	index, err := p.CompleteLearn()
	if err != nil {
		t.Fatal(err)
	}
	// spec: local-protocol.md 3.9 step 3
	l.expect(p.Addr(), fmt.Sprintf(`[170,[4,[%d,"Test sensor",1]]]`, index))
}

func TestBadInjections(t *testing.T) {
	p := start(t, Config{})
	for _, in := range []Injection{
		{Event: "earthquake"},
		{Event: "door_open"},
		{Event: "door_open", Sensor: intp(999)},
		{Event: "remote_button", Sensor: intp(1), Button: "away"},
		{Event: "remote_button", Sensor: intp(20), Button: "jump"},
		{Event: "rfid", Sensor: intp(25), Card: intp(5)},
		{Event: "rfid", Sensor: intp(25), Card: intp(1), Action: "away"},
		{Event: "rfid", Sensor: intp(1), Card: intp(1)},
		{Event: "sos", Sensor: intp(1)},
	} {
		before := p.Snapshot()
		if _, err := p.Inject(in); !errors.Is(err, ErrBadInjection) {
			t.Errorf("%+v: err = %v, want ErrBadInjection", in, err)
		}
		if after := p.Snapshot(); len(after.History) != len(before.History) || after.Arm != before.Arm {
			t.Errorf("%+v changed the state", in)
		}
	}
}

func TestInjectOverControlAPI(t *testing.T) {
	l := listen(t)
	p := start(t, Config{Notify: l.conn.LocalAddr().String(), Control: "127.0.0.1:0"})
	url := "http://" + p.ControlAddr().String() + "/inject"
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"event":"door_open","sensor":1}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Sent []string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(body.Sent) != 2 || body.Sent[0] != `[170,[5,[1,"Front door"]]]` {
		t.Errorf("sent %q", body.Sent)
	}
	l.expect(p.Addr(), body.Sent...)
	for _, bad := range []string{`{"event":"door_open","sensor":999}`, `{"event":"x"}`, `{"event":"door_open","sensor":1,"extra":1}`, `nope`} {
		resp, err := http.Post(url, "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
}
