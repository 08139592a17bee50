//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

// Turning the echo off is done for Linux only; elsewhere the password
// comes with --stdin.
func hasTermios(*os.File) bool { return false }

func readHidden(*os.File, io.Writer, string) (string, error) {
	return "", errors.New("reading a password from the terminal is for Linux only: use --stdin")
}
