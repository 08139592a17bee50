package g90

import (
	"context"
	"testing"
	"time"

	"github.com/g90alarm/g90/event"
	"github.com/g90alarm/g90/notify"
)

func TestMonitorQueueDepth(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	m := p.NewMonitor(MonitorConfig{QueueSize: 2})
	if n, c := m.QueueDepth(); n != 0 || c != 2 {
		t.Fatalf("QueueDepth() = %d, %d before any message", n, c)
	}
	for range 3 {
		m.Message(notify.Message{}, event.SourceLocal, time.Now())
	}
	if n, c := m.QueueDepth(); n != 2 || c != 2 || m.Stats().Dropped != 1 {
		t.Fatalf("QueueDepth() = %d, %d, dropped %d; want 2, 2, 1", n, c, m.Stats().Dropped)
	}
}

// A cloud message that finds the queue full waits for room, where a local
// one is dropped: TCP can hold the panel back, UDP cannot. A cloud
// message still waiting when the monitor stops is dropped and counted,
// so the source's reader is never stuck.
func TestMonitorCloudWaits(t *testing.T) {
	p, err := New(Config{Host: "127.0.0.1", Port: 1, Timeout: time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := p.NewMonitor(MonitorConfig{QueueSize: 1})
	m.Message(notify.Message{}, event.SourceCloud, time.Now()) // fills the queue
	waited := make(chan struct{})
	go func() {
		m.Message(notify.Message{}, event.SourceCloud, time.Now())
		close(waited)
	}()
	m.Message(notify.Message{}, event.SourceLocal, time.Now())
	if st := m.Stats(); st.Dropped != 1 || st.Messages != 1 {
		t.Fatalf("stats %+v: want the local message dropped", st)
	}
	m.in.take(nil) // the tracker takes one
	m.in.handled(1)
	<-waited
	if st := m.Stats(); st.Dropped != 1 || st.Messages != 2 {
		t.Fatalf("stats %+v: want the cloud message queued after waiting", st)
	}

	stuck := make(chan struct{})
	go func() {
		m.Message(notify.Message{}, event.SourceCloud, time.Now())
		close(stuck)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	<-stuck // queued before the tracker stopped, or dropped after
	if st := m.Stats(); st.Messages+st.Dropped != 4 {
		t.Fatalf("stats %+v: want every message queued or dropped", st)
	}
}
