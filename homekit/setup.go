package homekit

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/g90alarm/g90/internal/atomicfile"
)

// Setup is what a user needs to pair: the setup code to type, or the
// URI a QR code carries.
type Setup struct {
	// Code is the 8-digit setup code as the Home app shows it,
	// XXX-XX-XXX.
	Code string
	// URI is the X-HM:// setup payload of the QR code.
	URI string
	// Paired reports that at least one controller is paired. While it is,
	// the bridge accepts no new pairing (HAP: only an admin controller
	// adds others), so the code is of no use to a stranger.
	Paired bool
}

// category of the bridge in the setup payload and the mDNS record.
const categoryBridge = 2

// Transport flags of the setup payload.
const (
	setupFlagNFC = 1
	setupFlagIP  = 2
	setupFlagBLE = 4
)

// setupURI returns the X-HM:// payload of the bridge for pin (8 digits)
// and setupID (4 characters 0-9A-Z).
func setupURI(pin, setupID string) string {
	code, _ := strconv.ParseUint(pin, 10, 32)
	return setupPayload(code, setupID, categoryBridge, setupFlagIP)
}

// setupPayload is "X-HM://", a 45-bit number in base 36, upper case, 9
// digits, and the setup ID. The number's bits, low to high: the setup
// code (27), the transport flags (4), the accessory category (8); the
// version and reserved bits are 0.
func setupPayload(code uint64, setupID string, category, flags uint64) string {
	v := category<<31 | flags<<27 | code
	s := strings.ToUpper(strconv.FormatUint(v, 36))
	return "X-HM://" + strings.Repeat("0", max(0, 9-len(s))) + s + setupID
}

// ParsePin accepts a setup code of 8 digits, with or without the dashes
// of XXX-XX-XXX, and returns its digits. HAP refuses codes that are
// trivial to guess (all one digit, 12345678, 87654321).
func ParsePin(s string) (string, error) {
	d := strings.ReplaceAll(s, "-", "")
	if len(d) != 8 || strings.Trim(d, "0123456789") != "" {
		return "", errors.New("want 8 digits, e.g. 314-15-926")
	}
	if invalidPin(d) {
		return "", errors.New("too easy to guess (one digit repeated, or the digits in order up or down); HomeKit refuses it")
	}
	return d, nil
}

// invalidPin reports whether HAP refuses the 8 digits d as a setup code:
// one digit repeated, or 12345678 or 87654321 (the list brutella/hap
// checks, hap.InvalidPins; TestInvalidPinIsHaps compares the two). Here,
// not there, so that a build without the bridge (-tags nohomekit) still
// checks the config's homekit.pin the same way.
func invalidPin(d string) bool {
	return strings.Count(d, d[:1]) == len(d) || d == "12345678" || d == "87654321"
}

// newPin returns a random setup code that HAP accepts.
func newPin() (string, error) {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return "", err
		}
		pin := fmt.Sprintf("%08d", n.Int64())
		if !invalidPin(pin) {
			return pin, nil
		}
	}
}

const setupIDChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func newSetupID() (string, error) {
	b := make([]byte, 4)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(setupIDChars))))
		if err != nil {
			return "", err
		}
		b[i] = setupIDChars[n.Int64()]
	}
	return string(b), nil
}

// ids is what the bridge keeps beside hap's own store (state_dir/homekit)
// so that a restart changes nothing a controller remembers: the
// generated setup code and setup ID, the accessory id of every
// accessory it ever published (by its key, see spec.key), and a hash of
// the published names, whose change bumps the configuration number.
type ids struct {
	Pin     string            `json:"pin,omitempty"`
	SetupID string            `json:"setup_id"`
	AIDs    map[string]uint64 `json:"aids"`
	Next    uint64            `json:"next_aid"`
	Names   string            `json:"names_hash,omitempty"`
}

// idsFile is the file of ids in the bridge's directory.
const idsFile = "g90-ids.json"

// parseIDs decodes the ids file and checks what a controller would
// trip over: a setup ID of 4 characters 0-9A-Z, a pin HAP accepts (or
// none), aids unique and above the bridge's 1, next above them all.
func parseIDs(b []byte) (*ids, error) {
	var v ids
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if len(v.SetupID) != 4 || strings.Trim(v.SetupID, setupIDChars) != "" {
		return nil, fmt.Errorf("setup_id %q: want 4 characters 0-9 A-Z", v.SetupID)
	}
	if v.Pin != "" {
		if len(v.Pin) != 8 {
			return nil, errors.New("pin: want 8 digits")
		}
		if _, err := ParsePin(v.Pin); err != nil {
			return nil, fmt.Errorf("pin: %w", err)
		}
	}
	seen := map[uint64]string{}
	for k, aid := range v.AIDs {
		other, dup := seen[aid]
		switch {
		case k == "":
			return nil, fmt.Errorf("aid %d of an empty key", aid)
		case aid < 2:
			return nil, fmt.Errorf("aid %d of %q: want at least 2 (1 is the bridge)", aid, k)
		case aid >= v.Next:
			return nil, fmt.Errorf("aid %d of %q: not below next_aid %d", aid, k, v.Next)
		case dup:
			return nil, fmt.Errorf("aid %d of both %q and %q", aid, other, k)
		}
		seen[aid] = k
	}
	if v.AIDs == nil {
		v.AIDs = map[string]uint64{}
	}
	if v.Next < 2 {
		v.Next = 2
	}
	return &v, nil
}

// loadIDs reads the ids in dir, or makes new ones when there are none.
// A damaged file is an error naming it: starting afresh would give every
// accessory a new id, and the user's rooms and automations would be lost.
func loadIDs(dir string) (*ids, error) {
	path := filepath.Join(dir, idsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id, err := newSetupID()
		if err != nil {
			return nil, err
		}
		return &ids{SetupID: id, AIDs: map[string]uint64{}, Next: 2}, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := parseIDs(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (move it away to start afresh: every accessory then gets a new id)", path, err)
	}
	return v, nil
}

// save writes the ids to dir.
func (v *ids) save(dir string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, idsFile), append(b, '\n'))
}

// aid returns the accessory id of key, giving it the next one when it
// has none; fresh reports that it was given now.
func (v *ids) aid(key string) (aid uint64, fresh bool) {
	if a, ok := v.AIDs[key]; ok {
		return a, false
	}
	a := v.Next
	v.Next++
	v.AIDs[key] = a
	return a, true
}
