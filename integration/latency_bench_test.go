package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/sim"
)

// BenchmarkEventToMosquitto is the daemon's latency as a Home Assistant
// user sees it: from the simulator sending a door alert and its
// notification over loopback UDP to a separate MQTT client receiving the
// event from mosquitto on <prefix>/<GUID>/event (the listener, the
// Monitor, the bridge with its on-disk queue, mosquitto, the subscriber;
// the journal writes alongside). It reports p50 and p99.
//
//	G90_REQUIRE_MOSQUITTO=1 go test -run '^$' -bench EventToMosquitto -benchtime 3000x -count 3 ./integration/
func BenchmarkEventToMosquitto(b *testing.B) {
	m := startMosquitto(b, "")
	r := startDaemon(b, "  url: "+m.url()+"\n")
	got := make(chan string, 64)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + m.addr()).
		SetClientID("bench-subscriber").SetCleanSession(true).SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { got <- string(msg.Payload()) }))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(250)
	if tok := c.Subscribe("g90/"+r.guid+"/event", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
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
		if _, err := r.sim.Inject(sim.Injection{Event: ev, Sensor: &one}); err != nil {
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
