package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g90alarm/g90/pinguard"
)

// Login is the password the API asks for (Config.Login): what the daemon
// sets when the UI is reachable from more than loopback.
type Login struct {
	// PasswordHash is the password's hash as HashPassword returns it.
	// Required.
	PasswordHash string
	// MaxSessions bounds the sessions kept (one per browser logged in);
	// past it, a login ends the session used least recently. 0 means 32.
	MaxSessions int
	// IdleTimeout ends a session not used for this long; 0 means 7 days.
	IdleTimeout time.Duration
	// MaxAge ends a session this long after its login, however much it
	// is used; 0 means 30 days.
	MaxAge time.Duration
	// Tries is how many wrong passwords in a row one client address may
	// send: the Tries-th locks it out for pinguard.FirstLockout, each
	// further one doubles that up to pinguard.MaxLockout (a
	// pinguard.Lockout counts them, as the PIN guard counts PINs).
	// AllTries is the same for all addresses together, against guesses
	// spread over many. 0 means 5 and 20.
	Tries, AllTries int
	// Sessions, when set, keep the sessions and the counts of wrong
	// passwords: given to the Server of a reloaded configuration, they
	// go on (with the same password: a new one should log everyone
	// out). Nil: the Server's own.
	Sessions *Sessions
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Sessions are a login's sessions and counts of wrong passwords
// (Login.Sessions). The zero value is not usable; see NewSessions. Safe
// for concurrent use.
type Sessions struct {
	mu sync.Mutex
	// sessions are keyed by the token's SHA-256: a copy of this memory
	// gives no cookie that works.
	sessions map[[sha256.Size]byte]*session
	// wrong counts the wrong passwords by client address and of every
	// address together, as the PIN guard counts PINs.
	wrong *pinguard.Lockout
}

// NewSessions returns an empty Sessions.
func NewSessions() *Sessions {
	return &Sessions{sessions: map[[sha256.Size]byte]*session{}, wrong: pinguard.NewLockout()}
}

// SessionCookie is the session's cookie.
const SessionCookie = "g90_session"

// auth is the login: the password, the sessions, the lockouts. Nothing
// of it is kept on disk: a restart logs every browser out.
type auth struct {
	cfg  Login
	hash PasswordHash
	// check lets one password check run at a time: each costs a core
	// about 0.1 s (HashIterations), and many at once must not starve
	// the panels' work.
	check chan struct{}
	*Sessions
	// counts of Stats
	ok, wrong, locked atomic.Uint64
}

type session struct {
	created, used time.Time
	// ended is done when the session ends: the requests it let in that
	// are still running (an event stream) end with it.
	ended context.Context
	end   context.CancelFunc
}

// drop ends the session of key. s.mu is held.
func (s *Sessions) drop(key [sha256.Size]byte) {
	if x := s.sessions[key]; x != nil {
		x.end()
		delete(s.sessions, key)
	}
}

func newAuth(l Login) (*auth, error) {
	h, err := ParsePasswordHash(l.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if l.MaxSessions <= 0 {
		l.MaxSessions = 32
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 7 * 24 * time.Hour
	}
	if l.MaxAge <= 0 {
		l.MaxAge = 30 * 24 * time.Hour
	}
	if l.Tries <= 0 {
		l.Tries = 5
	}
	if l.AllTries <= 0 {
		l.AllTries = 20
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Sessions == nil {
		l.Sessions = NewSessions()
	}
	return &auth{cfg: l, hash: h, check: make(chan struct{}, 1), Sessions: l.Sessions}, nil
}

// open reports whether path is answered without a session: what the
// login form needs.
func open(path string) bool {
	return path == "/api/session" || path == "/api/login" || path == "/api/logout"
}

func tokenKey(r *http.Request) ([sha256.Size]byte, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != 32 {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(raw), true
}

// valid returns the live session r carries, marked used; nil when
// there is none.
func (a *auth) valid(r *http.Request) *session {
	key, ok := tokenKey(r)
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	s := a.sessions[key]
	if s == nil {
		return nil
	}
	if a.expired(s, now) {
		a.drop(key)
		return nil
	}
	s.used = now
	return s
}

// live reports whether the session r carries is still live, and ends
// it when it has expired, which ends the requests it let in. Unlike
// valid it does not mark the session used: an event stream that runs is
// not a use that keeps its session alive past IdleTimeout or MaxAge.
func (a *auth) live(r *http.Request) bool {
	key, ok := tokenKey(r)
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[key]
	if s == nil {
		return false
	}
	if a.expired(s, a.cfg.Now()) {
		a.drop(key)
		return false
	}
	return true
}

func (a *auth) expired(s *session, now time.Time) bool {
	return now.Sub(s.used) >= a.cfg.IdleTimeout || now.Sub(s.created) >= a.cfg.MaxAge
}

// newSession starts a session and returns its token, ending r's old
// one (a login never keeps a token it did not make) and, when there are
// too many, the one used least recently.
func (a *auth) newSession(r *http.Request) string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := tokenKey(r); ok {
		a.drop(old)
	}
	now := a.cfg.Now()
	for k, s := range a.sessions {
		if a.expired(s, now) {
			a.drop(k)
		}
	}
	for len(a.sessions) >= a.cfg.MaxSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, s := range a.sessions {
			if first || s.used.Before(a.sessions[oldest].used) {
				oldest, first = k, false
			}
		}
		a.drop(oldest)
	}
	ended, end := context.WithCancel(context.Background())
	a.sessions[sha256.Sum256(raw)] = &session{created: now, used: now, ended: ended, end: end}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func (a *auth) endSession(r *http.Request) {
	if key, ok := tokenKey(r); ok {
		a.mu.Lock()
		a.drop(key)
		a.mu.Unlock()
	}
}

// lockedOut returns how long source, or every source, is still locked
// out; 0 when it is not.
func (a *auth) lockedOut(source string) time.Duration {
	return a.Sessions.wrong.Left(source, a.cfg.Now())
}

func (a *auth) failed(source string) {
	a.Sessions.wrong.Fail(source, a.cfg.Now(), a.cfg.Tries, a.cfg.AllTries)
}

func (a *auth) succeeded(source string) { a.Sessions.wrong.Succeed(source) }

func (s *Server) authRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/session", s.session)
	m.HandleFunc("POST /api/login", s.login)
	m.HandleFunc("POST /api/logout", s.logout)
}

// authorized answers 401 and returns false for a request the login
// keeps out: any under /api/ but the login's own, without a session.
// The page and its assets are served to anyone, to show the login form.
// A request let in is returned with a context that ends with its
// session (a stream ends at the logout); call done when it is served.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, api bool) (_ *http.Request, done func(), ok bool) {
	if s.auth == nil || !api || open(r.URL.Path) {
		return r, func() {}, true
	}
	sess := s.auth.valid(r)
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "login required")
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	unhook := context.AfterFunc(sess.ended, cancel)
	return r.WithContext(ctx), func() { unhook(); cancel() }, true
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{
		"login_required": s.auth != nil,
		"logged_in":      s.auth != nil && s.auth.valid(r) != nil,
	})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	a := s.auth
	if a == nil {
		writeError(w, http.StatusNotFound, "this server has no login: it needs none")
		return
	}
	var req struct {
		Password string `json:"password"`
	}
	if status, msg := decodeLogin(r, &req); status != 0 {
		s.log.Warn("login refused: bad request", "remote", r.RemoteAddr)
		writeError(w, status, msg)
		return
	}
	source, _, _ := net.SplitHostPort(r.RemoteAddr)
	select {
	case a.check <- struct{}{}:
		defer func() { <-a.check }()
	case <-r.Context().Done():
		return
	}
	// Checked while holding check: tries that waited see the lockout
	// their predecessors earned, and do not cost a password check.
	if left := a.lockedOut(source); left > 0 {
		secs := int((left + time.Second - 1) / time.Second)
		a.locked.Add(1)
		s.log.Warn("login refused: locked out", "remote", r.RemoteAddr, "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many wrong passwords: try again in %v", time.Duration(secs)*time.Second))
		return
	}
	if req.Password == "" || !a.hash.Match(req.Password) {
		a.failed(source)
		a.wrong.Add(1)
		s.log.Warn("login refused: wrong password", "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	a.succeeded(source)
	a.ok.Add(1)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: a.newSession(r), Path: "/",
		MaxAge:   int(a.cfg.MaxAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	s.log.Info("logged in", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if s.auth != nil {
		s.auth.endSession(r)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// decodeLogin reads the login's body as Server.decode does, but its
// errors name no part of the body, and nothing of it is logged: it holds
// a password. It returns 0 when the body is good.
func decodeLogin(r *http.Request, v any) (int, string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, "body: want Content-Type application/json"
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return http.StatusBadRequest, `body: want {"password":"…"}`
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return http.StatusBadRequest, `body: want {"password":"…"}`
	}
	return 0, ""
}
