package cloud

import (
	"errors"
	"net"
	"os"
	"time"
)

// A polled connection has no goroutine while it waits for the panel:
// the server's poller (poll_linux.go) watches its socket, and a timer its
// deadline; a goroutine is started for each run of reads, and ends when
// the socket has nothing more to read (issue 20.4: an idle panel cost a
// goroutine's stack, 4 KiB, more than the rest of it together).
//
// One goroutine at most reads a connection at a time (pstate), so its
// messages are handled in wire order; a Handler or a log record that
// waits holds up that connection's goroutine alone, whose socket is not
// watched again meanwhile: the panel's later bytes wait in TCP (see
// conn.deliver), and other panels are read as before.

// States of a polled connection (conn.pstate).
const (
	pollIdle  = iota // waiting in the poller and for its timer
	pollBusy         // a goroutine owns it: reading, or ending it
	pollEnded        // released
)

// errAgain is the socket having nothing to read now (readRaw).
var errAgain = errors.New("cloud: nothing to read")

// startPolled hands a new connection to the poller. Serve has counted it
// in s.running; conn.end counts it out.
func (s *Server) startPolled(c *conn) {
	now := time.Now()
	c.valid.Store(now.UnixNano())
	// As in serveConn: HelloTimeout until the panel names itself.
	c.deadline = now.Add(min(s.helloWait, s.idle)).UnixNano()
	c.pmu.Lock()
	c.pstate = pollIdle
	c.timer = time.AfterFunc(min(s.helloWait, s.idle), c.expire)
	c.pmu.Unlock()
	if err := s.poll.add(c); err != nil {
		s.log.Info("cloud: connection not watched; closed", "remote", c.remote, "err", err)
		c.kill()
	}
}

// ready is called by the poller when c's socket may be read.
func (s *Server) ready(c *conn) {
	if c.take() {
		go s.readPolled(c) // counted in s.running as part of c
	}
}

// take makes the caller c's owner if c is idle (pollBusy), and stops
// its timer; false when someone else owns it or it has ended.
func (c *conn) take() bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pstate != pollIdle {
		return false
	}
	c.pstate = pollBusy
	c.timer.Stop()
	return true
}

// readPolled reads c until its socket has nothing more, handling each
// read as serveConn does, then gives c back to the poller; or ends it.
func (s *Server) readPolled(c *conn) {
	for {
		// The deadline holds while bytes keep coming: garbage that never
		// makes a valid message does not keep a place (issue 13).
		if time.Now().UnixNano() >= c.deadline {
			c.end(os.ErrDeadlineExceeded)
			return
		}
		sc, n, err := c.read()
		if n > 0 {
			keep := c.process(s.ctx, sc, sc.buf[:n])
			putScratch(sc)
			if !keep {
				c.end(nil)
				return
			}
			if c.fresh && c.named {
				c.deadline = time.Now().Add(s.idle).UnixNano()
			}
		}
		if err == errAgain {
			break
		}
		if err != nil {
			c.end(err)
			return
		}
	}
	wait := time.Until(time.Unix(0, c.deadline))
	if wait <= 0 {
		c.end(os.ErrDeadlineExceeded)
		return
	}
	c.pmu.Lock()
	if c.killed {
		c.pmu.Unlock()
		c.end(net.ErrClosed)
		return
	}
	c.pstate = pollIdle
	c.timer.Reset(wait)
	c.pmu.Unlock()
	if err := s.poll.arm(c); err != nil {
		c.kill() // closed meanwhile, which ends it; or cannot be watched
	}
}

// expire is c's timer: its deadline passed while it was idle.
func (c *conn) expire() {
	if c.take() {
		c.end(os.ErrDeadlineExceeded)
	}
}

// kill closes c from outside its own goroutine: a replaced connection,
// or Serve stopping. An idle polled connection, which the poller no
// longer watches once its socket is closed, is ended here; a busy one
// ends when its goroutine finds the socket closed.
func (c *conn) kill() {
	if !c.polled {
		c.nc.Close()
		return
	}
	c.pmu.Lock()
	c.killed = true
	idle := c.pstate == pollIdle
	if idle {
		c.pstate = pollBusy
		c.timer.Stop()
	}
	c.pmu.Unlock()
	c.nc.Close()
	if idle {
		go c.end(net.ErrClosed) // counted in s.running as part of c
	}
}

// end closes and releases a polled connection, logging why it ended
// when err is not nil, and counts it out of s.running. Its caller owns c
// (pollBusy).
func (c *conn) end(err error) {
	s := c.srv
	if err != nil {
		c.closed(err)
	}
	c.nc.Close()
	c.pmu.Lock()
	c.pstate = pollEnded
	c.timer.Stop()
	c.pmu.Unlock()
	s.poll.remove(c)
	s.release(c)
	s.running.Done()
}
