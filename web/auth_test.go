package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
	"github.com/g90alarm/g90/internal/testrig/testpki"
	"github.com/g90alarm/g90/web"
)

const password = "correct horse battery staple"

// testHash is password's hash, made once: each costs about 0.1 s, and
// more than a second under -race.
var testHash = sync.OnceValues(func() (string, error) { return web.HashPassword(password) })

func hashOf(t *testing.T) string {
	t.Helper()
	h, err := testHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A hash says its scheme and iterations, has a salt of its own, matches
// its password only, and a hash that does not parse is refused without
// being quoted.
func TestPasswordHash(t *testing.T) {
	h := hashOf(t)
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != "600000" {
		t.Fatalf("hash %q: want pbkdf2-sha256$600000$salt$key", h)
	}
	ph, err := web.ParsePasswordHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if !ph.Match(password) {
		t.Error("the password does not match its hash")
	}
	for _, wrong := range []string{"", password + " "} {
		if ph.Match(wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	if (web.PasswordHash{}).Match("") {
		t.Error("the zero PasswordHash matches")
	}
	if h2, err := web.HashPassword(password); err != nil || h2 == h || strings.Split(h2, "$")[2] == parts[2] {
		t.Errorf("a second hash of the same password %q (%v): want another salt than %q", h2, err, h)
	}
	if _, err := web.HashPassword(""); err == nil {
		t.Error("an empty password hashed")
	}
	for _, bad := range []string{
		"hunter2",
		"pbkdf2-sha1$600000$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$1000$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$x$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$600000$c2FsdA$" + parts[3],      // 4-byte salt
		"pbkdf2-sha256$600000$" + parts[2] + "$a2V5",   // 3-byte key
		"pbkdf2-sha256$600000$" + parts[2] + "$!!!!!!", // not base64
		h + "$",
	} {
		_, err := web.ParsePasswordHash(bad)
		if err == nil {
			t.Errorf("%q parsed", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), parts[3]) {
			t.Errorf("%q: the error quotes it: %v", bad, err)
		}
	}
}

// clock is a test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// authServer is a web Server with a login over a real socket, HTTPS or
// plain; its panel is never asked anything.
type authServer struct {
	srv   *web.Server
	ts    *httptest.Server
	clock *clock
	log   *lockedbuf.Buffer
	ca    *x509.CertPool // nil over plain HTTP
}

func startAuth(t *testing.T, l *web.Login, overTLS bool) *authServer {
	t.Helper()
	p, err := g90.New(g90.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l.Now = c.Now
	log := new(lockedbuf.Buffer)
	srv, err := web.New(web.Config{
		Panels: []*g90.Monitor{p.NewMonitor(g90.MonitorConfig{Name: "Home"})},
		Login:  l,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// A stream checks its session at each heartbeat.
		Heartbeat: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	as := &authServer{srv: srv, ts: httptest.NewUnstartedServer(srv), clock: c, log: log}
	if overTLS {
		caFile, certFile, keyFile := testpki.New(t)
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		as.ca = x509.NewCertPool()
		as.ca.AppendCertsFromPEM(pem)
		as.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		as.ts.StartTLS()
	} else {
		as.ts.Start()
	}
	t.Cleanup(as.ts.Close)
	return as
}

// client is one browser: a client address of its own on loopback
// (127.0.0.x) and the cookie it was given last.
type client struct {
	s      *authServer
	hc     *http.Client
	cookie *http.Cookie
}

func (s *authServer) client(t *testing.T, from string) *client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	tr := &http.Transport{DialContext: d.DialContext}
	if s.ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.ca, MinVersion: tls.VersionTLS12}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{s: s, hc: &http.Client{Transport: tr}}
}

// do sends a request with the client's cookie and keeps the cookie the
// answer sets; it returns the status, the JSON body (nil for another)
// and the answer.
func (c *client) do(t *testing.T, method, path, body string, hdr ...string) (int, map[string]any, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.s.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == web.SessionCookie {
			c.cookie = ck
		}
	}
	var out map[string]any
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, out, resp
}

func (c *client) login(t *testing.T, pw string) (int, map[string]any, *http.Response) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"password": pw})
	return c.do(t, "POST", "/api/login", string(b))
}

// wantStatus fails t unless the request answers status.
func (c *client) wantStatus(t *testing.T, status int, method, path, body string) map[string]any {
	t.Helper()
	got, out, _ := c.do(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s: %d %v, want %d", method, path, got, out, status)
	}
	return out
}

// Over HTTPS: the shell is served to anyone, the API only with a
// session, which a login gives in a cookie that scripts cannot read,
// other sites do not send and only HTTPS carries; logout ends it, and a
// login from another site is refused as every cross-origin POST is.
func TestLoginTLS(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t)}, true)
	c := s.client(t, "127.0.0.1")

	if out := c.wantStatus(t, 200, "GET", "/api/session", ""); out["login_required"] != true || out["logged_in"] != false {
		t.Fatalf("session before the login: %v", out)
	}
	for _, path := range []string{"/api/panels", "/api/panels/Home/state", "/api/events", "/api/homekit", "/api/history", "/api/history.csv", "/api/no-such-thing", "/api/session/"} {
		if out := c.wantStatus(t, 401, "GET", path, ""); out["error"] != "login required" {
			t.Errorf("GET %s: %v", path, out)
		}
	}
	for _, m := range [][3]string{
		{"POST", "/api/panels/Home/disarm", ""},
		{"GET", "/api/types", ""},
		{"PATCH", "/api/panels/Home/sensors/0", `{"enabled":false}`},
		{"DELETE", "/api/panels/Home/sensors/0", ""},
		{"PUT", "/api/panels/Home/config/alerts", `{"values":{}}`},
		{"POST", "/api/panels/Home/reboot", ""},
	} {
		c.wantStatus(t, 401, m[0], m[1], m[2])
	}
	for _, path := range []string{"/", "/assets/app.js"} {
		c.wantStatus(t, 200, "GET", path, "")
	}
	// The headers that were there before the login stay.
	_, _, resp := c.do(t, "GET", "/api/panels", "")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("401 without the CSP: %q", csp)
	}

	if status, out, _ := c.do(t, "POST", "/api/login", `{"password":"`+password+`"}`, "Sec-Fetch-Site", "cross-site"); status != 403 || c.cookie != nil {
		t.Fatalf("cross-site login: %d %v, cookie %v", status, out, c.cookie)
	}
	if status, out, _ := c.do(t, "POST", "/api/login", `{"password":"`+password+`"}`, "Content-Type", "text/plain"); status != 415 {
		t.Fatalf("login as text/plain: %d %v", status, out)
	}
	if status, out, _ := c.do(t, "POST", "/api/login", `{"password":"x","user":"admin"}`); status != 400 {
		t.Fatalf("login with an unknown field: %d %v", status, out)
	}
	if status, out, _ := c.login(t, "wrong"); status != 401 || out["error"] == nil || c.cookie != nil {
		t.Fatalf("wrong password: %d %v, cookie %v", status, out, c.cookie)
	}
	status, out, _ := c.login(t, password)
	if status != 200 || out["ok"] != true {
		t.Fatalf("login: %d %v", status, out)
	}
	ck := c.cookie
	switch {
	case ck == nil:
		t.Fatal("no session cookie")
	case !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/":
		t.Fatalf("cookie %v: want HttpOnly, Secure, SameSite=Strict, Path=/", ck)
	case ck.MaxAge != int((30 * 24 * time.Hour).Seconds()):
		t.Fatalf("cookie Max-Age %d", ck.MaxAge)
	case len(ck.Value) < 43:
		t.Fatalf("token %q: want 32 random bytes", ck.Value)
	}
	c.wantStatus(t, 200, "GET", "/api/panels", "")
	if out := c.wantStatus(t, 200, "GET", "/api/session", ""); out["logged_in"] != true {
		t.Fatalf("session after the login: %v", out)
	}
	// A forged or altered token is no session.
	c.cookie = &http.Cookie{Name: web.SessionCookie, Value: strings.Repeat("A", 43)}
	c.wantStatus(t, 401, "GET", "/api/panels", "")
	c.cookie = ck

	// Another browser logging in has a session of its own.
	other := s.client(t, "127.0.0.1")
	if status, out, _ := other.login(t, password); status != 200 || other.cookie.Value == ck.Value {
		t.Fatalf("second login: %d %v, token %v", status, out, other.cookie)
	}

	status, out, resp = c.do(t, "POST", "/api/logout", "")
	if status != 200 || out["ok"] != true {
		t.Fatalf("logout: %d %v", status, out)
	}
	if c.cookie.Value != "" || c.cookie.MaxAge >= 0 {
		t.Fatalf("logout's cookie %v (%v): want it cleared", c.cookie, resp.Header["Set-Cookie"])
	}
	c.cookie = ck // a browser that kept it anyway
	c.wantStatus(t, 401, "GET", "/api/panels", "")
	other.wantStatus(t, 200, "GET", "/api/panels", "")

	logs := s.log.String()
	for _, secret := range []string{password, ck.Value, other.cookie.Value} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log has a secret %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "logged in") || !strings.Contains(logs, "wrong password") {
		t.Errorf("the log misses the logins:\n%s", logs)
	}
}

// Over plain HTTP the cookie is not marked Secure (the browser would
// not send it back); without a login, /api/session says so and every
// path answers as before.
func TestLoginPlainHTTP(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t)}, false)
	c := s.client(t, "127.0.0.1")
	if status, out, _ := c.login(t, password); status != 200 || c.cookie == nil || c.cookie.Secure || !c.cookie.HttpOnly {
		t.Fatalf("login: %d %v, cookie %v", status, out, c.cookie)
	}
	c.wantStatus(t, 200, "GET", "/api/panels", "")

	p, err := g90.New(g90.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	mon := p.NewMonitor(g90.MonitorConfig{Name: "Home"})
	open, err := web.New(web.Config{Panels: []*g90.Monitor{mon}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(open)
	t.Cleanup(ts.Close)
	nc := &client{s: &authServer{ts: ts}, hc: ts.Client()}
	if out := nc.wantStatus(t, 200, "GET", "/api/session", ""); out["login_required"] != false || out["logged_in"] != false {
		t.Fatalf("session without a login: %v", out)
	}
	nc.wantStatus(t, 200, "GET", "/api/panels", "")
	nc.wantStatus(t, 404, "POST", "/api/login", `{"password":"x"}`)
	nc.wantStatus(t, 200, "POST", "/api/logout", "")

	if _, err := web.New(web.Config{Panels: []*g90.Monitor{mon}, Login: &web.Login{PasswordHash: "hunter2"}}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a login with a bad hash: %v", err)
	}
}

// Wrong passwords lock out their address, then every address, with 429
// and Retry-After, whatever password comes during the lockout; when it
// ends, the right one logs in again.
func TestLoginRateLimit(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t), Tries: 2, AllTries: 3}, false)
	a, b, c := s.client(t, "127.0.0.1"), s.client(t, "127.0.0.2"), s.client(t, "127.0.0.3")
	locked := func(cl *client, pw string, retry string) {
		t.Helper()
		status, out, resp := cl.login(t, pw)
		if status != 429 || out["error"] == nil || resp.Header.Get("Retry-After") != retry || cl.cookie != nil {
			t.Fatalf("login during a lockout: %d %v Retry-After %q, want 429 and %s", status, out, resp.Header.Get("Retry-After"), retry)
		}
	}
	for range 2 {
		if status, _, _ := a.login(t, "guess"); status != 401 {
			t.Fatalf("wrong password: %d", status)
		}
	}
	locked(a, password, "30")
	s.clock.add(10 * time.Second)
	locked(a, password, "20")
	// b is not locked out by a's guesses, but its one wrong password is
	// the third of all: now every address is.
	if status, _, _ := b.login(t, "guess"); status != 401 {
		t.Fatalf("wrong password from b: %d", status)
	}
	locked(c, password, "30")
	locked(b, password, "30")

	s.clock.add(31 * time.Second)
	if status, out, _ := c.login(t, password); status != 200 {
		t.Fatalf("login after the lockout: %d %v", status, out)
	}
	c.wantStatus(t, 200, "GET", "/api/panels", "")
	// A right password ends the common run; a's own lockout is over too,
	// but a's next wrong one locks it again, for twice as long.
	if status, _, _ := a.login(t, "guess"); status != 401 {
		t.Fatalf("wrong password from a: %d", status)
	}
	locked(a, password, "60")
	if st := s.srv.Stats(); st.Logins != 1 || st.LoginsWrong != 4 || st.LoginsLocked != 5 {
		t.Errorf("stats %+v: want 1 login, 4 wrong, 5 locked out", st)
	}
	if logs := s.log.String(); strings.Contains(logs, password) || strings.Contains(logs, "guess") {
		t.Errorf("the log has a password:\n%s", logs)
	}
}

// A session ends when unused for IdleTimeout, and MaxAge after its
// login however much it is used; past MaxSessions, a login ends the
// session used least recently.
func TestSessionExpiry(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t), IdleTimeout: time.Hour, MaxAge: 3 * time.Hour, MaxSessions: 2}, false)
	a, b, c := s.client(t, "127.0.0.1"), s.client(t, "127.0.0.1"), s.client(t, "127.0.0.1")
	for _, cl := range []*client{a, b} {
		if status, _, _ := cl.login(t, password); status != 200 {
			t.Fatalf("login: %d", status)
		}
	}
	// a is used every 50 minutes, b not: b ends after an hour, a after
	// three.
	for range 3 {
		s.clock.add(50 * time.Minute)
		a.wantStatus(t, 200, "GET", "/api/panels", "")
	}
	b.wantStatus(t, 401, "GET", "/api/panels", "")
	s.clock.add(29 * time.Minute)
	a.wantStatus(t, 200, "GET", "/api/panels", "")
	s.clock.add(time.Minute)
	a.wantStatus(t, 401, "GET", "/api/panels", "")
	if out := a.wantStatus(t, 200, "GET", "/api/session", ""); out["logged_in"] != false {
		t.Fatalf("session after MaxAge: %v", out)
	}

	for _, cl := range []*client{a, b} {
		if status, _, _ := cl.login(t, password); status != 200 {
			t.Fatalf("login: %d", status)
		}
		s.clock.add(time.Minute)
	}
	a.wantStatus(t, 200, "GET", "/api/panels", "") // b is now the least recently used
	if status, _, _ := c.login(t, password); status != 200 {
		t.Fatalf("third login: %d", status)
	}
	b.wantStatus(t, 401, "GET", "/api/panels", "")
	a.wantStatus(t, 200, "GET", "/api/panels", "")
	c.wantStatus(t, 200, "GET", "/api/panels", "")
}

// Logins that arrive together are checked one at a time, and each sees
// the lockout the ones before it earned: ten wrong passwords at once
// from one address cost no more than Tries checks.
func TestLoginConcurrent(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t), Tries: 2}, false)
	c := s.client(t, "127.0.0.1")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	statuses := make(chan int, 10)
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", s.ts.URL+"/api/login", bytes.NewReader([]byte(`{"password":"guess"}`)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.hc.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	n := map[int]int{}
	for st := range statuses {
		n[st]++
	}
	if n[401] != 2 || n[429] != 8 {
		t.Fatalf("statuses %v: want 2 × 401 and 8 × 429", n)
	}
}

// Two Servers given the same Sessions (a reloaded configuration) share
// the sessions and the lockouts.
func TestSessionsShared(t *testing.T) {
	shared := web.NewSessions()
	s1 := startAuth(t, &web.Login{PasswordHash: hashOf(t), Tries: 1, Sessions: shared}, false)
	s2 := startAuth(t, &web.Login{PasswordHash: hashOf(t), Tries: 1, Sessions: shared}, false)
	a := s1.client(t, "127.0.0.1")
	if status, _, _ := a.login(t, password); status != 200 {
		t.Fatalf("login: %d", status)
	}
	b := s2.client(t, "127.0.0.1")
	b.cookie = a.cookie
	b.wantStatus(t, 200, "GET", "/api/panels", "")
	if status, _, _ := s1.client(t, "127.0.0.2").login(t, "guess"); status != 401 {
		t.Fatalf("wrong password: %d", status)
	}
	if status, _, _ := s2.client(t, "127.0.0.2").login(t, password); status != 429 {
		t.Fatalf("login on the second server during the first's lockout: %d", status)
	}
	// Without shared Sessions, a Server has its own.
	s3 := startAuth(t, &web.Login{PasswordHash: hashOf(t)}, false)
	c := s3.client(t, "127.0.0.1")
	c.cookie = a.cookie
	c.wantStatus(t, 401, "GET", "/api/panels", "")
}

// A logout ends the event stream its session opened: a browser logged
// out gets no more events.
func TestLogoutEndsStream(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t)}, false)
	c := s.client(t, "127.0.0.1")
	c.wantStatus(t, 401, "GET", "/api/events/stream", "")
	if status, _, _ := c.login(t, password); status != 200 {
		t.Fatalf("login: %d", status)
	}
	ended := openStream(t, s, c)
	c.wantStatus(t, 200, "POST", "/api/logout", "")
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream goes on after the logout")
	}
}

// An event stream ends when its session expires, by IdleTimeout (the
// stream itself is no use of it) or by MaxAge however much it is used.
func TestSessionExpiryEndsStream(t *testing.T) {
	s := startAuth(t, &web.Login{PasswordHash: hashOf(t), IdleTimeout: time.Hour, MaxAge: 3 * time.Hour}, false)
	c := s.client(t, "127.0.0.1")
	open := func() chan error {
		t.Helper()
		if status, _, _ := c.login(t, password); status != 200 {
			t.Fatalf("login: %d", status)
		}
		return openStream(t, s, c)
	}
	runs := func(ended chan error, what string) {
		t.Helper()
		select {
		case err := <-ended:
			t.Fatalf("the stream ended %s: %v", what, err)
		case <-time.After(200 * time.Millisecond): // ten heartbeats
		}
	}
	ends := func(ended chan error, what string) {
		t.Helper()
		select {
		case err := <-ended:
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the stream goes on %s", what)
		}
	}

	ended := open()
	s.clock.add(59 * time.Minute)
	runs(ended, "before IdleTimeout")
	s.clock.add(time.Minute)
	ends(ended, "after IdleTimeout with no other request")
	c.wantStatus(t, 401, "GET", "/api/panels", "")

	ended = open()
	for range 3 {
		s.clock.add(50 * time.Minute)
		c.wantStatus(t, 200, "GET", "/api/panels", "") // a use
		runs(ended, "while the session is used")
	}
	s.clock.add(30 * time.Minute)
	ends(ended, "after MaxAge")
	c.wantStatus(t, 401, "GET", "/api/panels", "")
}

// openStream opens the event stream with c's session and reads its
// first line; the channel it returns has the end of the stream's body.
func openStream(t *testing.T, s *authServer, c *client) chan error {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", s.ts.URL+"/api/events/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c.cookie)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		resp.Body.Close()
		<-done
	})
	if resp.StatusCode != 200 {
		close(done)
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	first := make([]byte, len("retry: 2000\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "retry: 2000\n\n" {
		close(done)
		t.Fatalf("stream began %q, %v", first, err)
	}
	ended := make(chan error, 1)
	go func() {
		defer close(done)
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	return ended
}

// BenchmarkPasswordMatch is what one login's check costs: the work a
// guesser makes the daemon do per try.
func BenchmarkPasswordMatch(b *testing.B) {
	h, err := web.HashPassword(password)
	if err != nil {
		b.Fatal(err)
	}
	ph, err := web.ParsePasswordHash(h)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ph.Match("wrong guess") {
			b.Fatal("matched")
		}
	}
}

// ExampleLogin puts the API behind a password: the hash is what the
// config holds (web.password_hash, from g90 hash-password), and a
// browser logs in once and sends the cookie it got with every request.
func ExampleLogin() {
	hash, err := web.HashPassword("correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := g90.New(g90.Config{Host: "127.0.0.1"})
	srv, err := web.New(web.Config{
		Panels: []*g90.Monitor{p.NewMonitor(g90.MonitorConfig{Name: "Home"})},
		Login:  &web.Login{PasswordHash: hash},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	status := func(resp *http.Response, err error) string {
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return resp.Status
	}
	fmt.Println("before:", status(browser.Get(ts.URL+"/api/panels")))
	fmt.Println("login:", status(browser.Post(ts.URL+"/api/login", "application/json", strings.NewReader(`{"password":"correct horse battery staple"}`))))
	fmt.Println("after:", status(browser.Get(ts.URL+"/api/panels")))
	// Output:
	// before: 401 Unauthorized
	// login: 200 OK
	// after: 200 OK
}
