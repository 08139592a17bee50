//go:build !linux

package netns

import "testing"

// Run skips the test (or fails it when required): network namespaces
// are Linux's.
func Run(t *testing.T, required bool) (inside bool) {
	t.Helper()
	if required {
		t.Fatal("network namespaces need Linux")
	}
	t.Skip("network namespaces need Linux")
	return false
}
