//go:build !nobroker

package broker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

// mosquittoTools returns the paths of Debian's mosquitto_pub and
// mosquitto_sub (package mosquitto-clients). It skips the test when they
// are missing, or fails it when G90_REQUIRE_MOSQUITTO is set (.ci/run
// sets it and installs them).
func mosquittoTools(t *testing.T) (pub, sub string) {
	t.Helper()
	pub, err := exec.LookPath("mosquitto_pub")
	if err == nil {
		sub, err = exec.LookPath("mosquitto_sub")
	}
	if err != nil {
		if os.Getenv("G90_REQUIRE_MOSQUITTO") != "" {
			t.Fatalf("mosquitto_pub/mosquitto_sub not found (.ci/run installs them: apt-get install mosquitto-clients): %v", err)
		}
		t.Skip("mosquitto-clients not installed; apt-get install mosquitto-clients to run this test (.ci/run does)")
	}
	return pub, sub
}

// mosq runs one of the tools against b, MQTT 3.1.1, with the test's
// credentials, bounded in time, and returns its output.
func mosq(t *testing.T, b *Broker, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	port := strconv.Itoa(b.Addr().(*net.TCPAddr).Port)
	args = append([]string{"-h", "127.0.0.1", "-p", port, "-V", "mqttv311"}, args...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// The tools people use to look at a broker work with ours: publish and
// subscribe at QoS 0 and 1, retained messages for a later subscriber and
// cleared by an empty one, a persistent session, a will, and credentials.
func TestMosquittoClients(t *testing.T) {
	leaktest.Check(t)
	pubBin, subBin := mosquittoTools(t)
	b := start(t, Config{Authenticate: func(user, pass []byte) bool {
		return string(user) == "g90" && string(pass) == "s3cret"
	}})
	creds := []string{"-u", "g90", "-P", "s3cret"}
	run := func(bin string, args ...string) string {
		t.Helper()
		out, err := mosq(t, b, bin, append(creds, args...)...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
		return out
	}

	// Wrong credentials are refused, in words.
	out, err := mosq(t, b, pubBin, "-u", "g90", "-P", "wrong", "-t", "x", "-m", "x")
	if err == nil || !strings.Contains(out, "not authori") {
		t.Fatalf("wrong password: %v %q", err, out)
	}

	// Retained, to a later subscriber; then cleared.
	const cfgTopic = "homeassistant/binary_sensor/g90_0123/door_1/config"
	// NATS shows a retained message, and its clearing, to new
	// subscriptions a moment after the PUBACK (see lateSubscriber): ask
	// again, bounded.
	retained := func() string {
		got, _ := mosq(t, b, subBin, append(creds, "-q", "1", "-t", "homeassistant/#", "-v", "-C", "1", "-W", "1")...)
		return strings.TrimPrefix(got, "Timed out\n") // -W's words when nothing came
	}
	run(pubBin, "-q", "1", "-r", "-t", cfgTopic, "-m", `{"name":"Door"}`)
	got := retained()
	for i := 0; i < 20 && got == ""; i++ {
		got = retained()
	}
	if got != cfgTopic+` {"name":"Door"}`+"\n" {
		t.Fatalf("retained: %q", got)
	}
	run(pubBin, "-q", "1", "-r", "-t", cfgTopic, "-n")
	for i := 0; got != ""; i++ {
		if i == 20 {
			t.Fatalf("cleared retained message still delivered: %q", got)
		}
		got = retained()
	}

	// A persistent session gets the QoS 1 messages sent while it was
	// away (and not the QoS 0 one).
	session := []string{"-c", "-i", "ha-session", "-q", "1", "-t", "g90/+/event", "-v"}
	mosq(t, b, subBin, append(append(creds, session...), "-W", "1")...) // subscribes, times out, leaves
	gone(t, b, 0)
	run(pubBin, "-q", "1", "-t", "g90/0123456789ABCDEF/event", "-m", "one")
	run(pubBin, "-q", "0", "-t", "g90/0123456789ABCDEF/event", "-m", "qos0")
	gone(t, b, 0) // its connection closed: the broker is done with it
	run(pubBin, "-q", "1", "-t", "g90/0123456789ABCDEF/event", "-m", "two")
	got = run(subBin, append(session, "-C", "2", "-W", "10")...)
	for _, want := range []string{"g90/0123456789ABCDEF/event one\n", "g90/0123456789ABCDEF/event two\n"} {
		if !strings.Contains(got, want) {
			t.Fatalf("persistent session: %q lacks %q", got, want)
		}
	}

	// Live, both ways between mosquitto's tools and paho, QoS 0 and 1.
	c := mustConnect(t, b, func(o *mqtt.ClientOptions) { o.SetUsername("g90").SetPassword("s3cret") })
	c.subscribe(t, "g90/+/live", 1)
	for _, qos := range []string{"0", "1"} {
		run(pubBin, "-q", qos, "-t", "g90/0123456789ABCDEF/live", "-m", "q"+qos)
		expect(t, c.next(t), "g90/0123456789ABCDEF/live", "q"+qos, false)
	}
	for _, qos := range []byte{0, 1} {
		done := make(chan string, 1)
		go func() {
			out, _ := mosq(t, b, subBin, append(creds, "-q", strconv.Itoa(int(qos)), "-t", "g90/+/cmd", "-C", "1", "-W", "10")...)
			done <- out
		}()
		// mosquitto_sub says nothing once it has subscribed: publish
		// until it has its message, bounded.
		var out string
	loop:
		for range 100 {
			c.publish(t, "g90/0123456789ABCDEF/cmd", qos, false, "ARM_AWAY")
			select {
			case out = <-done:
				break loop
			case <-time.After(100 * time.Millisecond):
			}
		}
		if out != "ARM_AWAY\n" {
			t.Fatalf("mosquitto_sub at QoS %d got %q", qos, out)
		}
	}

	// A will: mosquitto_sub killed (no DISCONNECT) leaves its will.
	watch := c
	watch.subscribe(t, "g90/bridge/status", 1)
	ctx, cancel := context.WithCancel(context.Background())
	port := strconv.Itoa(b.Addr().(*net.TCPAddr).Port)
	subs := b.srv.NumSubscriptions()
	cmd := exec.CommandContext(ctx, subBin, "-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-u", "g90", "-P", "s3cret",
		"--will-topic", "g90/bridge/status", "--will-payload", "offline", "--will-qos", "1", "-t", "nothing", "-W", "20")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until its CONNECT, will included, is taken: its SUBSCRIBE,
	// which follows the CONNACK, has made a subscription. (A client the
	// broker counts may not have sent its CONNECT yet.)
	eventually.NoError(t, "mosquitto_sub's subscription", func() error {
		if n := b.srv.NumSubscriptions(); n <= subs {
			return fmt.Errorf("%d subscriptions, as before it started", n)
		}
		return nil
	})
	cancel() // SIGKILL
	_ = cmd.Wait()
	expect(t, watch.next(t), "g90/bridge/status", "offline", false)
}
