// Command portier is Portier's one binary: server, CA, policy tools and
// device agent. All logic lives in package cli so tests can run it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/portier/portier/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
