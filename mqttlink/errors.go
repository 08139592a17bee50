package mqttlink

import (
	"errors"
	"fmt"
)

// Sentinels a *RefusedError matches with errors.Is.
var (
	// ErrBadCredentials: the broker refused the username or password
	// (return code 4).
	ErrBadCredentials = errors.New("mqttlink: bad user name or password")
	// ErrNotAuthorized: the broker does not let this client connect
	// (return code 5).
	ErrNotAuthorized = errors.New("mqttlink: not authorized")
	// ErrRefused is matched by every refusal.
	ErrRefused = errors.New("mqttlink: the broker refused the connection")
)

// RefusedError is a broker's refusal of the connection: the return code
// of its CONNACK (MQTT 3.1.1 §3.2.2.3).
type RefusedError struct{ Code byte }

// returnCodes are the CONNACK return codes of a refusal (MQTT 3.1.1
// §3.2.2.3).
var returnCodes = map[byte]string{
	1: "unacceptable protocol version (the broker does not speak MQTT 3.1.1)",
	2: "identifier rejected (the broker does not accept the client id)",
	3: "server unavailable",
	4: "bad user name or password",
	5: "not authorized",
}

func (e *RefusedError) Error() string {
	if why, ok := returnCodes[e.Code]; ok {
		return fmt.Sprintf("the broker refused the connection: %s (return code %d)", why, e.Code)
	}
	return fmt.Sprintf("the broker refused the connection: return code %d", e.Code)
}

// Is matches ErrRefused, and ErrBadCredentials or ErrNotAuthorized by
// the code.
func (e *RefusedError) Is(target error) bool {
	switch target {
	case ErrRefused:
		return true
	case ErrBadCredentials:
		return e.Code == 4
	case ErrNotAuthorized:
		return e.Code == 5
	}
	return false
}
