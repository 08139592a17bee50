package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/mqtttest"
	"github.com/g90alarm/g90/internal/testrig/testpki"
)

// A TLS broker whose certificate the system does not trust: with
// mqtt.ca_file the daemon connects; without it, it says why it cannot
// and which key to set.
func TestMosquittoTLS(t *testing.T) {
	ca, cert, key := testpki.New(t)
	m := startMosquittoTLS(t, ca, cert, key)
	url := "mqtts://" + m.addr()

	untrusted := startDaemon(t, "  url: "+url+"\n")
	eventually.True(t, "the refusal logged", func() bool { return strings.Contains(untrusted.logs.String(), "cannot connect to the MQTT broker") })
	if l := untrusted.logs.String(); !strings.Contains(l, "certificate") || !strings.Contains(l, "set mqtt.ca_file") {
		t.Fatalf("the log does not say the certificate is the problem:\n%s", l)
	}
	if err := untrusted.stop(); err != nil {
		t.Fatal(err)
	}

	trusted := startDaemon(t, "  url: "+url+"\n  ca_file: "+ca+"\n")
	eventually.True(t, "the TLS connection", func() bool { return strings.Contains(trusted.logs.String(), "connected to the MQTT broker") })
	checkProtocol(t, trusted, &testBroker{mosq: m})
}

// A TLS broker that wants a client certificate (mosquitto's
// require_certificate): without mqtt.cert_file the daemon cannot
// connect; with it and mqtt.key_file it does.
func TestMosquittoTLSClientCertificate(t *testing.T) {
	ca, cert, key, clientCert, clientKey := testpki.WithClient(t)
	m := startMosquitto(t, "cafile "+ca+"\ncertfile "+cert+"\nkeyfile "+key+"\nrequire_certificate true\n")
	url := "mqtts://" + m.addr()

	anonymous := startDaemon(t, "  url: "+url+"\n  ca_file: "+ca+"\n")
	eventually.True(t, "the failure logged", func() bool { return strings.Contains(anonymous.logs.String(), "cannot connect to the MQTT broker") })
	if strings.Contains(anonymous.logs.String(), `msg="connected to the MQTT broker"`) {
		t.Fatal("connected without a client certificate")
	}
	if err := anonymous.stop(); err != nil {
		t.Fatal(err)
	}

	r := startDaemon(t, "  url: "+url+"\n  ca_file: "+ca+"\n  cert_file: "+clientCert+"\n  key_file: "+clientKey+"\n")
	checkProtocol(t, r, &testBroker{mosq: m}) // mosquitto saw it connect
}

// WebSocket over TLS (wss://): mosquitto's WebSocket listener with the
// test CA's certificate; the daemon connects with mqtt.ca_file and
// publishes there.
func TestMosquittoWebSocketTLS(t *testing.T) {
	ca, cert, key := testpki.New(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wssPort := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	m := startMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets\ncafile %s\ncertfile %s\nkeyfile %s\n", wssPort, ca, cert, key))
	w := mqtttest.Watch(t, m.addr(), "g90/#")
	r := startDaemon(t, fmt.Sprintf("  url: wss://127.0.0.1:%d/mqtt\n  ca_file: %s\n", wssPort, ca))
	w.WaitFor(t, "g90/bridge/status", mqtttest.Is("online"))
	w.WaitFor(t, "g90/"+r.guid+"/alarm", mqtttest.Is("disarmed"))
}
