//go:build linux

package cloud

import (
	"cmp"
	"os"
	"sync"
	"syscall"
)

// poller watches the sockets of idle connections with one epoll
// instance, beside the runtime's own: each socket is armed once
// (EPOLLONESHOT) and reported to one goroutine, run, which starts a
// reader for it (Server.ready); the reader arms it again when it has
// read everything. Level-triggered, so bytes that came while it was
// disarmed are reported at once.
type poller struct {
	epfd int
	wake [2]int // a pipe: a byte written to wake[1] stops run

	mu   sync.Mutex
	byID map[uint64]*conn // by conn.seq, which epoll carries
}

const armed = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd, byID: map[uint64]*conn{}}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0: the wake pipe; conn.seq starts at 1
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func armEvent(id uint64) syscall.EpollEvent {
	return syscall.EpollEvent{Events: armed, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

func eventID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add watches c's socket, armed.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	p.byID[c.seq] = c
	p.mu.Unlock()
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD); err != nil {
		p.remove(c)
		return err
	}
	return nil
}

// arm has the poller report c's socket once more.
func (p *poller) arm(c *conn) error { return p.ctl(c, syscall.EPOLL_CTL_MOD) }

func (p *poller) ctl(c *conn, op int) error {
	var err error
	// Within Control the descriptor cannot be closed and reused.
	cerr := c.raw.Control(func(fd uintptr) {
		ev := armEvent(c.seq)
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	return cmp.Or(cerr, err)
}

// remove forgets c; its socket, closed, has left the epoll set.
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	delete(p.byID, c.seq)
	p.mu.Unlock()
}

// run reports each socket that may be read to ready, until stop.
func (p *poller) run(ready func(*conn)) error {
	evs := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("epoll_wait", err)
		}
		for i := range evs[:n] {
			id := eventID(&evs[i])
			if id == 0 {
				return nil
			}
			p.mu.Lock()
			c := p.byID[id]
			p.mu.Unlock()
			if c != nil {
				ready(c)
			}
		}
	}
}

// stop ends run.
func (p *poller) stop() { syscall.Write(p.wake[1], []byte{0}) }

// close frees the poller, after run returned.
func (p *poller) close() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}
