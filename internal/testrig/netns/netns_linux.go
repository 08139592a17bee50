//go:build linux

// Package netns runs a test in a network namespace of its own, where
// only its own loopback exists: for servers that touch every interface
// of the machine (the HomeKit bridge's mDNS responder joins the
// multicast group on each), so that a test talks to nothing but itself.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"
)

// envInside marks the test process that runs inside the namespace.
const envInside = "G90_TEST_NETNS"

// Run runs test t in a new network namespace and reports whether the
// caller is inside it: there, loopback is up and the test goes on; in
// the parent, Run has re-run the test binary with only t selected inside
// a namespace, copied its output, failed t if it failed, and the caller
// returns. required makes a namespace that cannot be created a failure
// instead of a skip.
func Run(t *testing.T, required bool) (inside bool) {
	t.Helper()
	if os.Getenv(envInside) == t.Name() {
		if err := loopbackUp(); err != nil {
			t.Fatalf("netns: bring lo up: %v", err)
		}
		return true
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	var lastErr error
	for _, flags := range cloneFlags() {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), envInside+"="+t.Name())
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
		if flags&syscall.CLONE_NEWUSER != 0 {
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err == nil || errors.As(err, &exit) {
			t.Logf("in a network namespace of its own:\n%s", out)
			if err != nil {
				t.Fatalf("the test failed in its namespace: %v", err)
			}
			return false
		}
		lastErr = err // the namespace could not be made: try the next way
	}
	if required {
		t.Fatalf("cannot create a network namespace (needs root or unprivileged user namespaces): %v", lastErr)
	}
	t.Skipf("cannot create a network namespace (needs root or unprivileged user namespaces): %v", lastErr)
	return false
}

// cloneFlags are the ways to try: a network namespace alone (root),
// then inside a user namespace (unprivileged).
func cloneFlags() []uintptr {
	if os.Geteuid() == 0 {
		return []uintptr{syscall.CLONE_NEWNET, syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET}
	}
	return []uintptr{syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET}
}

// loopbackUp sets lo up: a new namespace has it down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var req struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], "lo")
	if err := ioctl(fd, syscall.SIOCGIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	req.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if err := ioctl(fd, syscall.SIOCSIFFLAGS, unsafe.Pointer(&req)); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
