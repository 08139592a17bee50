package g90

import (
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// left holds what recv took from a subscription and has not returned
// yet, per subscription.
var (
	leftMu sync.Mutex
	left   = map[*Subscription][]Delivery{}
)

// recv returns sub's next delivery; ok is false once the subscription
// has ended, timedOut true when nothing came within wait. Tests read one
// delivery at a time; consumers take batches.
func recv(sub *Subscription, wait time.Duration) (d Delivery, ok, timedOut bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		leftMu.Lock()
		if q := left[sub]; len(q) > 0 {
			d, left[sub] = q[0], q[1:]
			leftMu.Unlock()
			return d, true, false
		}
		leftMu.Unlock()
		batch, more := sub.Take(nil)
		if len(batch) > 0 {
			leftMu.Lock()
			left[sub] = batch
			leftMu.Unlock()
			continue
		}
		if !more {
			return Delivery{}, false, false
		}
		select {
		case <-sub.Ready():
		case <-timer.C:
			return Delivery{}, true, true
		}
	}
}

// A batch holds every delivery queued since the last Take, in order;
// Ready has a value only while something is queued; after Close, Take
// returns what is left and then ok false, and All ends.
func TestSubscriptionBatches(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	m := p.NewMonitor(MonitorConfig{})
	sub := m.Subscribe("test", 8)
	if batch, ok := sub.Take(nil); len(batch) != 0 || !ok {
		t.Fatalf("empty: %d deliveries, ok %v", len(batch), ok)
	}
	put := func(seqs ...uint64) {
		ds := make([]Delivery, len(seqs))
		for i, s := range seqs {
			ds[i] = Delivery{Event: event.Event{Type: event.DoorOpen, Seq: s}}
		}
		sub.put(ds)
	}
	put(1, 2)
	put(3)
	select {
	case <-sub.Ready():
	default:
		t.Fatal("not ready with three queued")
	}
	select {
	case <-sub.Ready():
		t.Fatal("ready twice for one batch")
	default:
	}
	if sub.Queued() != 3 {
		t.Fatalf("queued %d, want 3", sub.Queued())
	}
	batch, ok := sub.Take(nil)
	if len(batch) != 3 || !ok || batch[0].Event.Seq != 1 || batch[2].Event.Seq != 3 {
		t.Fatalf("batch %+v ok %v", batch, ok)
	}
	put(4)
	<-sub.Ready()
	reused := batch
	if batch, ok = sub.Take(batch); len(batch) != 1 || batch[0].Event.Seq != 4 || !ok {
		t.Fatalf("second batch %+v ok %v", batch, ok)
	}
	// The first batch's buffer went back to the queue with the second
	// Take: the third batch is in it (two buffers, no allocation).
	put(5, 6)
	if batch, _ = sub.Take(batch); &batch[0] != &reused[0] || batch[0].Event.Seq != 5 || batch[1].Event.Seq != 6 {
		t.Fatal("Take did not reuse the buffer it was given")
	}
	put(7)
	sub.Close()
	sub.Close() // idempotent
	put(8)      // after Close: not queued
	var seqs []uint64
	for d := range sub.All() {
		seqs = append(seqs, d.Event.Seq)
	}
	if len(seqs) != 1 || seqs[0] != 7 {
		t.Fatalf("after Close: %v, want [7]", seqs)
	}
	if batch, ok := sub.Take(nil); len(batch) != 0 || ok {
		t.Fatalf("ended: %d deliveries, ok %v", len(batch), ok)
	}
}

// A full queue makes the sender wait until the consumer takes: nothing
// is lost to a consumer that is merely slow.
func TestSubscriptionFullWaits(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	m := p.NewMonitor(MonitorConfig{StallTimeout: time.Hour})
	sub := m.Subscribe("test", 2)
	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			sub.put([]Delivery{{Event: event.Event{Seq: uint64(i)}}})
		}
		sub.Close()
	}()
	var got uint64
	for d := range sub.All() {
		if d.Event.Seq != got {
			t.Fatalf("seq %d after %d", d.Event.Seq, got)
		}
		got++
	}
	<-done
	if got != n || sub.Dropped() != 0 {
		t.Fatalf("%d delivered, %d dropped; want %d, 0", got, sub.Dropped(), n)
	}
	eventually.True(t, "nothing queued", func() bool { return sub.Queued() == 0 })
}
