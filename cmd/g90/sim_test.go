package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/cloud"
	"github.com/g90alarm/g90/internal/testrig"
	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/internal/testrig/leaktest"
)

// g90 sim --cloud --panels 3 --vendor-cloud: three panels, with their own
// GUIDs, keep sessions with a cloud server, and a fake vendor cloud
// answers beside them; everything stops with the command.
func TestSimCloudPanels(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cloud.New(cloud.Config{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	testrig.Serve(t, srv.Serve)

	root := newRoot()
	pr, pw := io.Pipe()
	root.SetOut(io.Discard)
	root.SetErr(pw)
	root.SetArgs([]string{"sim", "--listen", "127.0.0.1:0", "--notify", "", "--cloud", ln.Addr().String(),
		"--panels", "3", "--vendor-cloud", "127.0.0.1:0"})
	stopSim := testrig.Serve(t, func(ctx context.Context) error {
		defer pw.Close()
		return root.ExecuteContext(ctx)
	})
	vendor := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "fake vendor cloud listening on tcp "); ok {
				vendor <- a
			}
		}
	}()

	eventually.NoError(t, "SIMPANEL0001 to SIMPANEL0003 connected", func() error {
		var guids []string
		for _, p := range srv.Panels() {
			guids = append(guids, p.GUID)
		}
		slices.Sort(guids)
		if strings.Join(guids, " ") != "SIMPANEL0001 SIMPANEL0002 SIMPANEL0003" {
			return fmt.Errorf("panels connected: %q", guids)
		}
		return nil
	})
	select {
	case a := <-vendor:
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatalf("the fake vendor cloud: %v", err)
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("g90 sim did not say where the fake vendor cloud listens")
	}
	if err := stopSim(); err != nil {
		t.Fatalf("g90 sim: %v", err)
	}
}
