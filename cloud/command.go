package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
)

// commandSeqBase is the first sequence number of our commands (M12).
// The vendor numbers its requests from small numbers up (spec: D.5.8,
// the captures' 1 and 2); ours take the upper half, 0x8000–0xFFFF, and
// wrap within it. On a chained panel's connection, where the vendor's
// commands and ours share the panel's sequence space, ours also skip
// every sequence the vendor used in its last seqMemory commands, and a
// vendor command that reuses the sequence of ours in flight waits until
// ours is answered (cmdState.vendorCommands): so every M6 is told to
// its asker by its sequence, ours never reach the vendor, and the
// vendor's, and any M6 whose sequence is neither's, go upstream.
const commandSeqBase = 0x8000

// seqMemory is how many of its recent sequences each side remembers.
const seqMemory = 32

// seqRing remembers the last seqMemory sequences added.
type seqRing struct {
	s    [seqMemory]uint16
	used [seqMemory]bool
	next int
}

func (r *seqRing) add(seq uint16) {
	r.s[r.next], r.used[r.next] = seq, true
	r.next = (r.next + 1) % seqMemory
}

func (r *seqRing) has(seq uint16) bool {
	for i, s := range r.s {
		if r.used[i] && s == seq {
			return true
		}
	}
	return false
}

func (r *seqRing) remove(seq uint16) {
	for i, s := range r.s {
		if s == seq {
			r.used[i] = false
		}
	}
}

// cmdState is a connection's commands: one in flight at a time, so the
// sequence alone matches the answer.
type cmdState struct {
	sem  chan struct{} // capacity 1: held by the command in flight
	mu   sync.Mutex    // guards the fields below
	seq  uint16
	wait chan *cloudproto.Message // the answer, for the command with seq; nil when none waits
	gone chan struct{}            // closed when the connection ended
	done bool
	// mine are our last sequences, answered or not: an M6 with one is
	// ours (late, or to a command that wants none) and goes no further.
	// vendor are the sequences of the vendor's last commands (chained
	// mode), which ours skip.
	mine, vendor seqRing
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

// begin takes the next sequence of ours, from counter, and makes the
// command's answer come to wait; nil wait wants none.
func (cs *cmdState) begin(counter *atomic.Uint32, wait chan *cloudproto.Message) uint16 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	seq := uint16(commandSeqBase | counter.Add(1)&0x7fff)
	for cs.vendor.has(seq) { // at most seqMemory times
		seq = uint16(commandSeqBase | counter.Add(1)&0x7fff)
	}
	cs.seq, cs.wait = seq, wait
	cs.mine.add(seq)
	return seq
}

// finish ends the command in flight: a later answer is ours, late.
func (cs *cmdState) finish() {
	cs.mu.Lock()
	cs.wait = nil
	cs.mu.Unlock()
}

// answer takes an M6: to the command waiting for its sequence (waited),
// or ours without a taker (a late answer); neither means the vendor's,
// or nobody's.
func (cs *cmdState) answer(m *cloudproto.Message) (ours, waited bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.wait != nil && m.Seq() == cs.seq {
		cs.wait <- m // capacity 1, and only one answer is taken
		cs.wait = nil
		return true, true
	}
	return cs.mine.has(m.Seq()), false
}

// vendorCommands notes the sequences of the vendor's commands about to
// be relayed to the panel: ours skip them from now on, and their
// answers go upstream even where a command of ours once had the same
// sequence. It reports whether one is the sequence of ours in flight:
// then the relay holds the vendor's back until ours is done (takes
// sem), so that the panel's first answer with it is ours.
func (cs *cmdState) vendorCommands(seqs []uint16) (collides bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, seq := range seqs {
		cs.vendor.add(seq)
		collides = collides || cs.wait != nil && cs.seq == seq
		if cs.wait == nil || cs.seq != seq {
			cs.mine.remove(seq)
		}
	}
	return collides
}

// forget makes the answers with seqs the vendor's: called with the
// turn (sem) held, after vendorCommands reported a collision, so that
// no command of ours has one of them.
func (cs *cmdState) forget(seqs []uint16) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, seq := range seqs {
		cs.mine.remove(seq)
	}
}

// turn waits for the panel guid's connection and for its turn to send a
// command; the caller releases the turn with <-c.cmd.sem.
func (s *Server) turn(ctx context.Context, guid string) (*conn, error) {
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
			return nil, fmt.Errorf("%w: %s (%w)", ErrNotConnected, guid, ctx.Err())
		}
	}
	select {
	case c.cmd.sem <- struct{}{}:
		return c, nil
	case <-c.cmd.gone:
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, guid)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
// timeout. A chained panel's connection carries the vendor's commands
// too; ours are told apart by their sequence (commandSeqBase).
func (s *Server) Command(ctx context.Context, guid string, req protocol.Request) (protocol.Response, error) {
	c, err := s.turn(ctx, guid)
	if err != nil {
		return protocol.Response{}, err
	}
	cs := c.cmd
	defer func() { <-cs.sem }()
	wait := make(chan *cloudproto.Message, 1)
	seq := cs.begin(&s.cmdSeq, wait)
	defer cs.finish()
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

// Send sends req, a command the panel does not answer (a system command
// such as a reboot, spec: local-protocol.md 5), to the panel guid over
// its connection, once. It returns once the command is written: TCP
// delivers it or the connection ends. An M6 that answers it all the
// same goes no further.
func (s *Server) Send(ctx context.Context, guid string, req protocol.Request) error {
	c, err := s.turn(ctx, guid)
	if err != nil {
		return err
	}
	defer func() { <-c.cmd.sem }()
	seq := c.cmd.begin(&s.cmdSeq, nil)
	m := cloudproto.CommandOf(seq, req)
	if err := c.write(m.Append(nil)); err != nil {
		return fmt.Errorf("cloud: panel %s: command %v not sent: %w", guid, req.Code, err)
	}
	s.stats.commands.Add(1)
	return nil
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

// Send carries a command without a reply (client.Sender).
func (c carrier) Send(ctx context.Context, req protocol.Request) error {
	return c.s.Send(ctx, c.guid, req)
}

func (carrier) Name() string { return "cloud" }

// Reachable reports whether the panel is connected now (client.Reacher).
func (c carrier) Reachable() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.byGUID[c.guid] != nil
}
