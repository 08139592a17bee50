package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// fakeCarrier never answers: it counts what it was given.
type fakeCarrier struct {
	mu   sync.Mutex
	sent map[protocol.Code]int
}

func (f *fakeCarrier) Exchange(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	f.mu.Lock()
	f.sent[req.Code]++
	f.mu.Unlock()
	<-ctx.Done()
	return protocol.Response{}, ctx.Err()
}

func (f *fakeCarrier) Name() string { return "fake" }

// Over a Carrier (the cloud link, which loses nothing), a write that
// timed out is not sent again, a read is retried as over UDP, and a
// request without a reply is refused.
func TestCarrierNeverRepeatsAWrite(t *testing.T) {
	f := &fakeCarrier{sent: map[protocol.Code]int{}}
	c, err := New(Config{Host: "127.0.0.1", Timeout: 150 * time.Millisecond, Retries: 3, Carrier: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Now()
	_, err = c.Exchange(ctx, protocol.NewRequest(protocol.SetHostStatus, protocol.IntValue(1)))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Attempts != 1 {
		t.Errorf("write: %v, want a timeout after one attempt", err)
	}
	if took := time.Since(start); took < 140*time.Millisecond {
		t.Errorf("the one attempt waited %v, want the whole budget", took)
	}
	if _, err := c.Exchange(ctx, protocol.NewRequest(protocol.GetHostStatus)); !errors.As(err, &te) || te.Attempts != 3 {
		t.Errorf("read: %v, want a timeout after three attempts", err)
	}
	if err := c.Send(ctx, protocol.SystemRequest(1, "")); !errors.Is(err, ErrNoReplyOverCarrier) {
		t.Errorf("Send over a carrier: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent[protocol.SetHostStatus] != 1 || f.sent[protocol.GetHostStatus] != 3 {
		t.Errorf("sent %v: want the write once, the read three times", f.sent)
	}
}

// sendingCarrier is a fakeCarrier that carries requests without a reply.
type sendingCarrier struct {
	fakeCarrier
	sends []protocol.Request
}

func (f *sendingCarrier) Send(ctx context.Context, req protocol.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, req)
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline")
	}
	return nil
}

// A request without a reply goes over a Carrier that is a Sender, once.
func TestCarrierSend(t *testing.T) {
	f := &sendingCarrier{fakeCarrier: fakeCarrier{sent: map[protocol.Code]int{}}}
	c, err := New(Config{Host: "127.0.0.1", Timeout: 150 * time.Millisecond, Retries: 3, Carrier: f})
	if err != nil {
		t.Fatal(err)
	}
	req := protocol.SystemRequest(1123, "")
	if err := c.Send(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sends) != 1 || string(f.sends[0].Append(nil)) != string(req.Append(nil)) {
		t.Errorf("sent %v, want the request once", f.sends)
	}
}
