package daemon_test

import (
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/daemontest"
)

// BenchmarkEventToMQTT measures the whole daemon's latency: from the
// simulator sending a door notification over loopback UDP to a
// subscriber receiving the event on <prefix>/<GUID>/event from the
// embedded broker (listener, Monitor, bridge, disk queue, broker,
// subscriber). It reports p50 and p99 in microseconds.
//
//	go test -run '^$' -bench EventToMQTT -benchtime 2000x ./daemon/
func BenchmarkEventToMQTT(b *testing.B) {
	r := startDaemon(b, "    notifications: local\n")
	daemontest.BenchEventLatency(b, strings.TrimPrefix(r.ep.MQTT, "mqtt://"), r.guid, r.sim)
}
