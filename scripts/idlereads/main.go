// Command idlereads counts the requests `g90 serve` sends to an idle
// panel (issue 16.3): it runs `g90 sim` and `g90 serve` (the binary given
// with -g90) on loopback with a UDP relay between them that counts every
// request by command code, waits -for, and prints the counts scaled to
// one hour. It uses only the binaries' command lines, so the same program
// measures any version:
//
//	go build -o /tmp/g90 ./cmd/g90 && go run ./scripts/idlereads -g90 /tmp/g90 -for 10m
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("g90", "g90", "the g90 binary")
	dur := flag.Duration("for", 10*time.Minute, "how long to count")
	flag.Parse()
	if err := run(*bin, *dur); err != nil {
		log.Fatal(err)
	}
}

func run(bin string, dur time.Duration) error {
	dir, err := os.MkdirTemp("", "idlereads")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	simAddr, relayAddr, notifyAddr := free(), free(), free()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := exec.CommandContext(ctx, bin, "sim", "--listen", simAddr, "--notify", notifyAddr)
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		return err
	}
	defer func() { _ = sim.Wait() }()

	counts, total, stop, err := relay(relayAddr, simAddr)
	if err != nil {
		return err
	}
	defer stop()

	_, port, _ := net.SplitHostPort(relayAddr)
	cfg := fmt.Sprintf(`state_dir: %s
mqtt:
  listen: %s
web:
  listen: %s
panels:
  - name: idle
    host: 127.0.0.1
    port: %s
    notify_listen: %s
`, filepath.Join(dir, "state"), free(), free(), port, notifyAddr)
	path := filepath.Join(dir, "g90.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	serve := exec.CommandContext(ctx, bin, "serve", "--config", path)
	var logs bytes.Buffer
	serve.Stderr, serve.Stdout = &logs, &logs
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() { _ = serve.Wait() }()
	// Skip the start: it reads everything once, whatever the version.
	time.Sleep(20 * time.Second)
	before := snapshot(counts)
	t0 := time.Now()
	time.Sleep(dur)
	after := snapshot(counts)
	took := time.Since(t0)
	cancel()

	per := float64(time.Hour) / float64(took)
	codes := make([]int, 0, len(after))
	for c := range after {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	sum := 0
	fmt.Printf("requests to an idle panel, per hour (measured over %v after a 20 s start):\n", took.Round(time.Second))
	for _, c := range codes {
		n := after[c] - before[c]
		sum += n
		fmt.Printf("  command %3d: %6.0f\n", c, float64(n)*per)
	}
	fmt.Printf("  all:         %6.0f (datagrams relayed in all: %d)\n", float64(sum)*per, total())
	return nil
}

// free returns a loopback address with a port free now.
func free() string {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// code reads the command code of a request ISTART[code,code,…]IEND.
var code = regexp.MustCompile(`^ISTART\[(\d+),`)

// relay forwards datagrams from clients at listen to the panel at panel,
// and the panel's replies back, counting the requests by command code.
func relay(listen, panel string) (counts *sync.Map, total func() int, stop func(), err error) {
	pc, err := net.ListenPacket("udp4", listen)
	if err != nil {
		return nil, nil, nil, err
	}
	counts = &sync.Map{}
	var mu sync.Mutex
	all := 0
	var wg sync.WaitGroup
	up, _ := net.ResolveUDPAddr("udp4", panel)
	wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			all++
			mu.Unlock()
			if m := code.FindSubmatch(buf[:n]); m != nil {
				c, _ := strconv.Atoi(string(m[1]))
				v, _ := counts.LoadOrStore(c, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
			// One upstream socket per request, as a fresh client socket:
			// the reply goes back to the requester.
			out, err := net.DialUDP("udp4", nil, up)
			if err != nil {
				continue
			}
			req := append([]byte(nil), buf[:n]...)
			wg.Go(func() {
				defer out.Close()
				if _, err := out.Write(req); err != nil {
					return
				}
				rb := make([]byte, 65536)
				for {
					_ = out.SetReadDeadline(time.Now().Add(3 * time.Second))
					k, err := out.Read(rb)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo(rb[:k], from)
				}
			})
		}
	})
	total = func() int { mu.Lock(); defer mu.Unlock(); return all }
	return counts, total, func() { pc.Close(); wg.Wait() }, nil
}

func snapshot(m *sync.Map) map[int]int {
	out := map[int]int{}
	m.Range(func(k, v any) bool {
		out[k.(int)] = int(v.(*atomic.Int64).Load())
		return true
	})
	return out
}
