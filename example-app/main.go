// Command example-app is the sample HTTP service magepack builds, checks and
// packages. It serves /healthz, /version and a greeting, shuts down
// gracefully on SIGINT/SIGTERM, and probes itself with -healthcheck so that
// images without curl (scratch) can still have a HEALTHCHECK.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...
// -X main.date=...", the names goreleaser users already have.
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example-app:", err)
		os.Exit(1)
	}
}
