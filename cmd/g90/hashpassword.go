package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/g90alarm/g90/web"
)

// minPassword is the shortest password hash-password takes, in
// characters: the login faces the whole network.
const minPassword = 8

// maxPassword bounds what is read, in bytes.
const maxPassword = 1024

func newHashPasswordCmd() *cobra.Command {
	var fromStdin, raw bool
	cmd := &cobra.Command{
		Use:   "hash-password [--stdin] [--raw]",
		Short: "Hash a password for the web UI's login (web.password_hash)",
		Long: `Ask for a password twice on the terminal, without showing it, and print its
hash for web.password_hash in the config file: PBKDF2-SHA-256 with a random
salt and 600,000 iterations. The config never holds the password itself.

Each $ of the hash is printed as $$, as the config file takes it ($NAME
there is an environment variable); --raw prints the hash as it is, for an
environment variable (password_hash: ${G90_WEB_PASSWORD_HASH}).

--stdin reads the password from the first line of standard input instead,
for scripts: printf '%s\n' "$PW" | g90 hash-password --stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd, fromStdin)
			if err != nil {
				return fmt.Errorf("hash-password: %w", err)
			}
			if !utf8.ValidString(pw) {
				return errors.New("hash-password: the password is not UTF-8 text")
			}
			if n := utf8.RuneCountInString(pw); n < minPassword {
				return fmt.Errorf("hash-password: %d characters: want at least %d", n, minPassword)
			}
			h, err := web.HashPassword(pw)
			if err != nil {
				return err
			}
			if !raw {
				h = strings.ReplaceAll(h, "$", "$$")
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), h)
			return err
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "stdin", false, "read the password from the first line of standard input, not the terminal")
	cmd.Flags().BoolVar(&raw, "raw", false, "print the hash as it is, not with $ doubled for the config file")
	return cmd
}

// readPassword reads the password from the terminal that is standard
// input, twice, without echo; or with fromStdin one line of standard
// input, whatever it is.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	in := cmd.InOrStdin()
	if fromStdin {
		line, err := bufio.NewReaderSize(io.LimitReader(in, maxPassword+2), maxPassword+2).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read standard input: %w", err)
		}
		if len(line) > maxPassword+1 || len(line) == maxPassword+1 && !strings.HasSuffix(line, "\n") {
			return "", fmt.Errorf("password longer than %d bytes", maxPassword)
		}
		return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
	}
	f, ok := in.(*os.File)
	if !ok || !hasTermios(f) {
		return "", errors.New("standard input is not a terminal: to pipe the password in, add --stdin")
	}
	pw, err := readHidden(f, cmd.ErrOrStderr(), "Password: ")
	if err != nil {
		return "", err
	}
	again, err := readHidden(f, cmd.ErrOrStderr(), "Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}

// readLine reads up to a newline from a terminal in canonical mode,
// where each read returns at most one line.
func readLine(f *os.File) (string, error) {
	var b []byte
	buf := make([]byte, 256)
	for {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			return strings.TrimSuffix(string(b[:i]), "\r"), nil
		}
		if len(b) > maxPassword {
			return "", fmt.Errorf("password longer than %d bytes", maxPassword)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) == 0 {
				return "", errors.New("no password: the terminal was closed")
			}
			if errors.Is(err, io.EOF) {
				return string(b), nil
			}
			return "", fmt.Errorf("read the terminal: %w", err)
		}
	}
}
