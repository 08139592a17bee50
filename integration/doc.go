// Package integration runs g90 serve against real brokers and clients we
// did not write: mosquitto and the embedded broker (package broker), with
// paho.mqtt.golang, mosquitto_sub and mosquitto_pub, and Home
// Assistant's own client library (Python's paho-mqtt, testdata/
// home_assistant.py) acting as Home Assistant: discovery, states,
// commands, credentials, TLS, WebSocket, and a broker outage in the
// middle of an event stream with the daemon restarted during it.
//
// The tests need mosquitto and its clients (apt-get install mosquitto
// mosquitto-clients) and python3 with paho-mqtt (apt-get install
// python3-paho-mqtt); without them they skip, unless
// G90_REQUIRE_MOSQUITTO or G90_REQUIRE_PYTHON_PAHO is set, as .ci/run
// sets them.
package integration
