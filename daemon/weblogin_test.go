package daemon_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/daemontest"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/netns"
	"github.com/g90alarm/g90/internal/testrig/simtest"
	"github.com/g90alarm/g90/internal/testrig/testpki"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// TestWebLoginAllAddresses: g90 serve with web.listen on every address
// (0.0.0.0) refuses to start without web.password_hash; with one, the
// API answers 401 until a login, whose cookie then arms the panel; with
// web.tls_cert and tls_key the same over HTTPS only, TLS 1.2 at least
// (issue 19.6). It runs in a network namespace of its own, where every
// address is the namespace's loopback: nothing outside can connect.
func TestWebLoginAllAddresses(t *testing.T) {
	if !netns.Run(t, os.Getenv("G90_REQUIRE_NETNS") != "") {
		return
	}
	const password = "let me in, it is cold"
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, sim.Config{Seed: 1})
	_, certFile, keyFile := testpki.New(t)
	dir := t.TempDir()
	config := func(web string) *daemon.Config {
		t.Helper()
		yaml := fmt.Sprintf(`mqtt:
  listen: 127.0.0.1:0
web:
  listen: 0.0.0.0:0
%sstate_dir: %s
panels:
  - name: home
    host: 127.0.0.1
    port: %d
    poll: 1s
    notifications: none
`, web, dir, s.Addr().(*net.UDPAddr).Port)
		cfg, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte(yaml), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	inFile := "  password_hash: " + strings.ReplaceAll(hash, "$", "$$") + "\n"

	// No hash: the config is refused, and so is a Config made without
	// ParseConfig.
	if _, err := daemon.ParseConfig(filepath.Join(dir, "g90.yaml"), []byte("web:\n  listen: 0.0.0.0:8080\npanels:\n  - host: 127.0.0.1\n"), nil); err == nil || !strings.Contains(err.Error(), "web.password_hash") {
		t.Fatalf("config without a hash: %v", err)
	}
	cfg := config(inFile)
	cfg.Web.PasswordHash = ""
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	err = daemon.Run(ctx, cfg, daemon.Options{Timeout: time.Second})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "web.password_hash") {
		t.Fatalf("g90 serve without a hash: %v", err)
	}

	log := new(lockedbuf.Buffer)
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ep, stop := daemontest.Run(t, config(inFile), daemon.Options{Timeout: time.Second, Logger: logger})
	if !strings.HasPrefix(ep.Web, "http://0.0.0.0:") && !strings.HasPrefix(ep.Web, "http://[::]:") {
		t.Fatalf("web at %s", ep.Web)
	}
	base := "http://127.0.0.1:" + port(t, ep.Web)
	c := &browser{t: t, base: base, hc: &http.Client{}}
	c.want(401, "GET", "/api/panels", "")
	c.want(401, "POST", "/api/panels/home/arm", `{"mode":"away"}`)
	c.want(200, "GET", "/", "")
	c.want(200, "GET", "/metrics", "")
	if out := c.want(200, "GET", "/api/session", ""); out["login_required"] != true || out["logged_in"] != false {
		t.Fatalf("session: %v", out)
	}
	c.want(401, "POST", "/api/login", `{"password":"let me in"}`)
	c.want(200, "POST", "/api/login", `{"password":"`+password+`"}`)
	if c.cookie == nil || c.cookie.Secure || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over HTTP: %v", c.cookie)
	}
	eventually.NoError(t, "the panel read", func() error {
		if out := c.want(200, "GET", "/api/panels/home/state", ""); out["ready"] != true {
			return fmt.Errorf("not ready: %v", out)
		}
		return nil
	})
	c.want(200, "POST", "/api/panels/home/arm", `{"mode":"away"}`)
	eventually.True(t, "the simulator armed away", func() bool { return s.Snapshot().Arm == protocol.ArmAway })
	m := c.body("/metrics")
	for _, want := range []string{`g90_web_logins_total{result="ok"} 1`, `g90_web_logins_total{result="wrong_password"} 1`, `g90_web_logins_total{result="locked_out"} 0`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("/metrics has no %s", want)
		}
	}
	cookie := c.cookie.Value
	c.want(200, "POST", "/api/logout", "")
	c.cookie = &http.Cookie{Name: web.SessionCookie, Value: cookie}
	c.want(401, "POST", "/api/panels/home/disarm", "")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s.Snapshot().Arm != protocol.ArmAway {
		t.Fatal("disarmed after the logout")
	}

	// HTTPS, with the certificate the test made for 127.0.0.1.
	ep, _ = daemontest.Run(t, config(inFile+"  tls_cert: "+certFile+"\n  tls_key: "+keyFile+"\n"), daemon.Options{Timeout: time.Second, Logger: logger})
	if !strings.HasPrefix(ep.Web, "https://0.0.0.0:") && !strings.HasPrefix(ep.Web, "https://[::]:") {
		t.Fatalf("web at %s", ep.Web)
	}
	p := port(t, ep.Web)
	caPEM, err := os.ReadFile(filepath.Join(filepath.Dir(certFile), "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	c = &browser{t: t, base: "https://127.0.0.1:" + p, hc: &http.Client{Transport: tr}}
	c.want(401, "GET", "/api/panels", "")
	c.want(200, "POST", "/api/login", `{"password":"`+password+`"}`)
	if c.cookie == nil || !c.cookie.Secure || !c.cookie.HttpOnly {
		t.Fatalf("cookie over HTTPS: %v", c.cookie)
	}
	c.want(200, "GET", "/api/panels", "")
	c.want(200, "POST", "/api/panels/home/disarm", "")
	eventually.True(t, "the simulator disarmed", func() bool { return s.Snapshot().Arm == protocol.Disarmed })

	// Plain HTTP to it is answered 400 by Go's TLS server, and TLS 1.1
	// finds no version in common.
	res, err := http.Get("http://127.0.0.1:" + p + "/api/panels")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP to the HTTPS port: %d", res.StatusCode)
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+p, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}

	// Nothing secret in the log, the metrics, the state JSON or the
	// state directory.
	seen := map[string]string{"the log": log.String(), "/metrics": c.body("/metrics"), "/api/panels": c.body("/api/panels")}
	if err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		seen[path] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for where, text := range seen {
		for _, secret := range []string{password, strings.Split(hash, "$")[2], strings.Split(hash, "$")[3], cookie, c.cookie.Value} {
			if strings.Contains(text, secret) {
				t.Errorf("%s has a secret %q", where, secret)
			}
		}
	}
	logs := seen["the log"]
	if !strings.Contains(logs, "logged in") {
		t.Errorf("no login in the log:\n%s", logs)
	}
}

// body is what GET path answers, which must be 200.
func (b *browser) body(path string) string {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), "GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.AddCookie(b.cookie)
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return string(raw)
}

// port is the port of a URL http(s)://host:port/.
func port(t *testing.T, u string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimSuffix(u[strings.Index(u, "//")+2:], "/"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// browser sends requests with the session cookie it was given last.
type browser struct {
	t      *testing.T
	base   string
	hc     *http.Client
	cookie *http.Cookie
}

// want sends a request (a body as JSON) and fails the test unless it
// answers status; it returns the JSON answer, if any.
func (b *browser) want(status int, method, path, body string) map[string]any {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == web.SessionCookie {
			b.cookie = ck
		}
	}
	if res.StatusCode != status {
		b.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, status)
	}
	var out map[string]any
	if res.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &out); err != nil {
			b.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return out
}

// A reload (SIGHUP) keeps the web UI's sessions while the password
// stays; a new password logs everyone out. With a password hash the
// login is required on loopback too.
func TestWebSessionsSurviveReload(t *testing.T) {
	first, err := web.HashPassword("first password")
	if err != nil {
		t.Fatal(err)
	}
	second, err := web.HashPassword("second password")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := simtest.Start(t, sim.Config{Seed: 1})
	var mu sync.Mutex
	hash := first
	load := func() (*daemon.Config, error) {
		mu.Lock()
		defer mu.Unlock()
		yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\n  password_hash: ${HASH}\nstate_dir: %s\npanels:\n  - name: home\n    host: 127.0.0.1\n    port: %d\n    notifications: none\n",
			dir, s.Addr().(*net.UDPAddr).Port)
		return daemon.ParseConfig("g90.yaml", []byte(yaml), func(string) (string, bool) { return hash, true })
	}
	reload := make(chan struct{})
	started := make(chan daemon.Endpoints, 3)
	testrig.Serve(t, func(ctx context.Context) error {
		return daemon.Serve(ctx, load, reload, daemon.Options{Timeout: time.Second, Started: func(ep daemon.Endpoints) { started <- ep }})
	})
	next := func() *browser {
		t.Helper()
		select {
		case ep := <-started:
			return &browser{t: t, base: strings.TrimSuffix(ep.Web, "/"), hc: &http.Client{}}
		case <-time.After(30 * time.Second):
			t.Fatal("the daemon did not start")
		}
		return nil
	}
	c := next()
	c.want(401, "GET", "/api/panels", "")
	c.want(200, "POST", "/api/login", `{"password":"first password"}`)
	c.want(200, "GET", "/api/panels", "")

	reload <- struct{}{}
	c2 := next()
	c2.cookie = c.cookie
	c2.want(200, "GET", "/api/panels", "")

	mu.Lock()
	hash = second
	mu.Unlock()
	reload <- struct{}{}
	c3 := next()
	c3.cookie = c.cookie
	c3.want(401, "GET", "/api/panels", "")
	c3.want(401, "POST", "/api/login", `{"password":"first password"}`)
	c3.want(200, "POST", "/api/login", `{"password":"second password"}`)
	c3.want(200, "GET", "/api/panels", "")
}
