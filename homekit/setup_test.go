package homekit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSetupPayload: the payloads of the HomeKit ADK's own setup payload
// tests (an outlet, category 7: code, setup ID, flags) come out the
// same, and the bridge's has category 2 and the IP flag.
func TestSetupPayload(t *testing.T) {
	for _, c := range []struct {
		code    uint64
		id      string
		cat, fl uint64
		want    string
	}{
		{51808582, "7OSX", 7, setupFlagIP, "X-HM://0071WK4SM7OSX"},
		{0, "0000", 7, setupFlagIP, "X-HM://00711PP1C0000"},
		{0, "0000", 7, setupFlagIP | setupFlagNFC, "X-HM://00739MG3K0000"},
		{51808582, "7OSX", 7, setupFlagBLE, "X-HM://0076CDMX27OSX"},
	} {
		if got := setupPayload(c.code, c.id, c.cat, c.fl); got != c.want {
			t.Errorf("setupPayload(%d, %s, %d, %d) = %s, want %s", c.code, c.id, c.cat, c.fl, got, c.want)
		}
	}
	if got, want := setupURI("51808582", "7OSX"), setupPayload(51808582, "7OSX", 2, setupFlagIP); got != want {
		t.Errorf("setupURI = %s, want %s", got, want)
	}
	if got := setupURI("00102003", "AB12"); len(got) != len("X-HM://")+9+4 {
		t.Errorf("setupURI %q: want 20 characters", got)
	}
}

func TestParsePin(t *testing.T) {
	for in, want := range map[string]string{"31415926": "31415926", "314-15-926": "31415926"} {
		if got, err := ParsePin(in); err != nil || got != want {
			t.Errorf("ParsePin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1234567", "123456789", "1234567a", "12345678", "87654321", "000-00-000", "11111111"} {
		if got, err := ParsePin(in); err == nil {
			t.Errorf("ParsePin(%q) = %q, want an error", in, got)
		} else if strings.Contains(err.Error(), strings.ReplaceAll(in, "-", "")) && in != "" {
			t.Errorf("ParsePin(%q): the error %q repeats the code", in, err)
		}
	}
	for range 100 {
		p, err := newPin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePin(p); err != nil {
			t.Fatalf("newPin() = %q: %v", p, err)
		}
	}
}

// TestIDs: an accessory keeps its aid across saves and loads; a new one
// gets the next; the setup code and ID are kept; a damaged file is an
// error naming it, not a fresh start.
func TestIDs(t *testing.T) {
	dir := t.TempDir()
	v, err := loadIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.SetupID) != 4 || v.Next != 2 {
		t.Fatalf("fresh ids %+v", v)
	}
	v.Pin = "31415926"
	a, fresh := v.aid("home")
	b, _ := v.aid("home/sensor/1/1")
	if a != 2 || b != 3 || !fresh {
		t.Fatalf("aids %d %d (fresh %v), want 2 3", a, b, fresh)
	}
	if again, fresh := v.aid("home"); again != 2 || fresh {
		t.Fatalf("aid of home again %d (fresh %v)", again, fresh)
	}
	if err := v.save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := loadIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, back); diff != "" {
		t.Errorf("loaded back (-saved +loaded):\n%s", diff)
	}
	if c, _ := back.aid("home/relay/3/0/128"); c != 4 {
		t.Errorf("next aid %d, want 4", c)
	}
	fi, err := os.Stat(filepath.Join(dir, idsFile))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("ids file mode %v, %v: want it private (it holds the setup code)", fi.Mode(), err)
	}

	for name, body := range map[string]string{
		"not JSON":       `{`,
		"bad setup id":   `{"setup_id":"ab","aids":{},"next_aid":2}`,
		"bad pin":        `{"setup_id":"AB12","pin":"12345678","aids":{},"next_aid":2}`,
		"aid of bridge":  `{"setup_id":"AB12","aids":{"home":1},"next_aid":2}`,
		"aid twice":      `{"setup_id":"AB12","aids":{"a":2,"b":2},"next_aid":3}`,
		"next too small": `{"setup_id":"AB12","aids":{"a":5},"next_aid":3}`,
	} {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, idsFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadIDs(d); err == nil || !strings.Contains(err.Error(), idsFile) {
			t.Errorf("%s: loadIDs error %v, want one naming %s", name, err, idsFile)
		}
	}
}

// FuzzParseIDs: whatever the file holds, parseIDs does not panic, and
// what it accepts keeps its promises and reads back the same.
func FuzzParseIDs(f *testing.F) {
	f.Add([]byte(`{"setup_id":"AB12","pin":"31415926","aids":{"home":2,"home/sensor/1/1":3},"next_aid":4,"names_hash":"x"}`))
	f.Add([]byte(`{"setup_id":"AB12","aids":null,"next_aid":0}`))
	f.Add([]byte(`{"aids":{"":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseIDs(b)
		if err != nil {
			return
		}
		seen := map[uint64]bool{}
		for k, aid := range v.AIDs {
			if aid < 2 || aid >= v.Next || seen[aid] {
				t.Fatalf("accepted aid %d of %q (next %d)", aid, k, v.Next)
			}
			seen[aid] = true
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseIDs(out)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", out, err)
		}
		if diff := cmp.Diff(v, back); diff != "" {
			t.Fatalf("read back differs:\n%s", diff)
		}
	})
}
