package sim

import (
	"bytes"
	"errors"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
)

// FuzzHandleDatagram feeds arbitrary datagrams to the command handler:
// it must never panic, and whatever it answers must be a well-framed
// reply a client can parse.
func FuzzHandleDatagram(f *testing.F) {
	for _, s := range []string{
		`ISTART[100,100,""]IEND`, `ISTART[206,206,""]IEND`, `ISTART[160,160,""]IEND`,
		`ISTART[101,101,[101,[1]]]IEND`, `ISTART[102,102,[102,[1,10]]]IEND`, `ISTART[138,138,[138,[2,2]]]IEND`,
		`ISTART[200,200,[200,[11,20]]]IEND`, `ISTART[103,103,[103,["Renamed",1,0,1,0,0,63,0,1,32,1,5,0,"00"]]]IEND`,
		`ISTART[156,156,[156,["Test sensor",0,0,1,3,0,33,0,0,0,1,0,0,"00"]]]IEND`,
		`ISTART[134,134,[134,["Test socket",0,0,128,3,0,1,1190,0,17,1,0,2,"060A0600"]]]IEND`,
		`ISTART[162,162,[162,[1]]]IEND`, `ISTART[137,137,[137,[6,0,3]]]IEND`, `ISTART[131,131,[131,[2]]]IEND`,
		`ISTART[107,107,[107,[600,0,0,1,2,2,60,2,0,60,2]]]IEND`,
		`ISTART[213,213,[213,[1,"123456789",1,1,"apn.a.net","user","pwd",3]]]IEND`,
		`ISTART[231,231,[231,["127.0.0.1",12345,"A","R","P","K",0,1,"FFFFFFFF",60]]]IEND`,
		`ISTART[233,233,[233,["+1","+2","U",0,"FFFF"]]]IEND`, `ISTART[108,108,[108,["5678","","","","","","","","",""]]]IEND`,
		`ISTART[116,116,[116,[9]]]IEND`, `ISTART[0,100,"AT^IWT=1,78=127.0.0.1&127.0.0.1&1234,IWT"]IEND`,
		`ISTART[0,100,"AT^IWT=1123,IWT"]IEND`, `ISTART[109,109,""]IEND`, `ISTART[102,102,[102,[0,-1]]]IEND`,
	} {
		f.Add(raw(s))
	}
	f.Add([]byte("garbage"))
	f.Add([]byte{})
	leaktest.Check(f)
	p, err := New(Config{Listen: "127.0.0.1:0", Now: fixedClock})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, code := p.handle(b)
		if reply == nil {
			return
		}
		resp, err := protocol.ParseResponse(reply)
		var pe *protocol.PanelError
		switch {
		case err == nil && !resp.Empty() && resp.Code != code:
			t.Fatalf("reply %q to %v has code %v", reply, code, resp.Code)
		case err != nil && !errors.As(err, &pe):
			t.Fatalf("reply %q does not parse: %v", reply, err)
		}
		if !bytes.HasSuffix(reply, []byte("IEND\x00")) {
			t.Fatalf("reply %q is not framed", reply)
		}
	})
}
