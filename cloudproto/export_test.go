package cloudproto

// The vectors, for the tests of package cloudproto_test too.

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// knownKeys are the keys the C-* vectors use; an unknown key fails the
// load, so a spec change that adds one is noticed.
var knownKeys = map[string]bool{
	"input_hex": true, "input_chunks": true, "input": true, "decoded": true, "config": true,
	"now_utc": true, "sensors": true, "expect_reply_hex": true, "expect_reply": true,
	"expect_reply_hex_hello_info": true, "expect_reply_hex_discovery_prefix": true,
	"expect_protocol": true, "expect_state": true, "expect_log": true,
}

func LoadVectors(tb testing.TB) []vectors.Entry {
	tb.Helper()
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	es, err := vectors.ParseEntries(b)
	if err != nil {
		tb.Fatalf("%s: %v", vectorsFile, err)
	}
	for _, e := range es {
		for k := range e.Fields {
			if !knownKeys[k] {
				tb.Fatalf("%s: vector %s has unknown key %s", vectorsFile, e.ID, k)
			}
		}
	}
	return es
}

// DefaultParams are the reply parameters of the vectors.
var DefaultParams = ReplyParams{LocalPort: 5678, Advertise: netip.MustParseAddrPort("127.0.0.1:5678"), Now: time.Unix(1735689600, 0)}

// PingBytes is a C-PING message.
var PingBytes = []byte{0x01, 0x10, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00}
