package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
	"github.com/g90alarm/g90/internal/testrig/lockedbuf"
)

// g90 serve: starts from the config file, prints where it listens,
// reloads on SIGHUP, stops when its context ends; a missing --config and
// a bad config file are errors naming what is wrong.
func TestServeCommand(t *testing.T) {
	leaktest.Check(t)
	s := startSim(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "g90.yaml")
	yaml := fmt.Sprintf("mqtt:\n  listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nstate_dir: %s\npanels:\n  - host: 127.0.0.1\n    port: %d\n    notifications: none\n",
		dir, s.Addr().(*net.UDPAddr).Port)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	root := newRoot()
	var out lockedbuf.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"serve", "--config", file})
	stop := testrig.Serve(t, root.ExecuteContext)
	waitOutput := func(what string, n int) {
		t.Helper()
		eventually.NoError(t, fmt.Sprintf("%q %d time(s) in the output", what, n), func() error {
			if o := out.String(); strings.Count(o, what) < n {
				return fmt.Errorf("output:\n%s", o)
			}
			return nil
		})
	}
	waitOutput("g90 serve: 1 panel(s)", 1)
	for _, want := range []string{"g90 serve starting", "version=", "(embedded broker)", "web UI   http://127.0.0.1:", "metrics  http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitOutput("reload: restarting with the new config", 1)
	waitOutput("g90 serve: 1 panel(s)", 2)
	if err := stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, out.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--config FILE is required"},
		{[]string{"serve", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml: no such file"},
	} {
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tc.args)
		if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("g90 %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// g90 serve --check validates without opening a socket: a config whose
// addresses are all taken passes, and a wrong key fails naming file, line
// and key.
func TestServeCheck(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	good := filepath.Join(dir, "good.yaml")
	yaml := fmt.Sprintf("mqtt:\n  listen: %s\nweb:\n  listen: %s\nstate_dir: %s\npanels:\n  - host: 127.0.0.1\n    notify_listen: %s\n",
		taken.Addr(), taken.Addr(), filepath.Join(dir, "state"), udp.LocalAddr())
	bad := filepath.Join(dir, "bad.yaml")
	for f, text := range map[string]string{good: yaml, bad: "panels:\n  - host: 127.0.0.1\n    notifications: carrier-pigeon\n"} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		file, want string
		ok         bool
	}{
		{good, "good.yaml: valid (1 panel(s))", true},
		{bad, "bad.yaml:3: panels[0].notifications", false},
	} {
		root := newRoot()
		var out lockedbuf.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"serve", "--check", "--config", tc.file})
		err := root.ExecuteContext(context.Background())
		switch {
		case tc.ok && err != nil:
			t.Errorf("serve --check %s: %v", tc.file, err)
		case tc.ok && !strings.Contains(out.String(), tc.want):
			t.Errorf("serve --check %s printed %q, want %q", tc.file, out.String(), tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("serve --check %s: %v, want an error with %q", tc.file, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("serve --check created state_dir (%v); it must change nothing", err)
	}
}
