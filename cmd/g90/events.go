package main

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/g90alarm/g90/daemon"
	"github.com/g90alarm/g90/journal"
)

func newEventsCmd(g *globals) *cobra.Command {
	var (
		since, panel, file string
		wait               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Print the events g90 serve has recorded in its journal",
		Long: `Print the events of the event journal, oldest first, one line each as
'g90 listen' prints them (ending in panel=GUID when the journal has
events of several panels); with --json the stored JSON line, which has
the keys of 'g90 listen --json' plus seq, the event's number for its
panel.

--since takes a duration back from now (90m, 24h) or a time (2006-01-02,
2006-01-02T15:04:05 in local time, or RFC 3339). The journal is the file
g90 serve keeps in its state_dir; by default ` + "`$XDG_STATE_HOME/g90/journal.db`" + `
or ` + "`~/.local/state/g90/journal.db`" + `. It can be read while g90 serve runs:
this command waits up to --wait for a moment when the daemon does not
write.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := journal.Query{Panel: panel}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				q.Since = t
			}
			if file == "" {
				dir, err := daemon.DefaultStateDir()
				if err != nil {
					return fmt.Errorf("%w; name the journal with --journal", err)
				}
				file = filepath.Join(dir, daemon.JournalFile)
			}
			j, err := journal.Open(journal.Config{Path: file, ReadOnly: true, LockTimeout: wait})
			if errors.Is(err, journal.ErrNotExist) {
				return fmt.Errorf("%w (g90 serve writes it; --journal names another file)", err)
			}
			damaged := errors.Is(err, journal.ErrCorrupt)
			if damaged {
				// Say so, then print what can still be read.
				fmt.Fprintf(cmd.ErrOrStderr(), "g90: %v\ng90: the journal is damaged; printing what is readable\n", err)
				j, err = journal.Open(journal.Config{Path: file, ReadOnly: true, Salvage: true, LockTimeout: wait})
			}
			if err != nil {
				return err
			}
			defer j.Close()
			// With several panels in the journal, each line names its own.
			showPanel := false
			if panel == "" && !g.json {
				panels, err := j.Panels()
				if err != nil && !damaged {
					return err
				}
				showPanel = len(panels) > 1 || err != nil
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			var line []byte
			bad := 0
			for e, err := range j.Query(q) {
				if errors.Is(err, journal.ErrDamaged) {
					bad++
					w.Flush()
					fmt.Fprintf(cmd.ErrOrStderr(), "g90: %v\n", err)
					continue
				}
				if err != nil {
					w.Flush()
					return err
				}
				if g.json {
					line = append(append(line[:0], e.JSON...), '\n')
				} else {
					ev, err := e.Event()
					if err != nil {
						bad++
						fmt.Fprintf(cmd.ErrOrStderr(), "g90: %s entry %s seq %d: %v\n", e.Panel, e.Time.Format(time.RFC3339Nano), e.Seq, err)
						continue
					}
					line = appendEventText(line[:0], &ev)
					if showPanel {
						line = append(append(line[:len(line)-1], "  panel="...), e.Panel...)
						line = append(line, '\n')
					}
				}
				if _, err := w.Write(line); err != nil {
					return err
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			switch {
			case bad > 0:
				return fmt.Errorf("%s: %d damaged entries skipped; the rest is printed", file, bad)
			case damaged:
				return fmt.Errorf("%s is damaged; what was readable is printed", file)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only events recorded since this time or this long ago (24h, 2006-01-02)")
	f.StringVar(&panel, "panel", "", "only the events of the panel with this GUID")
	f.StringVar(&file, "journal", "", "the journal file (default: the state directory's journal.db)")
	f.DurationVar(&wait, "wait", 10*time.Second, "how long to wait while g90 serve is writing to the journal")
	return cmd
}

// parseSince reads --since: a duration before now or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: want a duration back from now, not a negative one", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (24h) or a time (2006-01-02, 2006-01-02T15:04:05, RFC 3339)", s)
}
