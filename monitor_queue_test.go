package g90

import (
	"testing"
	"time"

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
		m.Message(notify.Message{}, notify.SourceLocal, time.Now())
	}
	if n, c := m.QueueDepth(); n != 2 || c != 2 || m.Stats().Dropped != 1 {
		t.Fatalf("QueueDepth() = %d, %d, dropped %d; want 2, 2, 1", n, c, m.Stats().Dropped)
	}
}
