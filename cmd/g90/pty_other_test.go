//go:build !linux

package main

import (
	"os"
	"testing"
)

// openPTY needs Linux's /dev/ptmx ioctls; elsewhere the terminal tests
// skip, and the status line is still tested through an injected writer.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Skip("pseudo-terminal tests run on Linux only")
	return nil, nil
}
