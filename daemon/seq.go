package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/g90alarm/g90/internal/atomicfile"
)

// seqBlock is how many event numbers seqFile reserves with one write.
const seqBlock = 1000

// seqSkip is how far the numbers jump past the journal's when seq.json
// was lost or damaged: beyond anything the last run can have handed out
// that the journal did not store (its queue holds 16,384).
const seqSkip = 100_000

// seqFile numbers the events of every panel for the Monitors
// (g90.MonitorConfig.NextSeq, event.Event.Seq), in one place, so that
// the journal, MQTT and the web UI show the same number (issue 13.11),
// and keeps the numbers in state_dir/seq.json, so that they go on
// across restarts and no number is used twice. It reserves numbers in
// blocks: before it hands out a number beyond the last reservation, the
// file records the end of a new block, synced. A crash can leave at most
// a block's rest unused (a gap) and never repeats a number; close
// records the numbers handed out, so a clean restart leaves no gap.
type seqFile struct {
	path string
	log  *slog.Logger

	mu       sync.Mutex
	last     map[string]uint64 // handed out, per panel GUID
	reserved map[string]uint64 // recorded in the file
	failures uint64            // writes that failed
}

// seqDoc is seq.json.
type seqDoc struct {
	// Panels maps a panel's GUID ("" before it is known) to the highest
	// number handed out or reserved.
	Panels map[string]uint64 `json:"panels"`
}

// parseSeq reads seq.json's content.
func parseSeq(b []byte) (map[string]uint64, error) {
	var d seqDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if d.Panels == nil {
		return nil, errors.New(`no "panels" object`)
	}
	return d.Panels, nil
}

// openSeqFile reads path, or starts it. floor holds each panel's last
// number in the journal: the numbers go on after the greater of the two.
// A damaged file is moved aside and logged, and the numbers jump by
// seqSkip past the journal's, so that none the lost file covered is used
// again.
func openSeqFile(path string, floor map[string]uint64, log *slog.Logger) (*seqFile, error) {
	f := &seqFile{path: path, log: log, last: map[string]uint64{}, reserved: map[string]uint64{}}
	skip := uint64(0)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A first start, or one from before seq.json: the journal's
		// numbers are the ones used.
	case err != nil:
		return nil, fmt.Errorf("event numbers: %w", err)
	default:
		got, perr := parseSeq(b)
		if perr != nil {
			aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405Z"))
			if rerr := os.Rename(path, aside); rerr != nil {
				return nil, fmt.Errorf("event numbers: %s is damaged (%v) and cannot be moved aside: %w", path, perr, rerr)
			}
			log.Error("event numbers: the file is damaged; moved aside, numbering on past the journal's", "path", path, "err", perr, "moved_to", aside, "skip", seqSkip)
			skip = seqSkip
		}
		for g, n := range got {
			f.last[g] = n
		}
	}
	for g, n := range floor {
		f.last[g] = max(f.last[g], n+skip)
	}
	maps.Copy(f.reserved, f.last)
	return f, nil
}

// next returns the next number of the panel guid.
func (f *seqFile) next(guid string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.last[guid] + 1
	if n > f.reserved[guid] {
		f.reserved[guid] = n + seqBlock - 1
		if err := f.write(f.reserved); err != nil {
			// The numbers still go on in memory; a crash before the
			// next good write could repeat some.
			if f.failures++; isPowerOfTwo(f.failures) {
				f.log.Error("event numbers: cannot record a reservation; a crash now could number events twice", "path", f.path, "err", err, "failures", f.failures)
			}
		}
	}
	f.last[guid] = n
	return n
}

// close records the numbers handed out, so that the next run goes on
// without a gap.
func (f *seqFile) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if maps.Equal(f.last, f.reserved) {
		return nil
	}
	if err := f.write(f.last); err != nil {
		return fmt.Errorf("event numbers: %w", err)
	}
	maps.Copy(f.reserved, f.last)
	return nil
}

// write replaces the file with panels, synced.
func (f *seqFile) write(panels map[string]uint64) error {
	b, err := json.Marshal(seqDoc{Panels: panels})
	if err != nil {
		return err
	}
	return atomicfile.Write(f.path, append(b, '\n'))
}

func isPowerOfTwo(n uint64) bool { return n&(n-1) == 0 && n != 0 }
