package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/google/go-cmp/cmp"
)

// wantVectors is how many vectors spec: local-protocol.md 9 holds. A new
// vector in the spec makes this test fail until it has a row.
const wantVectors = 93

func loadVectors(tb testing.TB) []vectors.Vector {
	tb.Helper()
	vs, err := vectors.Load(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	return vs
}

// TestVectors drives the codec with every vector of spec:
// local-protocol.md 9. Each datagram is decoded and re-encoded; each reply
// is checked against the outcome its row names; the row's check decodes
// typed records and rebuilds the SET requests from them.
func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	if len(vs) != wantVectors {
		t.Errorf("%s holds %d vectors, want %d", vectorsFile, len(vs), wantVectors)
	}
	rows := map[string]vectorRow{}
	for _, r := range vectorRows {
		if _, dup := rows[r.id]; dup {
			t.Errorf("two rows for vector %s", r.id)
		}
		rows[r.id] = r
	}
	for _, v := range vs {
		if _, ok := rows[v.ID]; !ok {
			t.Errorf("vector %s has no row in vectorRows", v.ID)
		}
	}
	for _, r := range vectorRows {
		if _, ok := vectors.Find(vs, r.id); !ok {
			t.Errorf("row %s names no vector", r.id)
		}
	}
	for _, v := range vs {
		row, ok := rows[v.ID]
		if !ok {
			continue
		}
		t.Run(v.ID, func(t *testing.T) {
			r := newRun(t, vs, v)
			if len(r.replies) != len(row.replies) {
				t.Fatalf("vector has %d replies, row describes %d", len(r.replies), len(row.replies))
			}
			for i, want := range row.replies {
				want(t, r.replies[i])
			}
			if row.check != nil {
				row.check(t, r)
			}
		})
	}
}

// vectorRow describes one vector: the outcome of each reply in order,
// and a check of its decoded values.
type vectorRow struct {
	id      string
	replies []outcome
	check   func(t *testing.T, r *run)
}

// exchange is one reply and the request it answers.
type exchange struct {
	send  []byte  // the datagram the reply answers
	req   Request // send, decoded; zero for a probe
	probe bool    // send is a targeted-discovery probe (spec 6.2)
	raw   []byte  // the reply
}

// run is a vector's datagrams, decoded and round-tripped.
type run struct {
	all      []vectors.Vector
	v        vectors.Vector
	sends    [][]byte
	reqs     []Request
	replies  []exchange
	notifies []Value
}

func newRun(t *testing.T, all []vectors.Vector, v vectors.Vector) *run {
	t.Helper()
	r := &run{all: all, v: v}
	var last *exchange
	for _, s := range v.Steps {
		switch s.Kind {
		case vectors.Send:
			ex := exchange{send: s.Bytes, probe: !bytes.HasPrefix(s.Bytes, []byte(startMarker))}
			if ex.probe {
				checkProbe(t, s)
			} else {
				ex.req = checkRequest(t, s)
			}
			r.sends = append(r.sends, s.Bytes)
			r.reqs = append(r.reqs, ex.req)
			last = &ex
		case vectors.Reply:
			if last == nil {
				t.Fatalf("line %d: reply without a request", s.Line)
			}
			ex := *last
			ex.raw = s.Bytes
			checkReplyRoundTrip(t, ex)
			r.replies = append(r.replies, ex)
		case vectors.Silence:
			if last == nil {
				t.Fatalf("line %d: silence without a request", s.Line)
			}
		case vectors.Notify:
			r.notifies = append(r.notifies, checkNotify(t, s))
		}
	}
	return r
}

// checkRequest decodes a command datagram and re-encodes it byte for byte
// (spec: local-protocol.md 1.3: requests are compact).
func checkRequest(t *testing.T, s vectors.Step) Request {
	t.Helper()
	req, err := ParseRequest(s.Bytes)
	if err != nil {
		t.Fatalf("line %d: ParseRequest(%q): %v", s.Line, s.Bytes, err)
	}
	if diff := cmp.Diff(string(s.Bytes), string(req.Append(nil))); diff != "" {
		t.Errorf("line %d: Request.Append after ParseRequest (-vector +encoded):\n%s", s.Line, diff)
	}
	return req
}

func checkProbe(t *testing.T, s vectors.Step) {
	t.Helper()
	guid, err := ParseProbe(s.Bytes)
	if err != nil {
		t.Fatalf("line %d: ParseProbe(%q): %v", s.Line, s.Bytes, err)
	}
	if got := AppendProbe(nil, guid); !bytes.Equal(got, s.Bytes) {
		t.Errorf("line %d: AppendProbe(%q) = %q, want %q", s.Line, guid, got, s.Bytes)
	}
}

// checkNotify decodes a datagram to port 12901: JSON and one NUL, without
// ISTART/IEND (spec: local-protocol.md 8).
func checkNotify(t *testing.T, s vectors.Step) Value {
	t.Helper()
	b, ok := bytes.CutSuffix(s.Bytes, []byte{0})
	if !ok || bytes.HasPrefix(b, []byte(startMarker)) {
		t.Fatalf("line %d: notification %q is not JSON + NUL", s.Line, s.Bytes)
	}
	v, err := ParseValue(b)
	if err != nil {
		t.Fatalf("line %d: ParseValue(%q): %v", s.Line, b, err)
	}
	again, err := ParseValue(v.AppendJSON(nil))
	if err != nil || !again.Equal(v) {
		t.Errorf("line %d: re-parse of %s = %v, %v", s.Line, v, again, err)
	}
	return v
}

// checkReplyRoundTrip re-encodes every reply that decodes. Compact
// replies must come back byte for byte; replies with spaces (spec:
// local-protocol.md 1.5, alarm phones) must re-parse to the same value.
func checkReplyRoundTrip(t *testing.T, ex exchange) {
	t.Helper()
	if ex.probe {
		if ack, err := ParseProbeAck(ex.raw); err == nil {
			if got := ack.Append(nil); !bytes.Equal(got, ex.raw) {
				t.Errorf("ProbeAck.Append = %q, want %q", got, ex.raw)
			}
		}
		return
	}
	resp, err := ParseResponse(ex.raw)
	var pe *PanelError
	switch {
	case errors.As(err, &pe) && pe.Failure:
		if got := AppendFail(nil); !bytes.Equal(got, ex.raw) {
			t.Errorf("AppendFail = %q, want %q", got, ex.raw)
		}
	case errors.As(err, &pe):
		if got := AppendError(nil, pe.Text); !bytes.Equal(got, ex.raw) {
			t.Errorf("AppendError(%q) = %q, want %q", pe.Text, got, ex.raw)
		}
	case err != nil:
	case !bytes.Contains(ex.raw, []byte(" ")):
		if diff := cmp.Diff(string(ex.raw), string(resp.Append(nil))); diff != "" {
			t.Errorf("Response.Append (-vector +encoded):\n%s", diff)
		}
	default:
		again, err := ParseResponse(resp.Append(nil))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", resp.Append(nil), err)
		}
		if diff := cmp.Diff(resp, again); diff != "" {
			t.Errorf("re-parse after Response.Append (-first +second):\n%s", diff)
		}
	}
}

// outcome checks what the codec makes of one reply.
type outcome func(t *testing.T, ex exchange)

func parseReply(t *testing.T, ex exchange) Response {
	t.Helper()
	resp, err := ParseResponse(ex.raw)
	if err != nil {
		t.Fatalf("ParseResponse(%q): %v", ex.raw, err)
	}
	return resp
}

// empty: success without data, spec 1.4. For a paginated request it is a
// page without records (spec 4.2).
func empty() outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		resp := parseReply(t, ex)
		if !resp.Empty() {
			t.Errorf("ParseResponse(%q) = %+v, want an empty response", ex.raw, resp)
		}
		if ex.req.Code.Paginated() {
			start, end := pageParams(t, ex.req)
			if p, err := ParsePage(resp.Data, start, end); err != nil || len(p.Records) != 0 {
				t.Errorf("ParsePage of the empty body = %+v, %v; want no records", p, err)
			}
		}
	}
}

// data: success with data answering the request's code.
func data() outcome { return dataCode(0) }

// dataCode: success with data under the given code; 0 means the
// request's own code. Matching the code is the client's job (spec 1.5
// step 12); the codec must report the code it saw.
func dataCode(code Code) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		want := code
		if want == 0 {
			want = ex.req.Code
		}
		resp := parseReply(t, ex)
		if resp.Empty() || resp.Code != want {
			t.Errorf("ParseResponse(%q) = %+v, want data under %v", ex.raw, resp, want)
		}
	}
}

// records: a valid page holding n records (spec 4.3).
func records(n int) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		resp := parseReply(t, ex)
		start, end := pageParams(t, ex.req)
		p, err := ParsePage(resp.Data, start, end)
		if err != nil {
			t.Fatalf("ParsePage(%v, %d, %d): %v", ArrayValue(resp.Data...), start, end, err)
		}
		if len(p.Records) != n || p.Count != n {
			t.Errorf("page has %d records, header count %d; want %d", len(p.Records), p.Count, n)
		}
		if resp.Code != ex.req.Code {
			t.Errorf("page code %v, want %v", resp.Code, ex.req.Code)
		}
	}
}

// pageFails: the reply decodes but ParsePage rejects it.
func pageFails(target error) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		resp := parseReply(t, ex)
		start, end := pageParams(t, ex.req)
		if _, err := ParsePage(resp.Data, start, end); !errors.Is(err, target) {
			t.Errorf("ParsePage(%v, %d, %d) error = %v, want %v", ArrayValue(resp.Data...), start, end, err, target)
		}
	}
}

// fails: ParseResponse fails with an error matching target.
func fails(target error) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		if _, err := ParseResponse(ex.raw); !errors.Is(err, target) {
			t.Errorf("ParseResponse(%q) error = %v, want %v", ex.raw, err, target)
		}
	}
}

// syntaxError: the body is not JSON the dialect accepts (spec 1.5 step 8).
func syntaxError() outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		_, err := ParseResponse(ex.raw)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseResponse(%q) error = %v, want a *SyntaxError", ex.raw, err)
		}
	}
}

// panelFailure: the "fail" body (spec 1.4).
func panelFailure() outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		_, err := ParseResponse(ex.raw)
		var pe *PanelError
		if !errors.As(err, &pe) || !pe.Failure || !errors.Is(err, ErrCommandFailed) || errors.Is(err, ErrCommandRejected) {
			t.Errorf("ParseResponse(%q) error = %#v, want a failure PanelError", ex.raw, err)
		}
	}
}

// panelRejected: the "error<text>" body (spec 1.4).
func panelRejected(text string) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		_, err := ParseResponse(ex.raw)
		var pe *PanelError
		if !errors.As(err, &pe) || pe.Failure || pe.Text != text || !errors.Is(err, ErrCommandRejected) || errors.Is(err, ErrCommandFailed) {
			t.Errorf("ParseResponse(%q) error = %#v, want a PanelError with text %q", ex.raw, err, text)
		}
	}
}

// probeAccepted: a valid targeted-discovery answer (spec 6.2).
func probeAccepted() outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		if !ex.probe {
			t.Fatal("probeAck outcome for a command reply")
		}
		if _, err := ParseProbeAck(ex.raw); err != nil {
			t.Errorf("ParseProbeAck(%q): %v", ex.raw, err)
		}
	}
}

// probeRejected: an answer the reference ignores; the error names why.
func probeRejected(why string) outcome {
	return func(t *testing.T, ex exchange) {
		t.Helper()
		if !ex.probe {
			t.Fatal("probeRejected outcome for a command reply")
		}
		_, err := ParseProbeAck(ex.raw)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseProbeAck(%q) error = %v, want ErrMalformed naming %q", ex.raw, err, why)
		}
	}
}

func pageParams(t *testing.T, req Request) (int, int) {
	t.Helper()
	start, end, err := ParsePageParams(req)
	if err != nil {
		t.Fatalf("ParsePageParams(%+v): %v", req, err)
	}
	return start, end
}

// data returns the data of reply i, which must decode.
func (r *run) data(t *testing.T, i int) []Value {
	t.Helper()
	return parseReply(t, r.replies[i]).Data
}

// page returns the records of reply i, which must be a valid page.
func (r *run) page(t *testing.T, i int) Page {
	t.Helper()
	ex := r.replies[i]
	start, end := pageParams(t, ex.req)
	p, err := ParsePage(parseReply(t, ex).Data, start, end)
	if err != nil {
		t.Fatalf("reply %d: ParsePage: %v", i, err)
	}
	return p
}

// other returns the run of another vector, for the vectors that say
// "same first two exchanges as …".
func (r *run) other(t *testing.T, id string) *run {
	t.Helper()
	v, ok := vectors.Find(r.all, id)
	if !ok {
		t.Fatalf("no vector %s", id)
	}
	return newRun(t, r.all, v)
}

// wantSend checks that send i is exactly req.
func (r *run) wantSend(t *testing.T, i int, req Request) {
	t.Helper()
	if diff := cmp.Diff(string(r.sends[i]), string(req.Append(nil))); diff != "" {
		t.Errorf("send %d (-vector +built):\n%s", i, diff)
	}
}

// decodeRecord decodes data into a fresh record and checks that Encode
// gives the same data back.
func decodeRecord[P interface {
	*T
	Record
}, T any](t *testing.T, data []Value) T {
	t.Helper()
	var rec T
	if err := Decode(P(&rec), data); err != nil {
		t.Fatalf("Decode %T: %v", rec, err)
	}
	if got, want := ArrayValue(Encode(P(&rec))...), ArrayValue(data...); !got.Equal(want) {
		t.Errorf("Encode(Decode(%v)) = %v", want, got)
	}
	return rec
}

func pageRecords(t *testing.T, p Page) []PeripheralRecord {
	t.Helper()
	out := make([]PeripheralRecord, len(p.Records))
	for i, v := range p.Records {
		if v.Kind != Array {
			t.Fatalf("record %d is a %v", i+1, v.Kind)
		}
		out[i] = decodeRecord[*PeripheralRecord](t, v.Arr)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// jv builds a Value from Go ints, strings and Values, for expected data.
func jv(xs ...any) Value {
	out := make([]Value, len(xs))
	for i, x := range xs {
		switch x := x.(type) {
		case int:
			out[i] = IntValue(x)
		case string:
			out[i] = StringValue(x)
		case Value:
			out[i] = x
		default:
			panic("jv: unsupported type")
		}
	}
	return ArrayValue(out...)
}
