package cloudproto_test

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/g90alarm/g90/cloudproto"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/notify"
	"github.com/google/go-cmp/cmp"
)

// The spec's cloud vectors (spec: F.4, F.5) are read with
// internal/testrig/vectors.ParseEntries; a value given in words instead of hex is
// spelled out by the vector's row (vectorrows_test.go).

func vectorEntry(tb testing.TB, es []vectors.Entry, id string) vectors.Entry {
	tb.Helper()
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	tb.Fatalf("no vector %s", id)
	return vectors.Entry{}
}

// vectorInput returns the one chunk of a vector whose input is hex.
func vectorInput(tb testing.TB, es []vectors.Entry, id string) []byte {
	tb.Helper()
	b, ok := vectors.Hex(vectorEntry(tb, es, id).Fields["input_hex"])
	if !ok {
		tb.Fatalf("vector %s has no hex input", id)
	}
	return b
}

// cloudproto.DefaultParams are the settings of spec: F.4: local_port = cloud_port =
// 5678, cloud_ip = 127.0.0.1.

// session is what a standalone server does with the chunks of one
// connection (spec: D.6.2, D.7), without the sockets.
type session struct {
	guid      string
	replies   []byte
	msgs      []cloudproto.Message
	raws      [][]byte // the bytes of each of msgs
	events    []event.Event
	decodeErr []error // Decode errors
	frameErr  []error // Framer errors
	notifyErr []error // Notify and Events errors
	buffered  int     // bytes left in the framer
}

func runSession(chunks [][]byte, p cloudproto.ReplyParams) session {
	var (
		s session
		f cloudproto.Framer
	)
	for _, c := range chunks {
		f.Feed(c)
		for {
			raw, err := f.Next()
			if err != nil {
				s.frameErr = append(s.frameErr, err)
				continue
			}
			if raw == nil {
				break
			}
			m, err := cloudproto.Decode(raw)
			if err != nil {
				s.decodeErr = append(s.decodeErr, err)
				continue
			}
			raw = bytes.Clone(raw)
			m, _ = cloudproto.Decode(raw) // Body must not alias the framer's buffer
			s.msgs, s.raws = append(s.msgs, m), append(s.raws, raw)
			if g := m.GUID(); g != "" {
				s.guid = g
			}
			s.replies = cloudproto.AppendReplies(s.replies, &m, p)
			nm, ok, err := notify.FromCloud(&m, s.guid)
			if err != nil {
				s.notifyErr = append(s.notifyErr, err)
			}
			if !ok {
				continue
			}
			if s.events, err = nm.Events(s.events); err != nil {
				s.notifyErr = append(s.notifyErr, err)
			}
		}
	}
	s.buffered = len(f.Buffered())
	return s
}

// TestVectors drives framing, decode, encode, replies and events from the
// C-* vectors of spec: F.4 and F.5, one row each (vectorrows_test.go).
func TestVectors(t *testing.T) {
	es := cloudproto.LoadVectors(t)
	var ids, rowIDs []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	for _, r := range rows {
		rowIDs = append(rowIDs, r.id)
	}
	if diff := cmp.Diff(ids, rowIDs); diff != "" {
		t.Fatalf("rows do not match the vectors one to one, in order (-vectors +rows):\n%s", diff)
	}
	for i, e := range es {
		t.Run(e.ID, func(t *testing.T) { runVector(t, es, e, rows[i]) })
	}
}

func runVector(t *testing.T, es []vectors.Entry, e vectors.Entry, r row) {
	var chunks [][]byte
	if r.chunks != nil {
		chunks = r.chunks(t, es)
	} else if b, ok := vectors.Hex(e.Fields["input_hex"]); ok {
		chunks = [][]byte{b}
	} else if raw, ok := e.Fields["input_chunks"]; ok {
		for _, it := range vectors.Items(raw) {
			b, ok := vectors.Hex(it)
			if !ok {
				t.Fatalf("chunk %q is in words; the row must give the chunks", it)
			}
			chunks = append(chunks, b)
		}
	} else {
		t.Fatalf("input is in words; the row must give the chunks")
	}
	p := cloudproto.DefaultParams
	if raw, ok := e.Fields["config"]; ok {
		cfg, err := vectors.FlowMap(raw)
		if err != nil {
			t.Fatal(err)
		}
		p.LocalPort, _ = strconv.Atoi(cfg["local_port"])
		port, _ := strconv.Atoi(cfg["cloud_port"])
		p.Advertise = netip.AddrPortFrom(netip.MustParseAddr(strings.Trim(cfg["cloud_ip"], `"`)), uint16(port))
	}
	if raw, ok := e.Fields["now_utc"]; ok {
		now, err := time.Parse(time.RFC3339, strings.Trim(vectors.StripComment(raw), `"`))
		if err != nil {
			t.Fatal(err)
		}
		p.Now = now
	}

	s := runSession(chunks, p)

	// Where the spec notes that the recommended behaviour differs from
	// the reference, the row must say what we do.
	rec := false
	for _, v := range e.Fields {
		rec = rec || strings.Contains(v, "[REC]")
	}
	if rec != (r.why != "") {
		t.Errorf("the vector notes a [REC] difference: %v; the row explains one: %q", rec, r.why)
	}

	// Replies, byte for byte (spec: D.5.10).
	want, ok := vectors.Hex(e.Fields["expect_reply_hex"])
	switch {
	case r.reply != nil:
		want = r.reply(t, es)
	case ok:
	case e.Fields["expect_reply"] == "none" || strings.HasPrefix(e.Fields["expect_reply"], "none "):
		want = nil
	case r.checkReply == nil:
		t.Fatalf("expected reply is in words; the row must give it")
	}
	if r.checkReply != nil {
		r.checkReply(t, e, s.replies)
	} else if !bytes.Equal(s.replies, want) {
		t.Errorf("replies\n got % x\nwant % x", s.replies, want)
	}

	if diff := cmp.Diff(r.want, s.events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	checkErrs(t, "Decode", s.decodeErr, r.decodeErr)
	checkErrs(t, "Notify/Events", s.notifyErr, r.notifyErr)
	if len(s.frameErr) != 0 {
		t.Errorf("framing errors: %v", s.frameErr)
	}
	if s.buffered != r.buffered {
		t.Errorf("%d bytes left in the framer, want %d", s.buffered, r.buffered)
	}
	if len(s.msgs) > 0 {
		if got := s.msgs[len(s.msgs)-1].Kind; got != r.kind {
			t.Errorf("last message kind = %v, want %v", got, r.kind)
		}
	} else if r.kind != cloudproto.KindUnknown {
		t.Errorf("no message decoded, want a %v", r.kind)
	}
	if g, ok := e.Fields["expect_state"]; ok {
		st, err := vectors.FlowMap(g)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Trim(st["guid"], `"`); want != "" && s.guid != want {
			t.Errorf("stored GUID = %q, want %q", s.guid, want)
		}
	}

	// The decoded fields the vector lists, for its last message.
	if raw, ok := e.Fields["decoded"]; ok {
		fields, err := vectors.FlowMap(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.msgs) == 0 {
			t.Fatalf("decoded given, but no message decoded")
		}
		m := &s.msgs[len(s.msgs)-1]
		for k, v := range fields {
			got, ok := field(m, k)
			if !ok {
				t.Errorf("decoded: no field %s in a %v", k, m.Kind)
				continue
			}
			if w := expectValue(v); got != w {
				t.Errorf("decoded %s = %q, want %q (%s)", k, got, w, v)
			}
		}
	}

	// Encode: every decoded message gives its bytes back, except the
	// bytes the spec ignores, which are sent as 00.
	for i, m := range s.msgs {
		want := s.raws[i]
		if m.Kind == cloudproto.KindStatusChange && m.Status.Type == cloudproto.StatusState {
			// spec: D.5.4: bytes 14-47 are leftovers of a notification.
			want = bytes.Clone(want)
			clear(want[14:48])
		}
		if enc := m.Append(nil); !bytes.Equal(enc, want) {
			t.Errorf("Append(%v)\n got % x\nwant % x", m.Kind, enc, want)
		}
	}
}

func checkErrs(t *testing.T, what string, got []error, want error) {
	t.Helper()
	switch {
	case want == nil && len(got) > 0:
		t.Errorf("%s errors: %v", what, got)
	case want != nil && (len(got) != 1 || !errors.Is(got[0], want)):
		t.Errorf("%s errors = %v, want one wrapping %v", what, got, want)
	}
}

// field returns the value of a "decoded:" key of the spec for m, in the
// form expectValue gives the spec's values.
func field(m *cloudproto.Message, key string) (string, bool) {
	d := func(v int64) (string, bool) { return strconv.FormatInt(v, 10), true }
	h, st := &m.Hello, &m.Status
	switch key {
	case "cmd":
		return d(int64(m.Header.Code))
	case "src":
		return d(int64(m.Header.Source))
	case "dst":
		return d(int64(m.Header.Dest))
	case "length":
		return d(int64(m.Header.Length))
	case "version":
		return d(int64(m.Header.Version))
	case "sequence":
		return d(int64(m.Header.Sequence))
	case "guid":
		return h.GUID, true
	case "fw_version":
		return h.FirmwareVersion, true
	case "type":
		return d(int64(st.Type))
	case "state_change":
		return d(int64(st.StateChange))
	case "sensor_index":
		return d(int64(st.Index))
	case "source", "sensor_type":
		return d(int64(st.Source))
	case "state":
		return d(int64(st.State))
	case "name":
		return st.Name, true
	case "unix_time":
		return d(int64(st.UnixTime))
	case "payload_text":
		return string(bytes.TrimSuffix(m.Body, []byte{0})), true
	case "terminator":
		return fmt.Sprintf("%02x", m.Body[len(m.Body)-1]), true
	case "seq1":
		return d(int64(m.Response.Seq1))
	case "seq2":
		return d(int64(m.Response.Seq2))
	case "command_code":
		return d(int64(m.Response.CommandCode))
	case "subcommand_code":
		return d(int64(m.Response.SubcommandCode))
	case "body":
		return string(m.Body), true
	}
	if m.Kind == cloudproto.KindCommandResponse {
		switch key {
		case "unknown1":
			return d(int64(m.Response.Unknown1))
		case "unknown2":
			return d(int64(m.Response.Unknown2))
		}
	}
	unknowns := map[string]int32{"unknown1": h.Unknown1, "unknown2": h.Unknown2, "unknown3": h.Unknown3,
		"unknown4": h.Unknown4, "unknown5": h.Unknown5, "unknown6": h.Unknown6, "unknown7": h.Unknown7}
	if v, ok := unknowns[key]; ok {
		return d(int64(v))
	}
	return "", false
}

// expectValue normalises a value of the spec's "decoded:" maps: integers
// in any base to decimal, quoted strings to their text, "'x' + 00" to x
// and a NUL, and drops a trailing "(explanation)".
func expectValue(v string) string {
	if i := strings.Index(v, " ("); i > 0 {
		v = v[:i]
	}
	if s, ok := strings.CutSuffix(v, " + 00"); ok {
		return strings.Trim(s, `'"`) + "\x00"
	}
	if n, err := strconv.ParseInt(v, 0, 64); err == nil {
		return strconv.FormatInt(n, 10)
	}
	return strings.Trim(v, `'"`)
}
