package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/google/go-cmp/cmp"
)

// The fuzz targets share one property (STYLE: tests): no panic, and
// decode → encode → decode gives the same value. They are seeded from every
// datagram of spec: local-protocol.md 9. Run one with, e.g.,
//
//	go test ./protocol -run '^$' -fuzz '^FuzzParseValue$' -fuzztime 30s

// datagrams returns every datagram of the vectors with one of the kinds.
func datagrams(tb testing.TB, kinds ...vectors.Kind) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, v := range loadVectors(tb) {
		for _, s := range v.Steps {
			for _, k := range kinds {
				if s.Kind == k {
					out = append(out, s.Bytes)
				}
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no seed datagrams")
	}
	return out
}

// jsonTexts returns the JSON text of every vector datagram: the body of
// framed datagrams, the payload of notifications.
func jsonTexts(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, b := range datagrams(tb, vectors.Send, vectors.Reply, vectors.Notify) {
		if raw, err := Unframe(b); err == nil {
			out = append(out, raw)
		} else if j, ok := bytes.CutSuffix(b, []byte{0}); ok {
			out = append(out, j)
		}
	}
	return out
}

func FuzzParseValue(f *testing.F) {
	for _, b := range jsonTexts(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`"\ud83d\ude00\ud800\u0041"`, "\"a\nb\xff\"", `{"a":[1,{"b":true}],"c":-0.5e3}`,
		"-0", "9223372036854775808", " [ 1 , \"x\" ] ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseValue(b)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(b) {
				t.Fatalf("ParseValue(%q) error %v is not a *SyntaxError inside the input", b, err)
			}
			return
		}
		enc := v.AppendJSON(nil)
		again, err := ParseValue(enc)
		if err != nil {
			t.Fatalf("ParseValue(%q) = %#v, whose encoding %q does not parse: %v", b, v, enc, err)
		}
		if !again.Equal(v) {
			t.Fatalf("ParseValue(%q) = %#v; after encode %q and parse: %#v", b, v, enc, again)
		}
		if enc2 := again.AppendJSON(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, b := range datagrams(f, vectors.Reply, vectors.Send) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := ParseResponse(b)
		var pe *PanelError
		switch {
		case errors.As(err, &pe):
			enc := AppendError(nil, pe.Text)
			if pe.Failure {
				enc = AppendFail(nil)
			}
			_, err2 := ParseResponse(enc)
			var pe2 *PanelError
			if !errors.As(err2, &pe2) || *pe2 != *pe {
				t.Fatalf("panel error %#v re-encoded as %q parses to %#v", pe, enc, err2)
			}
			return
		case err != nil:
			return
		}
		enc := resp.Append(nil)
		again, err := ParseResponse(enc)
		if err != nil {
			t.Fatalf("ParseResponse(%q) = %+v, whose encoding %q fails: %v", b, resp, enc, err)
		}
		if !cmp.Equal(resp, again) {
			t.Fatalf("ParseResponse(%q) = %+v; after encode %q: %+v", b, resp, enc, again)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, b := range datagrams(f, vectors.Send, vectors.Reply) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err != nil {
			return
		}
		enc := req.Append(nil)
		again, err := ParseRequest(enc)
		if err != nil {
			t.Fatalf("ParseRequest(%q) = %+v, whose encoding %q fails: %v", b, req, enc, err)
		}
		if !cmp.Equal(req, again) {
			t.Fatalf("ParseRequest(%q) = %+v; after encode %q: %+v", b, req, enc, again)
		}
		if enc2 := again.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q then %q", enc, enc2)
		}
		if req.System != "" {
			if cmd, err := ParseSystem(req.System); err == nil {
				_, _, _, _ = cmd.ServerAddress()
			}
		}
		if req.Code.Paginated() {
			_, _, _ = ParsePageParams(req)
		}
	})
}

func FuzzParsePage(f *testing.F) {
	for _, v := range loadVectors(f) {
		var start, end int
		for _, s := range v.Steps {
			switch s.Kind {
			case vectors.Send:
				start, end = 1, PageSize
				if req, err := ParseRequest(s.Bytes); err == nil && req.Code.Paginated() {
					start, end, _ = ParsePageParams(req)
				}
			case vectors.Reply:
				if raw, err := Unframe(s.Bytes); err == nil {
					f.Add(raw, start, end)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, start, end int) {
		v, err := ParseValue(b)
		if err != nil || v.Kind != Array {
			return
		}
		p, err := ParsePage(v.Arr, start, end)
		if err != nil || len(v.Arr) == 0 {
			return
		}
		data := PageData(p.PageHeader, p.Records)
		if !ArrayValue(data...).Equal(v) {
			t.Fatalf("PageData(ParsePage(%s)) = %v", v, ArrayValue(data...))
		}
		again, err := ParsePage(data, start, end)
		if err != nil || !cmp.Equal(p, again) {
			t.Fatalf("ParsePage(PageData(%+v)) = %+v, %v", p, again, err)
		}
	})
}

func FuzzParseProbeAck(f *testing.F) {
	for _, b := range datagrams(f, vectors.Reply, vectors.Send) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ack, err := ParseProbeAck(b)
		if err != nil {
			return
		}
		enc := ack.Append(nil)
		again, err := ParseProbeAck(enc)
		if err != nil || again != ack {
			t.Fatalf("ParseProbeAck(%q) = %+v; after encode %q: %+v, %v", b, ack, enc, again, err)
		}
		// The fields cannot hold a comma, so nothing is lost: the
		// encoding is the input.
		if !bytes.Equal(enc, b) {
			t.Fatalf("ProbeAck.Append(ParseProbeAck(%q)) = %q", b, enc)
		}
	})
}

func FuzzParseProbe(f *testing.F) {
	for _, b := range datagrams(f, vectors.Send, vectors.Reply) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		guid, err := ParseProbe(b)
		if err != nil {
			return
		}
		if enc := AppendProbe(nil, guid); !bytes.Equal(enc, b) {
			t.Fatalf("AppendProbe(ParseProbe(%q)) = %q", b, enc)
		}
	})
}

// recordTypes makes one of every typed record.
var recordTypes = []func() Record{
	func() Record { return new(HostStatus) },
	func() Record { return new(HostInfo) },
	func() Record { return new(UserDataCRC) },
	func() Record { return new(HostConfig) },
	func() Record { return new(AlarmPhones) },
	func() Record { return new(AlertConfig) },
	func() Record { return new(NetConfig) },
	func() Record { return new(SIAConfig) },
	func() Record { return new(CIDConfig) },
	func() Record { return new(HistoryEntry) },
	func() Record { return new(PeripheralRecord) },
	func() Record { return new(PeripheralWrite) },
}

// FuzzRecords decodes a JSON array into every typed record: one target
// reaches every decoder, and the fuzzer's coverage guidance steers it to
// the layouts' differences.
func FuzzRecords(f *testing.F) {
	seen := map[string]bool{}
	add := func(v Value) {
		if v.Kind != Array || seen[v.String()] {
			return
		}
		seen[v.String()] = true
		f.Add(v.AppendJSON(nil))
	}
	for _, b := range jsonTexts(f) {
		v, err := ParseValue(b)
		if err != nil {
			continue
		}
		// Reply data, page records, request parameters, alert fields.
		if v.Kind == Array {
			for _, e := range v.Arr {
				add(e)
				for _, ee := range e.Arr {
					add(ee)
					for _, eee := range ee.Arr {
						add(eee)
					}
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseValue(b)
		if err != nil || v.Kind != Array {
			return
		}
		for _, mk := range recordTypes {
			rec := mk()
			if err := Decode(rec, v.Arr); err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Decode %T(%s) error %v is not a *FieldError", rec, v, err)
				}
				continue
			}
			enc := Encode(rec)
			if !ArrayValue(enc...).Equal(v) {
				t.Fatalf("Encode(Decode %T(%s)) = %v", rec, v, ArrayValue(enc...))
			}
			again := mk()
			if err := Decode(again, enc); err != nil || !cmp.Equal(rec, again) {
				t.Fatalf("Decode %T(Encode(%+v)) = %+v, %v", rec, rec, again, err)
			}
			// The other layout-driven functions must not panic either.
			_ = EncodeWrite(rec)
			_ = Validate(rec)
			if j, err := MarshalRecord(rec); err != nil || !json.Valid(j) {
				t.Fatalf("MarshalRecord(%+v) = %s, %v", rec, j, err)
			}
		}
	})
}

// CachedString reads what String reads, whatever the cache holds, and
// leaves the scanner at the same place.
func FuzzCachedString(f *testing.F) {
	for _, s := range []string{`"Hall"`, `"DUMMYGUID",1`, `"a\"b"`, `"é"`, `""`, `"x`, ` "Hall" ]`, `1`} {
		f.Add([]byte(s), []byte(`"Hall"`))
	}
	var c StringCache
	f.Fuzz(func(t *testing.T, b, warm []byte) {
		w := NewScanner(warm)
		w.CachedString(&c)
		plain, cached := NewScanner(b), NewScanner(b)
		want, wantOK := plain.String()
		got, gotOK := cached.CachedString(&c)
		if got != want || gotOK != wantOK || (wantOK && plain.p.i != cached.p.i) {
			t.Fatalf("%q: CachedString %q %v at %d, String %q %v at %d", b, got, gotOK, cached.p.i, want, wantOK, plain.p.i)
		}
		plain.Release()
		cached.Release()
	})
}

// A string the cache holds costs no allocation.
func TestCachedStringAllocs(t *testing.T) {
	var c StringCache
	b := []byte(`"DUMMYGUID"`)
	if n := testing.AllocsPerRun(100, func() {
		s := NewScanner(b)
		if str, ok := s.CachedString(&c); !ok || str != "DUMMYGUID" {
			t.Fatal(str, ok)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per read", n)
	}
}
