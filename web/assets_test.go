package web_test

import (
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
)

// Everything the app's page, manifest and service worker name is served,
// with the type they say: a broken reference would break installing or
// the offline start, which only a browser would notice.
func TestAppReferences(t *testing.T) {
	r := startRig(t, rigConfig{})
	get := func(path string) (string, string) {
		t.Helper()
		resp := r.raw(t, "GET", path, "")
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(b), resp.Header.Get("Content-Type")
	}
	index, _ := get("/")
	refs := regexp.MustCompile(`(?:href|src)="([^"#:]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 5 {
		t.Fatalf("index.html names %d files: %v", len(refs), refs)
	}
	for _, m := range refs {
		if m[1] == "api/history.csv" {
			continue // an API, not a file
		}
		get("/" + m[1])
	}
	// The module the page imports.
	app, _ := get("/assets/app.js")
	for _, m := range regexp.MustCompile(`import .* from '\./([^']+)'`).FindAllStringSubmatch(app, -1) {
		get("/assets/" + m[1])
	}

	body, ctype := get("/manifest.webmanifest")
	if ctype != "application/manifest+json" {
		t.Errorf("manifest: Content-Type %q", ctype)
	}
	var man struct {
		Name     string `json:"name"`
		StartURL string `json:"start_url"`
		Display  string `json:"display"`
		Icons    []struct {
			Src  string `json:"src"`
			Type string `json:"type"`
		} `json:"icons"`
	}
	if err := json.Unmarshal([]byte(body), &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if man.Name == "" || man.StartURL == "" || man.Display != "standalone" || len(man.Icons) < 2 {
		t.Errorf("manifest: %+v", man)
	}
	for _, ic := range man.Icons {
		if _, ct := get("/" + ic.Src); ct != ic.Type {
			t.Errorf("icon %s: Content-Type %q, the manifest says %q", ic.Src, ct, ic.Type)
		}
	}

	sw, _ := get("/sw.js")
	shell := regexp.MustCompile(`const SHELL = \[([^\]]*)\]`).FindStringSubmatch(sw)
	if shell == nil {
		t.Fatal("sw.js: no SHELL list")
	}
	for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(shell[1], -1) {
		get("/" + strings.TrimPrefix(m[1], "./"))
	}
}
