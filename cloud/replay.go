package cloud

// replayBuf is the bounded, ordered replay buffer of one panel in
// chained mode: the status changes and notifications it sent while the
// upstream was unreachable, oldest first, waiting to be relayed when the
// upstream is back (see relay.buffer).
type replayBuf struct {
	msgs [][]byte
	head int // msgs[:head] are gone
}

func (b *replayBuf) len() int { return len(b.msgs) - b.head }

// push appends m, dropping the oldest when the buffer holds bound; it
// returns the number dropped (0 or 1).
func (b *replayBuf) push(m []byte, bound int) int {
	dropped := 0
	if b.len() >= bound {
		b.msgs[b.head] = nil
		b.head++
		dropped = 1
	}
	if b.head > 0 && b.head >= len(b.msgs)/2 {
		n := copy(b.msgs, b.msgs[b.head:])
		clear(b.msgs[n:])
		b.msgs, b.head = b.msgs[:n], 0
	}
	b.msgs = append(b.msgs, m)
	return dropped
}

// prepend puts ms, which are older than everything held, in front, then
// drops the oldest beyond bound; it returns the number dropped.
func (b *replayBuf) prepend(ms [][]byte, bound int) int {
	all := append(append([][]byte(nil), ms...), b.msgs[b.head:]...)
	dropped := max(len(all)-bound, 0)
	b.msgs, b.head = all[dropped:], 0
	return dropped
}

// take returns the messages held, oldest first, and empties the buffer.
func (b *replayBuf) take() [][]byte {
	ms := b.msgs[b.head:]
	b.msgs, b.head = nil, 0
	return ms
}

// park keeps b for the panel guid's next connection, after what is
// parked for it already. At most maxConns panels have one: beyond, one
// is discarded.
func (s *Server) park(guid string, b *replayBuf) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.parked[guid]; p != nil {
		msgs := b.take()
		n := 0
		for _, m := range msgs {
			n += p.push(m, s.replayMax)
		}
		if n > 0 {
			s.stats.replayDropped.Add(int64(n))
			s.stats.replayPending.Add(-int64(n))
			s.log.Warn("cloud: replay buffer full; oldest messages dropped", "guid", guid, "dropped", n, "bound", s.replayMax)
		}
		return
	}
	if len(s.parked) >= max(s.maxConns, 1) {
		for g, p := range s.parked {
			n := int64(p.len())
			s.stats.replayLost.Add(n)
			s.stats.replayPending.Add(-n)
			s.log.Warn("cloud: too many panels with messages kept for the upstream; discarded one's", "guid", g, "messages", n)
			delete(s.parked, g)
			break
		}
	}
	s.parked[guid] = &replayBuf{msgs: b.take()}
}

// unpark returns the backlog parked for guid, or nil, and forgets it.
func (s *Server) unpark(guid string) *replayBuf {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.parked[guid]
	delete(s.parked, guid)
	return b
}
