package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/journal"
)

// Limits of the history API.
const (
	historyDefault = 100
	historyMax     = 500
)

// historyTypes are the event types a history filter may name: every
// type of package event.
var historyTypes = []event.Type{
	event.ArmDisarm, event.SensorActivity, event.DoorOpen, event.DoorClose, event.DoorOpenWhenArming,
	event.Alarm, event.Tamper, event.LowBattery, event.SOS, event.RemoteButton, event.RFIDKeypad,
	event.SensorAdded, event.SensorRemoved, event.ACPowerFailure, event.ACPowerRecover,
	event.WiFiConnected, event.WiFiDisconnected, event.HostLowBattery, event.FirmwareUpdating,
	event.DeviceAdded, event.DeviceRemoved, event.RelaySwitched,
}

func (s *Server) historyRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/history", s.history)
	m.HandleFunc("GET /api/history.csv", s.historyCSV)
}

// historyQuery is a parsed /api/history request.
type historyQuery struct {
	journal.HistoryQuery
	panel *panel // the configured panel selected, if one is
	// none: the selected panel's GUID is not known yet, so nothing of
	// it is in the journal.
	none bool
}

// paramError is a bad query parameter: 400 naming it.
type paramError struct{ param, msg string }

func (e *paramError) Error() string { return e.param + ": " + e.msg }

func badParam(param, format string, args ...any) *paramError {
	return &paramError{param: param, msg: fmt.Sprintf(format, args...)}
}

// parseHistory reads the filters of /api/history and /api/history.csv
// (page: before and limit too).
func (s *Server) parseHistory(v url.Values, page bool) (historyQuery, *paramError) {
	var q historyQuery
	if key := v.Get("panel"); key != "" {
		if q.panel = s.lookup(key); q.panel != nil {
			if q.Panel = q.panel.state().GUID; q.Panel == "" {
				q.none = true
			}
		} else if s.journalHas(key) {
			q.Panel = key // a panel no longer configured, still in the journal
		} else {
			return q, badParam("panel", "no panel named %q or with that GUID", key)
		}
	}
	if key := v.Get("sensor"); key != "" {
		if q.Panel == "" && !q.none {
			if len(s.panels) != 1 {
				return q, badParam("sensor", "give the panel too: a sensor is one panel's")
			}
			q.panel = s.panels[0]
			if q.Panel = q.panel.state().GUID; q.Panel == "" {
				q.none = true
			}
		}
		q.Sensor = true
		if n, err := strconv.Atoi(key); err == nil && n >= 0 {
			q.Index = n
		} else if i := q.sensorNamed(key); i >= 0 {
			q.Index = i
		} else {
			return q, badParam("sensor", "no sensor numbered or named %q on that panel", key)
		}
	}
	if t := v.Get("type"); t != "" {
		if !slices.Contains(historyTypes, event.Type(t)) {
			return q, badParam("type", "%q is no event type; want one of %s", t, typeNames())
		}
		q.Type = event.Type(t)
	}
	var err *paramError
	if q.From, err = parseWhen("from", v.Get("from"), false); err != nil {
		return q, err
	}
	if q.To, err = parseWhen("to", v.Get("to"), true); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, badParam("from", "%s is not before to", v.Get("from"))
	}
	if !page {
		return q, nil
	}
	if b := v.Get("before"); b != "" {
		c, err := journal.ParseCursor(b)
		if err != nil {
			return q, badParam("before", "%q: want the next of a previous page", b)
		}
		q.Before = c
	}
	q.Limit = historyDefault
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > historyMax {
			return q, badParam("limit", "%q: want 1 to %d", l, historyMax)
		}
		q.Limit = n
	}
	return q, nil
}

func typeNames() string {
	names := make([]string, len(historyTypes))
	for i, t := range historyTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// sensorNamed is the index of the selected panel's sensor named name,
// or -1.
func (q *historyQuery) sensorNamed(name string) int {
	if q.panel == nil {
		return -1
	}
	for _, st := range q.panel.state().Sensors {
		if st.Name == name {
			return st.Index
		}
	}
	for _, st := range q.panel.state().Sensors {
		if strings.EqualFold(st.Name, name) {
			return st.Index
		}
	}
	return -1
}

// journalHas reports whether the journal has numbered events of the
// panel with this GUID.
func (s *Server) journalHas(guid string) bool {
	if s.cfg.Journal == nil {
		return false
	}
	panels, err := s.cfg.Journal.Panels()
	_, ok := panels[guid]
	return err == nil && ok
}

// parseWhen reads from and to: an RFC 3339 time, or a date (the
// server's time zone) meaning its start (from) or all of it (to). The
// result is an inclusive from or an exclusive to.
func parseWhen(param, v string, to bool) (time.Time, *paramError) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		if to {
			t = t.Add(time.Nanosecond) // to the time itself, inclusive
		}
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, time.Local)
	if err != nil {
		return time.Time{}, badParam(param, "%q: want an RFC 3339 time (2025-01-02T15:04:05Z) or a date (2025-01-02)", v)
	}
	if to {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// writeParamError answers 400 naming the query parameter, for every
// endpoint that takes some (history pages, the panel's own history).
func writeParamError(w http.ResponseWriter, e *paramError) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": e.Error(), "param": e.param})
}

// history answers a page of the event history, newest first.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	q, perr := s.parseHistory(r.URL.Query(), true)
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	out := struct {
		Events []json.RawMessage `json:"events"`
		Next   string            `json:"next"`
	}{Events: []json.RawMessage{}}
	switch {
	case s.cfg.Journal == nil: // the ring knows its panels without GUIDs
		evs, next := s.recent.page(q)
		for _, e := range evs {
			out.Events = append(out.Events, e.json)
		}
		out.Next = next
	case q.none:
	default:
		p, err := s.cfg.Journal.History(q.HistoryQuery)
		if err != nil {
			s.log.Warn("history: journal read failed", "err", err)
			writeError(w, http.StatusServiceUnavailable, "history: "+err.Error())
			return
		}
		if p.Skipped > 0 {
			s.log.Warn("history: damaged journal entries skipped", "skipped", p.Skipped)
		}
		for _, e := range p.Entries {
			out.Events = append(out.Events, e.JSON)
		}
		out.Next = p.Next.String()
	}
	writeJSON(w, http.StatusOK, out)
}

// csvHeader is the export's first row.
var csvHeader = []string{"stored", "time", "panel", "panel_name", "seq", "type", "source", "sources", "sensor_index", "sensor_name", "sensor_type", "device", "state", "event"}

// historyCSV streams every event the filters select, newest first, as
// CSV: one row per event, times in RFC 3339, the event's JSON last.
func (s *Server) historyCSV(w http.ResponseWriter, r *http.Request) {
	q, perr := s.parseHistory(r.URL.Query(), false)
	if perr != nil {
		writeParamError(w, perr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="g90-history.csv"`)
	cw := csv.NewWriter(w)
	row := make([]string, len(csvHeader))
	write := func(stored time.Time, js []byte) error {
		var ev event.Event
		if err := ev.UnmarshalJSON(js); err != nil {
			return err
		}
		s.csvRow(row, stored, &ev, js)
		return cw.Write(row)
	}
	_ = cw.Write(csvHeader)
	rows := 0
	switch {
	case s.cfg.Journal == nil:
		q.Limit = len(s.recent.buf)
		evs, _ := s.recent.page(q)
		for _, e := range evs {
			if err := write(e.at, e.json); err != nil {
				s.log.Warn("history export: an event that does not decode", "err", err)
				continue
			}
			rows++
		}
	case q.none:
	default:
		for e, err := range s.cfg.Journal.HistoryAll(q.Filter) {
			if errors.Is(err, journal.ErrDamaged) {
				s.log.Warn("history export: damaged journal entries skipped", "err", err)
				continue
			}
			if err != nil {
				// The header is sent: the export ends short, and says so
				// in the log.
				s.log.Warn("history export: journal read failed; the export is cut short", "err", err, "rows", rows)
				break
			}
			if err := write(e.Time, e.JSON); err != nil {
				s.log.Warn("history export: an event that does not decode", "err", err)
				continue
			}
			if rows++; rows%1000 == 0 {
				if cw.Flush(); cw.Error() != nil {
					return // the client went away
				}
			}
		}
	}
	cw.Flush()
}

// csvRow fills row with one event's cells.
func (s *Server) csvRow(row []string, stored time.Time, ev *event.Event, js []byte) {
	clear(row)
	row[0] = stored.UTC().Format(time.RFC3339Nano)
	if !ev.Time.IsZero() {
		row[1] = ev.Time.UTC().Format(time.RFC3339)
	}
	row[2] = ev.GUID
	for _, p := range s.panels {
		if g := p.state().GUID; g != "" && g == ev.GUID {
			row[3] = p.mon.Name()
		}
	}
	row[4] = strconv.FormatUint(ev.Seq, 10)
	row[5] = string(ev.Type)
	row[6] = string(ev.Source)
	var srcs []string
	for _, src := range ev.Sources.List() {
		srcs = append(srcs, string(src))
	}
	row[7] = strings.Join(srcs, " ")
	if ev.Sensor {
		row[8], row[9], row[10] = strconv.Itoa(ev.Index), ev.Name, ev.SensorType
	}
	if d := ev.Device; d != nil {
		row[11] = fmt.Sprintf("%d:%d %s (%s)", d.Index, d.Node, d.Name, d.Type)
	}
	row[12] = string(ev.State)
	row[13] = string(js)
	for i := range row {
		row[i] = csvSafe(row[i])
	}
}

// csvSafe keeps a spreadsheet from taking a cell for a formula (CSV
// injection: a sensor named "=HYPERLINK(…)"): a cell that starts with
// = + - @ (or a tab or carriage return, which some strip first) gets a
// leading '.
func csvSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// page is History over the in-memory log: newest first, the filters
// checked on each event. Its cursors number the ring's events.
func (r *ring) page(q historyQuery) (evs []recentEvent, next string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.buf)
	if !r.full {
		n = r.next
	}
	for i := range n {
		e := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
		if !q.Before.IsZero() && e.id >= q.Before.ID() {
			continue
		}
		if !q.ringMatch(&e) {
			continue
		}
		if len(evs) == q.Limit {
			last := evs[len(evs)-1]
			return evs, fmt.Sprintf("%d-%d", last.at.UnixNano(), last.id)
		}
		evs = append(evs, e)
	}
	return evs, ""
}

func (q *historyQuery) ringMatch(e *recentEvent) bool {
	if (q.panel != nil && e.panel != q.panel.i) || (q.panel == nil && q.Panel != "") {
		return false
	}
	if (!q.From.IsZero() && e.at.Before(q.From)) || (!q.To.IsZero() && !e.at.Before(q.To)) {
		return false
	}
	if q.Type == "" && !q.Sensor {
		return true
	}
	var ev event.Event
	if err := ev.UnmarshalJSON(e.json); err != nil {
		return false
	}
	return (q.Type == "" || ev.Type == q.Type) && (!q.Sensor || (ev.Sensor && ev.Index == q.Index))
}
