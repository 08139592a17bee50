package cloudproto_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/g90alarm/g90/protocol"
)

var chainedVectors = filepath.Join("..", "cloud", "testdata", "chained-vectors.yaml")

// The two M12 the vendor's cloud was seen sending (spec: F.6) are what
// CommandOf makes of the same local commands, and Request gives those
// commands back, byte for byte as the local protocol sends them.
func TestCommandVectors(t *testing.T) {
	for _, c := range []struct {
		id    string
		seq   uint16
		req   protocol.Request
		local string
	}{
		{"CH-RELAY-1", 6, protocol.NewRequest(protocol.GetHostStatus), `ISTART[100,100,""]IEND` + "\x00"},
		{"CH-RELAY-2", 5, protocol.PageRequest(protocol.GetHistory, 1, 10), `ISTART[200,200,[200,[1,10]]]IEND` + "\x00"}, // spec: F.7 H-PARSE
	} {
		t.Run(c.id, func(t *testing.T) {
			want := vectors.EntryHex(t, chainedVectors, c.id, "upstream_sends_after_receiving")
			m := cloudproto.CommandOf(c.seq, c.req)
			if got := m.Append(nil); !bytes.Equal(got, want) {
				t.Fatalf("CommandOf = % x\nwant       % x", got, want)
			}
			d, err := cloudproto.Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if d.Seq() != c.seq {
				t.Errorf("Seq = %d, want %d", d.Seq(), c.seq)
			}
			req, err := d.Request()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(req.Append(nil)); got != c.local {
				t.Errorf("Request = %q, want %q", got, c.local)
			}
		})
	}
}

// The observed M6 is what ResponseOf makes of the local reply to the M12
// it answers, and Reply decodes it as the local reply.
func TestResponseVector(t *testing.T) {
	want := vectors.EntryHex(t, filepath.Join("testdata", "cloud-vectors.yaml"), "C-COMMAND-RESPONSE", "input_hex")
	cmd := cloudproto.CommandOf(6, protocol.NewRequest(protocol.GetHostConfig))
	local := []byte(`ISTART[106,[900,0,0,1,2,2,60,2,0,180,2]]IEND` + "\x00")
	m, err := cloudproto.ResponseOf(&cmd, local)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Append(nil); !bytes.Equal(got, want) {
		t.Fatalf("ResponseOf = % x\nwant         % x", got, want)
	}
	d, err := cloudproto.Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if d.Seq() != 6 {
		t.Errorf("Seq = %d, want 6", d.Seq())
	}
	r, err := d.Reply()
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.GetHostConfig || !bytes.Equal(r.Append(nil), local) {
		t.Errorf("Reply = %q", r.Append(nil))
	}
}

// Every kind of local command and reply survives the trip: a system
// command, the empty reply, fail and error; what is not a command, or
// not text, is an error naming it.
func TestCommandConversions(t *testing.T) {
	sys := protocol.Request{System: "AT^IWT=1123,IWT"}
	m := cloudproto.CommandOf(9, sys)
	d, err := cloudproto.Decode(m.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Request(); err != nil || got.System != sys.System {
		t.Errorf("system command: %+v, %v", got, err)
	}
	for _, c := range []struct {
		local string
		check func(protocol.Response, error) bool
	}{
		{"ISTARTIEND\x00", func(r protocol.Response, err error) bool { return err == nil && r.Empty() }},
		{"ISTARTfailIEND\x00", func(_ protocol.Response, err error) bool {
			var pe *protocol.PanelError
			return errors.As(err, &pe) && pe.Failure
		}},
		{"ISTARTerrorbad argsIEND\x00", func(_ protocol.Response, err error) bool {
			var pe *protocol.PanelError
			return errors.As(err, &pe) && pe.Text == "bad args"
		}},
	} {
		r, err := cloudproto.ResponseOf(&d, []byte(c.local))
		if err != nil {
			t.Fatal(err)
		}
		back, err := cloudproto.Decode(r.Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := back.Reply(); !c.check(got, err) {
			t.Errorf("%q: Reply = %+v, %v", c.local, got, err)
		}
	}
	if _, err := cloudproto.ResponseOf(&d, []byte("nonsense")); !errors.Is(err, cloudproto.ErrCommandBody) {
		t.Errorf("ResponseOf(nonsense): %v", err)
	}
	if _, err := d.Reply(); !errors.Is(err, cloudproto.ErrNotCommand) {
		t.Errorf("Reply of an M12: %v", err)
	}
	bad := cloudproto.CommandOf(1, protocol.NewRequest(protocol.GetHostStatus))
	bad.Body = []byte("[100,[1]")
	if _, err := bad.Request(); !errors.Is(err, cloudproto.ErrCommandBody) {
		t.Errorf("unterminated body: %v", err)
	}
	bad.Body = []byte("[1,\x00[2]]\x00")
	if _, err := bad.Request(); !errors.Is(err, cloudproto.ErrCommandBody) {
		t.Errorf("NUL inside the body: %v", err)
	}
}
