package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/broker"
	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
	"github.com/spf13/cobra"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		exit, withTour  bool
		listen, mqttAdr string
		webAdr          string
		activity        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a simulated panel and the daemon with embedded defaults; nothing to install",
		Long: `Start the built-in simulated panel and 'g90 serve' for it, with an embedded
MQTT broker, the event journal, the web UI and /metrics, all on loopback,
and print what to connect to: point Home Assistant (or mosquitto_sub) at
the broker and watch the simulated home's events arrive. The simulator
makes something happen every --activity. Ctrl-C stops everything.

--tour first walks through the main commands (info, sensors, relays,
arm/disarm, history) against the simulator. --exit checks that an event
reaches MQTT and stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, g, demoConfig{listen: listen, mqtt: mqttAdr, web: webAdr, activity: activity, tour: withTour, exit: exit})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&exit, "exit", false, "check that a simulated event reaches MQTT, then stop")
	f.BoolVar(&withTour, "tour", false, "walk through the main commands first")
	f.StringVar(&listen, "listen", sim.DefaultListen, "UDP address of the simulated panel")
	f.StringVar(&mqttAdr, "mqtt", broker.DefaultListen, "address of the embedded MQTT broker (another free port is taken when it is busy)")
	f.StringVar(&webAdr, "web", daemon.DefaultWebListen, "address of the web UI and /metrics (another free port is taken when it is busy)")
	f.DurationVar(&activity, "activity", 20*time.Second, "time between two simulated events (0: none)")
	return cmd
}

type demoConfig struct {
	listen, mqtt, web string
	activity          time.Duration
	tour, exit        bool
}

// runDemo runs the simulator and the daemon until ctx ends (or, with
// exit, until an event went through).
func runDemo(cmd *cobra.Command, g *globals, dc demoConfig) error {
	if !broker.BuiltIn {
		return fmt.Errorf("demo: %w (g90 demo runs on it; g90 serve with mqtt.url set works without it)", broker.ErrNotBuiltIn)
	}
	w := cmd.OutOrStdout()
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	notifyConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer notifyConn.Close()
	s, err := sim.New(sim.Config{Listen: dc.listen, Notify: notifyConn.LocalAddr().String(), Control: "127.0.0.1:0"})
	if err != nil {
		return fmt.Errorf("demo: %w (is another simulator running? try --listen 127.0.0.1:0)", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := s.Serve(ctx); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "demo: simulator:", err)
		}
	})
	simAddr := s.Addr().(*net.UDPAddr)
	if dc.tour {
		if _, err := tour(ctx, cmd, simAddr); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	dir, err := os.MkdirTemp("", "g90-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	yaml := fmt.Sprintf(`# g90 demo: the simulated panel on loopback, everything embedded.
# For your panel: set host, drop port, and run g90 serve --config FILE.
mqtt:
  listen: %s
web:
  listen: %s
state_dir: %s
panels:
  - name: demo
    host: 127.0.0.1
    port: %d
    notifications: local
    poll: 30s
`, freeOr(dc.mqtt), freeOr(dc.web), dir, simAddr.Port)
	file := filepath.Join(dir, "g90.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		return err
	}
	cfg, err := daemon.LoadConfig(file)
	if err != nil {
		return err
	}
	started := make(chan daemon.Endpoints, 1)
	served := make(chan error, 1)
	log, closeLog := serveLogger(cmd.ErrOrStderr(), g.verbose)
	wg.Go(func() {
		defer closeLog()
		served <- daemon.Run(ctx, cfg, daemon.Options{
			Logger:      log.With("demo", true),
			Started:     func(ep daemon.Endpoints) { started <- ep },
			NotifyConns: map[string]net.PacketConn{"demo": notifyConn},
		})
	})
	var ep daemon.Endpoints
	select {
	case ep = <-started:
	case err := <-served:
		return err
	}
	guid := s.Snapshot().Host.GUID
	brokerAddr := strings.TrimPrefix(ep.MQTT, "mqtt://")
	host, port, _ := net.SplitHostPort(brokerAddr)
	fmt.Fprintf(w, `g90 demo: a simulated panel (GUID %s) served by g90 serve.

  MQTT broker   %s   ← point Home Assistant's MQTT integration here;
                the panel, its sensors and relays appear under Devices
  web UI        %s
  metrics       %smetrics
  panel (UDP)   %s   ← the CLI works against it too

Watch the events:
  mosquitto_sub -h %s -p %s -t 'g90/#' -v
  go run ./cmd/g90 events --journal %s
Make something happen (the simulator also does every %v):
  curl -X POST http://%s/inject -d '{"event":"door_open","sensor":1}'
  go run ./cmd/g90 --host %s arm away
The config used: %s
`, guid, ep.MQTT, ep.Web, ep.Web, simAddr, host, port, cfg.JournalPath(), dc.activity, s.ControlAddr(), simAddr, file)

	if dc.exit {
		err := demoCheck(ctx, w, brokerAddr, guid, s)
		cancel()
		if serr := <-served; err == nil {
			err = serr
		}
		return err
	}
	if dc.activity > 0 {
		wg.Go(func() { simulateActivity(ctx, s, dc.activity) })
	}
	fmt.Fprintln(w, "Ctrl-C stops it.")
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	cancel()
	return <-served
}

// freeOr returns addr when it can be listened on now, else the same host
// with port 0 (any free port).
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		return net.JoinHostPort(host, "0")
	}
	ln.Close()
	return addr
}

// demoCheck subscribes to the panel's event topic, opens a door on the
// simulator and waits for the event on MQTT.
func demoCheck(ctx context.Context, w io.Writer, brokerAddr, guid string, s *sim.Panel) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := make(chan string, 16)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + brokerAddr).SetClientID("g90-demo-check").
		SetCleanSession(true).SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case got <- string(m.Payload()):
			default:
			}
		}))
	if err := waitToken(ctx, c.Connect()); err != nil {
		return fmt.Errorf("demo: connect to the broker: %w", err)
	}
	defer c.Disconnect(250)
	if err := waitToken(ctx, c.Subscribe("g90/"+guid+"/event", 1, nil)); err != nil {
		return fmt.Errorf("demo: subscribe: %w", err)
	}
	// The bridge publishes once it has read the panel; keep opening the
	// door until an event shows.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	one := 1
	for {
		if _, err := s.Inject(sim.Injection{Event: "door_open", Sensor: &one}); err != nil {
			return err
		}
		select {
		case ev := <-got:
			fmt.Fprintf(w, "demo check: an event went through MQTT: %s\n", ev)
			return nil
		case <-ctx.Done():
			return fmt.Errorf("demo: no event reached MQTT: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// waitToken waits for an MQTT client's token, or until ctx ends.
func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// simulateActivity makes the simulated home live: doors open and close,
// someone walks past a motion sensor.
func simulateActivity(ctx context.Context, s *sim.Panel, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	steps := []sim.Injection{{Event: "door_open", Sensor: ptr(1)}, {Event: "door_close", Sensor: ptr(1)}, {Event: "motion", Sensor: ptr(7)}}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, _ = s.Inject(steps[i%len(steps)])
	}
}

func ptr(i int) *int { return &i }

// tour runs the main commands against the simulated panel at addr and
// prints what they return. It returns the relay node it switched on.
func tour(ctx context.Context, cmd *cobra.Command, addr *net.UDPAddr) (relay *relayRef, err error) {
	w := cmd.OutOrStdout()
	p, err := g90.New(g90.Config{Host: addr.IP.String(), Port: addr.Port, Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	step := func(title string) { fmt.Fprintf(w, "\n== %s\n", title) }

	step("g90 info")
	info, err := p.Info(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "panel %s (%s), MCU %s, Wi-Fi %s, %s\n", info.GUID, info.ProductName, info.MCUHWVersion, info.WiFiHWVersion, info.WiFiStatusName())

	step("g90 sensors")
	sensors, err := p.Sensors(ctx)
	if err != nil {
		return nil, err
	}
	rows := [][]string{{"INDEX", "NAME", "TYPE", "WIRELESS"}}
	for _, s := range sensors {
		rows = append(rows, []string{strconv.Itoa(s.Index()), s.Name(), s.TypeName(), yesNo(s.Wireless())})
	}
	if err := table(w, rows); err != nil {
		return nil, err
	}

	step("g90 devices")
	devices, err := p.Devices(ctx)
	if err != nil {
		return nil, err
	}
	rows = [][]string{{"INDEX", "NODE", "NAME", "TYPE"}}
	for _, d := range devices {
		for _, n := range d.Nodes() {
			rows = append(rows, []string{strconv.Itoa(n.Index()), strconv.Itoa(n.Subindex), n.Name(), n.TypeName()})
			if relay == nil || (relay.node == 0 && n.Subindex > 0) {
				relay = &relayRef{n.Index(), n.Subindex, n.Name()} // prefer a multi-node relay
			}
		}
	}
	if err := table(w, rows); err != nil {
		return nil, err
	}
	if relay != nil {
		step(fmt.Sprintf("g90 relay on %d:%d", relay.index, relay.node))
		if err := p.SetRelay(ctx, relay.index, relay.node, true); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "%s switched on\n", relay.name)
	}

	for _, s := range []protocol.ArmState{protocol.ArmAway, protocol.Disarmed} {
		if s == protocol.Disarmed {
			step("g90 disarm")
			err = p.Disarm(ctx)
		} else {
			step("g90 arm " + s.String())
			err = p.Arm(ctx, s)
		}
		if err != nil {
			return nil, err
		}
		st, err := p.Status(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "status: %s\n", st.State)
	}

	step("g90 history --count 5")
	hist, err := p.History(ctx, 1, 5)
	if err != nil {
		return nil, err
	}
	rows = [][]string{{"TIME", "TYPE", "STATE", "SENSOR"}}
	for _, h := range hist {
		rows = append(rows, []string{h.Time().Local().Format("2006-01-02 15:04:05"), h.Type.String(), string(h.HistoryState()), h.Name})
	}
	return relay, table(w, rows)
}

type relayRef struct {
	index, node int
	name        string
}
