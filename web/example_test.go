package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/sim"
	"github.com/g90alarm/g90/web"
)

// Example serves the web UI for a simulated panel, arms it through the
// API and reads its state back. The daemon does the same with an
// http.Server on 127.0.0.1:8080 and a notify.Listener as the Monitor's
// source, which makes the sensors live.
func Example() {
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
	<-mon.Ready()

	resp, err := ts.Client().Post(ts.URL+"/api/panels/Home/arm", "application/json", strings.NewReader(`{"mode":"home"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("arm:", resp.Status, "- the panel is now", panel.Snapshot().Arm)

	// The server's copy of the state follows the Monitor's: a client
	// reads until "ready" says the first read has reached it.
	var v struct {
		Name  string    `json:"name"`
		Ready bool      `json:"ready"`
		State g90.State `json:"state"`
	}
	for deadline := time.Now().Add(5 * time.Second); !v.Ready && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err = ts.Client().Get(ts.URL + "/api/panels/Home/state")
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
	}
	fmt.Println(v.Name, v.State.GUID, len(v.State.Sensors), "sensors,", len(v.State.Devices), "relays")
	// Output:
	// arm: 200 OK - the panel is now home
	// Home SIMPANEL0001 12 sensors, 6 relays
}
