package sim

import (
	"reflect"
	"testing"

	"github.com/g90alarm/g90/protocol"
)

// Replies of the default home, byte for byte.
func TestDefaultHomeReplies(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	for _, s := range []step{
		{`ISTART[100,100,""]IEND`, `ISTART[100,[3,"+15550100","TSV018-C3SIA","206","206"]]IEND`},
		{`ISTART[206,206,""]IEND`, `ISTART[206,["SIMPANEL0001","TSV018-C3SIA","1.2","1.1","206","206",3,3,0,2,"4264",75,100]]IEND`},
		{`ISTART[106,106,""]IEND`, `ISTART[106,[180,30,15,30,2,1,60,1,1,60,1]]IEND`},
		{`ISTART[114,114,""]IEND`, `ISTART[114,["1234","+15550100","+15550101","+15550102","","","","","+15550101",""]]IEND`},
		{`ISTART[117,117,""]IEND`, `ISTART[117,[511]]IEND`},
		{`ISTART[212,212,""]IEND`, `ISTART[212,[0,"simpanel123",1,1,"internet","","",0,"26201"]]IEND`},
		{`ISTART[230,230,""]IEND`, `ISTART[230,["127.0.0.1",12345,"1234","R1","L0","",0,0,"0000FFFF",60]]IEND`},
		{`ISTART[232,232,""]IEND`, `ISTART[232,["","","",0,"000F"]]IEND`},
		{`ISTART[102,102,[102,[1,10]]]IEND`, `ISTART[102,[[12,1,10],["Front door",1,0,1,0,0,63,0,1,32,1,0,""],["Back door",2,0,1,3,0,33,0,0,0,1,0,""],["Hall PIR",7,0,8,3,0,33,0,1,16,1,0,""],["Living room PIR",8,0,8,2,0,65,0,1,16,1,0,""],["Kitchen smoke",11,0,4,0,0,1,0,0,0,1,0,""],["Boiler gas",12,0,3,0,0,1,0,0,0,1,0,""],["Bathroom leak",15,0,7,0,0,1,0,0,0,1,0,""],["Key fob Anna",20,0,10,1,0,33,0,0,16,1,0,""],["Key fob Ben",21,0,10,0,0,33,0,1,32,1,0,""],["Entry keypad",25,0,11,1,0,33,0,0,16,1,0,""]]]IEND`},
		{`ISTART[102,102,[102,[11,20]]]IEND`, `ISTART[102,[[12,11,2],["Office window",30,0,1,0,0,32,0,1,32,1,0,""],["Garage door",4,0,126,1,0,63,1480,5,16,1,0,""]]]IEND`},
		{`ISTART[102,102,[102,[12,12]]]IEND`, `ISTART[102,[[12,12,1],["Garage door",4,0,126,1,0,63,1480,5,16,1,0,""]]]IEND`},
		{`ISTART[102,102,[102,[13,22]]]IEND`, `ISTARTIEND`},
		{`ISTART[102,102,[102,[2,2]]]IEND`, `ISTART[102,[[12,2,1],["Back door",2,0,1,3,0,33,0,0,0,1,0,""]]]IEND`},
		{`ISTART[138,138,[138,[1,10]]]IEND`, `ISTART[138,[[3,1,3],["Garden lights",3,0,128,3,0,1,1190,0,17,1,0,""],["Relay board",6,0,128,0,0,1,1480,0,17,4,0,""],["Porch siren",9,0,129,0,0,1,1480,0,33,1,0,""]]]IEND`},
		{`ISTART[200,200,[200,[1,2]]]IEND`, `ISTART[200,[[38,1,2],[2,3,0,0,"",1768460700,""],[4,20,10,2,"Key fob Anna",1768460700,""]]]IEND`},
	} {
		c.expect(s.req, s.want)
	}
}

// The default home is what the brief promises: enough sensors of every
// kind, a multi-node and a single relay, a long mixed history, all of it
// encodable and decodable.
func TestDefaultStateContents(t *testing.T) {
	st := defaultState(testNow)
	if len(st.Sensors) < 10 {
		t.Errorf("%d sensors, want at least 10", len(st.Sensors))
	}
	types := map[[3]int]bool{}
	for _, s := range st.Sensors {
		types[[3]int{s.TypeID, s.Subtype, s.ProtocolID}] = true
		types[[3]int{s.TypeID, -1, -1}] = true
	}
	for _, want := range [][3]int{{126, 1, 5}, {1, -1, -1}, {8, -1, -1}, {4, -1, -1}, {3, -1, -1}, {7, -1, -1}, {10, -1, -1}, {11, -1, -1}} {
		if !types[want] {
			t.Errorf("no sensor of type/subtype/protocol %v", want)
		}
	}
	multi, single := false, false
	for _, d := range st.Devices {
		multi = multi || (d.TypeID == 128 && d.Subtype == 0 && d.Baudrate == 1480 && d.ReservedData == 17 && d.NodeCount == 4)
		single = single || (d.TypeID == 128 && d.Subtype == 3 && d.Baudrate == 1190 && d.ReservedData == 17 && d.NodeCount == 1)
	}
	if !multi || !single {
		t.Errorf("devices lack a JDQ (%v) or an S07 (%v)", multi, single)
	}
	if len(st.History) < 30 {
		t.Errorf("%d history entries, want at least 30", len(st.History))
	}
	seen := map[protocol.HistoryState]bool{}
	for i, h := range st.History {
		if i > 0 && h.UnixTime > st.History[i-1].UnixTime {
			t.Errorf("history[%d] is newer than history[%d]", i, i-1)
		}
		if h.UnixTime > int(testNow.Unix()) || h.UnixTime < int(testNow.Unix())-5*86400 {
			t.Errorf("history[%d] at %d is not within the past days", i, h.UnixTime)
		}
		var back protocol.HistoryEntry
		if err := protocol.Decode(&back, protocol.Encode(&h)); err != nil || !reflect.DeepEqual(back, h) {
			t.Errorf("history[%d] does not round-trip: %v", i, err)
		}
		seen[h.HistoryState()] = true
	}
	for _, want := range []protocol.HistoryState{
		protocol.StateArmAway, protocol.StateArmHome, protocol.StateDisarm, protocol.StateDoorOpen,
		protocol.StateDoorClose, protocol.StateRemoteDisarm, protocol.StateRemoteSOS, "rfid_card_1",
		protocol.StateRFIDDisarm, protocol.StateMotionDetected, protocol.StateTamper,
		protocol.StateACPowerFailure, protocol.StateACPowerRecover, protocol.StateNone, protocol.StateLowBattery,
	} {
		if !seen[want] {
			t.Errorf("history has no %q entry", want)
		}
	}
}

func TestArmDisarmRecordedInHistory(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	before := len(p.Snapshot().History)

	c.expect(`ISTART[101,101,[101,[1]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[200,200,[200,[1,1]]]IEND`, `ISTART[200,[[39,1,1],[2,4,0,0,"",1768471200,""]]]IEND`)
	c.expect(`ISTART[101,101,[101,[2]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[101,101,[101,[3]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[200,200,[200,[1,3]]]IEND`, `ISTART[200,[[41,1,3],[2,3,0,0,"",1768471200,""],[2,5,0,0,"",1768471200,""],[2,4,0,0,"",1768471200,""]]]IEND`)

	// Without the ARM_DISARM alert flag the panel records nothing
	// (spec: local-protocol.md 3.18), but the state still changes.
	c.expect(`ISTART[116,116,[116,[507]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[101,101,[101,[1]]]IEND`, `ISTARTIEND`)
	st := p.Snapshot()
	if st.Arm != protocol.ArmAway || len(st.History) != before+3 {
		t.Errorf("arm %v with %d history entries, want away with %d", st.Arm, len(st.History), before+3)
	}
	// 4 (alarmed) is reported, never set.
	c.expect(`ISTART[101,101,[101,[4]]]IEND`, `ISTARTfailIEND`)
}

func TestSensorLifecycle(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())

	// Learn two sensors: the panel picks indexes above the sensor count,
	// ignoring the proposed 0 (spec: local-protocol.md 3.9).
	c.expect(`ISTART[156,156,[156,["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]]]IEND`, `ISTARTIEND`)
	if st := p.Snapshot(); st.PendingSensor == nil || len(st.Sensors) != 12 {
		t.Fatalf("after 156: pending %v, %d sensors; want a pending sensor and no new one yet", st.PendingSensor, len(st.Sensors))
	}
	if idx, err := p.CompleteLearn(); err != nil || idx != 13 {
		t.Fatalf("CompleteLearn = %d, %v; want 13", idx, err)
	}
	if _, err := p.CompleteLearn(); err != ErrNotLearning {
		t.Fatalf("second CompleteLearn: %v, want ErrNotLearning", err)
	}
	c.expect(`ISTART[156,156,[156,["Garden PIR",0,0,8,3,1,33,0,1,16,1,3,0,"06000301020200"]]]IEND`, `ISTARTIEND`)
	if idx, err := p.CompleteLearn(); err != nil || idx != 14 {
		t.Fatalf("CompleteLearn = %d, %v; want 14", idx, err)
	}

	c.expect(`ISTART[102,102,[102,[11,20]]]IEND`, `ISTART[102,[[14,11,4],["Office window",30,0,1,0,0,32,0,1,32,1,0,""],["Garage door",4,0,126,1,0,63,1480,5,16,1,0,""],["Test sensor",13,0,1,3,0,33,0,0,0,1,0,""],["Garden PIR",14,0,8,3,1,33,0,1,16,1,0,""]]]IEND`)

	// Rename the front door (position 1) and disable it; the next list
	// shows it, in the read layout.
	c.expect(`ISTART[103,103,[103,["Front entrance",1,0,1,0,0,62,0,1,32,1,5,0,"F100f5017d02f803f90400"]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[102,102,[102,[1,1]]]IEND`, `ISTART[102,[[14,1,1],["Front entrance",1,0,1,0,0,62,0,1,32,1,0,""]]]IEND`)
	// A sensor that does not exist cannot be set or deleted.
	c.expect(`ISTART[103,103,[103,["Ghost",99,0,1,0,0,62,0,1,32,1,5,0,"00"]]]IEND`, `ISTARTfailIEND`)
	c.expect(`ISTART[131,131,[131,[99]]]IEND`, `ISTARTfailIEND`)

	// Delete the first sensor: everything moves up a position.
	c.expect(`ISTART[131,131,[131,[1]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[102,102,[102,[1,1]]]IEND`, `ISTART[102,[[13,1,1],["Back door",2,0,1,3,0,33,0,0,0,1,0,""]]]IEND`)
	c.expect(`ISTART[102,102,[102,[14,14]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[131,131,[131,[1]]]IEND`, `ISTARTfailIEND`)
}

func TestDeviceRegistrationAndRelays(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())

	c.expect(`ISTART[134,134,[134,["Pool pump",0,0,128,0,0,1,1480,0,17,4,0,2,"0707070B0B0D0D0E0E00"]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[1]]]IEND`, `ISTART[162,[0]]IEND`)
	// Proposed index 3 is taken: the lowest free one, 1, is used.
	c.expect(`ISTART[134,134,[134,["Lamp",3,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[1]]]IEND`, `ISTART[162,[1]]IEND`)
	// Cancelled, and confirming with nothing pending.
	c.expect(`ISTART[134,134,[134,["Nope",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[0]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[1]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[2]]]IEND`, `ISTARTfailIEND`)
	c.expect(`ISTART[138,138,[138,[4,10]]]IEND`, `ISTART[138,[[5,4,2],["Pool pump",0,0,128,0,0,1,1480,0,17,4,0,""],["Lamp",1,0,128,3,0,1,1190,0,17,1,0,""]]]IEND`)

	// Relays: 0 = on, 1 = off (spec: local-protocol.md 3.11).
	c.expect(`ISTART[137,137,[137,[6,0,2]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[137,137,[137,[3,0,0]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[137,137,[137,[0,0,3]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[137,137,[137,[3,1,0]]]IEND`, `ISTARTIEND`)
	for _, req := range []string{
		`ISTART[137,137,[137,[6,0,4]]]IEND`,  // no fifth node
		`ISTART[137,137,[137,[3,0,1]]]IEND`,  // single node
		`ISTART[137,137,[137,[99,0,0]]]IEND`, // no such device
		`ISTART[137,137,[137,[6,2,0]]]IEND`,  // no such action
		`ISTART[137,137,[137,[6,0]]]IEND`,    // too few parameters
	} {
		c.expect(req, `ISTARTfailIEND`)
	}
	want := map[int][]bool{
		0: {false, false, false, true},
		1: {false},
		3: {false},
		6: {false, false, true, false},
		9: {false},
	}
	if got := p.Snapshot().Relays; !reflect.DeepEqual(got, want) {
		t.Errorf("relays %v, want %v", got, want)
	}

	// Deleting a device forgets its relay state.
	c.expect(`ISTART[136,136,[136,[6]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[136,136,[136,[6]]]IEND`, `ISTARTfailIEND`)
	if _, ok := p.Snapshot().Relays[6]; ok {
		t.Error("relay state of the deleted device 6 is kept")
	}
	// Shrinking a device to one node keeps the first node's state.
	c.expect(`ISTART[140,140,[140,["Pool pump",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]]]IEND`, `ISTARTIEND`)
	if got := p.Snapshot().Relays[0]; !reflect.DeepEqual(got, []bool{false}) {
		t.Errorf("relay 0 after SETSINGLEDEVICE with one node: %v", got)
	}
}

func TestSystemCommands(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	for _, req := range []string{
		`ISTART[0,100,"AT^IWT=1129,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1123,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1006,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1123,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1,78=192.0.2.7&192.0.2.8&5679,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1,78=broken,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=0,IWT"]IEND`,
		`ISTART[0,100,"not an AT command"]IEND`,
	} {
		c.expectNoReply(raw(req))
	}
	st := p.Snapshot()
	if want := (Reboots{MCU: 2, GSM: 1, WiFi: 1}); st.Reboots != want {
		t.Errorf("reboots %+v, want %+v", st.Reboots, want)
	}
	if want := (CloudServer{Primary: "192.0.2.7", Secondary: "192.0.2.8", Port: 5679}); st.CloudServer != want {
		t.Errorf("cloud server %+v, want %+v", st.CloudServer, want)
	}
}

func TestBadRequests(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	// An unknown command code is rejected with error<text>.
	c.expect(`ISTART[109,109,""]IEND`, `ISTARTerrorunsupported command 109IEND`)
	c.expect(`ISTART[999,999,[999,[1]]]IEND`, `ISTARTerrorunsupported command 999IEND`)
	// A known command with the wrong parameters fails.
	for _, req := range []string{
		`ISTART[100,100,[100,[1]]]IEND`,                            // GET with parameters
		`ISTART[101,101,[101,[9]]]IEND`,                            // no such arm state
		`ISTART[101,101,[101,["1"]]]IEND`,                          // string, not int
		`ISTART[101,101,[101,[1,2]]]IEND`,                          // too many
		`ISTART[101,101,""]IEND`,                                   // none
		`ISTART[102,102,[102,[0,10]]]IEND`,                         // positions are 1-based
		`ISTART[102,102,[102,[5,4]]]IEND`,                          // end before start
		`ISTART[102,102,[102,[1]]]IEND`,                            // one bound
		`ISTART[200,200,""]IEND`,                                   // no page
		`ISTART[116,116,[116,[99999999999]]]IEND`,                  // too large
		`ISTART[103,103,[103,["Front door",1,0,1]]]IEND`,           // short write record
		`ISTART[156,156,[156,["x",0,0,1,3,0,33,0,0,0,1,0,0]]]IEND`, // 13 fields
		`ISTART[108,108,[108,[1,2,3,4,5,6,7,8,9,10]]]IEND`,         // ints, not strings
	} {
		c.expect(req, `ISTARTfailIEND`)
	}
	// Datagrams that are not requests get no reply at all.
	for _, b := range [][]byte{
		[]byte("garbage"),
		[]byte(`ISTART[100,100,""]IEND`), // no NUL
		raw(`ISTART[100,101,""]IEND`),    // sub-code differs
		raw(`ISTART[0,0,""]IEND`),        // code 0 is not a command
		raw(`ISTART[100,100]IEND`),
		raw(`ISTART[100,100,[101,[1]]]IEND`), // inner code differs
		raw(`ISTARTIEND`),
		raw(`IWTAC_PROBE_DEVICE,SIMPANEL0001`),
		{},
	} {
		c.expectNoReply(b)
	}
	// None of it changed anything.
	if got, want := p.Snapshot(), defaultState(testNow); !reflect.DeepEqual(got, want) {
		t.Error("bad requests changed the state")
	}
}

// The sensor and device checksums change on every call, like the
// firmware's (spec: local-protocol.md 3.4); the history checksum changes
// with the history.
func TestUserDataCRC(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	read := func() protocol.UserDataCRC {
		t.Helper()
		resp, err := protocol.ParseResponse(c.do(raw(`ISTART[160,160,""]IEND`)))
		var crc protocol.UserDataCRC
		if err == nil {
			err = protocol.Decode(&crc, resp.Data)
		}
		if err != nil || resp.Code != protocol.GetUserDataCRC || len(crc.Extra) != 0 {
			t.Fatalf("160 reply: %v %+v", err, resp)
		}
		return crc
	}
	a, b := read(), read()
	if a.SensorList == b.SensorList || a.DeviceList == b.DeviceList {
		t.Errorf("sensor/device checksums did not change between calls: %+v %+v", a, b)
	}
	if a.HistoryList != b.HistoryList || a.SceneList != b.SceneList {
		t.Errorf("history/scene checksums changed without a change: %+v %+v", a, b)
	}
	c.expect(`ISTART[101,101,[101,[1]]]IEND`, `ISTARTIEND`)
	if d := read(); d.HistoryList == b.HistoryList {
		t.Errorf("history checksum %s did not change after arming", d.HistoryList)
	}
}

// A long history is paged like the panel pages it and bounded.
func TestHistoryPagination(t *testing.T) {
	p := start(t, Config{})
	c := newClient(t, p.Addr())
	for range maxHistory {
		c.expect(`ISTART[101,101,[101,[3]]]IEND`, `ISTARTIEND`)
	}
	st := p.Snapshot()
	if len(st.History) != maxHistory {
		t.Fatalf("%d history entries, want the bound %d", len(st.History), maxHistory)
	}
	resp, err := protocol.ParseResponse(c.do(raw(`ISTART[200,200,[200,[501,600]]]IEND`)))
	if err != nil {
		t.Fatal(err)
	}
	page, err := protocol.ParsePage(resp.Data, 501, 600)
	if err != nil || page.Total != maxHistory || page.Start != 501 || page.Count != maxHistory-500 {
		t.Errorf("page 501..600: %+v, %v", page.PageHeader, err)
	}
	// A large request is capped.
	resp, err = protocol.ParseResponse(c.do(raw(`ISTART[200,200,[200,[1,1000]]]IEND`)))
	if err != nil {
		t.Fatal(err)
	}
	if page, err := protocol.ParsePage(resp.Data, 1, 1000); err != nil || page.Count != maxPageRecords {
		t.Errorf("page 1..1000: %+v, %v; want %d records", page.PageHeader, err, maxPageRecords)
	}
}

func TestListsAreBounded(t *testing.T) {
	p := startWith(t, func(st *State) {
		st.Devices = nil
		for i := range maxPeripherals {
			st.Devices = append(st.Devices, protocol.PeripheralRecord{Name: "Socket " + itoa(i), Index: i, TypeID: 128, Subtype: 3, NodeCount: 1})
		}
	})
	c := newClient(t, p.Addr())
	c.expect(`ISTART[134,134,[134,["One too many",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]]]IEND`, `ISTARTIEND`)
	c.expect(`ISTART[162,162,[162,[1]]]IEND`, `ISTARTfailIEND`)
	if n := len(p.Snapshot().Devices); n != maxPeripherals {
		t.Errorf("%d devices, want %d", n, maxPeripherals)
	}
	st := p.Snapshot()
	st.Sensors = append(st.Sensors, st.Devices...)
	st.Sensors = append(st.Sensors, st.Devices[0])
	if err := p.SetState(st); err == nil {
		t.Error("SetState with too many sensors succeeded")
	}
}
