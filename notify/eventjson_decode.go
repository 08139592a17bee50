package notify

import (
	"encoding/json"
	"fmt"
	"time"
)

// eventJSON is the shape AppendJSON writes.
type eventJSON struct {
	Time   time.Time `json:"time"`
	Panel  string    `json:"panel"`
	Source Source    `json:"source"`
	Type   EventType `json:"type"`
	Sensor *struct {
		Index int    `json:"index"`
		Name  string `json:"name"`
		Type  string `json:"type"`
	} `json:"sensor"`
	Device   *DeviceRef `json:"device"`
	State    ArmState   `json:"state"`
	Occupied bool       `json:"occupied"`
	Reset    bool       `json:"reset"`
	Tamper   bool       `json:"tamper"`
	Host     bool       `json:"host"`
	Button   Button     `json:"button"`
	Keypad   Keypad     `json:"keypad"`
	Card     int        `json:"card"`
	On       bool       `json:"on"`
	Seq      uint64     `json:"seq"`
}

// UnmarshalJSON decodes one object in AppendJSON's format, so that a
// stored event (the journal, an MQTT message) becomes an Event again. Keys
// AppendJSON does not write are ignored; type is required. AppendJSON of the result gives the same bytes back.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("notify: decode event: %w", err)
	}
	if j.Type == "" {
		return fmt.Errorf("notify: decode event: no type")
	}
	// AppendJSON writes the time in UTC; RFC 3339 has four-digit years.
	if y := j.Time.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("notify: decode event: time %v outside RFC 3339 in UTC", j.Time)
	}
	*e = Event{
		Type: j.Type, Time: j.Time, GUID: j.Panel, Source: j.Source, Device: j.Device,
		State: j.State, Occupied: j.Occupied, Reset: j.Reset, Tamper: j.Tamper, Host: j.Host,
		Button: j.Button, Keypad: j.Keypad, Card: j.Card, On: j.On, Seq: j.Seq,
	}
	if s := j.Sensor; s != nil {
		e.Sensor, e.Index, e.Name, e.SensorType = true, s.Index, s.Name, s.Type
	}
	return nil
}
