package bridge

import (
	"errors"
	"fmt"

	"github.com/eclipse/paho.golang/autopaho"

	"github.com/g90alarm/g90/internal/mqtt311"
)

// connackReasons are the MQTT 5 CONNACK reason codes of a refusal (MQTT
// 5.0 §3.2.2.2), worded for the user who has to act on them.
var connackReasons = map[byte]string{
	0x80: "unspecified error",
	0x81: "malformed packet",
	0x82: "protocol error",
	0x83: "implementation specific error",
	0x84: "unsupported protocol version (the broker does not speak MQTT 5: set mqtt.protocol to auto or 3.1.1)",
	0x85: "client identifier not valid",
	0x86: "bad user name or password (check mqtt.username and mqtt.password)",
	0x87: "not authorized (check mqtt.username, mqtt.password and the broker's ACL)",
	0x88: "server unavailable",
	0x89: "server busy",
	0x8A: "banned",
	0x8C: "bad authentication method",
	0x90: "topic name invalid",
	0x95: "packet too large",
	0x97: "quota exceeded",
	0x99: "payload format invalid",
	0x9A: "retain not supported (the bridge needs retained messages)",
	0x9B: "QoS not supported (the bridge needs QoS 1)",
	0x9C: "use another server",
	0x9D: "server moved",
	0x9F: "connection rate exceeded",
}

// connackReturnCodes are the MQTT 3.1.1 CONNACK return codes of a
// refusal (MQTT 3.1.1 §3.2.2.3), worded likewise.
var connackReturnCodes = map[byte]string{
	1: "unacceptable protocol version (the broker does not speak MQTT 3.1.1: set mqtt.protocol to auto or 5)",
	2: "identifier rejected (the broker does not accept the client id)",
	3: "server unavailable",
	4: "bad user name or password (check mqtt.username and mqtt.password)",
	5: "not authorized (check mqtt.username, mqtt.password and the broker's ACL)",
}

// connectError says why a connection attempt failed: for a broker's
// refusal, the reason in words.
func connectError(err error) error {
	var ce *autopaho.ConnackError
	var ce3 *mqtt311.ConnackError
	var why string
	switch {
	case errors.As(err, &ce):
		var ok bool
		if why, ok = connackReasons[ce.ReasonCode]; !ok {
			why = "reason code " + fmt.Sprint(ce.ReasonCode)
		}
		if ce.Reason != "" {
			why += ": " + ce.Reason
		}
	case errors.As(err, &ce3):
		var ok bool
		if why, ok = connackReturnCodes[ce3.Code]; !ok {
			why = "return code " + fmt.Sprint(ce3.Code)
		}
	default:
		return err
	}
	return fmt.Errorf("the broker refused the connection: %s", why)
}
