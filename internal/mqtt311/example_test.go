package mqtt311_test

import (
	"context"
	"fmt"
	"time"

	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/internal/mqtt311"
)

// A subscriber and a publisher through the embedded broker: the QoS 1
// publish returns at its PUBACK, the subscriber's OnMessage gets it.
func ExampleDial() {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	ctx := context.Background()

	got := make(chan string, 1)
	sub, err := mqtt311.Dial(ctx, mqtt311.Config{
		Addr: b.Addr().String(), ClientID: "example-sub", CleanSession: true,
		OnMessage: func(topic string, payload []byte) { got <- topic + ": " + string(payload) },
	})
	if err != nil {
		panic(err)
	}
	defer sub.Disconnect()
	granted, err := sub.Subscribe(ctx, []mqtt311.Subscription{{Topic: "g90/+/alarm", QoS: 1}})
	fmt.Println("granted QoS", granted, err)

	pub, err := mqtt311.Dial(ctx, mqtt311.Config{
		Addr: b.Addr().String(), ClientID: "example-pub", KeepAlive: 20 * time.Second,
		Will: &mqtt311.Will{Topic: "g90/bridge/status", Payload: []byte("offline"), QoS: 1, Retain: true},
	})
	if err != nil {
		panic(err)
	}
	defer pub.Close() // without a DISCONNECT: the broker publishes the will
	fmt.Println("publish:", pub.Publish(ctx, "g90/SIMPANEL0001/alarm", []byte("armed_away"), 1, true))
	fmt.Println(<-got)
	// Output:
	// granted QoS [1] <nil>
	// publish: <nil>
	// g90/SIMPANEL0001/alarm: armed_away
}
