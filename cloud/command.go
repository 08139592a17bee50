package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/g90alarm/g90/client"
	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/protocol"
)

// Errors of Server.Command.
var (
	// ErrNotConnected: no connection speaks for the panel now.
	ErrNotConnected = errors.New("cloud: panel not connected")
	// ErrDisconnected: the connection ended before the panel answered.
	// The panel may have carried the command out.
	ErrDisconnected = errors.New("cloud: panel disconnected before it answered")
	// ErrChained: the panel is relayed to the vendor's cloud, whose own
	// commands share its connection; ours are not sent there yet.
	ErrChained = errors.New("cloud: commands to a chained panel are not supported")
)

// commandSeqBase is the first sequence number of our commands (M12).
// The vendor numbers its requests from small numbers up (spec: D.5.8,
// the captures' 1 and 2); ours take the upper half, 0x8000–0xFFFF, and
// wrap within it.
const commandSeqBase = 0x8000

// cmdState is a connection's command in flight: one at a time, so the
// sequence alone matches the answer.
type cmdState struct {
	sem  chan struct{} // capacity 1: held by the command in flight
	mu   sync.Mutex    // guards the fields below
	seq  uint16
	wait chan *cloudproto.Message // the answer, for the command with seq; nil when none waits
	gone chan struct{}            // closed when the connection ended
	done bool
}

func newCmdState() *cmdState {
	return &cmdState{sem: make(chan struct{}, 1), gone: make(chan struct{})}
}

// ended is called once the connection is released: a command waiting
// gets ErrDisconnected.
func (cs *cmdState) ended() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !cs.done {
		cs.done = true
		close(cs.gone)
	}
}

// answer hands an M6 to the command waiting for its sequence and
// reports whether one was.
func (cs *cmdState) answer(m *cloudproto.Message) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.wait == nil || m.Seq() != cs.seq {
		return false
	}
	cs.wait <- m // capacity 1, and only one answer is taken
	cs.wait = nil
	return true
}

// Command sends req to the panel guid over its connection, as the
// vendor's cloud does (an M12), and returns the panel's reply from the
// M6 that answers it (spec: notifications-and-cloud.md D.5.8, D.5.9). A
// panel not connected is waited for until ctx ends (ErrNotConnected).
// The body of request and reply is the local protocol's, checked by its
// codec. Commands to one panel are serialised; ctx bounds the wait for
// the turn and for the answer. Command never sends a command twice: the
// TCP connection does not lose it, and a panel that got it may have
// carried it out, so the caller decides after ErrDisconnected or a
// timeout.
func (s *Server) Command(ctx context.Context, guid string, req protocol.Request) (protocol.Response, error) {
	// A panel not connected yet (it reconnects, or the server has just
	// started) is waited for within ctx, as UDP waits for a reply.
	var c *conn
	for {
		s.mu.Lock()
		c = s.byGUID[guid]
		claimed := s.claimed
		s.mu.Unlock()
		if c != nil {
			break
		}
		select {
		case <-claimed:
		case <-ctx.Done():
			return protocol.Response{}, fmt.Errorf("%w: %s (%w)", ErrNotConnected, guid, ctx.Err())
		}
	}
	if c.relay != nil {
		return protocol.Response{}, fmt.Errorf("%w: %s", ErrChained, guid)
	}
	cs := c.cmd
	select {
	case cs.sem <- struct{}{}:
	case <-cs.gone:
		return protocol.Response{}, fmt.Errorf("%w: %s", ErrNotConnected, guid)
	case <-ctx.Done():
		return protocol.Response{}, ctx.Err()
	}
	defer func() { <-cs.sem }()

	seq := uint16(commandSeqBase | s.cmdSeq.Add(1)&0x7fff)
	wait := make(chan *cloudproto.Message, 1)
	cs.mu.Lock()
	cs.seq, cs.wait = seq, wait
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		cs.wait = nil
		cs.mu.Unlock()
	}()
	m := cloudproto.CommandOf(seq, req)
	if err := c.write(m.Append(nil)); err != nil {
		return protocol.Response{}, fmt.Errorf("cloud: panel %s: command %v not sent: %w", guid, req.Code, err)
	}
	s.stats.commands.Add(1)
	select {
	case a := <-wait:
		resp, err := a.Reply()
		if err != nil {
			return protocol.Response{}, fmt.Errorf("cloud: panel %s: command %v: %w", guid, req.Code, err)
		}
		return resp, nil
	case <-cs.gone:
		return protocol.Response{}, fmt.Errorf("%w: %s, command %v", ErrDisconnected, guid, req.Code)
	case <-ctx.Done():
		s.stats.commandTimeouts.Add(1)
		return protocol.Response{}, fmt.Errorf("cloud: panel %s: command %v: %w", guid, req.Code, ctx.Err())
	}
}

// Carrier returns the way to the panel guid over its connection, for
// client.Config.Carrier (and g90.Config.Carrier): each request is a
// Command.
func (s *Server) Carrier(guid string) client.Carrier { return carrier{s, guid} }

type carrier struct {
	s    *Server
	guid string
}

func (c carrier) Exchange(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	return c.s.Command(ctx, c.guid, req)
}

func (carrier) Name() string { return "cloud" }

// Reachable reports whether the panel is connected now (client.Reacher).
func (c carrier) Reachable() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.byGUID[c.guid] != nil
}
