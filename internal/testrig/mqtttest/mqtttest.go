// Package mqtttest is an MQTT client for tests that records every message
// it receives. It speaks MQTT 3.1.1 (eclipse/paho.mqtt.golang), which
// every broker g90 meets speaks, the embedded NATS broker included.
package mqtttest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// clients numbers the watchers, so that each has its own client id.
var clients atomic.Uint64

// Watcher is an MQTT client subscribed to a topic filter that records
// every message it sees.
type Watcher struct {
	c    mqtt.Client
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
	return WatchAuth(t, addr, "", "", filter)
}

// WatchAuth is Watch with a user name and password ("" is none).
func WatchAuth(t testing.TB, addr, user, password, filter string) *Watcher {
	t.Helper()
	w := &Watcher{last: map[string]string{}}
	// NATS refuses client ids with white space, '.', '*' or '>'.
	id := strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return r
		}
		return '-'
	}, "watcher-"+t.Name()) + "-" + strconv.FormatUint(clients.Add(1), 10)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		// 3.1.1 only: with version 0 paho falls back to 3.1 and reports
		// that refusal instead.
		SetProtocolVersion(4).SetCleanSession(true).SetKeepAlive(30 * time.Second).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		// In arrival order, one at a time.
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			w.mu.Lock()
			w.msgs = append(w.msgs, Msg{m.Topic(), string(m.Payload()), m.Retained()})
			w.last[m.Topic()] = string(m.Payload())
			w.mu.Unlock()
		})
	if user != "" {
		o.SetUsername(user).SetPassword(password)
	}
	w.c = mqtt.NewClient(o)
	if err := wait(w.c.Connect()); err != nil {
		t.Fatalf("mqtttest: connect %s: %v", addr, err)
	}
	t.Cleanup(func() { w.c.Disconnect(250) })
	if err := wait(w.c.Subscribe(filter, 1, nil)); err != nil {
		t.Fatalf("mqtttest: subscribe %s: %v", filter, err)
	}
	return w
}

// wait waits for a paho token, bounded.
func wait(tok mqtt.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("timed out")
	}
	return tok.Error()
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

// WaitRetained returns once a new subscription to topic gets payload as
// its retained message: NATS shows a retained message to new
// subscriptions a moment after its PUBACK, not at it (README, the
// embedded broker), so a client that subscribes at once could miss it.
func (w *Watcher) WaitRetained(t testing.TB, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := w.retained(t, topic, Is(payload)); ok {
			return
		}
	}
	t.Fatalf("mqtttest: the retained message on %s is not shown to new subscriptions after 10 s", topic)
}

// retained subscribes anew to topic and returns its retained message if
// one satisfying ok comes within 200 ms.
func (w *Watcher) retained(t testing.TB, topic string, ok func(string) bool) (string, bool) {
	t.Helper()
	r := w.c.OptionsReader()
	o := mqtt.NewClientOptions().SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	for _, u := range r.Servers() {
		o.AddBroker(u.String())
	}
	o.SetUsername(r.Username()).SetPassword(r.Password())
	seen := make(chan string, 1)
	o.SetClientID("retained-check-" + strconv.FormatUint(clients.Add(1), 10))
	c := mqtt.NewClient(o)
	if err := wait(c.Connect()); err != nil {
		t.Fatalf("mqtttest: connect to check a retained message: %v", err)
	}
	defer c.Disconnect(0)
	err := wait(c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() && ok(string(m.Payload())) {
			select {
			case seen <- string(m.Payload()):
			default:
			}
		}
	}))
	if err != nil {
		return "", false
	}
	select {
	case p := <-seen:
		return p, true
	case <-time.After(200 * time.Millisecond):
		return "", false
	}
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

// WaitFor waits up to 10 s until topic's last payload (or, for a
// retained message published just before w subscribed, what a fresh
// subscription gets) satisfies ok, and
// returns it.
func (w *Watcher) WaitFor(t testing.TB, topic string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	probe := time.Now().Add(time.Second)
	for {
		if p, found := w.Get(topic); found && ok(p) {
			return p
		}
		// A retained message published just before w subscribed may
		// not have reached it (NATS shows it to new subscriptions a
		// moment after its PUBACK): ask a fresh subscription.
		if time.Now().After(probe) {
			if p, found := w.retained(t, topic, ok); found {
				return p
			}
			probe = time.Now().Add(time.Second)
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
	n := 0
	for _, m := range w.All(topic) {
		if m.Topic == topic {
			n++
		}
	}
	return n
}
