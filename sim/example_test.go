package sim_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/g90alarm/g90/protocol"
	"github.com/g90alarm/g90/sim"
)

// A simulated panel on a loopback port answers the local protocol.
func Example() {
	p, err := sim.New(sim.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	conn, err := net.Dial("udp", p.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.Write(protocol.NewRequest(protocol.GetHostStatus).Append(nil))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", buf[:n])
	// Output: "ISTART[100,[3,\"+15550100\",\"TSV018-C3SIA\",\"206\",\"206\"]]IEND\x00"
}
