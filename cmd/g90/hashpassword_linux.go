package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"unsafe"
)

// termios gets (syscall.TCGETS) or sets (TCSETS) f's terminal settings.
func termios(f *os.File, req uintptr, t *syscall.Termios) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(t)))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func hasTermios(f *os.File) bool {
	var t syscall.Termios
	return termios(f, syscall.TCGETS, &t) == nil
}

// readHidden writes prompt to w and reads a line from the terminal f
// with echo off (the Enter still echoes, ECHONL); the terminal's
// settings come back however the read ends, also on SIGINT and SIGTERM,
// which then end the process as they would have.
func readHidden(f *os.File, w io.Writer, prompt string) (string, error) {
	var old syscall.Termios
	if err := termios(f, syscall.TCGETS, &old); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	hidden := old
	hidden.Lflag = hidden.Lflag&^syscall.ECHO | syscall.ECHONL
	restore := func() { _ = termios(f, syscall.TCSETS, &old) }

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case s := <-sig:
			restore()
			signal.Stop(sig)
			_ = syscall.Kill(os.Getpid(), s.(syscall.Signal))
		case <-done:
		}
	})
	defer func() {
		close(done)
		wg.Wait()
		signal.Stop(sig)
	}()

	if err := termios(f, syscall.TCSETS, &hidden); err != nil {
		return "", fmt.Errorf("terminal: echo off: %w", err)
	}
	defer restore()
	if _, err := io.WriteString(w, prompt); err != nil {
		return "", err
	}
	return readLine(f)
}
