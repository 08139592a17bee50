package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eclipse/paho.golang/autopaho/queue"
)

// fileQueue is the durable outbound queue: one file per message, named by
// a sequence number, sent strictly in that order. autopaho's own file
// queue orders by modification time, which ties for messages written in
// the same clock tick and then reorders them; events must not be.
//
// Files are written to a temporary name and renamed, so a crash leaves
// whole messages only; they are not fsynced, so a power loss may lose the
// newest.
type fileQueue struct {
	dir string

	mu      sync.Mutex
	seqs    []uint64 // queued, oldest first
	next    uint64
	waiting []chan struct{}
}

const queueExt = ".mqtt"

// openFileQueue opens the queue in dir, keeping what an earlier run left.
func openFileQueue(dir string) (*fileQueue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	q := &fileQueue{dir: dir, next: 1}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(filepath.Join(dir, name)) // a write a crash interrupted
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, queueExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, queueExt) {
			continue
		}
		q.seqs = append(q.seqs, n)
		q.next = max(q.next, n+1)
	}
	slices.Sort(q.seqs)
	return q, nil
}

func (q *fileQueue) path(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", seq, queueExt))
}

// Len returns the number of queued messages.
func (q *fileQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.seqs)
}

// Wait implements queue.Queue.
func (q *fileQueue) Wait() chan struct{} {
	c := make(chan struct{})
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seqs) > 0 {
		close(c)
	} else {
		q.waiting = append(q.waiting, c)
	}
	return c
}

// Enqueue implements queue.Queue.
func (q *fileQueue) Enqueue(p io.Reader) error {
	tmp, err := os.CreateTemp(q.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, p)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.next
	if err == nil {
		err = os.Rename(tmp.Name(), q.path(seq))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("bridge: queue: %w", err)
	}
	q.next++
	q.seqs = append(q.seqs, seq)
	for _, c := range q.waiting {
		close(c)
	}
	q.waiting = nil
	return nil
}

// Peek implements queue.Queue.
func (q *fileQueue) Peek() (queue.Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.seqs) == 0 {
		return nil, queue.ErrEmpty
	}
	return &fileEntry{q: q, seq: q.seqs[0]}, nil
}

// fileEntry is the head of a fileQueue.
type fileEntry struct {
	q   *fileQueue
	seq uint64
}

func (e *fileEntry) Reader() (io.Reader, error) {
	b, err := os.ReadFile(e.q.path(e.seq))
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func (e *fileEntry) Leave() error { return nil }

func (e *fileEntry) Remove() error {
	err := os.Remove(e.q.path(e.seq))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	if len(e.q.seqs) > 0 && e.q.seqs[0] == e.seq {
		e.q.seqs = e.q.seqs[1:]
	}
	if err == nil && len(e.q.seqs) == 0 {
		return queue.ErrEmpty
	}
	return err
}

// Quarantine keeps a message that cannot be sent beside the queue, for a
// person to look at.
func (e *fileEntry) Quarantine() error {
	err := os.Rename(e.q.path(e.seq), e.q.path(e.seq)+".bad")
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	if len(e.q.seqs) > 0 && e.q.seqs[0] == e.seq {
		e.q.seqs = e.q.seqs[1:]
	}
	return err
}
