//go:build !unix

package daemon

import "os"

// lockFile does not lock where there is no flock (Windows): the README
// says that two daemons must not share a state_dir there.
func lockFile(*os.File) error { return nil }
