// Package mqtttest is an MQTT client for tests that records every message
// it receives (MQTT 3.1.1, eclipse/paho.mqtt.golang: a client we did not
// write).
package mqtttest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// clients numbers the watchers, so that each has its own client id.
var clients atomic.Uint64

// Watcher is an MQTT client subscribed to a topic filter that records
// every message it sees.
type Watcher struct {
	c    paho.Client
	mu   sync.Mutex
	msgs []Msg
	last map[string]string // retained view: topic → last payload
}

// Msg is one received message.
type Msg struct {
	Topic, Payload string
	Retained       bool
}

// Watch connects to the broker at addr (host:port) and subscribes to
// filter with QoS 1; the test's cleanup disconnects.
func Watch(t testing.TB, addr string, filter string) *Watcher {
	t.Helper()
	w := &Watcher{last: map[string]string{}}
	id := strings.NewReplacer("/", "-", " ", "-").Replace("watcher-"+t.Name()) + "-" + strconv.FormatUint(clients.Add(1), 10)
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).
		SetProtocolVersion(4).SetAutoReconnect(false).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			w.mu.Lock()
			w.msgs = append(w.msgs, Msg{m.Topic(), string(m.Payload()), m.Retained()})
			w.last[m.Topic()] = string(m.Payload())
			w.mu.Unlock()
		})
	w.c = paho.NewClient(opts)
	if err := wait(w.c.Connect()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.c.Disconnect(250) })
	if err := wait(w.c.Subscribe(filter, 1, nil)); err != nil {
		t.Fatal(err)
	}
	return w
}

// Publish sends payload to topic with QoS 1.
func (w *Watcher) Publish(t testing.TB, topic, payload string) {
	t.Helper()
	w.publish(t, topic, payload, false)
}

// PublishRetained sends payload to topic with QoS 1, retained.
func (w *Watcher) PublishRetained(t testing.TB, topic, payload string) {
	t.Helper()
	w.publish(t, topic, payload, true)
}

func (w *Watcher) publish(t testing.TB, topic, payload string, retain bool) {
	t.Helper()
	if err := wait(w.c.Publish(topic, 1, retain, payload)); err != nil {
		t.Fatal(err)
	}
}

// Get returns the last payload on topic.
func (w *Watcher) Get(topic string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.last[topic]
	return p, ok
}

// WaitFor waits up to 10 s until topic's last payload satisfies ok, and
// returns it.
func (w *Watcher) WaitFor(t testing.TB, topic string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, found := w.Get(topic); found && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			p, _ := w.Get(topic)
			t.Fatalf("topic %s: last payload %q", topic, p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// All returns the messages whose topic starts with prefix, in arrival
// order.
func (w *Watcher) All(prefix string) []Msg {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Msg
	for _, m := range w.msgs {
		if strings.HasPrefix(m.Topic, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// Is returns a WaitFor condition: the payload equals want.
func Is(want string) func(string) bool { return func(p string) bool { return p == want } }

// Count returns how many messages came on exactly topic.
func (w *Watcher) Count(topic string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if m.Topic == topic {
			n++
		}
	}
	return n
}

// wait waits up to 10 s for tok.
func wait(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("mqtttest: no answer from the broker in 10 s")
	}
	return tok.Error()
}
