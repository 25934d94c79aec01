package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is stdout for a run in another goroutine: safe to read while
// run writes, and it can wait for a line to appear.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until re matches the output and returns the submatches.
func (b *syncBuffer) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	require.Eventually(t, func() bool {
		m = re.FindStringSubmatch(b.String())
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "output so far: %q", b.String())
	return m
}

// startServer runs the app on a free loopback port and returns its address,
// its output, and a stop function that cancels it and returns run's error.
func startServer(t *testing.T) (addr string, out *syncBuffer, stop func() error) {
	t.Helper()
	out = &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, out) }()
	m := out.waitFor(t, regexp.MustCompile(`^example-app dev listening on (127\.0\.0\.1:\d+)\n`))
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(shutdownTimeout + 5*time.Second):
				t.Fatal("run did not return after its context was canceled")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return m[1], out, stop
}

func TestRunServesAndShutsDownCleanly(t *testing.T) {
	addr, out, stop := startServer(t)

	res, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "ok\n", string(body))

	require.NoError(t, stop(), "a canceled context is a clean shutdown")
	assert.Contains(t, out.String(), "example-app dev shutting down: context canceled\n")

	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the listener must be closed after run returns")
}

func TestRunHealthcheck(t *testing.T) {
	addr, _, _ := startServer(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "draining", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()

	tests := []struct {
		name    string
		args    []string
		port    string // $PORT
		wantOut string
		wantErr string
	}{
		{name: "running server via -addr", args: []string{"-healthcheck", "-addr", addr},
			wantOut: "healthy: http://" + addr + "/healthz answered 200 OK\n"},
		{name: "running server via PORT", args: []string{"-healthcheck"}, port: port,
			wantOut: "healthy: http://127.0.0.1:" + port + "/healthz answered 200 OK\n"},
		{name: "unspecified host probes loopback", args: []string{"-healthcheck", "-addr", "0.0.0.0:" + port},
			wantOut: "healthy: http://127.0.0.1:" + port + "/healthz answered 200 OK\n"},
		{name: "nothing listening", args: []string{"-healthcheck", "-addr", closedPort(t)},
			wantErr: "connection refused"},
		{name: "server answers 503", args: []string{"-healthcheck", "-addr", strings.TrimPrefix(unhealthy.URL, "http://")},
			wantErr: "status 503 Service Unavailable: draining"},
		{name: "port 0", args: []string{"-healthcheck", "-addr", ":0"},
			wantErr: `-addr ":0" has port 0`},
		{name: "bad PORT", args: []string{"-healthcheck"}, port: "http",
			wantErr: `PORT="http" is not a port number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PORT", tt.port)
			var out bytes.Buffer
			err := run(t.Context(), tt.args, &out)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Empty(t, out.String())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantOut, out.String())
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantOut string // substring
		wantErr string
	}{
		{name: "version", args: []string{"-version"}, wantOut: "example-app dev (commit none, built unknown, go"},
		{name: "help", args: []string{"-h"}, wantOut: "Usage: example-app"},
		{name: "unknown flag", args: []string{"-port", "1"}, wantErr: "flag provided but not defined: -port; run example-app -h for usage"},
		{name: "positional argument", args: []string{"serve"}, wantErr: `unexpected argument "serve"`},
		{name: "malformed addr", args: []string{"-addr", "8080"}, wantErr: `-addr "8080" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tt.args, &out)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, out.String(), tt.wantOut)
		})
	}
}

func TestRunListenErrorNamesTheFix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	err = run(t.Context(), []string{"-addr", ln.Addr().String()}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+ln.Addr().String())
	assert.Contains(t, err.Error(), "choose another with -addr or PORT")
}

func TestAddrFromEnv(t *testing.T) {
	tests := []struct {
		name, port, want, wantErr string
	}{
		{name: "unset", port: "", want: ":8080"},
		{name: "set", port: "9090", want: ":9090"},
		{name: "not a number", port: "http", wantErr: `PORT="http" is not a port number`},
		{name: "zero", port: "0", wantErr: `PORT="0"`},
		{name: "too large", port: "70000", wantErr: `PORT="70000"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := addrFromEnv(tt.port)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
