package g90_test

import (
	"context"
	"fmt"
	"net"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// Example arms and disarms a panel and lists its relays. It runs against
// the built-in simulator; point Host at a real panel to do the same.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	panel, _ := sim.New(sim.Config{Listen: "127.0.0.1:0"})
	done := make(chan error)
	go func() { done <- panel.Serve(ctx) }()
	defer func() { stop(); <-done }()

	addr := panel.Addr().(*net.UDPAddr)
	p, err := g90.New(g90.Config{Host: addr.IP.String(), Port: addr.Port})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Arm(ctx, protocol.ArmHome); err != nil {
		fmt.Println(err)
		return
	}
	status, _ := p.Status(ctx)
	fmt.Println("armed:", status.State)

	devices, _ := p.Devices(ctx)
	for _, d := range devices {
		for _, n := range d.Nodes() {
			fmt.Printf("relay %d:%d %s\n", n.Index(), n.Subindex, n.Name())
		}
	}
	_ = p.Disarm(ctx)
	status, _ = p.Status(ctx)
	fmt.Println("now:", status.State)
	// Output:
	// armed: home
	// relay 3:0 Garden lights
	// relay 6:0 Relay board#1
	// relay 6:1 Relay board#2
	// relay 6:2 Relay board#3
	// relay 6:3 Relay board#4
	// relay 9:0 Porch siren
	// now: disarmed
}

// ExamplePanel_SetHostConfig changes one setting by verified
// read-modify-write, and renames a sensor found by name.
func ExamplePanel_SetHostConfig() {
	ctx, stop := context.WithCancel(context.Background())
	panel, _ := sim.New(sim.Config{Listen: "127.0.0.1:0"})
	done := make(chan error)
	go func() { done <- panel.Serve(ctx) }()
	defer func() { stop(); <-done }()

	addr := panel.Addr().(*net.UDPAddr)
	p, _ := g90.New(g90.Config{Host: addr.IP.String(), Port: addr.Port})

	c, err := p.SetHostConfig(ctx, func(c *protocol.HostConfig) error {
		c.AlarmSirenDuration = 120
		return nil
	})
	fmt.Println("siren:", c.AlarmSirenDuration, err)

	_, err = p.SetConfigFields(ctx, g90.SectionHost, "arm_delay=300")
	fmt.Println(err)

	s, _ := p.FindSensor(ctx, "Back door")
	name := "Patio door"
	s, err = p.UpdateSensor(ctx, s, g90.PeripheralChange{Name: &name})
	fmt.Println(s.Index(), s.Name(), err)
	// Output:
	// siren: 120 <nil>
	// set host config: protocol: host config field arm_delay (#1): 300 is outside 0..255
	// 2 Patio door <nil>
}
