//go:build linux

package sockopt

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortUsers returns the processes with a UDP socket on local port port,
// in this network namespace: the sockets' inodes from /proc/net/udp and
// udp6, then the processes whose /proc/PID/fd link to them. A process
// whose descriptors we may not read (another user's, without root) is
// missing. It reads every process's descriptors: call it on an error
// path only.
func PortUsers(port int) []Process {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		portInodes(f, port, inodes)
	}
	if len(inodes) == 0 {
		return nil
	}
	var users []Process
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				users = append(users, Process{PID: pid, Command: command(pid)})
				break
			}
		}
	}
	return users
}

// portInodes adds the inodes of the sockets in a /proc/net/udp table
// bound to local port port.
func portInodes(file string, port int, inodes map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan() // the header
	for s.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(s.Text())
		if len(fields) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
			inodes[fields[9]] = true
		}
	}
}

// command is a process's command line, shortened to 80 bytes.
func command(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	}
	c := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(c) > 80 {
		c = c[:77] + "..."
	}
	return c
}
