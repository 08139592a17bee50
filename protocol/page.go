package protocol

import (
	"errors"
	"fmt"
)

// PageSize is how many records one paginated request asks for
// (spec: local-protocol.md 4.4).
const PageSize = 10

// Pagination errors. ErrPageCount is retryable: the panel occasionally
// sends truncated or extra records (spec: local-protocol.md 4.3, 7.2).
var (
	ErrPageHeader = errors.New("protocol: malformed pagination header")
	ErrPageCount  = errors.New("protocol: pagination record count mismatch")
)

// PageHeader is [total,start,count] (spec: local-protocol.md 4.2).
type PageHeader struct {
	Total, Start, Count int
}

// Page is one paginated reply: its header and the records that follow it.
type Page struct {
	PageHeader
	Records []Value
}

// PageRequest returns the paginated request for records start..end
// (1-based, inclusive; spec: local-protocol.md 4.1).
func PageRequest(code Code, start, end int) Request {
	return NewRequest(code, IntValue(start), IntValue(end))
}

// ParsePageParams decodes the [start,end] parameters of a paginated
// request, as the panel (simulator) does.
func ParsePageParams(r Request) (start, end int, err error) {
	p := r.Params
	if p.Kind != Array || len(p.Arr) != 2 || p.Arr[0].Kind != Int || p.Arr[1].Kind != Int {
		return 0, 0, fmt.Errorf("%w: %v wants [start,end]", ErrMalformed, r.Code)
	}
	return int(p.Arr[0].Int), int(p.Arr[1].Int), nil
}

// ParsePage validates the data of a paginated reply to a request for
// records start..end (spec: local-protocol.md 4.3). Empty data (the empty
// body the panel sends when start is past the end) is a page without
// records.
func ParsePage(data []Value, start, end int) (Page, error) {
	if len(data) == 0 {
		return Page{}, nil
	}
	h := data[0]
	if h.Kind != Array || len(h.Arr) != 3 || h.Arr[0].Kind != Int || h.Arr[1].Kind != Int || h.Arr[2].Kind != Int {
		return Page{}, fmt.Errorf("%w: %v", ErrPageHeader, h)
	}
	p := Page{
		PageHeader: PageHeader{Total: int(h.Arr[0].Int), Start: int(h.Arr[1].Int), Count: int(h.Arr[2].Int)},
		Records:    data[1:],
	}
	if p.Count != len(p.Records) {
		return Page{}, fmt.Errorf("%w: header says %d, %d received", ErrPageCount, p.Count, len(p.Records))
	}
	if want := end - start + 1; len(p.Records) > want {
		return Page{}, fmt.Errorf("%w: %d received, %d requested", ErrPageCount, len(p.Records), want)
	}
	return p, nil
}

// PageData returns the data of a paginated reply, as the panel builds it.
func PageData(h PageHeader, records []Value) []Value {
	d := make([]Value, 0, len(records)+1)
	d = append(d, ArrayValue(IntValue(h.Total), IntValue(h.Start), IntValue(h.Count)))
	return append(d, records...)
}
