// Command g90 controls G90-family alarm panels on the local network and
// runs the panel simulator. Run `g90 --help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		// Errors of package g90 carry its prefix already; say it once.
		fmt.Fprintln(os.Stderr, "g90:", strings.TrimPrefix(err.Error(), "g90: "))
		os.Exit(1)
	}
}
