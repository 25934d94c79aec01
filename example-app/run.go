package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Server timeouts: generous for a small JSON service, tight enough that a
// slow or idle client cannot hold a connection (and a goroutine) forever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	// shutdownTimeout stays below Docker's default 10s stop grace period, so
	// in-flight requests finish before the engine sends SIGKILL.
	shutdownTimeout = 5 * time.Second
	// healthcheckTimeout stays below the Dockerfiles' HEALTHCHECK --timeout.
	healthcheckTimeout = 2 * time.Second
)

// run parses args and then serves until ctx is done, probes a running
// server (-healthcheck), or prints the version (-version). Log lines and
// command output go to stdout; errors are returned for main to print.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	info := currentBuildInfo()

	defaultAddr, err := addrFromEnv(os.Getenv("PORT"))
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("example-app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", defaultAddr, "`address` to listen on, host:port; the default follows $PORT")
	healthcheck := fs.Bool("healthcheck", false, "probe /healthz of the server listening on -addr's port and exit 0 if it answers 200, 1 otherwise")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: example-app [-addr host:port] [-healthcheck] [-version]")
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w; run example-app -h for usage", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; example-app takes only flags, run example-app -h for usage", fs.Arg(0))
	}

	switch {
	case *showVersion:
		_, err := fmt.Fprintln(stdout, info)
		return err
	case *healthcheck:
		return probe(ctx, *addr, stdout)
	default:
		return serve(ctx, *addr, info, stdout)
	}
}

// addrFromEnv returns the default listen address: ":$PORT", or ":8080" when
// PORT is unset, the convention of Heroku, Cloud Run and friends.
func addrFromEnv(port string) (string, error) {
	if port == "" {
		return ":8080", nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("PORT=%q is not a port number; set PORT to a number from 1 to 65535, or unset it to use 8080", port)
	}
	return ":" + port, nil
}

// serve listens on addr and serves until ctx is done, then shuts down
// gracefully. The start line names the bound address, so ":0" is usable.
func serve(ctx context.Context, addr string, info BuildInfo, stdout io.Writer) error {
	logger := log.New(stdout, "", 0)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q is not host:port (e.g. :8080 or 127.0.0.1:8080): %w", addr, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; is another process using the port? choose another with -addr or PORT", addr, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	srv := &http.Server{
		Handler:           NewHandler(info),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          logger,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Printf("example-app %s listening on %s", info.Version, net.JoinHostPort(host, port))

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}

	logger.Printf("example-app %s shutting down: %v", info.Version, context.Cause(ctx))
	// The parent is done; shutdown needs a context of its own to wait in.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown did not finish within %s (requests still running were cut off): %w", shutdownTimeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	return nil
}

// probe GETs /healthz of the server listening on addr's port (on loopback
// unless addr names a specific host) and prints one line. It returns an
// error unless the server answers 200.
func probe(ctx context.Context, addr string, stdout io.Writer) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: -addr %q is not host:port (e.g. :8080): %w", addr, err)
	}
	if port == "0" {
		return fmt.Errorf("healthcheck: -addr %q has port 0; pass the port the server listens on", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"

	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: status %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = fmt.Fprintf(stdout, "healthy: %s answered %s\n", url, resp.Status)
	return err
}
