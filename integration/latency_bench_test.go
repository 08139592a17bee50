package integration

import (
	"testing"

	"github.com/g90alarm/g90/internal/testrig/daemontest"
)

// BenchmarkEventToMosquitto is the daemon's latency as a Home Assistant
// user sees it: from the simulator sending a door alert and its
// notification over loopback UDP to a separate MQTT client receiving the
// event from mosquitto on <prefix>/<GUID>/event (the listener, the
// Monitor, the bridge with its on-disk queue, mosquitto, the subscriber;
// the journal writes alongside). It reports p50 and p99.
//
//	G90_REQUIRE_MOSQUITTO=1 go test -run '^$' -bench EventToMosquitto -benchtime 3000x -count 3 ./integration/
func BenchmarkEventToMosquitto(b *testing.B) {
	m := startMosquitto(b, "")
	r := startDaemon(b, "  url: "+m.url()+"\n")
	daemontest.BenchEventLatency(b, m.addr(), r.guid, r.sim)
}
