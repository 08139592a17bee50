package journal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A disk that fills up: appends fail with an error and are counted in
// Stats.Failed, and nothing crashes. The file size limit (RLIMIT_FSIZE)
// plays the full disk, in a child process so that it binds no other test.
func TestFullDisk(t *testing.T) {
	if os.Getenv("G90_JOURNAL_FULL_DISK") != "" {
		fullDiskChild()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDisk$")
	cmd.Env = append(os.Environ(), "G90_JOURNAL_FULL_DISK="+filepath.Join(dir, "journal.db"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child: %s", out)
	if !strings.Contains(string(out), "failed appends counted: ok") {
		t.Fatalf("child:\n%s", out)
	}
}

func fullDiskChild() {
	path := os.Getenv("G90_JOURNAL_FULL_DISK")
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails instead of killing
	lim := syscall.Rlimit{Cur: 256 << 10, Max: 256 << 10}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	j, err := Open(Config{Path: path})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var appendErr error
	stored := 0
	for i := range 20_000 {
		if _, appendErr = j.Append(mkEvent("GUID-A", i)); appendErr != nil {
			break
		}
		stored++
	}
	st := j.Stats()
	switch {
	case appendErr == nil:
		fmt.Println("20,000 events fit in 256 KB?")
	case st.Failed != 1 || st.Appends != uint64(stored):
		fmt.Printf("stats %+v after %d stored and %v\n", st, stored, appendErr)
	case !errors.Is(appendErr, syscall.EFBIG) && !strings.Contains(appendErr.Error(), "file too large"):
		fmt.Println("append error:", appendErr)
	default:
		fmt.Printf("stored %d, then %v; failed appends counted: ok\n", stored, appendErr)
	}
	j.Close()
}
