package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// commandTimeout bounds one MQTT command, retries included.
const commandTimeout = 2 * time.Minute

// command carries out one MQTT command: the topic names the entity, its
// row checks the payload, and only a payload that passes reaches the
// panel. A command the panel does not carry out is logged, and the
// entity's state is published again as the panel has it.
func (p *panel) command(ctx context.Context, c command) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	e, tg, ok := p.route(c.topic)
	payload := strings.TrimSpace(string(c.payload))
	if ok && e.Platform == "text" {
		payload = string(c.payload) // spaces may belong to a text
	}
	shown := shownPayload(payload, ok && e.Secret)
	rejected := func(why string) {
		p.b.rejected.Add(1)
		p.b.log.Warn("MQTT command ignored", "topic", c.topic, "payload", shown, "reason", why)
	}
	if !ok {
		rejected("unknown command")
		return
	}
	p.mu.Lock()
	st := p.st
	present := false
	for _, v := range p.views(&st) {
		if v.tg.scope == tg.scope && v.tg.index == tg.index {
			present = e.src.present(v)
			if e.Key == "node" {
				present = false
				for _, n := range v.nodes {
					present = present || n.Node == tg.node
				}
			}
		}
	}
	p.mu.Unlock()
	set, ok := e.src.(setter)
	if !present || !ok || !e.Command {
		rejected("no such entity on this panel")
		return
	}
	if e.needsPermission() && p.mon.PIN().Required() && !p.b.cfg.AllowConfigChanges {
		rejected("a PIN is set and this command has none: configuration changes from MQTT need mqtt.allow_config_changes")
		return
	}
	val, err := e.decode(payload)
	if err == nil {
		err = set.set(ctx, p, tg, val)
	}
	var r *rejection
	if errors.As(err, &r) {
		rejected(r.why)
		return
	}
	p.b.commands.Add(1)
	if err == nil {
		return
	}
	p.b.commandErrors.Add(1)
	p.b.log.Error("MQTT command failed", "topic", c.topic, "payload", shown, "err", err)
	// Show what the panel holds, not what was asked for.
	if rr, ok := e.src.(rereader); ok {
		rr.reread(p, tg)
	}
	p.republish(e, tg)
}

// needsPermission reports whether the entity changes what the panel
// does or protects (a configuration entity, or Reboot): on a panel with
// a PIN only Config.AllowConfigChanges lets MQTT use it, since no code
// comes with it (issue 13.4).
func (e *entity) needsPermission() bool {
	return e.Category == catConfig || e.Key == "reboot"
}

// shownPayload is a command's payload as the log shows it: no secret,
// ever (issue 15.10). A secret entity's payload is hidden, and so is the
// code in a JSON payload (the alarm panel's command template carries the
// PIN); JSON that does not parse may hold one too, so only its size is
// shown. A long payload is cut.
func shownPayload(payload string, secret bool) string {
	if secret {
		return "(hidden)"
	}
	if strings.HasPrefix(payload, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(payload), &m) != nil {
			return "(" + strconv.Itoa(len(payload)) + " bytes, not JSON)"
		}
		for k := range m {
			if strings.EqualFold(k, "code") {
				m[k] = "(hidden)"
			}
		}
		b, _ := json.Marshal(m)
		payload = string(b)
	}
	const most = 64
	if len(payload) > most {
		return strconv.Quote(payload[:most]) + "… (" + strconv.Itoa(len(payload)) + " bytes)"
	}
	return payload
}

// route finds the row and target of a command topic:
// <base>/<key>/set for the panel's entities, <base>/sensor/<index>/<key>/set,
// <base>/relay/<index>/<key>/set and <base>/relay/<index>/<node>/set.
func (p *panel) route(topic string) (*entity, target, bool) {
	rest, ok := strings.CutPrefix(topic, p.t.base()+"/")
	if !ok {
		return nil, target{}, false
	}
	rest, ok = strings.CutSuffix(rest, "/set")
	if !ok {
		return nil, target{}, false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1:
		e := lookup(ScopePanel, parts[0])
		return e, target{scope: ScopePanel}, e != nil
	case len(parts) == 3 && (parts[0] == string(ScopeSensor) || parts[0] == string(ScopeRelay)):
		index, err := strconv.Atoi(parts[1])
		if err != nil || index < 0 {
			return nil, target{}, false
		}
		tg := target{scope: Scope(parts[0]), index: index}
		key := parts[2]
		if node, err := strconv.Atoi(key); err == nil {
			tg.node, key = node, "node" // a relay's node: its switch
			if node < 0 || tg.scope != ScopeRelay {
				return nil, target{}, false
			}
		} else if key == "node" {
			return nil, target{}, false // the row's key is not a topic
		}
		e := lookup(tg.scope, key)
		return e, tg, e != nil
	}
	return nil, target{}, false
}

// republish publishes row e's state for tg again, even if unchanged.
func (p *panel) republish(e *entity, tg target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	for _, v := range p.views(&st) {
		if v.tg.scope == tg.scope && v.tg.index == tg.index {
			p.entityState(e, v, true)
		}
	}
}
