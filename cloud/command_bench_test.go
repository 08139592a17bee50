package cloud

import (
	"net"
	"testing"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/protocol"
)

// BenchmarkCommandRoundTrip: one GETHOSTSTATUS to a simulated panel and
// its reply, over the panel's cloud connection (M12 out, M6 back, issue
// 18) next to UDP to its command port (a fresh socket per attempt, as
// the client does), all on loopback.
//
//	go test -run '^$' -bench CommandRoundTrip -benchtime 20000x ./cloud/
func BenchmarkCommandRoundTrip(b *testing.B) {
	srv, _ := start(b, Config{})
	p, _, guid := cloudSim(b, srv)
	req := protocol.NewRequest(protocol.GetHostStatus)
	b.Run("transport=cloud", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := srv.Command(b.Context(), guid, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	a := p.Addr().(*net.UDPAddr)
	for name, cfg := range map[string]client.Config{
		"transport=udp":          {Host: a.IP.String(), Port: a.Port},
		"transport=cloud-client": {Carrier: srv.Carrier(guid)},
	} {
		b.Run(name, func(b *testing.B) {
			c, err := client.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Exchange(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
