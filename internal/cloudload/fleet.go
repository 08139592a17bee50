package cloudload

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/g90alarm/g90/cloudproto"
	"github.com/g90alarm/g90/sim"
)

// baseTime is the panel clock of a panel's first status change; each
// next one is a second later, so the server reads the sequence number
// from the time (spec: notifications-and-cloud.md D.5.5, unix_time).
const baseTime = 1_700_000_000

// shutdownTimeout bounds the panels' graceful shutdown.
const shutdownTimeout = time.Minute

// ServeFleet runs the panels of cfg against cfg.Server under the control
// protocol on in and out: it reports "ready" once every panel's first
// hello is answered; on "go" it queues every panel's status changes at
// once and reports "sent" when all are written; on "stop", or at the end
// of in, it shuts the panels down gracefully (every ping and hello sent
// is answered first) and reports "done" with the panels' counters. It
// closes in before it returns.
func ServeFleet(ctx context.Context, cfg Config, in io.ReadCloser, out io.Writer) (err error) {
	cfg.defaults()
	enc := json.NewEncoder(out)
	say := func(state string, f *sim.Fleet) error {
		return enc.Encode(report{State: state, Stats: f.Stats()})
	}
	defer func() {
		if err != nil {
			enc.Encode(report{State: "failed", Error: err.Error()})
		}
	}()

	// The commands, read until in ends; closing in ends the reader.
	cmds := make(chan string)
	var reader sync.WaitGroup
	reader.Go(func() {
		defer close(cmds)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			cmds <- sc.Text()
		}
	})
	defer func() {
		in.Close()
		for range cmds { // unblock the reader
		}
		reader.Wait()
	}()

	f, err := sim.NewFleet(sim.FleetConfig{Panels: cfg.Panels, Sources: loopbacks(cfg.Sources), Cloud: sim.CloudConfig{
		Addr: cfg.Server, PingInterval: cfg.Ping, HelloInterval: cfg.Hello,
		QueueSize: max(cfg.Events, sim.DefaultCloudQueue), Logger: cfg.Logger,
	}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- f.Run(ctx) }()
	var (
		once   sync.Once
		runErr error
	)
	wait := func() error { once.Do(func() { runErr = <-ran }); return runErr }
	defer func() {
		cancel()
		wait()
	}()

	for _, l := range f.Links() {
		if err := l.Wait(ctx, func(s sim.CloudStats) bool { return s.HellosAnswered > 0 }); err != nil {
			return fmt.Errorf("waiting for every panel's hello to be answered: %w", err)
		}
	}
	if err := say("ready", f); err != nil {
		return err
	}

	stopped := false
	select {
	case c := <-cmds:
		stopped = c != cmdGo
	case <-ctx.Done():
		return ctx.Err()
	}
	if !stopped {
		msgs := doorChanges(cfg.Events)
		for _, l := range f.Links() {
			l.Send(msgs...)
		}
		for _, l := range f.Links() {
			if err := l.Wait(ctx, func(s sim.CloudStats) bool { return s.Queued == 0 }); err != nil {
				return err
			}
		}
		if err := say("sent", f); err != nil {
			return err
		}
		select {
		case <-cmds:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sctx, scancel := context.WithTimeout(ctx, shutdownTimeout)
	defer scancel()
	if err := f.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the panels down: %w", err)
	}
	if err := wait(); err != nil {
		return err
	}
	if stopped {
		return errors.New("stopped before the events")
	}
	return say("done", f)
}

// doorChanges returns n M4b status changes of a door sensor, opening and
// closing, with the panel clock baseTime, baseTime+1, ... (spec: D.5.5).
func doorChanges(n int) [][]byte {
	m := cloudproto.Message{Kind: cloudproto.KindStatusChange, Header: cloudproto.KindStatusChange.Header(),
		Status: cloudproto.StatusChange{Type: cloudproto.StatusSensor, Index: 1, Source: 1, Name: "Door"}}
	tmpl := m.Append(nil)
	buf := make([]byte, 0, n*len(tmpl))
	msgs := make([][]byte, n)
	for i := range msgs {
		start := len(buf)
		buf = append(buf, tmpl...)
		b := buf[start:]
		b[cloudproto.VersionedHeaderSize+3] = byte(1 - i%2) // state: door open, door close
		binary.LittleEndian.PutUint32(b[48:], uint32(baseTime+i))
		msgs[i] = b
	}
	return msgs
}

// loopbacks returns 127.0.0.1 and the n-1 loopback addresses after it.
func loopbacks(n int) []netip.Addr {
	a := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = a
		a = a.Next()
	}
	return out
}
