package daemon

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/g90alarm/g90/internal/connlimit"
	"github.com/g90alarm/g90/web"
)

// webLimits bound what one client of the web server (UI, API, /metrics)
// can hold: its connections, how long it may take to send a request, and
// how large a request may be.
type webLimits struct {
	MaxConns, PerAddr int
	ReadHeader, Read  time.Duration
	Write, Idle       time.Duration
	MaxHeader         int
	MaxBody           int64
}

// defaultWebLimits suit a household: a few phones and browsers with a
// live stream each, Home Assistant and a Prometheus.
var defaultWebLimits = webLimits{
	MaxConns: 256, PerAddr: 64,
	ReadHeader: 10 * time.Second, Read: 30 * time.Second,
	Write: 30 * time.Second, Idle: 2 * time.Minute,
	MaxHeader: 16 << 10, MaxBody: 64 << 10,
}

// newWebServer serves h on ln within lim; the event stream sets its own
// deadlines per write (web.Config.WriteTimeout).
func newWebServer(ln net.Listener, h http.Handler, lim webLimits, log *slog.Logger, reg prometheus.Registerer) (*http.Server, net.Listener) {
	limited := connlimit.New(ln, connlimit.Config{
		Max: lim.MaxConns, PerAddr: lim.PerAddr,
		Rejected: func(addr net.Addr, perAddr bool) {
			log.Warn("web: connection over the limit closed", "from", addr, "per_address", perAddr, "max", lim.MaxConns, "max_per_address", lim.PerAddr)
		},
	})
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "g90_web_connections_rejected_total",
			Help: "Connections to the web server closed because of its limits (in all, or from one address).",
		}, func() float64 { return float64(limited.Rejected()) }))
	}
	body := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, lim.MaxBody)
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           body,
		ReadHeaderTimeout: lim.ReadHeader,
		ReadTimeout:       lim.Read,
		WriteTimeout:      lim.Write,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    lim.MaxHeader,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, limited
}

// watchLogins counts the web UI's logins in g90_web_logins_total, by
// result; a lockout of many shows there first.
func watchLogins(reg prometheus.Registerer, ui *web.Server) {
	for result, n := range map[string]func(web.Stats) uint64{
		"ok":             func(s web.Stats) uint64 { return s.Logins },
		"wrong_password": func(s web.Stats) uint64 { return s.LoginsWrong },
		"locked_out":     func(s web.Stats) uint64 { return s.LoginsLocked },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "g90_web_logins_total", ConstLabels: prometheus.Labels{"result": result},
			Help: "Logins to the web UI: ok, refused for a wrong password, or refused unchecked during a lockout.",
		}, func() float64 { return float64(n(ui.Stats())) }))
	}
}
