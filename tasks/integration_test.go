package tasks

// Importable, proven (issue 2): a throw-away consumer module imports the
// targets with an alias, the way other repos use magepack, and runs them
// with `go tool mage` as its users would.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
)

// consumerMagefile imports the targets as pack:* and sets a Go-level
// default the environment overrides in the tests.
const consumerMagefile = `//go:build mage

// The consumer's build: magepack's targets under the pack: namespace.
package main

import (
	//mage:import pack
	"github.com/magepack/magepack/tasks"
)

func init() {
	// The environment overrides this (env > Go > defaults).
	tasks.Settings.Platforms = "linux/arm64"
}
`

// mageResult is the outcome of one `go tool mage` run.
type mageResult struct {
	code           int
	stdout, stderr string
}

// newConsumer writes a consumer module into a new git repository:
// example.com/acme/hello with its main package in cmd/hello, a magefile
// importing this checkout's tasks as pack (a replace directive points at
// it), the mage tool directive, and go.mod/go.sum made complete offline
// with go mod tidy from this checkout's go.sum. The commit is tagged
// v1.2.3. It returns the module's folder.
func newConsumer(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	repo := filepath.Dir(wd) // tests run in <repo>/tasks
	goSum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	require.NoError(t, err)

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod": "module example.com/acme/hello\n\ngo 1.25.0\n\ntool github.com/magefile/mage\n\n" +
			"require github.com/magepack/magepack v0.0.0\n\nreplace github.com/magepack/magepack => " + repo + "\n",
		"go.sum":                string(goSum),
		"cmd/hello/main.go":     svcMain,
		"magefiles/magefile.go": consumerMagefile,
		".gitignore":            "/dist/\n/dist-*/\n",
	})
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go mod tidy in the consumer: %s", out)
	pubGit(t, dir, "init", "-q", "-b", "main")
	pubGit(t, dir, "add", "-A")
	pubGit(t, dir, "commit", "-q", "-m", "hello")
	pubGit(t, dir, "tag", "v1.2.3")
	return dir
}

// goToolMage runs `go tool mage args...` in dir with the test's
// environment minus every MAGEPACK_* variable, plus env.
func goToolMage(t *testing.T, dir string, env []string, args ...string) mageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "mage"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAGEPACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=mod")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := mageResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("go tool mage %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("go tool mage %s: exit %d in %s", strings.Join(args, " "), res.code, time.Since(start).Round(100*time.Millisecond))
	return res
}

func TestIntegrationImportedTargets(t *testing.T) {
	slow(t, "mage compiles")
	dir := newConsumer(t)
	head := strings.TrimSpace(pubGit(t, dir, "rev-parse", "HEAD"))
	distDir := filepath.Join(dir, "dist")

	t.Run("mage -l lists the aliased targets", func(t *testing.T) {
		res := goToolMage(t, dir, nil, "-l")
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		for _, target := range []string{"pack:crossCompile", "pack:staticCheck", "pack:dockerScratch", "pack:dockerAlpine"} {
			assert.Contains(t, res.stdout, target)
		}
		assert.Contains(t, res.stdout, "builds the main package for every configured platform", "the first sentence of the doc comment")
		assert.NotContains(t, res.stdout, "pack:setup", "helpers are not targets")
	})

	t.Run("crossCompile and staticCheck", func(t *testing.T) {
		res := goToolMage(t, dir, []string{"MAGEPACK_PLATFORMS=linux/amd64,windows/amd64"}, "pack:crossCompile", "pack:staticCheck")
		require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		assert.Equal(t, 1, strings.Count(res.stdout, "[build] hello 1.2.3"), "one build for both targets:\n%s", res.stdout)
		assert.Contains(t, res.stdout, "[linux/amd64] built dist/hello_linux_amd64")
		assert.Contains(t, res.stdout, "[windows/amd64] built dist/hello_windows_amd64.exe")

		entries, err := os.ReadDir(distDir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		assert.ElementsMatch(t, []string{"hello_linux_amd64", "hello_windows_amd64.exe", dist.ChecksumsFile, dist.ManifestFile, ".magepack.lock"}, names,
			"the environment's platforms, not the magefile's linux/arm64")

		sums := exec.Command("sha256sum", "-c", dist.ChecksumsFile)
		sums.Dir = distDir
		out, err := sums.CombinedOutput()
		require.NoError(t, err, "sha256sum -c: %s", out)
		assert.Equal(t, "hello_linux_amd64: OK\nhello_windows_amd64.exe: OK\n", string(out))

		raw, err := os.ReadFile(filepath.Join(distDir, dist.ManifestFile))
		require.NoError(t, err)
		var m dist.Manifest
		require.NoError(t, json.Unmarshal(raw, &m))
		require.Len(t, m.Binaries, 2)
		for _, b := range m.Binaries {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(b.Path)))
			require.NoError(t, err, b.Path)
			assert.Equal(t, fi.Size(), b.Size, b.Path)
			sum, err := dist.Sum(filepath.Join(dir, filepath.FromSlash(b.Path)))
			require.NoError(t, err)
			assert.Equal(t, sum, b.SHA256, b.Path)
			assert.Equal(t, "0", b.CGO, b.Path)
			assert.True(t, strings.HasPrefix(b.GoVersion, "go1."), b.GoVersion)
			switch b.Path {
			case "dist/hello_linux_amd64":
				assert.Equal(t, "linux", b.OS)
				assert.Equal(t, "amd64", b.Arch)
				assert.Equal(t, "static", b.Linkage)
				assert.Equal(t, "none", b.Libc)
			case "dist/hello_windows_amd64.exe":
				assert.Equal(t, "windows", b.OS)
				assert.Equal(t, "amd64", b.Arch)
			default:
				t.Errorf("unexpected binary %s in artifacts.json", b.Path)
			}
		}
		var checks []string
		for _, c := range m.Checks {
			assert.True(t, c.OK, "%s check of %s: %s", c.Name, c.Subject, c.Message)
			checks = append(checks, c.Name+" "+c.Subject)
		}
		assert.ElementsMatch(t, []string{"scratch dist/hello_linux_amd64", "alpine dist/hello_linux_amd64"}, checks, "windows binaries are reported, not checked")
		assert.Contains(t, res.stdout, "hello_windows_amd64.exe", "the linkage table lists every binary")

		// The version, commit and commit date stamped into the binary.
		run := exec.Command(filepath.Join(distDir, "hello_linux_amd64"), "-version")
		out, err = run.Output()
		require.NoError(t, err)
		assert.Equal(t, "1.2.3 "+head+" 2024-05-06T07:08:09Z\n", string(out))
	})

	t.Run("unknown platform exits 2 naming the fix", func(t *testing.T) {
		res := goToolMage(t, dir, []string{"MAGEPACK_PLATFORMS=linux/amd65", "MAGEPACK_DIST=dist-bad"}, "pack:crossCompile")
		assert.Equal(t, ExitConfig, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		assert.Contains(t, res.stderr, `"linux/amd65"`)
		assert.Contains(t, res.stderr, "linux/amd64")
		assert.NoDirExists(t, filepath.Join(dir, "dist-bad"))
	})

	t.Run("a cgo binary fails staticCheck with exit 4 naming it", func(t *testing.T) {
		needGCC(t)
		res := goToolMage(t, dir, []string{"MAGEPACK_CGO=1", "MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_DIST=dist-cgo"}, "pack:staticCheck")
		assert.Equal(t, ExitCheck, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
		assert.Contains(t, res.stderr, "dist-cgo/hello_linux_amd64")
		assert.Contains(t, res.stderr, "dynamic")
		assert.Contains(t, res.stderr, "CGO_ENABLED=0", "the fix")
		assert.FileExists(t, filepath.Join(dir, "dist-cgo", "hello_linux_amd64"), "staticCheck built it first")
	})

	t.Run("the consumer's tree stays clean", func(t *testing.T) {
		assert.Empty(t, pubGit(t, dir, "status", "--porcelain"), "no run changes go.mod, go.sum or any tracked file")
	})
}
