// Package integration runs g90 serve against a real mosquitto broker:
// discovery, states, commands, credentials, and a broker restart in the
// middle of an event stream. The tests need the mosquitto binary
// (apt-get install mosquitto); without it they skip, unless
// G90_REQUIRE_MOSQUITTO is set, as .ci/run sets it.
package integration
