package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/g90alarm/g90/protocol"
)

// Sentinel errors; test with errors.Is. Panel replies "fail" and "error…"
// match protocol.ErrCommandFailed and protocol.ErrCommandRejected, and
// decode failures are *protocol.SyntaxError, *protocol.FieldError or wrap
// a protocol sentinel.
var (
	// ErrTimeout: the panel did not answer any attempt.
	ErrTimeout = errors.New("client: timeout")
	// ErrWrongCode: the panel kept answering with another command's code
	// (spec: local-protocol.md 1.5 step 12).
	ErrWrongCode = errors.New("client: reply to a different command")
)

// TimeoutError says which panel did not answer which command. It matches
// ErrTimeout.
type TimeoutError struct {
	Panel    string
	Command  protocol.Code
	Attempts int
	After    time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("client: panel %s did not answer %v after %d attempt(s) in %v",
		e.Panel, e.Command, e.Attempts, e.After.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// CommandError is any other failure of a command: it names the panel and
// the command and wraps the cause.
type CommandError struct {
	Panel   string
	Command protocol.Code
	Err     error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("client: %v to %s: %v", e.Command, e.Panel, e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }
