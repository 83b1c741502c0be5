// Command starter is the user's CLI: set up bucket replication (setup, validate), look at
// it (status, partitions, failed list) and operate it (failed retry, pause, resume,
// backfill). See package starter; `starter --help` lists the commands, their flags and
// the environment variables that back them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/backbeat-temporal/backbeat/starter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := starter.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
