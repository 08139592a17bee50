package web

// The configuration sections of the management API (manage.go): each
// field described by the protocol's record layout, the one definition
// table, and written with g90.Panel.SetConfigFields, as g90 config set
// writes it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/protocol"
)

func (s *Server) configSections(w http.ResponseWriter, _ *http.Request, _ *panel) {
	names := make([]string, len(g90.Sections))
	for i, sec := range g90.Sections {
		names[i] = string(sec)
	}
	writeJSON(w, http.StatusOK, map[string][]string{"sections": names})
}

// fieldView is one field of a configuration section, described by the
// protocol's record layout (g90.ConfigKeys, protocol.Fields).
type fieldView struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	Type  string          `json:"type"` // int, string, bool (an alert flag bit)
	Help  string          `json:"help,omitempty"`
	// Min and Max bound an int's value, a string's length in characters.
	Min    *int   `json:"min,omitempty"`
	Max    *int   `json:"max,omitempty"`
	Format string `json:"format,omitempty"` // a string's: digits, phone
	// Enum lists the values of a field that takes one of a few, with
	// their meanings (protocol.FieldInfo.Choices); the panel may hold
	// another, which a write keeps.
	Enum     []choiceView `json:"enum,omitempty"`
	Writable bool         `json:"writable"`
	// Secret: a password or key (protocol.FieldInfo.Secret), whose value
	// is never sent (null); Set says whether the panel holds one. A PUT
	// may set it.
	Secret bool `json:"secret,omitempty"`
	Set    bool `json:"set,omitempty"`
}

// choiceView is one value of an enumerated field.
type choiceView struct {
	Value int    `json:"value"`
	Name  string `json:"name"`
}

// sectionView is a configuration section in the API.
type sectionView struct {
	Section string      `json:"section"`
	Fields  []fieldView `json:"fields"`
}

// section resolves {section}; it answers 404 and returns false for an
// unknown one.
func (s *Server) section(w http.ResponseWriter, r *http.Request, p *panel) (g90.Section, bool) {
	sec := g90.Section(r.PathValue("section"))
	if !slices.Contains(g90.Sections, sec) {
		names := make([]string, len(g90.Sections))
		for i, x := range g90.Sections {
			names[i] = string(x)
		}
		s.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("no configuration section %q; want one of %s", sec, strings.Join(names, ", ")))
		return "", false
	}
	return sec, true
}

// viewSection describes record r of section sec field by field, values
// from MarshalRecord and everything else from the same layout. Optional
// fields the panel did not send are left out: they cannot be written.
func viewSection(sec g90.Section, r protocol.Record) (sectionView, error) {
	keys, err := g90.ConfigKeys(sec)
	if err != nil {
		return sectionView{}, err
	}
	values := map[string]json.RawMessage{}
	if a, ok := r.(*protocol.AlertConfig); ok {
		// The raw mask and one bit per name, the keys PUT takes
		// (spec: local-protocol.md 3.18).
		values["flags"] = json.RawMessage(strconv.Itoa(int(a.Flags)))
		for _, f := range protocol.AlertFlagNames {
			values[f.Name] = json.RawMessage(strconv.FormatBool(a.Flags&f.Flag != 0))
		}
	} else {
		b, err := protocol.MarshalRecord(r)
		if err != nil {
			return sectionView{}, err
		}
		if err := json.Unmarshal(b, &values); err != nil {
			return sectionView{}, err
		}
	}
	v := sectionView{Section: string(sec), Fields: []fieldView{}}
	for _, k := range keys {
		val, ok := values[k.Name]
		if !ok {
			continue
		}
		f := fieldView{Name: k.Name, Value: val, Type: fieldType(sec, k), Help: k.Help, Writable: !k.ReadOnly && k.WriteAs == ""}
		if k.Secret {
			f.Secret, f.Set, f.Value = true, string(val) != `""`, json.RawMessage("null")
		}
		if k.Ranged {
			f.Min, f.Max = &k.Min, &k.Max
		}
		for _, c := range k.Choices {
			f.Enum = append(f.Enum, choiceView{c.Value, c.Name})
		}
		switch k.Text {
		case protocol.TextDigits:
			f.Format = "digits"
		case protocol.TextPhone:
			f.Format = "phone"
		}
		v.Fields = append(v.Fields, f)
	}
	return v, nil
}

func fieldType(sec g90.Section, k protocol.FieldInfo) string {
	switch {
	case sec == g90.SectionAlerts && k.Name != "flags":
		return "bool"
	case k.Kind == protocol.FieldString:
		return "string"
	case k.Kind == protocol.FieldInt:
		return "int"
	}
	return "any"
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, p *panel) {
	sec, ok := s.section(w, r, p)
	if !ok {
		return
	}
	rec, err := p.mon.Panel().ReadConfig(r.Context(), sec)
	if err != nil {
		s.panelFailed(w, p, "read "+string(sec)+" config", err)
		return
	}
	v, err := viewSection(sec, rec)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// assignments turns PUT's values into g90.SetConfigFields's key=value
// text, in key order. Numbers keep their JSON text; a bool is on/off for
// an alert bit and 1/0 for another number; a text field wants a string.
func assignments(sec g90.Section, values map[string]json.RawMessage) ([]string, error) {
	keys, err := g90.ConfigKeys(sec)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []string
	for _, name := range names {
		if strings.Contains(name, "=") {
			return nil, &fieldError{name, "no such field"}
		}
		i := slices.IndexFunc(keys, func(f protocol.FieldInfo) bool { return f.Name == name })
		if i < 0 {
			out = append(out, name+"=") // refused by SetConfigFields, which names the fields there are
			continue
		}
		var v any
		d := json.NewDecoder(strings.NewReader(string(values[name])))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, &fieldError{name, err.Error()}
		}
		text := ""
		switch x := v.(type) {
		case string:
			text = x
		case json.Number:
			text = x.String()
		case bool:
			text = map[bool]string{true: "1", false: "0"}[x]
			if fieldType(sec, keys[i]) == "bool" {
				text = map[bool]string{true: "on", false: "off"}[x]
			}
		default:
			return nil, &fieldError{name, fmt.Sprintf("want a %s, got %s", fieldType(sec, keys[i]), values[name])}
		}
		if keys[i].Kind == protocol.FieldString {
			if _, ok := v.(string); !ok {
				return nil, &fieldError{name, fmt.Sprintf("want a string, got %s", values[name])}
			}
		}
		out = append(out, name+"="+text)
	}
	return out, nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, p *panel) {
	sec, ok := s.section(w, r, p)
	if !ok {
		return
	}
	var req struct {
		Values map[string]json.RawMessage `json:"values"`
		PIN    string                     `json:"pin"`
	}
	if !s.decode(w, r, &req, false) {
		return
	}
	if len(req.Values) == 0 {
		s.badValue(w, r, p, &fieldError{"values", `nothing to set: want {"values":{"field":value…}}`})
		return
	}
	as, err := assignments(sec, req.Values)
	if err != nil {
		s.badValue(w, r, p, err)
		return
	}
	// A bad value is refused before the PIN is checked: it costs no PIN
	// try, and nothing is sent.
	if err := g90.CheckConfigFields(sec, as...); err != nil {
		s.badValue(w, r, p, err)
		return
	}
	if !s.allowed(w, r, p, req.PIN) {
		return
	}
	s.log.Info("command", "panel", p.mon.Name(), "command", "set "+string(sec)+" config", "fields", strings.Join(slices.Sorted(maps.Keys(req.Values)), ","), "remote", r.RemoteAddr)
	rec, err := p.mon.Panel().SetConfigFields(r.Context(), sec, as...)
	if err != nil {
		var fe *protocol.FieldError
		if errors.As(err, &fe) && !errors.Is(err, g90.ErrNotStored) {
			// A field the panel's values refuse, e.g. one it does not
			// support (g90.UpdateConfig's shape check).
			s.badValue(w, r, p, err)
			return
		}
		s.changeFailed(w, p, err)
		return
	}
	s.commands.Add(1)
	p.mon.ConfigWritten(sec)
	if sec == g90.SectionAlerts {
		p.mon.Reread(g90.ReadAlerts)
	}
	v, err := viewSection(sec, rec)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}
