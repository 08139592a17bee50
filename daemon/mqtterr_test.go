package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/g90alarm/g90/mqttlink"
)

// The transport's refusals and certificate errors come with the config
// keys to check; other errors pass unchanged.
func TestMQTTConnectError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&mqttlink.RefusedError{Code: 4}, "bad user name or password (return code 4) (check mqtt.username and mqtt.password)"},
		{fmt.Errorf("connect: %w", &mqttlink.RefusedError{Code: 5}), "not authorized (return code 5) (check mqtt.username, mqtt.password and the broker's ACL)"},
		{&mqttlink.RefusedError{Code: 1}, "(the broker does not speak MQTT 3.1.1; every MQTT broker should: check mqtt.url)"},
		{&mqttlink.RefusedError{Code: 2}, "another client may have the same id"},
		{&mqttlink.RefusedError{Code: 3}, "server unavailable (return code 3)"},
		{fmt.Errorf("network Error : %w", &x509.CertificateInvalidError{}), "certificate"},
		{fmt.Errorf("network Error : %w", x509.UnknownAuthorityError{}), "(set mqtt.ca_file to the certificate authority that signed the broker's certificate)"},
		{fmt.Errorf("tls: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "b"}), "(mqtt.url must name a host the broker's certificate is for)"},
		{errors.New("dial tcp 127.0.0.1:1: connection refused"), "dial tcp 127.0.0.1:1: connection refused"},
	} {
		got := mqttConnectError(tc.err)
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%v: %q, want it to contain %q and wrap the error", tc.err, got, tc.want)
		}
	}
	if got := mqttConnectError(&mqttlink.RefusedError{Code: 3}).Error(); strings.Contains(got, "(check") {
		t.Errorf("a hint for a refusal with nothing to check: %q", got)
	}
}
