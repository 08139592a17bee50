//go:build !nohomekit

package main

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/brutella/hap"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/homekit"
)

// g90 serve's output shows the HomeKit setup code and URI while the
// bridge is not paired, and only "paired" once a pairing is stored —
// also right after a restart, before the bridge is published again.
func TestPrintEndpointsHomeKit(t *testing.T) {
	dir := t.TempDir()
	hk, err := homekit.New(homekit.Config{Listen: "127.0.0.1:0", Pin: "314-15-926", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ep := daemon.Endpoints{MQTT: "mqtt://127.0.0.1:1883", Web: "http://127.0.0.1:8080/", HomeKit: hk}
	var out strings.Builder
	printEndpoints(&out, ep)
	uri := hk.Setup().URI
	for _, want := range []string{"HomeKit  not paired", "setup code 314-15-926", uri} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("unpaired: output lacks %q:\n%s", want, out.String())
		}
	}

	p, _ := json.Marshal(hap.Pairing{Name: "controller-1", PublicKey: make([]byte, 32), Permission: 1})
	if err := hap.NewFsStore(dir).Set(hex.EncodeToString([]byte("controller-1"))+".pairing", p); err != nil {
		t.Fatal(err)
	}
	// As after a restart: a new bridge on the same directory, not run.
	hk, err = homekit.New(homekit.Config{Listen: "127.0.0.1:0", Pin: "314-15-926", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ep.HomeKit = hk
	out.Reset()
	printEndpoints(&out, ep)
	if o := out.String(); !strings.Contains(o, "HomeKit  paired\n") || strings.Contains(o, "314-15-926") || strings.Contains(o, uri) {
		t.Errorf("paired: want \"HomeKit  paired\" and no setup code:\n%s", o)
	}
}
