package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/protocol"
	"github.com/google/go-cmp/cmp"
)

// TestVectors drives decode, encode, events and the receiver checks from
// the L-* vectors of spec: F.1 and F.2, one row each (vectorrows_test.go).
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	var rowIDs []string
	for _, r := range rows {
		rowIDs = append(rowIDs, r.id)
	}
	if diff := cmp.Diff(ids, rowIDs); diff != "" {
		t.Fatalf("rows do not match the vectors one to one, in order (-vectors +rows):\n%s", diff)
	}
	for i, v := range vs {
		t.Run(v.ID, func(t *testing.T) { runVector(t, v, rows[i]) })
	}
}

func runVector(t *testing.T, v vector, r row) {
	b, err := v.datagram()
	if err != nil {
		t.Fatal(err)
	}
	dropped := false

	// spec: A.7.1, before anything is parsed.
	if h, ok := v.Fields["configured_host"]; ok {
		err := CheckSender(netip.MustParseAddr(h), netip.MustParseAddr(v.Fields["source_ip"]))
		if !errors.Is(err, r.senderErr) || (err == nil) != (r.senderErr == nil) {
			t.Errorf("CheckSender = %v, want %v", err, r.senderErr)
		}
		dropped = err != nil
	} else if r.senderErr != nil {
		t.Errorf("row expects a sender error, but the vector configures no host")
	}

	m, err := Decode(b)
	if r.decodeErr != nil {
		var de *DecodeError
		switch {
		case !errors.Is(err, r.decodeErr) || !errors.As(err, &de):
			t.Fatalf("Decode = %+v, %v; want a *DecodeError wrapping %v", m, err, r.decodeErr)
		case r.record != "" && de.Record != r.record:
			t.Errorf("DecodeError.Record = %q, want %q (%v)", de.Record, r.record, err)
		case r.record == "" && de.Offset != r.offset:
			t.Errorf("DecodeError.Offset = %d, want %d (%v)", de.Offset, r.offset, err)
		}
		checkDiffers(t, v, r, true, nil)
		return
	}
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}

	// Encode: the panel's compact wire form, byte for byte.
	text, _ := bytes.CutSuffix(b, []byte{0})
	var compact bytes.Buffer
	if err := json.Compact(&compact, text); err != nil {
		t.Fatal(err)
	}
	if got, want := m.Append(nil), append(compact.Bytes(), 0); !bytes.Equal(got, want) {
		t.Errorf("Append = %q, want %q", got, want)
	}

	if got := m.Known(); got == r.unknown {
		t.Errorf("Known = %v, want %v", got, !r.unknown)
	}
	if g, ok := v.Fields["guid"]; ok {
		err := m.CheckGUID(g)
		if !errors.Is(err, r.guidErr) || (err == nil) != (r.guidErr == nil) {
			t.Errorf("CheckGUID(%q) = %v, want %v", g, err, r.guidErr)
		}
		dropped = dropped || err != nil
	} else if r.guidErr != nil {
		t.Errorf("row expects a GUID error, but the vector sets no GUID")
	}

	evs, err := m.Events(nil)
	if r.eventsErr {
		if !errors.Is(err, ErrUnknown) || len(evs) != 0 {
			t.Errorf("Events = %+v, %v; want no events and ErrUnknown", evs, err)
		}
	} else if err != nil {
		t.Errorf("Events: %v", err)
	}
	if diff := cmp.Diff(r.want, evs); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	if dropped || err != nil {
		evs = nil
	}
	checkDiffers(t, v, r, dropped || err != nil, evs)
}

// checkDiffers compares our outcome with the reference's, as the vector
// gives it, and demands a row.why exactly where they differ.
func checkDiffers(t *testing.T, v vector, r row, dropped bool, delivered []event.Event) {
	t.Helper()
	var differs []string
	if v.drops() != dropped {
		differs = append(differs, fmt.Sprintf("the reference drops it: %v, we drop it: %v", v.drops(), dropped))
	}
	if want, ok := v.Fields["expect_protocol"]; ok {
		if got, want := refView(delivered), splitList(want); !slices.Equal(got, want) {
			differs = append(differs, fmt.Sprintf("reference protocol events %q, ours read as %q", want, got))
		}
	}
	switch {
	case len(differs) > 0 && r.why == "":
		t.Errorf("outcome differs from the reference without a reason in the row: %q", differs)
	case len(differs) == 0 && r.why != "":
		t.Errorf("row explains a difference, but the outcome matches the reference: %s", r.why)
	}
}

// refView rewrites events into the reference's protocol events (spec: B
// intro), as the vectors' expect_protocol writes them: the inverse of the
// B.3 expansion. Events the reference does not have (spec: B.9) show as
// "extension(type)", so they count as a difference.
func refView(evs []event.Event) []string {
	var out []string
	for i := 0; i < len(evs); i++ {
		e := evs[i]
		next := func(types ...event.Type) *event.Event {
			if i+1 < len(evs) && slices.Contains(types, evs[i+1].Type) {
				i++
				return &evs[i]
			}
			return nil
		}
		add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
		switch e.Type {
		case event.ArmDisarm:
			add("armdisarm(%d)", map[event.ArmState]protocol.ArmState{event.ArmAway: 1, event.ArmHome: 2, event.Disarmed: 3, event.Alarmed: 4}[e.State])
		case event.SensorActivity:
			if d := next(event.DoorOpen, event.DoorClose); d != nil {
				add("door_open_close(%d, %q, %t)", e.Index, e.Name, d.Type == event.DoorOpen)
			} else {
				add("sensor_activity(%d, %q)", e.Index, e.Name)
			}
		case event.DoorOpenWhenArming:
			add("door_open_when_arming(%d, %q)", e.Index, e.Name)
		case event.SensorAdded:
			add("sensor_change(%d, %q, added=true)", e.Index, e.Name)
		case event.LowBattery:
			add("low_battery(%d, %q)", e.Index, e.Name)
		case event.RemoteButton:
			next(event.SensorActivity)
			add("remote_button_press(%d, %q, %d)", e.Index, e.Name, slices.Index(buttons[:], e.Button))
		case event.RFIDKeypad:
			next(event.SensorActivity, event.LowBattery)
			k := slices.Index(keypads[:], e.Keypad) + e.Card
			add("rfid_keypad(%d, %q, %d)", e.Index, e.Name, k)
		case event.Tamper:
			a := next(event.Alarm)
			add("alarm(%d, %q, tampered=%t)", e.Index, e.Name, a != nil && a.Tamper)
		case event.Alarm:
			add("alarm(%d, %q, tampered=%t)", e.Index, e.Name, e.Tamper)
		case event.SOS:
			next(event.Alarm)
			if !e.Host {
				next(event.RemoteButton)
				next(event.SensorActivity)
			}
			add("sos(%d, %q, is_host=%t)", e.Index, e.Name, e.Host)
		default:
			add("extension(%s)", e.Type)
		}
	}
	return out
}
