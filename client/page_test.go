package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/protocol"
	"github.com/google/go-cmp/cmp"
)

// listPanel serves a paginated list of n records like the panel: it
// answers [start,end] with what it has and an empty body past the end
// (spec: local-protocol.md 4.2).
func listPanel(n int) func(int, []byte) []reply {
	return func(_ int, b []byte) []reply {
		req, err := protocol.ParseRequest(b)
		if err != nil {
			return nil
		}
		start, end, err := protocol.ParsePageParams(req)
		if err != nil || start > n {
			return []reply{{b: []byte("ISTARTIEND\x00")}}
		}
		end = min(end, n)
		var recs []protocol.Value
		for i := start; i <= end; i++ {
			recs = append(recs, protocol.ArrayValue(protocol.StringValue(fmt.Sprintf("rec %d", i))))
		}
		data := protocol.PageData(protocol.PageHeader{Total: n, Start: start, Count: len(recs)}, recs)
		return []reply{{b: protocol.Response{Code: req.Code, Data: data}.Append(nil)}}
	}
}

func readAll(t *testing.T, c *Client, first, last int) ([]string, error) {
	t.Helper()
	var got []string
	err := c.ReadAll(context.Background(), protocol.GetSensorList, first, last, func(pos int, rec protocol.Value) error {
		got = append(got, fmt.Sprintf("%d:%s", pos, rec.Arr[0].Str))
		return nil
	})
	return got, err
}

func TestReadAllPagination(t *testing.T) {
	// spec: local-protocol.md 4.4 and vector sensors.two_pages
	tests := []struct {
		name        string
		total       int
		first, last int
		requests    []string
		records     int
	}{
		{"empty list", 0, 1, 0, []string{"[1,10]"}, 0},
		{"one page", 3, 1, 0, []string{"[1,10]"}, 3},
		{"exactly ten", 10, 1, 0, []string{"[1,10]"}, 10},
		{"eleven", 11, 1, 0, []string{"[1,10]", "[11,11]"}, 11},
		{"twenty five", 25, 1, 0, []string{"[1,10]", "[11,20]", "[21,25]"}, 25},
		{"single record", 5, 2, 2, []string{"[2,2]"}, 1},
		{"window", 50, 5, 16, []string{"[5,14]", "[15,16]"}, 12},
		{"start beyond end", 3, 11, 20, []string{"[11,20]"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, listPanel(tt.total))
			c := newClient(t, f.port(), time.Second, 3)
			got, err := readAll(t, c, tt.first, tt.last)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.records {
				t.Errorf("got %d records, want %d: %v", len(got), tt.records, got)
			}
			for i, r := range got {
				if want := fmt.Sprintf("%d:rec %d", tt.first+i, tt.first+i); r != want {
					t.Errorf("record %d = %q, want %q (positions run across pages)", i, r, want)
				}
			}
			var reqs []string
			for _, d := range f.received() {
				_, p, _ := strings.Cut(d, "[102,[")
				reqs = append(reqs, "["+strings.TrimSuffix(p, "]]]IEND\x00")+"]")
			}
			if diff := cmp.Diff(tt.requests, reqs); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadAllListShrinks(t *testing.T) {
	// The total drops from 15 to 12 between pages: iteration stops at the
	// new total (spec: local-protocol.md 4.4).
	pages := []string{
		string(protocol.Response{Code: 102, Data: protocol.PageData(protocol.PageHeader{Total: 15, Start: 1, Count: 10}, recs(10))}.Append(nil)),
		string(protocol.Response{Code: 102, Data: protocol.PageData(protocol.PageHeader{Total: 12, Start: 11, Count: 2}, recs(2))}.Append(nil)),
	}
	f := startFake(t, sequence(pages...))
	c := newClient(t, f.port(), time.Second, 3)
	got, err := readAll(t, c, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 || len(f.received()) != 2 {
		t.Errorf("got %d records in %d requests", len(got), len(f.received()))
	}
}

func recs(n int) []protocol.Value {
	out := make([]protocol.Value, n)
	for i := range out {
		out[i] = protocol.ArrayValue(protocol.StringValue("r"))
	}
	return out
}

func TestReadPageEdgeCases(t *testing.T) {
	// spec: local-protocol.md 9.8
	tests := []struct {
		name       string
		start, end int
		replies    []string
		retries    int
		wantCount  int
		wantErr    error
		wantSent   int
	}{
		{"missing header", 1, 1, []string{"ISTART[102,[[]]]IEND\x00"}, 3, 0, protocol.ErrPageHeader, 1},
		{"truncated", 1, 1, []string{"ISTART[102,[[1,1,1]]]IEND\x00"}, 1, 0, protocol.ErrPageCount, 1},
		{"truncated then ok", 1, 1, []string{"ISTART[102,[[1,1,1]]]IEND\x00", "ISTART[102,[[1,1,1],[\"\"]]]IEND\x00"}, 3, 1, nil, 2},
		{"fewer than requested", 1, 2, []string{"ISTART[102,[[1,1,1],[\"\"]]]IEND\x00"}, 3, 1, nil, 1},
		{"extra", 1, 1, []string{"ISTART[102,[[2,1,2],[\"\"],[\"\"]]]IEND\x00"}, 1, 0, protocol.ErrPageCount, 1},
		{"zero count", 1, 1, []string{"ISTART[102,[[1,1,0]]]IEND\x00"}, 3, 0, nil, 1},
		{"start beyond end", 11, 20, []string{"ISTARTIEND\x00"}, 3, 0, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, sequence(tt.replies...))
			c := newClient(t, f.port(), 50*time.Millisecond, tt.retries)
			page, err := c.ReadPage(context.Background(), protocol.GetSensorList, tt.start, tt.end)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(page.Records) != tt.wantCount {
				t.Errorf("%d records, want %d", len(page.Records), tt.wantCount)
			}
			if n := len(f.received()); n != tt.wantSent {
				t.Errorf("sent %d requests, want %d", n, tt.wantSent)
			}
		})
	}
}

func TestSendDoesNotWait(t *testing.T) {
	f := startFake(t, always())
	c := newClient(t, f.port(), 30*time.Second, 3)
	start := time.Now()
	if err := c.Send(context.Background(), protocol.SystemRequest(protocol.SysMCUReboot, "")); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("Send waited for a reply")
	}
	eventually.True(t, "the request at the fake panel", func() bool { return len(f.received()) > 0 })
	if diff := cmp.Diff([]string{"ISTART[0,100,\"AT^IWT=1123,IWT\"]IEND\x00"}, f.received()); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
}
