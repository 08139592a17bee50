package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/g90alarm/g90/client"
)

// Progress on a terminal: a wait that has lasted more than showAfter gets
// one line on stderr, redrawn in place every redrawEvery and cleared when
// the wait ends.
const (
	showAfter   = time.Second
	redrawEvery = 250 * time.Millisecond
)

// isTerminal reports whether w is a character device, as a terminal is.
// /dev/null is one too; progress written there is lost, which is harmless.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newStatus returns the status line for stderr, or nil (silent) when
// stderr is not a terminal or the output is JSON for a program.
func newStatus(stderr io.Writer, jsonOut bool, isTerm func(io.Writer) bool) *statusLine {
	if jsonOut || !isTerm(stderr) {
		return nil
	}
	return &statusLine{w: stderr, after: showAfter, every: redrawEvery, now: time.Now}
}

// statusLine is one line on a terminal saying what is being waited for.
// A nil *statusLine is silent. Everything else written to the same
// terminal must go through writer, which clears the line first.
type statusLine struct {
	w     io.Writer
	after time.Duration // show a wait once it has lasted longer
	every time.Duration // redraw this often
	now   func() time.Time

	mu    sync.Mutex
	text  func(now time.Time) string // the current wait's line; nil: no wait
	since time.Time                  // when the current wait began
	shown bool                       // the line is on the terminal
	drawn string                     // and says this
	stop  chan struct{}              // stops the redraw goroutine; nil: none runs
	done  chan struct{}              // closed when it has returned
}

// begin shows a wait that began at since, with its line rendered by text;
// called again during the same wait, it replaces the text.
func (s *statusLine) begin(since time.Time, text func(now time.Time) string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text, s.since = text, since
	if s.shown {
		s.drawLocked()
	}
	if s.stop == nil {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.redraw(s.stop, s.done)
	}
}

// end ends the wait: it stops the redraw goroutine, waits for it and
// clears the line.
func (s *statusLine) end() {
	if s == nil {
		return
	}
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done, s.text = nil, nil, nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	s.mu.Lock()
	s.clearLocked()
	s.mu.Unlock()
}

func (s *statusLine) redraw(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			if s.text != nil && s.now().Sub(s.since) > s.after {
				s.drawLocked()
			}
			s.mu.Unlock()
		}
	}
}

func (s *statusLine) drawLocked() {
	text := s.text(s.now())
	if s.shown && text == s.drawn {
		return
	}
	// \r to the line's start, \x1b[K erases what a longer text left.
	fmt.Fprintf(s.w, "\r%s\x1b[K", text)
	s.shown, s.drawn = true, text
}

func (s *statusLine) clearLocked() {
	if s.shown {
		io.WriteString(s.w, "\r\x1b[K")
		s.shown = false
	}
}

// writer returns w, through which output to the status line's terminal
// clears the line first; it comes back at the next redraw.
func (s *statusLine) writer(w io.Writer) io.Writer {
	if s == nil {
		return w
	}
	return clearingWriter{s, w}
}

type clearingWriter struct {
	s *statusLine
	w io.Writer
}

func (c clearingWriter) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.clearLocked()
	return c.w.Write(p)
}

// exchange is a client.Config.Progress: it shows which panel, command and
// attempt is being waited for, and how long the request may still take.
func (s *statusLine) exchange(p client.Progress) {
	if p.Done {
		s.end()
		return
	}
	command, _, _ := strings.Cut(p.Command.String(), "(") // GETHOSTINFO, not GETHOSTINFO(206)
	s.begin(p.Started, func(now time.Time) string {
		return fmt.Sprintf("waiting for %s (%s), attempt %d of %d, up to %s more…",
			p.Panel, command, p.Attempt, p.Attempts, secondsLeft(p.End.Sub(now)))
	})
}

// secondsLeft rounds up, so the line says 0 s only when nothing is left.
func secondsLeft(d time.Duration) string {
	return fmt.Sprintf("%d s", int(math.Ceil(max(d, 0).Seconds())))
}
