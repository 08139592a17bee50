// Package mqtt311 is a small MQTT 3.1.1 client, for brokers that do not
// speak MQTT 5 (which paho.golang requires). Two layers, as in paho:
// packets.go is the pure codec of the packets a client needs (no
// sockets, goroutines or clock; fuzzed), conn.go one connection on top
// of it. Reconnecting, queueing and resubscribing are the caller's (the
// bridge's).
//
// Comments cite the OASIS standard "MQTT Version 3.1.1" (2014) by
// section, e.g. §3.1.2.9.
//
//	c, err := mqtt311.Dial(ctx, mqtt311.Config{
//		Addr: "127.0.0.1:1883", ClientID: "g90", KeepAlive: 20 * time.Second,
//		Will:      &mqtt311.Will{Topic: "g90/bridge/status", Payload: []byte("offline"), QoS: 1, Retain: true},
//		OnMessage: func(topic string, payload []byte) { … },
//	})
//	var ce *mqtt311.ConnackError
//	if errors.As(err, &ce) { … } // refused: ce.Code
//	granted, err := c.Subscribe(ctx, []mqtt311.Subscription{{Topic: "g90/+/set", QoS: 1}})
//	err = c.Publish(ctx, "g90/bridge/status", []byte("online"), 1, true) // returns at the PUBACK
//	select {
//	case <-c.Done(): // lost: c.Err() says why
//	case <-ctx.Done():
//		c.Close() // no DISCONNECT: the broker publishes the will
//	}
package mqtt311
