package main

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/testrig/eventually"
	"github.com/g90alarm/g90/web"
)

// hashPassword runs g90 hash-password with stdin and stderr as given.
func hashPassword(stdin io.Reader, stderr io.Writer, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetIn(stdin)
	root.SetOut(&out)
	root.SetErr(stderr)
	root.SetArgs(append([]string{"hash-password"}, args...))
	err := root.Execute()
	return out.String(), err
}

// matches checks that printed, as the config file reads it ($$ for $),
// is a hash of pw.
func matches(t *testing.T, printed, pw string) {
	t.Helper()
	line := strings.TrimSuffix(printed, "\n")
	if strings.Count(printed, "\n") != 1 || !strings.HasPrefix(line, "pbkdf2-sha256$$600000$$") || strings.Count(line, "$$") != 3 {
		t.Fatalf("printed %q: want one line, pbkdf2-sha256$$600000$$salt$$key", printed)
	}
	h, err := web.ParsePasswordHash(strings.ReplaceAll(line, "$$", "$"))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Match(pw) || h.Match(pw+"x") {
		t.Fatalf("%q is not the hash of %q alone", line, pw)
	}
}

// --stdin: the first line is the password, with $ doubled for the
// config file or, with --raw, as it is; too short is refused, and so is
// a standard input that is not a terminal without --stdin.
func TestHashPasswordStdin(t *testing.T) {
	out, err := hashPassword(strings.NewReader("tr0ub4dor&3\r\nignored\n"), io.Discard, "--stdin")
	if err != nil {
		t.Fatal(err)
	}
	matches(t, out, "tr0ub4dor&3")
	out, err = hashPassword(strings.NewReader("no newline at all"), io.Discard, "--stdin", "--raw")
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.ParsePasswordHash(strings.TrimSuffix(out, "\n"))
	if err != nil || !h.Match("no newline at all") {
		t.Fatalf("--raw printed %q: %v", out, err)
	}
	for _, c := range []struct {
		in, want string
		args     []string
	}{
		{"short\n", "5 characters: want at least 8", []string{"--stdin"}},
		{"", "0 characters", []string{"--stdin"}},
		{strings.Repeat("x", 2000) + "\n", "longer than 1024 bytes", []string{"--stdin"}},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\n", "not UTF-8", []string{"--stdin"}},
		{"long enough\n", "not a terminal: to pipe the password in, add --stdin", nil},
	} {
		out, err := hashPassword(strings.NewReader(c.in), io.Discard, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || out != "" {
			t.Errorf("%.20q %v: %q, %v; want an error with %q", c.in, c.args, out, err, c.want)
		}
	}
}

// On a terminal: asked twice, with the echo off, so the password never
// appears on it; two that differ are refused.
func TestHashPasswordTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the terminal is read on Linux only")
	}
	for _, c := range []struct {
		first, again string
		want         string // the error; "" for none
	}{
		{"s3cret pass", "s3cret pass", ""},
		{"s3cret pass", "s3cret pasS", "the passwords differ"},
	} {
		master, slave := openPTY(t)
		got, stop := readPTY(master)
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := hashPassword(slave, slave)
			done <- result{out, err}
		}()
		// Typed once the prompt is there, when the echo is off.
		eventually.True(t, "the first prompt", func() bool { return strings.Contains(got(), "Password: ") })
		if _, err := master.WriteString(c.first + "\n"); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "the second prompt", func() bool { return strings.Contains(got(), "Again: ") })
		if _, err := master.WriteString(c.again + "\n"); err != nil {
			t.Fatal(err)
		}
		var r result
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("hash-password did not end")
		}
		// The terminal echoes again once the command is done.
		if _, err := master.WriteString("visible\n"); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "the echo back on", func() bool { return strings.Contains(got(), "visible") })
		stop()
		screen := got()
		if strings.Contains(screen, "s3cret") {
			t.Errorf("the password was echoed: %q", screen)
		}
		if c.want == "" {
			if r.err != nil {
				t.Fatal(r.err)
			}
			matches(t, r.out, c.first)
		} else if r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%q then %q: %v, want %q", c.first, c.again, r.err, c.want)
		}
	}
}
