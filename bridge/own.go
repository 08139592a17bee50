package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/atomicfile"
)

// The bridge's own switches: behaviours of the bridge, not settings of
// the panel, restored at start (spec: home-assistant.md §2a, "switch
// (restored)"). Their values are kept per panel GUID in Config.StateFile.

// Keys of the bridge's own switches, in the entity table and the state
// file.
const (
	keySMSWhenArmed = "sms_alert_when_armed"
	keyHistory      = "history_alerts"
)

// smsWhenArmedSrc: SMS alerts only while the panel is armed. While on,
// the bridge sets the panel's SMS push alert flag on arming and clears it
// on disarming; switched on, it does so at once for the present state.
type smsWhenArmedSrc struct{}

func (smsWhenArmedSrc) present(*view) bool { return true }

func (smsWhenArmedSrc) get(v *view) (value, bool) {
	return intValue(boolInt(v.vals.own[keySMSWhenArmed])), true
}

func (smsWhenArmedSrc) set(ctx context.Context, p *panel, _ target, val value) error {
	on := val.n == 1
	p.remember(keySMSWhenArmed, on)
	if on {
		return p.syncSMS(ctx)
	}
	return nil
}

// historySrc: the history poller (spec: local-protocol.md C), running or
// paused; only for a panel the bridge was given one for.
type historySrc struct{}

func (historySrc) present(v *view) bool { return v.history != nil }

func (historySrc) get(v *view) (value, bool) { return intValue(boolInt(v.history.Enabled())), true }

func (historySrc) set(_ context.Context, p *panel, _ target, val value) error {
	on := val.n == 1
	p.mon.History().SetEnabled(on)
	p.remember(keyHistory, on)
	return nil
}

// remember keeps an own switch's value, saves it, and then publishes it:
// a state shown is a state saved.
func (p *panel) remember(key string, on bool) {
	if err := p.b.saved.set(p.t.guid, key, on); err != nil {
		p.b.log.Error("cannot save the bridge's switches; they will not survive a restart", "file", p.b.cfg.StateFile, "err", err)
	}
	p.mu.Lock()
	p.vals.own[key] = on
	p.entityStatesLocked(false)
	p.mu.Unlock()
}

// restore sets the own switches to their saved values; the history
// poller keeps its configured state until its switch is first used.
func (p *panel) restore() {
	saved := p.b.saved.get(p.t.guid)
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, on := range saved {
		p.vals.own[k] = on
		if k == keyHistory && p.mon.History() != nil {
			p.mon.History().SetEnabled(on)
		}
	}
}

// requestSMSSync asks the worker to make the SMS push flag follow the arm
// state, if the switch is on.
func (p *panel) requestSMSSync() {
	p.mu.Lock()
	on := p.vals.own[keySMSWhenArmed]
	p.mu.Unlock()
	if !on {
		return
	}
	select {
	case p.smsSync <- struct{}{}:
	default: // one is waiting; it reads the latest state
	}
}

// syncSMS sets the panel's SMS push alert flag on while the panel is
// armed and off while it is disarmed (spec: local-protocol.md 3.18).
// Nothing is sent when the flag is as wanted already.
func (p *panel) syncSMS(ctx context.Context) error {
	var want int
	switch p.lastState().Arm {
	case event.ArmAway, event.ArmHome, event.Alarmed:
		want = 1
	case event.Disarmed:
	default:
		return nil // not known yet: the first arm/disarm event will tell
	}
	r, err := p.mon.Panel().SetConfigFields(ctx, g90.SectionAlerts, fmt.Sprintf("sms_push=%d", want))
	if err != nil {
		return fmt.Errorf("SMS alert when armed: %w", err)
	}
	p.stored(g90.SectionAlerts, r)
	return nil
}

// savedSwitches is the state file of the own switches: a JSON object of
// panel GUID to switch key to value. It is read once, at New, and
// written whole, atomically, on every change.
type savedSwitches struct {
	file string // "" keeps them in memory
	mu   sync.Mutex
	m    map[string]map[string]bool
}

// loadSwitches reads file. A missing file is no switch set; one that
// cannot be read or parsed is an error naming it.
func loadSwitches(file string) (*savedSwitches, error) {
	s := &savedSwitches{file: file, m: map[string]map[string]bool{}}
	if file == "" {
		return s, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &s.m)
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", file, err)
	}
	if s.m == nil {
		s.m = map[string]map[string]bool{}
	}
	return s, nil
}

func (s *savedSwitches) get(guid string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for k, v := range s.m[guid] {
		out[k] = v
	}
	return out
}

func (s *savedSwitches) set(guid, key string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[guid] == nil {
		s.m[guid] = map[string]bool{}
	}
	s.m[guid][key] = on
	if s.file == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.file, append(b, '\n'))
}
