package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/g90alarm/g90/mqttlink"
)

// mqttConnectError says why a connection to the broker failed, with
// what to change in the config file where that is the cause: the
// transport's typed errors (a refusal, a certificate not trusted) with
// the daemon's keys.
func mqttConnectError(err error) error {
	var (
		refused   *mqttlink.RefusedError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
	)
	var hint string
	switch {
	case errors.Is(err, mqttlink.ErrBadCredentials):
		hint = "check mqtt.username and mqtt.password"
	case errors.Is(err, mqttlink.ErrNotAuthorized):
		hint = "check mqtt.username, mqtt.password and the broker's ACL"
	case errors.As(err, &refused) && refused.Code == 1:
		hint = "the broker does not speak MQTT 3.1.1; every MQTT broker should: check mqtt.url"
	case errors.As(err, &refused) && refused.Code == 2:
		hint = "another client may have the same id, or the broker limits the ids it accepts"
	case errors.As(err, &authority):
		hint = "set mqtt.ca_file to the certificate authority that signed the broker's certificate"
	case errors.As(err, &host):
		hint = "mqtt.url must name a host the broker's certificate is for"
	default:
		return err
	}
	return fmt.Errorf("%w (%s)", err, hint)
}
