package gobuild

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// planMains plans every main of mains (folder -> binary name) for targets
// with cfg, as tasks plans several services: one Plan per service.
func planMains(t *testing.T, cfg Config, mains [][2]string, targets []Target, env []string) []Job {
	t.Helper()
	var jobs []Job
	for _, m := range mains {
		c := cfg
		c.Main, c.Name = m[0], m[1]
		js, err := Plan(c, targets, env)
		require.NoError(t, err)
		jobs = append(jobs, js...)
	}
	return jobs
}

func TestBatches(t *testing.T) {
	cfg := Config{Version: "1.2.3", Commit: "abc", Date: date}
	env := []string{"HOME=/home/u"}
	jobs := planMains(t, cfg, [][2]string{{"./cmd/api", "api"}, {"./cmd/worker", "worker"}, {".", "root"}, {"./cmd/v2", "v2"}, {"./tools/api", "api2"}},
		[]Target{linuxAMD64, windowsAMD64}, env)
	other := cfg
	other.CGO = true
	other.Main, other.Name = "./cmd/cgo", "cgo"
	cgo, err := Plan(other, []Target{linuxAMD64}, env)
	require.NoError(t, err)
	jobs = append(jobs, cgo...)

	batches := Batches(jobs)
	var got []string
	for _, b := range batches {
		var names []string
		for _, j := range b.Jobs {
			names = append(names, j.Name+" "+j.Target.String())
		}
		got = append(got, strings.Join(names, ", "))
	}
	assert.Equal(t, []string{
		"api linux/amd64, worker linux/amd64",
		"api windows/amd64, worker windows/amd64",
		"root linux/amd64", "root windows/amd64", // go names the root's binary after the module
		"v2 linux/amd64", "v2 windows/amd64", // and ./cmd/v2's after cmd
		"api2 linux/amd64", "api2 windows/amd64", // a second "api" in one folder would clash
		"cgo linux/amd64", // other settings
	}, got)

	ld, err := Ldflags(cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"build", "-trimpath", "-buildvcs=auto", "-gcflags=all=-dwarf=false", "-ldflags", ld, "-o", "dist" + string(filepath.Separator), "./cmd/api", "./cmd/worker"}, batches[0].Args)
	assert.Equal(t, jobs[0].Env, batches[0].Env)
	assert.Equal(t, jobs[4].Args, batches[2].Args, "a batch of one runs its job's own argv")

	seen := map[int]bool{}
	for _, b := range batches {
		require.Len(t, b.index, len(b.Jobs))
		for k, i := range b.index {
			assert.Equal(t, jobs[i], b.Jobs[k], "index points at the job")
			assert.False(t, seen[i])
			seen[i] = true
		}
	}
	assert.Len(t, seen, len(jobs), "every job in exactly one batch")
}

func TestExecName(t *testing.T) {
	for main, want := range map[string]string{"./cmd/api": "api", "./api": "api", "./cmd/v1x": "v1x", "./cmd/v": "v"} {
		got, ok := execName(main)
		assert.True(t, ok, main)
		assert.Equal(t, want, got, main)
	}
	for _, main := range []string{".", "./cmd/v2", "./cmd/v10", "../other/cmd/x", "./cmd/...", "example.com/x/cmd/y"} {
		_, ok := execName(main)
		assert.False(t, ok, main)
	}
}

// threeMains is a module with three mains that share a package.
var threeMains = map[string]string{
	"lib/lib.go":         "package lib\n\nfunc Greeting() string { return \"hello\" }\n",
	"cmd/api/main.go":    "package main\n\nimport \"example.com/hello/lib\"\n\nvar version string\n\nfunc main() { println(\"api\", lib.Greeting(), version) }\n",
	"cmd/worker/main.go": "package main\n\nimport \"example.com/hello/lib\"\n\nvar version string\n\nfunc main() { println(\"worker\", lib.Greeting(), version) }\n",
	"cmd/cli/main.go":    "package main\n\nimport \"example.com/hello/lib\"\n\nvar version string\n\nfunc main() { println(\"cli\", lib.Greeting(), version) }\n",
}

var threeMainList = [][2]string{{"./cmd/api", "api"}, {"./cmd/cli", "cli"}, {"./cmd/worker", "worker"}}

// loggingGo writes a go command that appends its arguments, one line per
// invocation, to the returned log, then runs the real go.
func loggingGo(t *testing.T) (goBin, log string) {
	t.Helper()
	dir := t.TempDir()
	real, err := exec.LookPath("go")
	require.NoError(t, err)
	log = filepath.Join(dir, "invocations.log")
	goBin = filepath.Join(dir, "go")
	require.NoError(t, os.WriteFile(goBin, []byte("#!/bin/sh\necho \"$GOOS/$GOARCH $*\" >> '"+log+"'\nexec '"+real+"' \"$@\"\n"), 0o755))
	return goBin, log
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestRunBatchIntegration: three mains for two platforms are two go
// builds, one per platform, whose binaries are byte for byte those of
// six separate builds.
func TestRunBatchIntegration(t *testing.T) {
	fixture.SkipShort(t, "builds three mains for two platforms, together and apart")
	dir := t.TempDir()
	writeModule(t, dir, threeMains)
	goBin, log := loggingGo(t)
	cfg := helloConfig(dir)
	cfg.GoBin = goBin
	jobs := planMains(t, cfg, threeMainList, []Target{linuxAMD64, windowsAMD64}, os.Environ())
	require.Len(t, jobs, 6)

	var progressed []string
	results, err := Run(context.Background(), jobs, cfg, func(r Result) { progressed = append(progressed, r.Job.Name+" "+r.Job.Target.String()) })
	require.NoError(t, err)
	assert.Len(t, progressed, 6, "progress once per job")

	calls := readLines(t, log)
	require.Len(t, calls, 2, "one go build per platform:\n%s", strings.Join(calls, "\n"))
	for _, c := range calls {
		assert.True(t, strings.HasSuffix(c, " ./cmd/api ./cmd/cli ./cmd/worker"), "every main in one go build: %s", c)
	}

	// The same jobs, one go build each, into another folder.
	apart := filepath.Join(t.TempDir(), "apart")
	for i, j := range jobs {
		require.NoError(t, results[i].Err)
		assert.Equal(t, filepath.Join(dir, j.Output), results[i].Path, "results in job order")
		assert.Equal(t, filepath.Join(dir, "dist", BinaryName(j.Name, j.Target)), results[i].Path)
		alone := j
		alone.Output = filepath.Join(apart, BinaryName(j.Name, j.Target))
		alone.Args = withOutput(j.Args, alone.Output)
		rs, err := Run(context.Background(), []Job{alone}, cfg, nil)
		require.NoError(t, err)
		together, err := os.ReadFile(results[i].Path)
		require.NoError(t, err)
		separate, err := os.ReadFile(rs[0].Path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(together, separate), "%s for %s: the batch's binary is byte for byte a separate build's", j.Name, j.Target)
		assert.Equal(t, rs[0].SHA256, results[i].SHA256)
		assert.Contains(t, string(together), j.Name, "each binary is its own main")
	}
	assert.Len(t, readLines(t, log), 2+6, "the separate builds ran one go build each")
	assert.Empty(t, fixture.Leftovers(t, filepath.Join(dir, "dist")), "no temporary folder left")
}

// TestRunBatchCompileErrorIntegration: a compile error in one main of a
// batch fails that job alone, naming its service; the others' binaries
// are written, and the broken one's previous binary stays.
func TestRunBatchCompileErrorIntegration(t *testing.T) {
	fixture.SkipShort(t, "builds three mains")
	dir := t.TempDir()
	files := map[string]string{}
	for k, v := range threeMains {
		files[k] = v
	}
	files["cmd/cli/broken.go"] = "package main\n\nvar broken int = \"not an int\"\n"
	writeModule(t, dir, files)
	distDir := filepath.Join(dir, "dist")
	require.NoError(t, os.MkdirAll(distDir, 0o755))
	previous := filepath.Join(distDir, "cli_linux_amd64")
	require.NoError(t, os.WriteFile(previous, []byte("previous good binary"), 0o755))

	cfg := helloConfig(dir)
	jobs := planMains(t, cfg, threeMainList, []Target{linuxAMD64}, os.Environ())
	require.Len(t, Batches(jobs), 1)
	results, err := Run(context.Background(), jobs, cfg, nil)
	require.Error(t, err)
	t.Logf("the error as users see it:\n%v", err)
	assert.Contains(t, err.Error(), "1 of 3 builds failed")
	assert.Contains(t, err.Error(), "cli: go build for linux/amd64 failed")
	assert.Contains(t, err.Error(), "cmd/cli/broken.go:3", "the compiler's output")
	var be *BuildError
	require.ErrorAs(t, results[1].Err, &be)
	assert.Equal(t, "cli", be.Name)
	for _, i := range []int{0, 2} {
		require.NoError(t, results[i].Err)
		assert.FileExists(t, results[i].Path)
	}
	got, err := os.ReadFile(previous)
	require.NoError(t, err)
	assert.Equal(t, "previous good binary", string(got))
	assert.Empty(t, fixture.Leftovers(t, distDir))

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		results, err := Run(ctx, jobs, cfg, nil)
		require.Error(t, err)
		for _, r := range results {
			assert.True(t, errors.Is(r.Err, context.Canceled), "%v", r.Err)
		}
	})
}
