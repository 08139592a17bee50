package daemon_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

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
	u, _ := url.Parse(r.ep.MQTT)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribed := make(chan struct{})
	topic := "g90/" + r.guid + "/event"
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, CleanStartOnInitialConnection: true,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err == nil {
				close(subscribed)
			}
		},
		ClientConfig: paho.ClientConfig{
			ClientID: "bench-subscriber",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				got <- string(pr.Packet.Payload)
				return true, nil
			}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); <-cm.Done() }()
	<-subscribed
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
