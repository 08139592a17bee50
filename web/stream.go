package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/g90alarm/g90"
	"github.com/g90alarm/g90/event"
)

// The live streams. One goroutine per panel (the feed, run by Run) reads
// the panel's Monitor subscription and hands each event, then the
// panel's fresh state, to every stream client's queue without waiting;
// a client whose queue is full is dropped. Each client's handler writes
// its queue to the connection.
//
// State messages replace the panel's state in the browser, so the order
// of state and events does not matter for correctness, except that a
// client must never get an older state after a newer one. So a state is
// read and queued under hub.mu, and the hub keeps one invariant: the
// last state queued to every client of a panel is panel.last.

// hub is the set of stream clients.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	done    chan struct{} // closed when Run ends: every stream ends
	active  sync.WaitGroup
}

// client is one stream.
type client struct {
	panel int         // only this panel's messages, or -1 for all
	queue chan []byte // SSE messages, each complete
	gone  chan struct{}
}

func (h *hub) init() {
	h.clients = map[*client]struct{}{}
	h.done = make(chan struct{})
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// send queues msg to the clients of panel i without waiting, and drops
// those that have no room. h.mu is held.
func (s *Server) send(i int, msg []byte) {
	for c := range s.hub.clients {
		if c.panel >= 0 && c.panel != i {
			continue
		}
		select {
		case c.queue <- msg:
		default:
			s.dropClient(c)
		}
	}
}

// dropClient disconnects a client that fell behind. h.mu is held.
func (s *Server) dropClient(c *client) {
	delete(s.hub.clients, c)
	close(c.gone)
	n := s.slow.Add(1)
	s.log.Warn("stream client too slow: disconnected", "queue", cap(c.queue), "slow_clients", n)
}

// sendState queues p's current state to its clients unless they have it
// already. h.mu is held.
func (s *Server) sendState(p *panel) {
	msg, err := sseMessage("state", p.view())
	if err != nil {
		s.log.Error("stream: encode state", "panel", p.mon.Name(), "err", err)
		return
	}
	if bytes.Equal(msg, p.last) {
		return
	}
	p.last = msg
	s.send(p.i, msg)
}

// add registers a stream client of panel i (-1: all) and queues it the
// current state; false after Run has ended.
func (s *Server) add(i int) (*client, bool) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.hub.closed {
		return nil, false
	}
	c := &client{panel: i, queue: make(chan []byte, s.cfg.ClientBuffer+len(s.panels)), gone: make(chan struct{})}
	for _, p := range s.panels {
		if i >= 0 && p.i != i {
			continue
		}
		// A fresh state goes to every client, so that the new one is
		// not ahead of the others (see above).
		s.sendState(p)
		if p.last != nil {
			c.queue <- p.last
		}
	}
	s.hub.clients[c] = struct{}{}
	s.hub.active.Add(1)
	s.streams.Add(1)
	return c, true
}

// remove unregisters a client whose handler returns.
func (s *Server) remove(c *client) {
	s.hub.mu.Lock()
	delete(s.hub.clients, c)
	s.hub.mu.Unlock()
	s.hub.active.Done()
}

// Run feeds the panels' events and states to the stream clients until
// ctx ends, then ends every stream and returns after their handlers and
// its goroutines have, with the subscriptions closed. Without Run the
// streams get the state at connect and nothing more. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	s.jobs.open(ctx)
	var feeds sync.WaitGroup
	for _, p := range s.panels {
		feeds.Go(func() { s.feed(ctx, p) })
	}
	feeds.Wait()
	s.jobs.close() // cancels the learn jobs and waits for them
	s.hub.mu.Lock()
	s.hub.closed = true
	close(s.hub.done)
	s.hub.mu.Unlock()
	s.hub.active.Wait()
	for _, p := range s.panels {
		p.sub.Close()
	}
	return nil
}

// maxBatch bounds the events a feed sends before the state that
// follows them.
const maxBatch = 64

// feed is one panel's goroutine: events as they come, each batch
// followed by the state, and the state every StateInterval when it
// changed without an event.
func (s *Server) feed(ctx context.Context, p *panel) {
	tick := time.NewTicker(s.cfg.StateInterval)
	defer tick.Stop()
	ready := p.sub.Ready()
	var ds []g90.Delivery
	var batch [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.hub.mu.Lock()
			s.sendState(p)
			s.hub.mu.Unlock()
		case <-ready:
			var ok bool
			ds, ok = p.sub.Take(ds)
			if !ok {
				ready = nil // the monitor has stopped; its last state stays
			}
			for from := 0; from < len(ds); from += maxBatch {
				batch = batch[:0]
				for i := from; i < min(len(ds), from+maxBatch); i++ {
					batch = s.deliveryMessage(batch, p, &ds[i])
				}
				s.hub.mu.Lock()
				for _, msg := range batch {
					s.send(p.i, msg)
				}
				s.sendState(p)
				s.hub.mu.Unlock()
			}
		}
	}
}

// deliveryMessage keeps the state of one delivery of the Monitor and
// appends its message to batch: an "event", an "update" of an event
// whose sources grew (the browser replaces its line), or none for a
// state alone (the state follows every batch).
func (s *Server) deliveryMessage(batch [][]byte, p *panel, d *g90.Delivery) [][]byte {
	if d.State != nil {
		p.st.Store(d.State)
		// The Monitor delivers the first read's state after Ready.
		if !p.read.Load() && monitorReady(p.mon) {
			p.read.Store(true)
		}
	}
	switch {
	case d.Event.Type == "":
		return batch
	case d.Update:
		return append(batch, s.eventMessage(p, &d.Event, "update"))
	}
	return append(batch, s.eventMessage(p, &d.Event, "event"))
}

// eventMessage encodes ev as an SSE message of kind and keeps it for the
// in-memory log.
func (s *Server) eventMessage(p *panel, ev *event.Event, kind string) []byte {
	js := ev.AppendJSON(nil)
	if s.recent != nil {
		s.recent.add(recentEvent{panel: p.i, at: time.Now(), json: js, update: kind == "update", seq: ev.Seq})
	}
	msg := make([]byte, 0, len(js)+32)
	msg = append(msg, "event: "+kind+"\ndata: "...)
	msg = append(msg, js...)
	return append(msg, "\n\n"...)
}

// sseMessage encodes one Server-Sent Events message; JSON has no line
// breaks, so the data is one line.
func sseMessage(event string, v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(js)+len(event)+16)
	msg = append(msg, "event: "...)
	msg = append(msg, event...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, js...)
	return append(msg, "\n\n"...), nil
}

// stream serves /api/events/stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	filter := -1
	if key := r.URL.Query().Get("panel"); key != "" {
		p := s.lookup(key)
		if p == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no panel named %q or with that GUID", key))
			return
		}
		filter = p.i
	}
	c, ok := s.add(filter)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	defer s.remove(c)
	log := s.log.With("remote", r.RemoteAddr)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	w.WriteHeader(http.StatusOK)
	// Each write has its own deadline instead of the server's.
	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		_, err := w.Write(b)
		return err
	}
	// Each write has its own deadline, not the server's WriteTimeout (the
	// server's ReadTimeout does not end a stream: daemon
	// TestServeWebLimits). The connection may serve other requests after
	// this one.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	err := write([]byte("retry: 2000\n\n"))
	if err == nil {
		err = rc.Flush()
	}
	if err != nil {
		log.Debug("stream: write failed", "err", err)
		return
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		err = nil
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			return
		case <-c.gone:
			return
		case <-heartbeat.C:
			if s.auth != nil && !s.auth.live(r) {
				return // its session has expired (TestSessionExpiryEndsStream)
			}
			err = write([]byte(": keep-alive\n\n"))
		case msg := <-c.queue:
			err = write(msg)
		drain:
			for err == nil {
				select {
				case msg := <-c.queue:
					err = write(msg)
				default:
					break drain
				}
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			log.Debug("stream: write failed", "err", err)
			return
		}
	}
}
