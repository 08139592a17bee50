package daemon_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/sim"
)

// BenchmarkEventToMQTT measures the whole daemon's latency: from the
// simulator sending a door notification over loopback UDP to a
// subscriber receiving the event on <prefix>/<GUID>/event from the
// embedded broker (listener, Monitor, bridge, disk queue, broker,
// subscriber). It reports p50 and p99 in microseconds.
//
//	go test -run '^$' -bench EventToMQTT -benchtime 2000x ./daemon/
func BenchmarkEventToMQTT(b *testing.B) {
	r := startDaemon(b, "    notifications: local\n")
	got := make(chan string, 64)
	topic := "g90/" + r.guid + "/event"
	c := paho.NewClient(paho.NewClientOptions().AddBroker(strings.Replace(r.ep.MQTT, "mqtt://", "tcp://", 1)).
		SetClientID("bench-subscriber").SetCleanSession(true).SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(250)
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	one := 1
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, want := "door_open", `"type":"door_open"`
		if i%2 == 1 {
			ev, want = "door_close", `"type":"door_close"`
		}
		start := time.Now()
		if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
			b.Fatal(err)
		}
		for {
			select {
			case p := <-got:
				if !strings.Contains(p, want) {
					continue // the sensor_activity that comes first
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("no %s on MQTT", ev)
			}
			break
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
