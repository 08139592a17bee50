package g90

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// simRecord returns section s of the simulator's state.
func simRecord(st sim.State, s Section) protocol.Record {
	switch s {
	case SectionHost:
		return &st.HostConfig
	case SectionNet:
		return &st.NetConfig
	case SectionPhones:
		return &st.AlarmPhones
	case SectionAlerts:
		return &protocol.AlertConfig{Flags: st.AlertFlags}
	case SectionSIA:
		return &st.SIA
	case SectionCID:
		return &st.CID
	}
	panic(s)
}

// simField returns the wire value of field name of section s in the
// simulator's state, as text.
func simField(t *testing.T, st sim.State, s Section, name string) string {
	t.Helper()
	r := simRecord(st, s)
	if s == SectionAlerts && name != "flags" {
		for _, f := range protocol.AlertFlagNames {
			if f.Name == name {
				return map[bool]string{true: "1", false: "0"}[st.AlertFlags&f.Flag != 0]
			}
		}
	}
	if s == SectionAlerts {
		return strconv.Itoa(int(st.AlertFlags))
	}
	vals := protocol.Encode(r)
	for i, f := range protocol.Fields(r) {
		if f.Name == name {
			if i >= len(vals) {
				return "<absent>"
			}
			v := vals[i]
			if v.Kind == protocol.String {
				return v.Str
			}
			return v.String()
		}
	}
	t.Fatalf("no field %s in %s", name, s)
	return ""
}

// validValue returns a value for f that is in range and differs from cur.
func validValue(f protocol.FieldInfo, cur string) string {
	if f.Kind == protocol.FieldString {
		n := max(f.Max, f.Min)
		if !f.Ranged {
			n = 5
		}
		v := strings.Repeat("7", n)
		if v == cur {
			v = strings.Repeat("8", n)
		}
		return v
	}
	if !f.Ranged {
		if cur == "120" {
			return "180"
		}
		return "120"
	}
	if cur == strconv.Itoa(f.Max) {
		return strconv.Itoa(f.Min)
	}
	return strconv.Itoa(f.Max)
}

// Every writable field of every section can be set, the panel holds the
// value afterwards, and the simulator keeps it in its state file.
func TestSetEveryConfigField(t *testing.T) {
	leaktest.Check(t)
	file := filepath.Join(t.TempDir(), "state.json")
	s := startSim(t, sim.Config{Seed: 1, StateFile: file})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	for _, sec := range Sections {
		keys, err := ConfigKeys(sec)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range keys {
			if f.ReadOnly || f.WriteAs != "" {
				continue
			}
			cur := simField(t, s.Snapshot(), sec, f.Name)
			v := validValue(f, cur)
			if sec == SectionAlerts && f.Name == "flags" {
				v = "8191"
			}
			t.Run(string(sec)+"/"+f.Name, func(t *testing.T) {
				r, err := p.SetConfigFields(ctx, sec, f.Name+"="+v)
				if err != nil {
					t.Fatalf("set %s=%s: %v", f.Name, v, err)
				}
				if got := simField(t, s.Snapshot(), sec, f.Name); got != v {
					t.Errorf("panel holds %s=%q, want %q", f.Name, got, v)
				}
				if r == nil {
					t.Error("no record returned")
				}
			})
		}
	}
	want := s.Snapshot()
	// A second simulator on the same state file starts where this one is.
	again, err := sim.New(sim.Config{Listen: "127.0.0.1:0", StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got := again.Snapshot()
	for _, sec := range Sections {
		a, b := protocol.Encode(simRecord(want, sec)), protocol.Encode(simRecord(got, sec))
		if !protocol.ArrayValue(a...).Equal(protocol.ArrayValue(b...)) {
			t.Errorf("%s not persisted: state file has %v, panel had %v", sec, b, a)
		}
	}
}

// Out-of-range and wrong-type values, for every field of every section,
// are refused before anything is sent, with an error naming the field
// and what it allows.
func TestSetConfigRejectsBadValues(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	before := s.Snapshot()
	type bad struct{ value, want string }
	for _, sec := range Sections {
		keys, _ := ConfigKeys(sec)
		for _, f := range keys {
			var cases []bad
			switch {
			case f.ReadOnly:
				cases = append(cases, bad{"x", "read-only"})
			case f.WriteAs != "":
				cases = append(cases, bad{"0000", "always written as"})
			case f.Kind == protocol.FieldString:
				rng := fmt.Sprintf("%d..%d", f.Min, f.Max)
				if f.Min == f.Max {
					rng = fmt.Sprintf("exactly %d", f.Min)
				}
				cases = append(cases, bad{strings.Repeat("x", f.Max+1), rng})
				if f.Min > 0 {
					cases = append(cases, bad{strings.Repeat("x", f.Min-1), strconv.Itoa(f.Min)})
				}
				cases = append(cases, bad{"\xff\xfe", "UTF-8"})
			default:
				want := "want an integer"
				if sec == SectionAlerts && f.Name != "flags" {
					want = "want on or off"
				}
				cases = append(cases, bad{"abc", want}, bad{"1.5", want}, bad{"", want})
				if f.Ranged {
					rng := fmt.Sprintf("%d..%d", f.Min, f.Max)
					cases = append(cases, bad{strconv.Itoa(f.Min - 1), rng}, bad{strconv.Itoa(f.Max + 1), rng})
				}
			}
			for _, c := range cases {
				sent := p.Client().Stats().Commands
				_, err := p.SetConfigFields(ctx, sec, f.Name+"="+c.value)
				var fe *protocol.FieldError
				if !errors.As(err, &fe) || fe.Field != f.Name || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s %s=%q: err = %v, want a FieldError naming %s and %q", sec, f.Name, c.value, err, f.Name, c.want)
				}
				if n := p.Client().Stats().Commands; n != sent {
					t.Errorf("%s %s=%q: %d command(s) sent for a value refused", sec, f.Name, c.value, n-sent)
				}
			}
		}
	}
	for _, args := range [][]string{{"nosuch=1"}, {"novalue"}, {"=1"}, {}} {
		if _, err := p.SetConfigFields(ctx, SectionHost, args...); err == nil {
			t.Errorf("SetConfigFields(host, %q) accepted", args)
		}
	}
	if _, err := p.SetConfigFields(ctx, "nosuch", "a=1"); !errors.Is(err, ErrUnknownSection) {
		t.Errorf("unknown section: %v", err)
	}
	// The typed API validates what the change altered.
	_, err := p.SetHostConfig(ctx, func(c *protocol.HostConfig) error { c.TimezoneOffsetM = 721; return nil })
	var fe *protocol.FieldError
	if !errors.As(err, &fe) || fe.Field != "timezone_offset_m" || !strings.Contains(err.Error(), "-720..720") {
		t.Errorf("typed out-of-range: %v", err)
	}
	after := s.Snapshot()
	for _, sec := range Sections {
		if a, b := protocol.Encode(simRecord(before, sec)), protocol.Encode(simRecord(after, sec)); !protocol.ArrayValue(a...).Equal(protocol.ArrayValue(b...)) {
			t.Errorf("%s changed by refused writes: %v -> %v", sec, a, b)
		}
	}
}

// Values the panel sent are written back as they are, even out of range;
// fields the panel does not have cannot be set (spec: local-protocol.md
// 3.16, 3.19, 7.2).
func TestSetConfigKeepsPanelValues(t *testing.T) {
	st := sim.DefaultState()
	st.NetConfig.APNAuth = 333
	st.HostConfig.RingVolumeLevel = nil
	st.HostConfig.SpeechLanguage = 0
	s := startSim(t, sim.Config{Seed: 1, State: &st})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	if _, err := p.SetConfigFields(ctx, SectionNet, "ap_enabled=1"); err != nil {
		t.Fatal(err)
	}
	if got := s.Snapshot().NetConfig; got.APNAuth != 333 || got.APEnabled != 1 || got.GSMOperator != st.NetConfig.GSMOperator {
		t.Errorf("net config %+v: want apn_auth 333 kept, ap_enabled 1, operator kept", got)
	}
	if _, err := p.SetConfigFields(ctx, SectionHost, "ring_volume_level=1"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("ring volume on a panel without it: %v", err)
	}
	c, err := p.SetConfigFields(ctx, SectionHost, "alarm_siren_duration=999")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(protocol.Encode(c)); n != 10 {
		t.Errorf("host config has %d fields after the write, want 10", n)
	}
	if got := s.Snapshot().HostConfig; got.SpeechLanguage != 0 || got.RingVolumeLevel != nil || got.AlarmSirenDuration != 999 {
		t.Errorf("host config %+v", got)
	}
	// Alert bits: one bit changes, the unknown ones stay.
	if err := s.SetState(func() sim.State { x := s.Snapshot(); x.AlertFlags = 1 | 1024 | 4096; return x }()); err != nil {
		t.Fatal(err)
	}
	a, err := p.SetConfigFields(ctx, SectionAlerts, "host_low_voltage=on", "ac_power_failure=off")
	if err != nil {
		t.Fatal(err)
	}
	if want := protocol.AlertFlags(8 | 1024 | 4096); a.(*protocol.AlertConfig).Flags != want || s.Snapshot().AlertFlags != want {
		t.Errorf("alert flags %d, panel %d, want %d", a.(*protocol.AlertConfig).Flags, s.Snapshot().AlertFlags, want)
	}
}

// Host, net and phones are reused for 600 s, SIA and CID until
// invalidated, alert flags never; a write refreshes the cache.
func TestConfigCache(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	now := time.Unix(1_700_000_000, 0)
	p.now = func() time.Time { return now }
	ctx := context.Background()
	commands := func(f func()) uint64 {
		t.Helper()
		n := p.Client().Stats().Commands
		f()
		return p.Client().Stats().Commands - n
	}
	read := func(sec Section) protocol.Record {
		t.Helper()
		r, err := p.ReadConfig(ctx, sec)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, sec := range Sections {
		if n := commands(func() { read(sec) }); n != 1 {
			t.Errorf("%s: first read sent %d commands", sec, n)
		}
	}
	now = now.Add(599 * time.Second)
	for _, sec := range Sections {
		want := uint64(0)
		if sec == SectionAlerts {
			want = 1
		}
		if n := commands(func() { read(sec) }); n != want {
			t.Errorf("%s: read after 599 s sent %d commands, want %d", sec, n, want)
		}
	}
	now = now.Add(2 * time.Second)
	for _, sec := range Sections {
		want := uint64(1)
		if sec == SectionSIA || sec == SectionCID {
			want = 0 // loaded once (spec: local-protocol.md 7.1)
		}
		if n := commands(func() { read(sec) }); n != want {
			t.Errorf("%s: read after 601 s sent %d commands, want %d", sec, n, want)
		}
	}
	p.InvalidateConfig(SectionSIA)
	if n := commands(func() { read(SectionSIA) }); n != 1 {
		t.Errorf("SIA after InvalidateConfig: %d commands", n)
	}
	// A change behind our back is seen only after invalidation.
	st := s.Snapshot()
	st.CID.User = "OTHER"
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if c, _ := p.CIDConfig(ctx); c.User == "OTHER" {
		t.Error("CID re-read without invalidation")
	}
	p.InvalidateConfig()
	if c, _ := p.CIDConfig(ctx); c.User != "OTHER" {
		t.Errorf("CID user %q after InvalidateConfig", c.User)
	}
	// A write reads fresh data, and leaves the cache holding the result.
	st = s.Snapshot()
	st.CID.Phone2 = "+49"
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetCIDConfig(ctx, func(c *protocol.CIDConfig) error { c.Enabled = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	var c protocol.CIDConfig
	if n := commands(func() { c, _ = p.CIDConfig(ctx) }); n != 0 || c.Enabled != 1 || c.Phone2 != "+49" || c.User != "OTHER" {
		t.Errorf("after the write: %d commands, cached %+v", n, c)
	}
	// What a caller gets is a copy.
	h, _ := p.HostConfig(ctx)
	*h.RingVolumeLevel = 0
	h.AlarmSirenDuration = 1
	if h2, _ := p.HostConfig(ctx); *h2.RingVolumeLevel == 0 || h2.AlarmSirenDuration == 1 {
		t.Error("changing a returned config changed the cache")
	}
}

// Concurrent writers of different fields of one object all survive: the
// Panel serialises the read-modify-writes.
func TestConcurrentConfigWriters(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	sets := []string{
		"alarm_siren_duration=321", "arm_delay=11", "alarm_delay=12", "backlight_duration=13",
		"alarm_volume_level=0", "speech_volume_level=0", "ring_duration=14", "speech_language=18",
		"key_tone_volume_level=2", "timezone_offset_m=-300", "ring_volume_level=0",
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(sets)+1)
	for _, a := range sets {
		wg.Go(func() {
			_, err := p.SetConfigFields(ctx, SectionHost, a)
			errs <- err
		})
	}
	wg.Go(func() {
		_, err := p.SetAlarmPhones(ctx, func(a *protocol.AlarmPhones) error { a.PanelPassword = "9876"; return nil })
		errs <- err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st := s.Snapshot()
	for _, a := range sets {
		k, v, _ := strings.Cut(a, "=")
		if got := simField(t, st, SectionHost, k); got != v {
			t.Errorf("%s = %s, want %s: a concurrent write was lost", k, got, v)
		}
	}
	if st.AlarmPhones.PanelPassword != "9876" {
		t.Errorf("password %q", st.AlarmPhones.PanelPassword)
	}
}

// A write whose reply is lost is resolved by reading the panel back, not
// by sending it again; a write the panel never gets is reported as not
// stored, and the panel is unchanged.
func TestConfigWriteLostReply(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t, sim.Config{Seed: 1})
	p := newPanel(t, s, 200*time.Millisecond, 3)
	ctx := context.Background()

	if err := s.SetFaults(sim.Faults{DropCode: int(protocol.SetHostConfig)}); err != nil {
		t.Fatal(err)
	}
	before := p.Client().Stats()
	c, err := p.SetHostConfig(ctx, func(c *protocol.HostConfig) error { c.AlarmSirenDuration = 555; return nil })
	if err != nil {
		t.Fatalf("write with a lost reply: %v", err)
	}
	if c.AlarmSirenDuration != 555 || s.Snapshot().HostConfig.AlarmSirenDuration != 555 {
		t.Errorf("siren %d, panel %d, want 555", c.AlarmSirenDuration, s.Snapshot().HostConfig.AlarmSirenDuration)
	}
	// GET, SET (one attempt, no reply), GET: the SET was not repeated.
	if st := p.Client().Stats(); st.Commands-before.Commands != 3 || st.Attempts-before.Attempts != 3 {
		t.Errorf("%d commands, %d datagrams; want 3 and 3", st.Commands-before.Commands, st.Attempts-before.Attempts)
	}

	if err := s.SetFaults(sim.Faults{IgnoreCode: int(protocol.SetHostConfig)}); err != nil {
		t.Fatal(err)
	}
	_, err = p.SetConfigFields(ctx, SectionHost, "alarm_siren_duration=777")
	if !errors.Is(err, ErrNotStored) || !strings.Contains(err.Error(), "alarm_siren_duration (want 777, panel has 555)") {
		t.Fatalf("write the panel never got: %v, want ErrNotStored naming the field", err)
	}
	if got := s.Snapshot().HostConfig.AlarmSirenDuration; got != 555 {
		t.Errorf("panel siren %d, want 555 unchanged", got)
	}
	s.SetFaults(sim.Faults{})
	if c, _ := p.HostConfig(ctx); c.AlarmSirenDuration != 555 {
		t.Errorf("cache says %d after a failed write, panel has 555", c.AlarmSirenDuration)
	}
}

// With random reply loss, every write either leaves exactly the value
// asked for on the panel, or fails with an error that says it did not or
// that it cannot tell.
func TestConfigWritesUnderReplyLoss(t *testing.T) {
	s := startSim(t, sim.Config{Seed: 3})
	if err := s.SetFaults(sim.Faults{Drop: 0.3}); err != nil {
		t.Fatal(err)
	}
	p := newPanel(t, s, 60*time.Millisecond, 4)
	ctx := context.Background()
	var ok int
	for i := range 30 {
		want := 100 + i
		_, err := p.SetConfigFields(ctx, SectionHost, fmt.Sprintf("alarm_siren_duration=%d", want))
		got := s.Snapshot().HostConfig.AlarmSirenDuration
		switch {
		case err == nil:
			ok++
			if got != want {
				t.Errorf("write %d succeeded but the panel has %d", want, got)
			}
		case errors.Is(err, ErrNotStored):
			if got == want {
				t.Errorf("write %d reported not stored, but the panel has it: %v", want, err)
			}
		case !strings.Contains(err.Error(), "unknown") && !strings.Contains(err.Error(), "did not answer"):
			t.Errorf("write %d: error does not say what happened: %v", want, err)
		}
	}
	if ok == 0 {
		t.Error("no write succeeded at 30 % loss")
	}
}

// The typed API cannot change what cannot be written, nor add a field
// the panel does not have; nothing is sent.
func TestTypedConfigShape(t *testing.T) {
	st := sim.DefaultState()
	st.HostConfig.RingVolumeLevel = nil
	s := startSim(t, sim.Config{Seed: 1, State: &st})
	p := newPanel(t, s, time.Second, 3)
	ctx := context.Background()
	for name, try := range map[string]func() error{
		"ring_volume_level": func() error {
			_, err := p.SetHostConfig(ctx, func(c *protocol.HostConfig) error { c.RingVolumeLevel = ptr(1); return nil })
			return err
		},
		"gsm_operator": func() error {
			_, err := p.SetNetConfig(ctx, func(c *protocol.NetConfig) error { c.GSMOperator = "1"; return nil })
			return err
		},
		"event_flags": func() error {
			_, err := p.SetSIAConfig(ctx, func(c *protocol.SIAConfig) error { c.EventFlags = "00000001"; return nil })
			return err
		},
		"heartbeat_interval": func() error {
			_, err := p.SetSIAConfig(ctx, func(c *protocol.SIAConfig) error { c.HeartbeatInterval = nil; return nil })
			return err
		},
	} {
		var fe *protocol.FieldError
		if err := try(); !errors.As(err, &fe) || fe.Field != name {
			t.Errorf("%s: %v, want a FieldError naming it", name, err)
		}
	}
	after := s.Snapshot()
	if after.HostConfig.RingVolumeLevel != nil || after.NetConfig.GSMOperator != st.NetConfig.GSMOperator || after.SIA.EventFlags != st.SIA.EventFlags || after.SIA.HeartbeatInterval == nil {
		t.Error("the panel changed")
	}
}
