package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/eventually"
	"github.com/g90alarm/g90/internal/mqtttest"
)

// writePEM writes one PEM block to dir/name and returns the path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testPKI makes a CA and a server certificate for 127.0.0.1 signed by it,
// and returns the paths of the CA certificate, the server certificate and
// its key.
func testPKI(t *testing.T) (ca, cert, key string) {
	ca, cert, key, _, _ = testPKIWithClient(t)
	return ca, cert, key
}

// testPKIWithClient is testPKI with a client certificate signed by the
// same CA, and its key.
func testPKIWithClient(t *testing.T) (ca, cert, key, clientCert, clientKey string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "g90 test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cliTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "g90"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cliDER, err := x509.CreateCertificate(rand.Reader, cliTmpl, caCert, &cliKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), writePEM(t, dir, "server.pem", "CERTIFICATE", srvDER), writePEM(t, dir, "server.key", "EC PRIVATE KEY", keyDER),
		writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER), writePEM(t, dir, "client.key", "EC PRIVATE KEY", cliKeyDER)
}

// A TLS broker whose certificate the system does not trust: with
// mqtt.ca_file the daemon connects; without it, it says why it cannot
// and which key to set.
func TestMosquittoTLS(t *testing.T) {
	ca, cert, key := testPKI(t)
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
	ca, cert, key, clientCert, clientKey := testPKIWithClient(t)
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
	ca, cert, key := testPKI(t)
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
