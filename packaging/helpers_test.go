package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// root is the repository, the parent of this package's directory (go
// test runs in the package's directory).
var root = func() string {
	d, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return d
}()

// requireTool returns the path of the first of names found (in PATH, or
// as an absolute path). Without one, it fails the test when the
// environment variable env is set (as .ci/run sets it) and skips it
// otherwise; install says how to get it.
func requireTool(t *testing.T, env, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv(env) != "" {
		t.Fatalf("%s not found, and %s is set (%s; .ci/run does)", names[0], env, install)
	}
	t.Skipf("%s not found (%s to run this test; .ci/run does)", names[0], install)
	return ""
}

var host struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// hostG90 builds cmd/g90 for this machine once for all tests of the
// package and returns the binary's path.
func hostG90(t *testing.T) string {
	t.Helper()
	host.once.Do(func() {
		host.dir, host.err = os.MkdirTemp("", "g90-packaging-")
		if host.err != nil {
			return
		}
		host.bin = filepath.Join(host.dir, "g90")
		cmd := exec.Command("go", "build", "-o", host.bin, "./cmd/g90")
		cmd.Dir = root
		host.out, host.err = cmd.CombinedOutput()
	})
	if host.err != nil {
		t.Fatalf("go build ./cmd/g90: %v\n%s", host.err, host.out)
	}
	return host.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if host.dir != "" {
		os.RemoveAll(host.dir)
	}
	os.Exit(code)
}
