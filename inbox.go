package g90

import "sync"

// inbox is the Monitor's queue of messages for the state tracker. The
// sources append one at a time; the tracker takes everything queued at
// once, so that a burst costs one hand-over, not a channel operation per
// message with both goroutines on the channel's lock (issue 20.3). What
// the tracker has taken and not yet handled still counts against the
// size, so the queue holds at most size messages however they are split.
type inbox struct {
	mu    sync.Mutex // guards q, busy, room
	q     []item
	busy  int // taken, not yet handled
	size  int
	ready chan struct{} // capacity 1: something was queued since the last take
	room  chan struct{} // closed when room is made, while a sender waits; nil when none does
}

func newInbox(size int) *inbox {
	return &inbox{size: size, ready: make(chan struct{}, 1)}
}

// put queues a copy of it unless the queue is full; then it returns a
// channel that is closed once there may be room. (A pointer: an item is
// some 400 bytes, copied once here.)
func (in *inbox) put(it *item) (queued bool, room <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.q)+in.busy < in.size {
		if len(in.q) == 0 {
			select {
			case in.ready <- struct{}{}:
			default:
			}
		}
		in.q = append(in.q, *it)
		return true, nil
	}
	if in.room == nil {
		in.room = make(chan struct{})
	}
	return false, in.room
}

// take returns what is queued, oldest first; buf, the previous batch, is
// cleared and becomes the queue. Call handled as the batch is handled.
func (in *inbox) take(buf []item) []item {
	clear(buf) // no message kept alive
	in.mu.Lock()
	defer in.mu.Unlock()
	batch := in.q
	in.q, in.busy = buf[:0], len(batch)
	return batch
}

// handled reports that n more messages of the batch take returned have
// been handled: their room is free again.
func (in *inbox) handled(n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.busy -= n
	if in.room != nil {
		close(in.room)
		in.room = nil
	}
}

// len returns how many messages are queued or taken and not yet handled.
func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.q) + in.busy
}
