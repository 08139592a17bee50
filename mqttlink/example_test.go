package mqttlink_test

import (
	"context"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/mqttlink"
)

// A link publishes what was queued before it connected, in order, after
// its birth message; a subscriber (paho's client here) sees them.
func Example() {
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer br.Close()

	got := make(chan string, 8)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + br.Addr().String()).SetClientID("example-sub").
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) }))
	if tok := sub.Connect(); tok.Wait() && tok.Error() != nil {
		panic(tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("app/#", 1, nil); tok.Wait() && tok.Error() != nil {
		panic(tok.Error())
	}

	l, err := mqttlink.New(mqttlink.Config{
		URL: br.URL(), ClientID: "example",
		Will:  &mqttlink.Message{Topic: "app/status", Payload: []byte("offline"), QoS: 1, Retain: true},
		Birth: &mqttlink.Message{Topic: "app/status", Payload: []byte("online"), QoS: 1, Retain: true},
	})
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"door open", "door closed"} {
		if err := l.Publish(mqttlink.Message{Topic: "app/event", Payload: []byte(p), QoS: 1}); err != nil {
			panic(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	next := func() string {
		select {
		case m := <-got:
			return m
		case <-time.After(10 * time.Second):
			return "timed out"
		}
	}
	fmt.Println(next())
	fmt.Println(next())
	fmt.Println(next())
	cancel() // Run drops the connection: the broker publishes the will
	if err := <-done; err != nil {
		panic(err)
	}
	fmt.Println(next())
	l.Close()
	// Output:
	// app/status online
	// app/event door open
	// app/event door closed
	// app/status offline
}
