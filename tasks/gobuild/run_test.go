package gobuild

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

const helloMain = `package main

var version, commit, date, extra string

func main() { println(version, commit, date, extra) }
`

// writeModule writes a module example.com/hello with files into dir.
func writeModule(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	fixture.WriteModule(t, dir, fixture.Module{Path: "example.com/hello", Files: files})
}

func helloConfig(dir string) Config {
	return Config{
		ModuleDir:    dir,
		Name:         "hello",
		Version:      "1.2.3",
		Commit:       "abc123",
		Date:         date,
		LdflagsExtra: "-X main.extra=v{{.Version}}",
		Parallel:     2,
	}
}

func TestRunIntegration(t *testing.T) {
	fixture.SkipShort(t, "builds for two platforms (cold on a fresh machine)")
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"main.go": helloMain})
	cfg := helloConfig(dir)
	jobs, err := Plan(cfg, []Target{linuxAMD64, windowsAMD64}, os.Environ())
	require.NoError(t, err)

	var progressed []string
	results, err := Run(context.Background(), jobs, cfg, func(r Result) {
		progressed = append(progressed, r.Job.Target.String())
	})
	require.NoError(t, err)
	require.Len(t, results, 2)
	assert.ElementsMatch(t, []string{"linux/amd64", "windows/amd64"}, progressed, "progress once per job")

	distDir := filepath.Join(dir, "dist")
	for i, want := range []string{"hello_linux_amd64", "hello_windows_amd64.exe"} {
		r := results[i]
		t.Run(want, func(t *testing.T) {
			require.NoError(t, r.Err)
			assert.Equal(t, filepath.Join(distDir, want), r.Path, "results in job order")
			fi, err := os.Stat(r.Path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
			assert.Equal(t, fi.Size(), r.Size)
			sum, err := atomicfile.Sum(r.Path)
			require.NoError(t, err)
			assert.Equal(t, sum, r.SHA256)
			assert.Positive(t, r.Duration)

			// With -trimpath go leaves -ldflags out of the build info (they
			// may hold paths), so look for the stamped values themselves.
			out, err := exec.Command("go", "version", "-m", r.Path).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "-trimpath=true")
			data, err := os.ReadFile(r.Path)
			require.NoError(t, err)
			for _, v := range []string{"1.2.3", "abc123", "2024-01-02T02:04:05Z", "v1.2.3"} {
				assert.Contains(t, string(data), v, "stamped with -X")
			}
			assert.NotContains(t, string(data), dir, "no build folder path in the binary")
			assert.Contains(t, string(out), "GOOS="+r.Job.Target.OS)
			assert.Contains(t, string(out), "CGO_ENABLED=0")
		})
	}
	assert.Empty(t, fixture.Leftovers(t, distDir))

	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		var stderr bytes.Buffer
		cmd := exec.Command(results[0].Path)
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Run())
		assert.Equal(t, "1.2.3 abc123 2024-01-02T02:04:05Z v1.2.3\n", stderr.String(), "the variables are stamped")
	}
}

func TestRunReproducibleIntegration(t *testing.T) {
	fixture.SkipShort(t, "builds three times (cold on a fresh machine)")
	base := t.TempDir()
	build := func(dir string, cfg Config) []byte {
		t.Helper()
		writeModule(t, dir, map[string]string{"main.go": helloMain})
		cfg.ModuleDir = dir
		jobs, err := Plan(cfg, []Target{linuxAMD64}, os.Environ())
		require.NoError(t, err)
		results, err := Run(context.Background(), jobs, cfg, nil)
		require.NoError(t, err)
		data, err := os.ReadFile(results[0].Path)
		require.NoError(t, err)
		return data
	}
	cfg := helloConfig("")
	a := build(filepath.Join(base, "first", "checkout"), cfg)
	b := build(filepath.Join(base, "elsewhere"), cfg)
	assert.True(t, bytes.Equal(a, b), "same source in two folders builds byte-identical binaries")
	bi, err := buildinfo.Read(bytes.NewReader(a))
	require.NoError(t, err)
	var gcflags string
	for _, s := range bi.Settings {
		if s.Key == "-gcflags" {
			gcflags = s.Value
		}
	}
	assert.Equal(t, "all=-dwarf=false", gcflags, "built without compiling DWARF (-w drops it anyway)")

	cfg.Version = "1.2.4"
	c := build(filepath.Join(base, "third"), cfg)
	assert.False(t, bytes.Equal(a, c), "a different version stamps different bytes")
}

func TestRunCompileErrorIntegration(t *testing.T) {
	fixture.SkipShort(t, "builds for two platforms (cold on a fresh machine)")
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{
		"main.go":        helloMain,
		"bad_windows.go": "package main\n\nvar broken int = \"not an int\"\n",
	})
	distDir := filepath.Join(dir, "dist")
	require.NoError(t, os.MkdirAll(distDir, 0o755))
	previous := filepath.Join(distDir, "hello_windows_amd64.exe")
	require.NoError(t, os.WriteFile(previous, []byte("previous good binary"), 0o755))

	cfg := helloConfig(dir)
	jobs, err := Plan(cfg, []Target{windowsAMD64, linuxAMD64}, os.Environ())
	require.NoError(t, err)
	var progressed int
	results, err := Run(context.Background(), jobs, cfg, func(Result) { progressed++ })
	require.Error(t, err)
	assert.Equal(t, 2, progressed, "every job runs and reports, the failure does not stop the other")

	var be *BuildError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, windowsAMD64, be.Target)
	assert.Contains(t, err.Error(), "1 of 2 builds failed")
	assert.Contains(t, err.Error(), "go build for windows/amd64 failed")
	assert.Contains(t, err.Error(), "bad_windows.go:3", "the compiler's output is in the error")
	assert.NotContains(t, err.Error(), "linux/amd64")

	require.Len(t, results, 2)
	assert.ErrorAs(t, results[0].Err, &be)
	assert.Contains(t, results[0].Output, "bad_windows.go:3")
	assert.Empty(t, results[0].Path)
	require.NoError(t, results[1].Err)
	assert.FileExists(t, results[1].Path)

	got, err := os.ReadFile(previous)
	require.NoError(t, err)
	assert.Equal(t, "previous good binary", string(got), "the previous good binary is untouched")
	assert.Empty(t, fixture.Leftovers(t, distDir))
}

func TestRunCancelIntegration(t *testing.T) {
	fixture.SkipShort(t, "a cold build with an empty GOCACHE")
	if runtime.GOOS != "linux" {
		t.Skip("finds leftover processes through /proc")
	}
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"main.go": helloMain})
	distDir := filepath.Join(dir, "dist")
	require.NoError(t, os.MkdirAll(distDir, 0o755))
	previous := filepath.Join(distDir, "hello_linux_amd64")
	require.NoError(t, os.WriteFile(previous, []byte("previous good binary"), 0o755))

	// An empty build cache makes go build compile the runtime, which takes
	// long enough to cancel it midway; the marker finds its processes.
	marker := fmt.Sprintf("MAGEPACK_GOBUILD_TEST_MARKER=%d-%d", os.Getpid(), time.Now().UnixNano())
	cfg := helloConfig(dir)
	gotmp := t.TempDir()
	cfg.ExtraEnv = []string{"GOCACHE=" + t.TempDir(), "GOTMPDIR=" + gotmp, marker}
	jobs, err := Plan(cfg, []Target{linuxAMD64}, os.Environ())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type runOut struct {
		results []Result
		err     error
	}
	done := make(chan runOut, 1)
	go func() {
		r, err := Run(ctx, jobs, cfg, nil)
		done <- runOut{r, err}
	}()

	// Cancel once go build has started compiling (more than one process).
	require.Eventually(t, func() bool {
		procs, err := fixture.Processes(marker)
		require.NoError(t, err)
		return len(procs) >= 2
	}, 30*time.Second, 20*time.Millisecond, "go build and a compile process start")
	cancel()
	cancelled := time.Now()

	var out runOut
	select {
	case out = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	assert.Less(t, time.Since(cancelled), waitDelay+2*time.Second, "Run returns quickly after cancellation")
	require.Error(t, out.err)
	assert.ErrorIs(t, out.err, context.Canceled)
	var be *BuildError
	assert.False(t, errors.As(out.err, &be), "cancellation is not a compile error")
	assert.Contains(t, out.err.Error(), "linux/amd64")

	fixture.AssertNoProcesses(t, marker, 0)
	assert.Empty(t, fixture.Leftovers(t, distDir), "no temporary file left")
	assert.Empty(t, fixture.Leftovers(t, gotmp), "no go-build work folder left")
	got, err := os.ReadFile(previous)
	require.NoError(t, err)
	assert.Equal(t, "previous good binary", string(got))
}

func TestRunMissingGo(t *testing.T) {
	dir := t.TempDir()
	cfg := helloConfig(dir)
	cfg.GoBin = "magepack-no-such-go"
	jobs, err := Plan(cfg, []Target{linuxAMD64}, nil)
	require.NoError(t, err)
	results, err := Run(context.Background(), jobs, cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `go command "magepack-no-such-go" not found`)
	var be *BuildError
	assert.False(t, errors.As(results[0].Err, &be))
	assert.Empty(t, fixture.Leftovers(t, filepath.Join(dir, "dist")))
}
