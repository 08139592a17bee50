package g90

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/protocol"
)

// Section names one configuration object of the panel
// (spec: local-protocol.md 3.16–3.21).
type Section string

// Sections, in display order.
const (
	SectionHost   Section = "host"   // panel settings, 106/107
	SectionNet    Section = "net"    // access point, Wi-Fi, GPRS/APN, 212/213
	SectionPhones Section = "phones" // SMS/call password and phone numbers, 114/108
	SectionAlerts Section = "alerts" // alert flags, 117/116
	SectionSIA    Section = "sia"    // SIA reporting, 230/231
	SectionCID    Section = "cid"    // Contact ID reporting, 232/233
)

// Sections lists every Section in display order.
var Sections = []Section{SectionHost, SectionNet, SectionPhones, SectionAlerts, SectionSIA, SectionCID}

// Errors of the configuration and peripheral writes; test with errors.Is.
var (
	// ErrNotStored: a write was sent, and reading the panel back shows
	// that it does not hold the values asked for. The error says which
	// fields differ.
	ErrNotStored = errors.New("g90: the panel does not hold the values written")
	// ErrUnknownSection: a Section that is not in Sections.
	ErrUnknownSection = errors.New("g90: unknown configuration section")
)

// configTTL is how long host config, alarm phones and net config are
// reused (spec: local-protocol.md 1.7, 7.4).
const configTTL = 600 * time.Second

// alertFlagsMax bounds the raw alert bitmask a user may write: the highest
// known bit is 8192 (spec: local-protocol.md 3.18).
const alertFlagsMax = 1<<16 - 1

// sectionSpec is how one configuration object is read, written and kept.
type sectionSpec struct {
	what     string // for messages, e.g. "host config"
	get, set protocol.Code
	// ttl is how long a read is reused: 0 means until invalidated (SIA
	// and CID, whose repeated reads break some firmware, spec:
	// local-protocol.md 7.1), negative means never (alert flags, spec:
	// local-protocol.md 3.22).
	ttl    time.Duration
	newRec func() protocol.Record
}

var sectionSpecs = map[Section]sectionSpec{
	SectionHost:   {"host config", protocol.GetHostConfig, protocol.SetHostConfig, configTTL, func() protocol.Record { return new(protocol.HostConfig) }},
	SectionNet:    {"net config", protocol.GetAPInfo, protocol.SetAPInfo, configTTL, func() protocol.Record { return new(protocol.NetConfig) }},
	SectionPhones: {"alarm phones", protocol.GetAlarmPhones, protocol.SetAlarmPhones, configTTL, func() protocol.Record { return new(protocol.AlarmPhones) }},
	SectionAlerts: {"alert flags", protocol.GetNoticeFlags, protocol.SetNoticeFlags, -1, func() protocol.Record { return new(protocol.AlertConfig) }},
	SectionSIA:    {"SIA config", protocol.GetSIA, protocol.SetSIA, 0, func() protocol.Record { return new(protocol.SIAConfig) }},
	SectionCID:    {"CID config", protocol.GetCID, protocol.SetCID, 0, func() protocol.Record { return new(protocol.CIDConfig) }},
}

// configSlot caches one configuration object. Its lock serialises loads
// and read-modify-writes of the object, so two writers of different
// fields both survive.
type configSlot struct {
	mu     sync.Mutex
	val    protocol.Record // nil when not loaded
	loaded time.Time
}

func newConfigSlots() map[Section]*configSlot {
	m := make(map[Section]*configSlot, len(sectionSpecs))
	for s := range sectionSpecs {
		m[s] = &configSlot{}
	}
	return m
}

func lookupSection(s Section) (sectionSpec, error) {
	spec, ok := sectionSpecs[s]
	if !ok {
		var names []string
		for _, n := range Sections {
			names = append(names, string(n))
		}
		return spec, fmt.Errorf("%w %q: want one of %s", ErrUnknownSection, s, strings.Join(names, ", "))
	}
	return spec, nil
}

// cloneRecord deep-copies r through its layout, so a caller can change
// what it gets without touching the cache.
func cloneRecord(spec sectionSpec, r protocol.Record) protocol.Record {
	c := spec.newRec()
	if err := protocol.Decode(c, protocol.Encode(r)); err != nil {
		panic("g90: a record does not decode its own encoding: " + err.Error())
	}
	return c
}

// ReadConfig returns the configuration object of section s: a
// *protocol.HostConfig, *protocol.NetConfig, *protocol.AlarmPhones,
// *protocol.AlertConfig, *protocol.SIAConfig or *protocol.CIDConfig. Host,
// net and phones are reused for 600 s; SIA and CID are read once and
// then reused until InvalidateConfig, because repeated reads break
// pagination on some firmware; alert flags are always read (spec:
// local-protocol.md 3.22, 7.1, 7.4). The result is the caller's to change.
func (p *Panel) ReadConfig(ctx context.Context, s Section) (protocol.Record, error) {
	spec, err := lookupSection(s)
	if err != nil {
		return nil, err
	}
	slot := p.cfg[s]
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.val != nil && (spec.ttl == 0 || (spec.ttl > 0 && p.now().Sub(slot.loaded) < spec.ttl)) {
		return cloneRecord(spec, slot.val), nil
	}
	r, err := p.fetchConfig(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	return cloneRecord(spec, r), nil
}

// InvalidateConfig drops the cached copies of the given sections, or of
// all of them, so that the next read asks the panel.
func (p *Panel) InvalidateConfig(sections ...Section) {
	if len(sections) == 0 {
		sections = Sections
	}
	for _, s := range sections {
		if slot := p.cfg[s]; slot != nil {
			slot.mu.Lock()
			slot.val = nil
			slot.mu.Unlock()
		}
	}
}

// fetchConfig reads section s from the panel and caches it. The caller
// holds the slot's lock.
func (p *Panel) fetchConfig(ctx context.Context, s Section, spec sectionSpec) (protocol.Record, error) {
	r := spec.newRec()
	resp, err := p.c.Exchange(ctx, protocol.NewRequest(spec.get))
	if err == nil && resp.Empty() {
		err = fmt.Errorf("%w: empty reply to %v", protocol.ErrMissingData, spec.get)
	}
	if err == nil {
		err = protocol.Decode(r, resp.Data)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", spec.what, err)
	}
	if spec.ttl >= 0 {
		slot := p.cfg[s]
		slot.val, slot.loaded = r, p.now()
	}
	return r, nil
}

// UpdateConfig changes section s by read-modify-write on fresh data
// (spec: local-protocol.md 3.22): it reads the object from the panel,
// bypassing the cache, calls change on it, checks the fields change
// altered against the write ranges (values the panel sent are trusted
// and written back as they are), sends the SET only if something
// changed, and reads the object back to verify that the panel holds it.
// It returns the object as the panel then holds it, and refreshes the
// cache.
//
// If the reply to the SET is lost, it reads the panel back instead of
// resending: when the panel holds the new values the write succeeded;
// when not, it applies change again to what it just read and sends once
// more, up to the client's number of attempts. change may therefore be
// called more than once, each time on freshly read values; it must only
// set what the caller wants, not compute from an earlier call.
//
// Writes to one section through one Panel are serialised, so concurrent
// writers of different fields all take effect.
func (p *Panel) UpdateConfig(ctx context.Context, s Section, change func(protocol.Record) error) (protocol.Record, error) {
	spec, err := lookupSection(s)
	if err != nil {
		return nil, err
	}
	slot := p.cfg[s]
	slot.mu.Lock()
	defer slot.mu.Unlock()
	attempts := max(1, p.c.Config().Retries)
	cur, err := p.fetchConfig(ctx, s, spec)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", spec.what, err)
	}
	for attempt := 1; ; attempt++ {
		want := cloneRecord(spec, cur)
		if err := change(want); err != nil {
			return nil, fmt.Errorf("set %s: %w", spec.what, err)
		}
		if err := checkShape(spec, cur, want); err != nil {
			return nil, fmt.Errorf("set %s: %w", spec.what, err)
		}
		if err := protocol.ValidateChanged(cur, want); err != nil {
			return nil, fmt.Errorf("set %s: %w", spec.what, err)
		}
		params := protocol.EncodeWrite(want)
		if protocol.ArrayValue(protocol.EncodeWrite(cur)...).Equal(protocol.ArrayValue(params...)) {
			return cloneRecord(spec, cur), nil // nothing to change, nothing sent
		}
		sendErr := p.sendOnce(ctx, protocol.NewRequest(spec.set, params...))
		if sendErr != nil && !errors.Is(sendErr, client.ErrTimeout) {
			return nil, fmt.Errorf("set %s: %w", spec.what, sendErr)
		}
		got, err := p.fetchConfig(ctx, s, spec)
		if err != nil {
			slot.val = nil // what the panel holds is unknown now
			if sendErr != nil {
				return nil, fmt.Errorf("set %s: %w; reading it back failed too, so whether the panel stored it is unknown: %w", spec.what, sendErr, err)
			}
			return nil, fmt.Errorf("set %s: sent, but reading it back failed, so whether the panel stored it is unknown: %w", spec.what, err)
		}
		diff := writeDiff(want, got)
		if len(diff) == 0 {
			return cloneRecord(spec, got), nil
		}
		if sendErr == nil {
			return nil, fmt.Errorf("set %s: %w: the panel acknowledged, but reads back different %s", spec.what, ErrNotStored, strings.Join(diff, ", "))
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("set %s: %w: %d attempt(s) got no reply and the panel reads back different %s: %w", spec.what, ErrNotStored, attempt, strings.Join(diff, ", "), sendErr)
		}
		p.log.Debug("write not stored after a lost reply, writing again", "panel", p.Addr(), "what", spec.what, "attempt", attempt, "differs", diff)
		cur = got
	}
}

// checkShape refuses changes that cannot be written: to a read-only
// field or one whose written value is forced, and adding or removing an
// optional field, since a SET must have as many fields as the panel sent
// (spec: local-protocol.md 3.16, 3.19–3.21).
func checkShape(spec sectionSpec, cur, want protocol.Record) error {
	a, b := protocol.Encode(cur), protocol.Encode(want)
	for i, f := range protocol.Fields(want) {
		switch {
		case (i < len(a)) != (i < len(b)):
			return &protocol.FieldError{Record: spec.what, Field: f.Name, Pos: i, Msg: "is not supported by this panel, and cannot be added or removed"}
		case i >= len(a):
		case (f.ReadOnly || f.WriteAs != "") && !a[i].Equal(b[i]):
			return &protocol.FieldError{Record: spec.what, Field: f.Name, Pos: i, Msg: "cannot be changed: it is read-only or always written as " + strconv.Quote(f.WriteAs)}
		}
	}
	return nil
}

// sendOnce sends a write exactly once and expects the empty reply.
func (p *Panel) sendOnce(ctx context.Context, req protocol.Request) error {
	resp, err := p.c.ExchangeOnce(ctx, req)
	if err == nil && !resp.Empty() {
		err = fmt.Errorf("%w: %v answered with data %v", protocol.ErrMalformed, req.Code, protocol.ArrayValue(resp.Data...))
	}
	return err
}

// writeDiff names the written fields in which got differs from want, as
// "field (want X, panel has Y)".
func writeDiff(want, got protocol.Record) []string {
	w, g := protocol.EncodeWrite(want), protocol.EncodeWrite(got)
	fs := protocol.Fields(want)
	var out []string
	for i := range max(len(w), len(g)) {
		name := "field #" + strconv.Itoa(i)
		if i < len(fs) {
			name = fs[i].Name
		}
		switch {
		case i >= len(w):
			out = append(out, fmt.Sprintf("%s (not written, panel has %v)", name, g[i]))
		case i >= len(g):
			out = append(out, fmt.Sprintf("%s (want %v, panel has none)", name, w[i]))
		case !w[i].Equal(g[i]):
			out = append(out, fmt.Sprintf("%s (want %v, panel has %v)", name, w[i], g[i]))
		}
	}
	return out
}

// ConfigKeys describes the keys SetConfigFields takes for section s, in
// wire order: the spec's field names with their type, range and help.
// Read-only fields and fields whose written value is forced are included,
// marked as such, and refused by SetConfigFields. The alert flags section
// has the raw bitmask "flags" and one 0/1 key per named bit.
func ConfigKeys(s Section) ([]protocol.FieldInfo, error) {
	spec, err := lookupSection(s)
	if err != nil {
		return nil, err
	}
	if s != SectionAlerts {
		return protocol.Fields(spec.newRec()), nil
	}
	out := []protocol.FieldInfo{{
		Name: "flags", Kind: protocol.FieldInt, Min: 0, Max: alertFlagsMax, Ranged: true,
		Help: "the raw bitmask; bits without a name are kept unless set here",
	}}
	for _, f := range protocol.AlertFlagNames {
		out = append(out, protocol.FieldInfo{
			Name: f.Name, Kind: protocol.FieldInt, Min: 0, Max: 1, Ranged: true,
			Help: fmt.Sprintf("bit value %d", int(f.Flag)),
		})
	}
	return out, nil
}

// SetConfigFields writes "key=value" assignments to section s with
// UpdateConfig. Keys are the spec's field names (see ConfigKeys); values
// are parsed as the field's type, and alert flag bits also take on/off,
// true/false and yes/no. Every assignment is checked against the field's
// type and range before anything is sent (CheckConfigFields); an error
// is a *protocol.FieldError naming the field and what it allows.
func (p *Panel) SetConfigFields(ctx context.Context, s Section, assignments ...string) (protocol.Record, error) {
	sets, err := parseAssignments(s, assignments)
	if err != nil {
		return nil, err
	}
	return p.UpdateConfig(ctx, s, func(r protocol.Record) error {
		if a, ok := r.(*protocol.AlertConfig); ok {
			// The raw mask first, then single bits on top of it; every other
			// bit stays as read (spec: local-protocol.md 3.18).
			for _, x := range sets {
				if x.info.Name == "flags" {
					a.Flags = protocol.AlertFlags(x.n)
				}
			}
			for _, x := range sets {
				if x.info.Name != "flags" {
					bit := protocol.AlertFlagNames[x.pos-1].Flag
					a.Flags = a.Flags&^bit | bit*protocol.AlertFlags(x.n)
				}
			}
			return nil
		}
		for _, x := range sets {
			if err := protocol.SetField(r, x.info.Name, x.text); err != nil {
				return err
			}
		}
		return nil
	})
}

// CheckConfigFields checks assignments as SetConfigFields does before it
// sends anything, without the panel: a caller can refuse bad values
// before it asks for a PIN.
func CheckConfigFields(s Section, assignments ...string) error {
	_, err := parseAssignments(s, assignments)
	return err
}

// assignment is one parsed "key=value" of SetConfigFields.
type assignment struct {
	info protocol.FieldInfo
	pos  int
	text string
	n    int // parsed integer
}

func parseAssignments(s Section, assignments []string) ([]assignment, error) {
	keys, err := ConfigKeys(s)
	if err != nil {
		return nil, err
	}
	spec := sectionSpecs[s]
	var sets []assignment
	for _, a := range assignments {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("set %s: %q: want key=value", spec.what, a)
		}
		pos := slices.IndexFunc(keys, func(f protocol.FieldInfo) bool { return f.Name == k })
		if pos < 0 {
			names := make([]string, len(keys))
			for i, f := range keys {
				names[i] = f.Name
			}
			return nil, fmt.Errorf("set %s: %w", spec.what, &protocol.FieldError{Record: spec.what, Field: k, Pos: -1, Msg: "no such field; want one of " + strings.Join(names, ", ")})
		}
		set, err := checkAssignment(spec.what, s, keys[pos], pos, v)
		if err != nil {
			return nil, fmt.Errorf("set %s: %w", spec.what, err)
		}
		sets = append(sets, assignment{keys[pos], pos, v, set})
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("set %s: nothing to set", spec.what)
	}
	return sets, nil
}

// checkAssignment parses text for field f and checks it against f's range
// without reading the panel. It returns the parsed integer of an int
// field.
func checkAssignment(record string, s Section, f protocol.FieldInfo, pos int, text string) (int, error) {
	fail := func(format string, args ...any) (int, error) {
		return 0, &protocol.FieldError{Record: record, Field: f.Name, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case f.ReadOnly:
		return fail("is read-only")
	case f.WriteAs != "":
		return fail("cannot be set: it is always written as %q", f.WriteAs)
	}
	var n int
	unit := ""
	if f.Kind == protocol.FieldString {
		if !utf8.ValidString(text) {
			return fail("is not valid UTF-8")
		}
		n, unit = utf8.RuneCountInString(text), " characters"
	} else {
		v, err := strconv.Atoi(text)
		if err != nil && s == SectionAlerts && f.Name != "flags" {
			switch strings.ToLower(text) {
			case "on", "true", "yes":
				v, err = 1, nil
			case "off", "false", "no":
				v, err = 0, nil
			}
		}
		if err != nil {
			if s == SectionAlerts && f.Name != "flags" {
				return fail("want on or off, got %q", text)
			}
			return fail("want an integer, got %q", text)
		}
		n = v
	}
	if f.Ranged && (n < f.Min || n > f.Max) {
		if unit == "" {
			return fail("%d is outside %d..%d", n, f.Min, f.Max)
		}
		if f.Min == f.Max {
			return fail("length %d, want exactly %d%s", n, f.Min, unit)
		}
		return fail("length %d is outside %d..%d%s", n, f.Min, f.Max, unit)
	}
	return n, nil
}

// typed returns section s as *T.
func typed[T any](ctx context.Context, p *Panel, s Section) (T, error) {
	r, err := p.ReadConfig(ctx, s)
	if err != nil {
		var zero T
		return zero, err
	}
	return *any(r).(*T), nil
}

// updateTyped is UpdateConfig with a typed change function.
func updateTyped[T any](ctx context.Context, p *Panel, s Section, change func(*T) error) (T, error) {
	r, err := p.UpdateConfig(ctx, s, func(r protocol.Record) error { return change(any(r).(*T)) })
	if err != nil {
		var zero T
		return zero, err
	}
	return *any(r).(*T), nil
}

// HostConfig reads the panel settings, reusing a read up to 600 s old
// (spec: local-protocol.md 3.16, 7.4).
func (p *Panel) HostConfig(ctx context.Context) (protocol.HostConfig, error) {
	return typed[protocol.HostConfig](ctx, p, SectionHost)
}

// SetHostConfig changes the panel settings; see UpdateConfig.
func (p *Panel) SetHostConfig(ctx context.Context, change func(*protocol.HostConfig) error) (protocol.HostConfig, error) {
	return updateTyped(ctx, p, SectionHost, change)
}

// AlarmPhones reads the alarm phone numbers, reusing a read up to 600 s
// old (spec: local-protocol.md 3.17, 7.4).
func (p *Panel) AlarmPhones(ctx context.Context) (protocol.AlarmPhones, error) {
	return typed[protocol.AlarmPhones](ctx, p, SectionPhones)
}

// SetAlarmPhones changes the password and phone numbers; see UpdateConfig.
func (p *Panel) SetAlarmPhones(ctx context.Context, change func(*protocol.AlarmPhones) error) (protocol.AlarmPhones, error) {
	return updateTyped(ctx, p, SectionPhones, change)
}

// AlertConfig reads the alert flags; they are never cached
// (spec: local-protocol.md 3.18, 7.4).
func (p *Panel) AlertConfig(ctx context.Context) (protocol.AlertConfig, error) {
	return typed[protocol.AlertConfig](ctx, p, SectionAlerts)
}

// SetAlertConfig changes the alert flags; see UpdateConfig. Change single
// bits so that the others, unknown ones included, stay as read.
func (p *Panel) SetAlertConfig(ctx context.Context, change func(*protocol.AlertConfig) error) (protocol.AlertConfig, error) {
	return updateTyped(ctx, p, SectionAlerts, change)
}

// NetConfig reads the network configuration, reusing a read up to 600 s
// old (spec: local-protocol.md 3.19, 7.4).
func (p *Panel) NetConfig(ctx context.Context) (protocol.NetConfig, error) {
	return typed[protocol.NetConfig](ctx, p, SectionNet)
}

// SetNetConfig changes the network configuration; see UpdateConfig. The
// operator code is never written.
func (p *Panel) SetNetConfig(ctx context.Context, change func(*protocol.NetConfig) error) (protocol.NetConfig, error) {
	return updateTyped(ctx, p, SectionNet, change)
}

// SIAConfig reads the SIA reporting configuration once and then reuses it
// until InvalidateConfig: some firmware breaks pagination after repeated
// reads (spec: local-protocol.md 7.1).
func (p *Panel) SIAConfig(ctx context.Context) (protocol.SIAConfig, error) {
	return typed[protocol.SIAConfig](ctx, p, SectionSIA)
}

// SetSIAConfig changes the SIA configuration; see UpdateConfig. The event
// flags are always written as FFFFFFFF (spec: local-protocol.md 3.20).
func (p *Panel) SetSIAConfig(ctx context.Context, change func(*protocol.SIAConfig) error) (protocol.SIAConfig, error) {
	return updateTyped(ctx, p, SectionSIA, change)
}

// CIDConfig reads the Contact ID configuration; cached like SIAConfig
// (spec: local-protocol.md 7.1).
func (p *Panel) CIDConfig(ctx context.Context) (protocol.CIDConfig, error) {
	return typed[protocol.CIDConfig](ctx, p, SectionCID)
}

// SetCIDConfig changes the Contact ID configuration; see UpdateConfig.
// The event flags are always written as FFFF (spec: local-protocol.md 3.21).
func (p *Panel) SetCIDConfig(ctx context.Context, change func(*protocol.CIDConfig) error) (protocol.CIDConfig, error) {
	return updateTyped(ctx, p, SectionCID, change)
}
