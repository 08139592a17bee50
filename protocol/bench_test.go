package protocol

import (
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// reply returns the n-th reply datagram (0-based) of a vector.
func reply(tb testing.TB, id string, n int) []byte {
	tb.Helper()
	v, ok := vectors.Find(loadVectors(tb), id)
	if !ok {
		tb.Fatalf("no vector %s", id)
	}
	for _, s := range v.Steps {
		if s.Kind == vectors.Reply {
			if n == 0 {
				return s.Bytes
			}
			n--
		}
	}
	tb.Fatalf("vector %s has too few replies", id)
	return nil
}

func BenchmarkRequestAppend(b *testing.B) {
	req := PageRequest(GetSensorList, 11, 20)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = req.Append(buf[:0])
	}
	if string(buf) != "ISTART[102,102,[102,[11,20]]]IEND\x00" {
		b.Fatalf("Append = %q", buf)
	}
}

func BenchmarkParseResponseHostInfo(b *testing.B) {
	raw := reply(b, "host_info", 0)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := ParseResponse(raw)
		if err != nil || len(resp.Data) != 13 {
			b.Fatal(resp, err)
		}
	}
}

// sensorPage10 is the first reply of sensors.two_pages: a page header and
// ten sensor records, the largest page the client asks for (spec 4.4).
func sensorPage10(b *testing.B) []byte { return reply(b, "sensors.two_pages", 0) }

func BenchmarkParseSensorPage10(b *testing.B) {
	raw := sensorPage10(b)
	recs := make([]PeripheralRecord, PageSize)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := ParseResponse(raw)
		if err != nil {
			b.Fatal(err)
		}
		p, err := ParsePage(resp.Data, 1, PageSize)
		if err != nil || len(p.Records) != PageSize {
			b.Fatal(p, err)
		}
		for i, v := range p.Records {
			if err := Decode(&recs[i], v.Arr); err != nil {
				b.Fatal(err)
			}
		}
	}
	if recs[9].Name != "Remote 10" {
		b.Fatalf("record 10 = %+v", recs[9])
	}
}

func BenchmarkResponseAppendSensorPage10(b *testing.B) {
	raw := sensorPage10(b)
	resp, err := ParseResponse(raw)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(raw))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		buf = resp.Append(buf[:0])
	}
	if string(buf) != string(raw) {
		b.Fatalf("Append = %q", buf)
	}
}

// BenchmarkParseValueAlert parses one alert datagram's JSON, the part of
// decoding a notification that the protocol package owns (spec:
// notifications-and-cloud.md A.4).
func BenchmarkParseValueAlert(b *testing.B) {
	d := []byte(`[208,[4,100,1,1,"Door","DUMMYGUID",1631545189,0,[""]]]`)
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseValue(d); err != nil {
			b.Fatal(err)
		}
	}
}
