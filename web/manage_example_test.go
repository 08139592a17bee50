package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// Example_manage renames a sensor and changes a setting through the
// API; both are read back from the panel before the answer.
func Example_manage() {
	panel, _ := sim.New(sim.Config{Listen: "127.0.0.1:0"})
	addr := panel.Addr().(*net.UDPAddr)
	p, _ := g90.New(g90.Config{Host: addr.IP.String(), Port: addr.Port})
	mon := p.NewMonitor(g90.MonitorConfig{Name: "Home"})
	srv, err := web.New(web.Config{Panels: []*g90.Monitor{mon}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = panel.Serve(ctx) })
	wg.Go(func() { _ = mon.Run(ctx) })
	wg.Go(func() { _ = srv.Run(ctx) })
	ts := httptest.NewServer(srv)
	defer func() { stop(); wg.Wait(); ts.Close() }()

	send := func(method, path, body string, out any) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := ts.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		fmt.Print(method, " ", path, ": ", resp.Status, "\n")
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	var sensor struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	send("PATCH", "/api/panels/Home/sensors/2", `{"name":"Patio door"}`, &sensor)
	fmt.Println(sensor.Name, sensor.Enabled)

	var bad struct{ Error, Field string }
	send("PUT", "/api/panels/Home/config/host", `{"values":{"arm_delay":300}}`, &bad)
	fmt.Println("field:", bad.Field)

	var host struct {
		Fields []struct {
			Name  string
			Value json.RawMessage
		}
	}
	send("PUT", "/api/panels/Home/config/host", `{"values":{"arm_delay":45}}`, &host)
	for _, f := range host.Fields {
		if f.Name == "arm_delay" {
			fmt.Println(f.Name, string(f.Value), "- the panel has", panel.Snapshot().HostConfig.ArmDelay)
		}
	}
	// Output:
	// PATCH /api/panels/Home/sensors/2: 200 OK
	// Patio door true
	// PUT /api/panels/Home/config/host: 400 Bad Request
	// field: arm_delay
	// PUT /api/panels/Home/config/host: 200 OK
	// arm_delay 45 - the panel has 45
}
