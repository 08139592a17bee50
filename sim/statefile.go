package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/g90alarm/g90/internal/atomicfile"
)

// loadStateFile reads the state file at path. A missing file, or an empty
// path, is not an error: loaded is false.
func loadStateFile(path string) (st State, loaded bool, err error) {
	if path == "" {
		return State{}, false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("sim: read state file: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("sim: state file %s: %w", path, err)
	}
	if err := st.normalize(); err != nil {
		return State{}, false, fmt.Errorf("sim: state file %s: %w", path, err)
	}
	return st, true, nil
}

// save writes the state file, if there is one, atomically: a temporary
// file in the same directory renamed over the old one. Failures are
// logged, because the command that changed the state has no way to
// report them, and returned.
func (p *Panel) save() error {
	if p.stateFile == "" {
		return nil
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	// The snapshot is taken under saveMu, so the last write is the newest.
	b, err := json.MarshalIndent(p.Snapshot(), "", "  ")
	if err == nil {
		err = atomicfile.Write(p.stateFile, append(b, '\n'))
	}
	if err != nil {
		err = fmt.Errorf("sim: save state file %s: %w", p.stateFile, err)
		p.logger.Error("sim: state not saved", "err", err)
	}
	return err
}
