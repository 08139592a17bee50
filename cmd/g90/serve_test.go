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
	"time"

	"github.com/g90alarm/g90/internal/leaktest"
	"github.com/g90alarm/g90/internal/lockedbuf"
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	waitOutput := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(out.String(), what) < n {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("no %q in:\n%s", what, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOutput("g90 serve: 1 panel(s)", 1)
	for _, want := range []string{"(embedded broker)", "web UI   http://127.0.0.1:", "metrics  http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitOutput("reload: restarting with the new config", 1)
	waitOutput("g90 serve: 1 panel(s)", 2)
	cancel()
	if err := <-done; err != nil {
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
