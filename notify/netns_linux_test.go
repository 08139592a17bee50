//go:build linux

package notify

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
)

// requireNetns skips a test that needs root and ip(8) when it cannot have
// them, unless G90_REQUIRE_NETNS=1 (CI) says it must run.
func requireNetns(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "no ip(8) (Debian: apt-get install iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("G90_REQUIRE_NETNS") == "1" {
		t.Fatalf("G90_REQUIRE_NETNS=1 but network namespaces are not available: %s", why)
	}
	t.Skip("network namespaces: " + why)
}

// ipCmd runs ip(8) and fails the test on an error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns creates a network namespace with lo up, deleted when the test
// ends, whatever happens.
func newNetns(t *testing.T, name string) string {
	t.Helper()
	_ = exec.Command("ip", "netns", "del", name).Run() // left by a killed run
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// sendFrom sends a sensor-activity notification for sensor name from
// local address from to every destination, inside namespace ns: the test
// binary again, under ip netns exec.
func sendFrom(ns, from string, to []string, name string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestListenerInterfaceNetns$", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsRole+"=send", "G90_NETNS_FROM="+from, "G90_NETNS_TO="+strings.Join(to, ","), "G90_NETNS_NAME="+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("send from %s in %s: %v\n%s", from, ns, err, out)
	}
	return nil
}

// netnsSend is the sender's part, run inside its namespace.
func netnsSend(t *testing.T) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(os.Getenv("G90_NETNS_FROM")), 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := fmt.Appendf(nil, "[170,[5,[1,%q]]]\x00", os.Getenv("G90_NETNS_NAME"))
	for _, d := range strings.Split(os.Getenv("G90_NETNS_TO"), ",") {
		if _, err := c.WriteToUDPAddrPort(b, netip.MustParseAddrPort(d)); err != nil {
			t.Fatalf("to %s: %v", d, err)
		}
	}
}

// The test network of TestListenerInterfaceNetns:
//
//	panel ns  p0 10.10.10.250/24 ── l0 10.10.10.1/24  listener ns
//	attacker  a0 10.20.20.66/24  ── l1 10.20.20.1/24  (rp_filter 0)
//	ns           10.10.10.250/32 (forged)
const (
	netnsPanel    = "10.10.10.250"
	netnsAttacker = "10.20.20.66"
	netnsRole     = "G90_NETNS_ROLE"
)

// Over real interfaces in network namespaces: the panel's datagrams
// (broadcast and unicast) are accepted; datagrams forging the panel's
// address that arrive on the other interface are rejected and counted as
// WrongInterface, with the last one's source and interface kept; and a
// listener that checks the address only — the negative control, what
// g90 did before — accepts them. The listener namespace has rp_filter
// off, so that the kernel's reverse-path filter, which would drop the
// forged datagrams by itself in strict mode, does not do the job for us
// (many systems run it loose or off).
func TestListenerInterfaceNetns(t *testing.T) {
	switch os.Getenv(netnsRole) {
	case "listener":
		netnsListener(t)
		return
	case "send":
		netnsSend(t)
		return
	}
	requireNetns(t)
	id := fmt.Sprint(os.Getpid())
	nsL, nsP, nsA := newNetns(t, "g90l"+id), newNetns(t, "g90p"+id), newNetns(t, "g90a"+id)
	ipCmd(t, "-n", nsL, "link", "add", "l0", "type", "veth", "peer", "name", "p0", "netns", nsP)
	ipCmd(t, "-n", nsL, "link", "add", "l1", "type", "veth", "peer", "name", "a0", "netns", nsA)
	ipCmd(t, "-n", nsL, "addr", "add", "10.10.10.1/24", "dev", "l0")
	ipCmd(t, "-n", nsL, "addr", "add", "10.20.20.1/24", "dev", "l1")
	ipCmd(t, "-n", nsP, "addr", "add", netnsPanel+"/24", "dev", "p0")
	ipCmd(t, "-n", nsA, "addr", "add", netnsAttacker+"/24", "dev", "a0")
	ipCmd(t, "-n", nsA, "addr", "add", netnsPanel+"/32", "dev", "a0")
	for _, l := range [][2]string{{nsL, "l0"}, {nsL, "l1"}, {nsP, "p0"}, {nsA, "a0"}} {
		ipCmd(t, "-n", l[0], "link", "set", l[1], "up")
	}
	ipCmd(t, "netns", "exec", nsL, "sh", "-c", "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done")

	// The listener runs in its namespace as a whole process, so that its
	// route and interface lookups see that namespace.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", nsL, os.Args[0], "-test.run=^TestListenerInterfaceNetns$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsRole+"=listener")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var log strings.Builder
	ready := false
	for !ready && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		ready = lines.Text() == "G90-READY"
	}
	if ready {
		checked, control := "10.10.10.1:12901", "10.10.10.1:12902"
		send := func(ns, from, name string, to ...string) {
			t.Helper()
			if err := sendFrom(ns, from, to, name); err != nil {
				t.Error(err)
			}
		}
		for range 2 {
			send(nsP, netnsPanel, "Panel", "255.255.255.255:12901", "255.255.255.255:12902", checked, control)
			send(nsA, netnsPanel, "Forged", "255.255.255.255:12901", "255.255.255.255:12902", "10.20.20.1:12901", "10.20.20.1:12902")
		}
		send(nsA, netnsAttacker, "Stranger", "255.255.255.255:12901", "255.255.255.255:12902")
	}
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
	}
	err = cmd.Wait()
	t.Logf("listener in %s:\n%s", nsL, log.String())
	if err != nil || !ready || !strings.Contains(log.String(), "\nPASS\n") {
		t.Fatalf("the listener in the namespace failed (ready %v): %v", ready, err)
	}
}

// netnsListener is the listener's part, run inside its namespace.
func netnsListener(t *testing.T) {
	host := netip.MustParseAddr(netnsPanel)
	checked, csink := runListenerOn(t, "0.0.0.0:12901", host)
	// The negative control: the address filter only.
	control, xsink := runListenerOn(t, "0.0.0.0:12902", host, func(l *Listener) { l.udp = nil })
	if checked.udp == nil {
		t.Fatal("the interface check is off")
	}
	if st := checked.Stats(); st.Interface != "l0" {
		t.Fatalf("the route to the panel leaves by %q, want l0", st.Interface)
	}
	fmt.Println("G90-READY")

	eventually.NoError(t, "9 datagrams at each listener", func() error {
		c, x := checked.Stats(), control.Stats()
		if c.Messages+c.WrongInterface+c.WrongHost != 9 || x.Messages+x.WrongHost != 9 {
			return fmt.Errorf("checked %+v, control %+v", c, x)
		}
		return nil
	})
	names := func(s *chanSink) map[string]int {
		n := map[string]int{}
		for len(s.msgs) > 0 {
			m := <-s.msgs
			n[m.Notification.Name]++
		}
		return n
	}
	c, x := checked.Stats(), control.Stats()
	t.Logf("checked %+v", c)
	t.Logf("control %+v", x)
	if got := names(csink); c.Messages != 4 || c.WrongInterface != 4 || c.WrongHost != 1 || len(got) != 1 || got["Panel"] != 4 {
		t.Errorf("checked listener: %+v, messages %v; want the panel's 4 (2 broadcast, 2 unicast), 4 forged on the wrong interface, 1 stranger", c, got)
	}
	if got := names(xsink); x.Messages != 8 || x.WrongHost != 1 || got["Panel"] != 4 || got["Forged"] != 4 {
		t.Errorf("control: %+v, messages %v; want the 4 forged datagrams accepted with the panel's 4: else this test proves nothing", x, got)
	}
	if r := c.LastWrongInterface; r.From.Addr() != host || r.Interface != "l1" || r.Time.IsZero() {
		t.Errorf("LastWrongInterface %+v: want the panel's address on l1", r)
	}
	if r := c.LastWrongHost; r.From.Addr() != netip.MustParseAddr(netnsAttacker) || r.Interface != "l1" {
		t.Errorf("LastWrongHost %+v: want %s on l1", r, netnsAttacker)
	}
}
