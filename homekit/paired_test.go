//go:build !nohomekit

package homekit

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/brutella/hap"
)

// HAP's list of refused setup codes and ours (invalidPin, kept here so
// that a build without the bridge checks homekit.pin the same way) agree:
// on every code hap lists, and on 100,000 random ones.
func TestInvalidPinIsHaps(t *testing.T) {
	check := func(pin string) {
		if invalidPin(pin) != hap.InvalidPins[pin] {
			t.Errorf("invalidPin(%s) = %v, hap says %v", pin, invalidPin(pin), hap.InvalidPins[pin])
		}
	}
	for pin := range hap.InvalidPins {
		check(pin)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(fmt.Sprintf("%08d", r.IntN(100_000_000)))
	}
}

// TestPairedBeforeRun: a bridge whose directory holds a pairing is
// paired from New on, before Run publishes it (hap's server exists only
// from then): after a restart, g90 serve and the web UI do not offer the
// setup code as if no one were paired. A file that is not a pairing
// does not count; removing the pairing unpairs.
func TestPairedBeforeRun(t *testing.T) {
	dir := t.TempDir()
	b, err := New(Config{Listen: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if b.Setup().Paired {
		t.Fatal("a fresh bridge paired")
	}
	st := hap.NewFsStore(dir)
	if err := st.Set(hex.EncodeToString([]byte("junk"))+".pairing", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if b.Setup().Paired {
		t.Error("paired by a file that is not a pairing")
	}
	p, _ := json.Marshal(hap.Pairing{Name: "controller-1", PublicKey: make([]byte, 32), Permission: 1})
	key := hex.EncodeToString([]byte("controller-1")) + ".pairing"
	if err := st.Set(key, p); err != nil {
		t.Fatal(err)
	}
	b, err = New(Config{Listen: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Setup().Paired {
		t.Error("a bridge with a stored pairing not paired before Run")
	}
	if err := st.Delete(key); err != nil {
		t.Fatal(err)
	}
	if b.Setup().Paired {
		t.Error("still paired with the pairing removed")
	}
}
