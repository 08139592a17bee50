// Package leaktest fails a test that leaves goroutines behind.
//
//	func TestX(t *testing.T) {
//		leaktest.Check(t)
//		...
//	}
package leaktest

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Check records the goroutines running now and, when the test ends, fails
// it if others are still running after a grace period of a few seconds.
// A goroutine whose stack contains one of allow (a function's full name)
// is not counted: for a leak of a dependency's that the test knows of
// and says why.
func Check(t testing.TB, allow ...string) {
	t.Helper()
	before := ids()
	t.Cleanup(func() {
		var extra []string
		for deadline := time.Now().Add(5 * time.Second); ; {
			extra = extra[:0]
			for id, stack := range stacks() {
				if !slices.Contains(before, id) && !benign(stack) && !slices.ContainsFunc(allow, func(f string) bool { return strings.Contains(stack, f) }) {
					extra = append(extra, stack)
				}
			}
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(extra) > 0 {
			t.Errorf("leaktest: %d goroutine(s) left running:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
	})
}

// benign goroutines are other tests and the runtime's own.
func benign(stack string) bool {
	for _, s := range []string{"testing.tRunner", "testing.(*M)", "os/signal.signal_recv", "os/signal.loop"} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

func ids() []string {
	var out []string
	for id := range stacks() {
		out = append(out, id)
	}
	return out
}

func stacks() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		id := strings.Fields(head)
		if len(id) >= 2 {
			out[id[1]] = g
		}
	}
	delete(out, currentID())
	return out
}

func currentID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) >= 2 {
		return f[1]
	}
	return ""
}
