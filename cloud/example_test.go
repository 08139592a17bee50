package cloud_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/g90alarm/g90/cloud"
)

// A panel connects, says hello and reports a door opening; the handler
// prints the events (spec: notifications-and-cloud.md D.10).
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan struct{})
	srv, err := cloud.New(cloud.Config{
		Listener: ln,
		Handler: cloud.HandlerFunc(func(ctx context.Context, m *cloud.Message) {
			evs, _ := m.Events()
			for _, ev := range evs {
				fmt.Println(m.GUID, ev.Source, ev.Type, ev.Index, ev.Name, ev.Time.Unix())
			}
			close(done)
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// What a panel sends: a hello (GUID GA00000A0000000), then a status
	// change: sensor 32 "Cord 1" opened (spec: F.4 C-STATUS-SENSOR-OPEN).
	panel, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer panel.Close()
	hello := "01100020" + "48000000" + "01000000" + hex.EncodeToString([]byte("GA00000A0000000")) + "00" +
		"00000000" + "00000000" + "02000000" + "00700000" + hex.EncodeToString([]byte("207")) + "00" +
		"58ba0020" + "30000000" + "00000000" + "07000000" + "1e000000" + "1e000000"
	status := "21100020" + "78000000" + "01000000" + "04200101" + hex.EncodeToString([]byte("Cord 1")) + strings.Repeat("00", 26) +
		"b130a267" + strings.Repeat("00", 68)
	for _, h := range []string{hello, status} {
		b, _ := hex.DecodeString(h)
		panel.Write(b)
	}
	<-done
	cancel()
	fmt.Println(<-served)
	// Output:
	// GA00000A0000000 cloud sensor_activity 32 Cord 1 1738682545
	// GA00000A0000000 cloud door_open 32 Cord 1 1738682545
	// <nil>
}
