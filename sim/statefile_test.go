package sim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/protocol"
)

func readStateFile(t *testing.T, path string) State {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file: %v", err)
	}
	return st
}

// serveUntil runs a panel on cfg while fn talks to it, then stops it.
func serveUntil(t *testing.T, cfg Config, fn func(p *Panel)) {
	t.Helper()
	leaktest.Check(t)
	cfg.Listen, cfg.Now = "127.0.0.1:0", fixedClock
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := testrig.Serve(t, p.Serve)
	fn(p)
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestStateFileSaveAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "panel.json")
	var want State
	serveUntil(t, Config{StateFile: path}, func(p *Panel) {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("state file written before any change: %v", err)
		}
		c := newClient(t, p.Addr())
		c.expect(`ISTART[101,101,[101,[1]]]IEND`, `ISTARTIEND`)
		// Saved after the change, before the reply.
		if st := readStateFile(t, path); st.Arm != protocol.ArmAway {
			t.Errorf("state file has arm state %v after arming", st.Arm)
		}
		c.expect(`ISTART[103,103,[103,["Porte",1,0,1,0,0,63,0,1,32,1,5,0,"F100f5017d02f803f90400"]]]IEND`, `ISTARTIEND`)
		c.expectNoReply(raw(`ISTART[0,100,"AT^IWT=1,78=10.0.0.2&10.0.0.2&5678,IWT"]IEND`))
		c.expect(`ISTART[137,137,[137,[6,0,1]]]IEND`, `ISTARTIEND`)
		want = p.Snapshot()
	})
	if got := readStateFile(t, path); !reflect.DeepEqual(got, want) {
		t.Errorf("state file after stop differs from the last state")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the state file (no temporaries)", len(entries))
	}

	// A new panel starts from the file, not from Config.State.
	other := defaultState(testNow)
	serveUntil(t, Config{StateFile: path, State: &other}, func(p *Panel) {
		if got := p.Snapshot(); !reflect.DeepEqual(got, want) {
			t.Errorf("loaded state differs from the saved one")
		}
		c := newClient(t, p.Addr())
		c.expect(`ISTART[102,102,[102,[1,1]]]IEND`, `ISTART[102,[[12,1,1],["Porte",1,0,1,0,0,63,0,1,32,1,0,""]]]IEND`)
		c.expect(statusReq, `ISTART[100,[1,"+15550100","TSV018-C3SIA","206","206"]]IEND`)
	})
}

func TestStateFileErrors(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"host":`), 0o600)
	if _, err := New(Config{Listen: "127.0.0.1:0", StateFile: bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("New with a broken state file: %v, want an error naming %s", err, bad)
	}
	b, _ := json.Marshal(defaultState(testNow))
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, []byte(strings.Replace(string(b), `"reboots"`, `"reboot"`, 1)), 0o600)
	if _, err := New(Config{Listen: "127.0.0.1:0", StateFile: typo}); err == nil || !strings.Contains(err.Error(), `unknown field "reboot"`) {
		t.Errorf("New with an unknown key: %v", err)
	}
	st := defaultState(testNow)
	st.Devices = append(st.Devices, st.Devices[0])
	b, _ = json.Marshal(st)
	dup := filepath.Join(dir, "dup.json")
	os.WriteFile(dup, b, 0o600)
	if _, err := New(Config{Listen: "127.0.0.1:0", StateFile: dup}); err == nil || !strings.Contains(err.Error(), "two devices with index 3") {
		t.Errorf("New with duplicate device indexes: %v", err)
	}
	// An unwritable state file is reported by Serve.
	p, err := New(Config{Listen: "127.0.0.1:0", StateFile: filepath.Join(dir, "missing-dir", "s.json")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Serve(ctx); err == nil || !strings.Contains(err.Error(), "save state file") {
		t.Errorf("Serve with an unwritable state file: %v", err)
	}
}
