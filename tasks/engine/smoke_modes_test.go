package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/image"
)

// cliSource is a command-line tool: --version prints and exits 0, no
// arguments prints usage and exits 0, anything else fails with 2.
const cliSource = `package main

import (
	"fmt"
	"os"
)

func main() {
	switch {
	case len(os.Args) == 1:
		fmt.Println("usage: tool [--version]")
	case os.Args[1] == "--version":
		fmt.Println("tool 1.2.3")
	default:
		fmt.Fprintln(os.Stderr, "tool: unknown flag", os.Args[1])
		os.Exit(2)
	}
}
`

// httpSource is a service: /healthz answers 200 on $PORT (default 8080),
// after sleeping $DELAY (a Go duration) as a slow service starts.
const httpSource = `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if d, err := time.ParseDuration(os.Getenv("DELAY")); err == nil {
		time.Sleep(d)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Println("service listening on :" + port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// buildLinux builds source as a static linux binary for the engine's
// architecture (the host's) into dir and returns its path.
func buildLinux(t testing.TB, dir, name, source string) string {
	t.Helper()
	src := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/"+name+"\n\ngo 1.25\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(source), 0o644))
	bin := filepath.Join(dir, name+"-bin")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", name, out)
	return bin
}

// loadScratchImage assembles a scratch image of bin with tasks/image, as
// dockerScratch does, loads it under ref and removes it when the test ends.
func loadScratchImage(t testing.TB, e *engine.Engine, ref, name, bin, ca string, port int) {
	t.Helper()
	img, err := image.Build(image.Spec{Name: name, Binary: bin, OS: "linux", Arch: runtime.GOARCH, CABundle: ca, Port: port,
		Created: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.Load(ctx, img, []string{ref}, nil)
	require.NoError(t, err)
	cleanupImage(t, e, res.ID)
}

// TestSmokeModesEngine smoke-runs a real command-line tool and a real HTTP
// service, assembled as magepack assembles scratch images, in every mode.
func TestSmokeModesEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Docker engine and go build")
	}
	e := connect(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"), 0o644))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	cli := "magepack-test/engine-smoke-modes:cli-" + run
	svc := "magepack-test/engine-smoke-modes:http-" + run
	loadScratchImage(t, e, cli, "tool", buildLinux(t, dir, "tool", cliSource), ca, 0)
	loadScratchImage(t, e, svc, "service", buildLinux(t, dir, "service", httpSource), ca, 8080)

	tests := []struct {
		name        string
		image       string
		setting     string // as the user writes it
		timeout     time.Duration
		wantLogs    string   // on success, in the result's logs
		wantErr     []string // substrings of the error; none means success
		wantExit    int
		commandLine bool
	}{
		{name: "cli run:--version", image: cli, setting: "run:--version", wantLogs: "tool 1.2.3"},
		{name: "cli run: alone", image: cli, setting: "run:", wantLogs: "usage: tool"},
		{name: "cli run with a bad flag", image: cli, setting: "run:--bogus",
			wantErr: []string{`the command (arguments ["--bogus"]) exited with code 2`, "tool: unknown flag --bogus"}, wantExit: 2},
		{name: "cli under start", image: cli, setting: "start",
			wantErr:  []string{"container exited with code 0 within 1s of starting", "looks like a command-line tool", "run:<args>", "usage: tool"},
			wantExit: 0, commandLine: true},
		{name: "cli under an HTTP path", image: cli, setting: "/healthz",
			wantErr:  []string{"container exited with code 0 before answering /healthz", "looks like a command-line tool"},
			wantExit: 0, commandLine: true},
		{name: "service run: never exits", image: svc, setting: "run:", timeout: 1500 * time.Millisecond,
			wantErr: []string{"still running after 1.5s", "expects it to exit 0", "service listening on :8080"}, wantExit: -1},
		{name: "service start", image: svc, setting: "start"},
		{name: "service /healthz", image: svc, setting: "/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := engine.ParseSmoke(tt.setting)
			require.NoError(t, err)
			opts.Port, opts.Timeout = 8080, tt.timeout
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := e.Smoke(ctx, tt.image, opts)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.Contains(t, res.Logs, tt.wantLogs)
				if opts.Mode == engine.SmokeRun {
					assert.Zero(t, res.HostPort, "a command line publishes nothing")
				}
				return
			}
			require.Error(t, err)
			t.Logf("the error as users see it:\n%v", err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), "MAGEPACK_")
			var se *engine.SmokeError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.wantExit, se.ExitCode)
			assert.Equal(t, tt.commandLine, se.CommandLine)
		})
	}
}

// BenchmarkSmokeHTTPEngine measures how long an HTTP smoke run of a
// service that starts listening after DELAY takes to pass (container start
// included): what probing every 25ms instead of backing off saves.
func BenchmarkSmokeHTTPEngine(b *testing.B) {
	e := connect(b)
	dir := b.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(b, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"), 0o644))
	r := make([]byte, 4)
	_, _ = rand.Read(r)
	svc := "magepack-test/engine-smoke-modes:bench-" + hex.EncodeToString(r)
	loadScratchImage(b, e, svc, "service", buildLinux(b, dir, "service", httpSource), ca, 8080)
	for _, delay := range []string{"0s", "300ms", "700ms"} {
		b.Run("delay="+delay, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				res, err := e.Smoke(b.Context(), svc, engine.SmokeOptions{Mode: engine.SmokeHTTP, Path: "/healthz", Port: 8080, Env: []string{"DELAY=" + delay}})
				require.NoError(b, err)
				total += res.Duration
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "pass-ms")
		})
	}
}
