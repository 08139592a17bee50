package mqtttest

import (
	"context"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig"
)

// BenchDrain measures a queue's drain after an outage: publish queues
// one message, b.N times, before the clock starts; then run (the link's
// Run) connects and sends them, and the clock stops when w has counted
// b.N on topic. It reports msg/s, and stops run. (Functions, not the
// link: package mqttlink's own tests use this package.)
func BenchDrain(b *testing.B, w *Watcher, topic string, publish func() error, run func(context.Context) error) {
	b.Helper()
	for range b.N {
		if err := publish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	stop := testrig.Serve(b, run)
	for w.Count(topic) < b.N {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	if err := stop(); err != nil {
		b.Fatal(err)
	}
}
