package integration

import (
	"strconv"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/mqttlink"
)

// BenchmarkMosquittoDrain is the outbound queue sent to mosquitto after
// an outage: b.N events wait in the on-disk queue (as mqttlink keeps it
// for g90 serve), the link connects, and a subscriber on mosquitto
// counts them in. msg/s is the drain rate; window is how many publishes
// may wait for their PUBACK (1: one round trip per message; 256 is
// mqttlink.DefaultWindow, what g90 serve uses).
//
//	G90_REQUIRE_MOSQUITTO=1 go test -run '^$' -bench MosquittoDrain -benchtime 10000x -count 5 ./integration/
func BenchmarkMosquittoDrain(b *testing.B) {
	for _, window := range []int{1, 16, mqttlink.DefaultWindow} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) { benchDrain(b, window) })
	}
}

func benchDrain(b *testing.B, window int) {
	m := startMosquitto(b, "")
	const topic = "g90/SIMPANEL0001/event"
	w := mqtttest.Watch(b, m.addr(), topic)
	l, err := mqttlink.New(mqttlink.Config{URL: m.url(), QueueDir: b.TempDir(), ClientID: "bench-drain", Window: window})
	if err != nil {
		b.Fatal(err)
	}
	ev := []byte(`{"time":"2026-11-21T09:05:56.735526022Z","panel":"SIMPANEL0001","source":"local","type":"door_open","sensor":{"index":1,"name":"Front door","type":"Door Sensor: WDS07"},"seq":1}`)
	msg := mqttlink.Message{Topic: topic, Payload: ev, QoS: 1}
	mqtttest.BenchDrain(b, w, topic, func() error { return l.Publish(msg) }, l.Run)
	l.Close()
}
