// Package sim is a simulated G90 alarm panel: it answers the local UDP
// protocol (spec/local-protocol.md) byte for byte like a panel, from a
// realistic state that commands change, so the client, the CLI and every
// test run without hardware.
//
// Besides commands it answers targeted discovery, keeps its state in a
// JSON file across restarts, injects faults (dropped, delayed, duplicated
// and stray replies), and offers an HTTP JSON control API to inspect and
// steer it.
//
// It also speaks the cloud protocol (spec/notifications-and-cloud.md D,
// E) from both ends: with Config.Cloud the panel connects to a cloud
// server as a real one does and reports every event there too
// (CloudLink); a Fleet is thousands of cloud-only panels for load tests;
// a VendorCloud is a fake of the vendor's cloud, the upstream of a
// chained server, that can be stopped, slowed, stalled and restarted.
//
//	p, err := sim.New(sim.Config{Listen: "127.0.0.1:0", Control: "127.0.0.1:0"})
//	if err != nil { … }
//	go p.Serve(ctx)   // returns after ctx is cancelled and everything stopped
//	client := …       // talk to p.Addr()
//	p.SetFaults(sim.Faults{Drop: 0.3})
//	st := p.Snapshot()
//
// Choices where the protocol specification is silent:
//
//   - an unknown command code is answered with error<text>
//     ("ISTARTerrorunsupported command 109IEND\0"); a known command with
//     parameters of the wrong count or type, or naming an index that does
//     not exist, with "fail"; a datagram that is not a request at all gets
//     no reply (it is logged);
//   - a GET must have no parameters, and a SET must carry exactly as many
//     fields as the matching GET returns (8 for SETAPINFO);
//   - a paginated reply carries at most 50 records; the sensor and device
//     lists hold at most 128 entries each and the history the newest 512;
//   - a learned sensor gets the first free index above the sensor count
//     (the capture in local-protocol.md 3.9 shows the panel not keeping the
//     proposed index); a registered device keeps its proposed index when it
//     is free;
//   - the host phone number of GETHOSTSTATUS is the alarm phones'
//     panel_phone_number;
//   - the sensor and device checksums of GETUSERDATACRC change on every
//     call, like the firmware's;
//   - CONTROLDEVICE on a missing device or node fails; the relay states it
//     sets are kept in State.Relays, since no command reads them back.
package sim
