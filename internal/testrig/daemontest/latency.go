package daemontest

import (
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/sim"
)

// BenchEventLatency measures, b.N times, a door event's way from the
// simulated panel s (door open and close in turn on sensor 1) to an MQTT
// subscriber of <prefix>/guid/event on the broker at addr (host:port)
// that a running daemon publishes to, and reports p50 and p99 in
// microseconds.
func BenchEventLatency(b *testing.B, addr, guid string, s *sim.Panel) {
	b.Helper()
	got := make(chan string, 64)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID("bench-subscriber").SetCleanSession(true).SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(250)
	if tok := c.Subscribe("g90/"+guid+"/event", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	one := 1
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev, want := "door_open", `"type":"door_open"`
		if i%2 == 1 {
			ev, want = "door_close", `"type":"door_close"`
		}
		start := time.Now()
		if _, err := s.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
			b.Fatal(err)
		}
	wait:
		for {
			select {
			case p := <-got:
				if strings.Contains(p, want) {
					break wait
				}
				// the sensor_activity that comes first
			case <-time.After(10 * time.Second):
				b.Fatalf("no %s on MQTT", ev)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
