// Package cloud is the server of the panels' TCP cloud protocol: it
// impersonates the G90 vendor cloud. Panels connect to it over TCP
// (spec: notifications-and-cloud.md D, E); it
// answers their pings, hellos and discovery requests byte for byte as the
// cloud would (standalone mode, spec: E.3), and it hands every status
// change and wrapped notification, converted to a notify.Message, to a
// Handler, from the goroutine of that panel's connection; Hub is the
// Handler that routes them by GUID to each panel's g90.Monitor. In chained mode (Config.Upstream, spec: E.4) it also relays
// each panel's connection to the vendor cloud, in order, answers
// locally while the vendor is unreachable, and relays the status changes
// and notifications the vendor missed once it is back (Config.ReplayBuffer,
// spec: E.4.3.1). The wire format is package cloudproto.
//
// Server.Command and Server.Send send a panel the local protocol's
// commands over its connection (M12, answered by M6, spec: D.5.8, D.5.9),
// as the vendor's cloud does; Server.Carrier makes that a g90.Panel's way
// to the panel. In chained mode the vendor's commands share the
// connection: each answer goes back to its asker by sequence number, and
// ours never reach the vendor (commandSeqBase says how they are kept
// apart).
//
// Comments cite the specification as "spec: E.5" for sections of
// spec/notifications-and-cloud.md.
//
// Usage:
//
//	srv, err := cloud.New(cloud.Config{
//		Addr:      ":5678",
//		Advertise: netip.MustParseAddrPort("192.168.1.10:5678"),
//		Handler: cloud.HandlerFunc(func(ctx context.Context, m *cloud.Message) {
//			evs, _ := m.Events() // or hand m.Notify to a notify.Sink
//			for _, ev := range evs {
//				fmt.Println(m.GUID, ev.Type, ev.Name)
//			}
//		}),
//	})
//	if err != nil {
//		return err
//	}
//	return srv.Serve(ctx) // until ctx is cancelled
//
// The panel is pointed at the server once, with the local system command
// of spec: E.2 (g90 set-cloud-server).
package cloud
