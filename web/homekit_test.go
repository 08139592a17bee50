//go:build !nohomekit

package web_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The Apple Home card: the setup code and its QR code (an SVG of the
// X-HM:// setup URI) while the bridge is not paired; without a bridge,
// disabled and no QR code.
func TestHomeKitSetup(t *testing.T) {
	r := startRig(t, rigConfig{homekit: t.TempDir()})
	status, v := r.do(t, "GET", "/api/homekit", "")
	if status != http.StatusOK || v["enabled"] != true || v["paired"] != false || v["code"] != "314-15-926" {
		t.Fatalf("GET /api/homekit: %d %v", status, v)
	}
	if uri, _ := v["uri"].(string); !strings.HasPrefix(uri, "X-HM://") || len(uri) != 20 {
		t.Errorf("setup URI %q: want X-HM:// and 13 characters", uri)
	}
	resp := r.raw(t, "GET", "/api/homekit/qr.svg", "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" ||
		!bytes.HasPrefix(bytes.TrimSpace(body), []byte("<svg")) || !bytes.Contains(body, []byte("314-15-926")) {
		t.Errorf("GET /api/homekit/qr.svg: %s %q\n%.200s", resp.Status, resp.Header.Get("Content-Type"), body)
	}

	plain := startRig(t, rigConfig{})
	if status, v := plain.do(t, "GET", "/api/homekit", ""); status != http.StatusOK || v["enabled"] != false || v["code"] != nil {
		t.Errorf("without a bridge: %d %v", status, v)
	}
	resp = plain.raw(t, "GET", "/api/homekit/qr.svg", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("QR code without a bridge: %s, want 404", resp.Status)
	}
}
