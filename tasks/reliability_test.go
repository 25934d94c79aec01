package tasks_test

// Reliability tests (issue 6): the targets run as a user runs them, as a
// compiled mage binary in a throw-away module, and are faulted: a compile
// error on one platform, Ctrl-C during a build and during a smoke run, two
// runs at once, an engine that goes away mid-load, a smoke run that fails.
//
// The helpers here (prefixed rel) are shared with badinput_test.go and
// security_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// relMarkerEnv is set, with a value unique to one run, in the environment of
// every mage run; go build and the compilers inherit it, so a process that
// outlives its run is found in /proc by it.
const relMarkerEnv = "MAGEPACK_RELTEST_RUN"

// relMainGo is the test app: an HTTP server that answers 404 to everything,
// so a smoke run probing a path waits until it is stopped.
const relMainGo = `package main

import (
	"fmt"
	"net/http"
	"os"
)

var version = "dev"

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	fmt.Println("relapp", version, "listening on", port)
	if err := http.ListenAndServe(":"+port, http.NotFoundHandler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// relCrashGo is a main package that fails at once, for failing smoke runs.
const relCrashGo = `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("relcrash: starting")
	fmt.Fprintln(os.Stderr, "relcrash: crashing on purpose")
	os.Exit(3)
}
`

// relMageBinary compiles this checkout's targets into a standalone mage
// binary (go tool mage -compile in a consumer module that imports tasks)
// once per test process. The binary runs the targets against the module
// in its working folder, so every test gives it a module of its own. It is
// cached in the temp folder under a hash of the sources, so reruns on an
// unchanged checkout skip the compile.
var relMageBinary = sync.OnceValues(func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	repo := filepath.Dir(wd) // tests run in <repo>/tasks
	sum, err := relSourceHash(repo)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(os.TempDir(), "magepack-reltest")
	bin := filepath.Join(cache, sum[:16], "mage")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Binaries of older sources are of no use any more.
	if old, _ := filepath.Glob(filepath.Join(cache, "*")); len(old) > 0 {
		for _, o := range old {
			_ = os.RemoveAll(o)
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	mod, err := os.MkdirTemp("", "magepack-relmage-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(mod)
	gosum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"go.mod": "module example.com/relmage\n\ngo 1.25.0\n\ntool github.com/magefile/mage\n\n" +
			"require github.com/magepack/magepack v0.0.0\n\nreplace github.com/magepack/magepack => " + repo + "\n",
		"go.sum":         string(gosum),
		"magefile.go":    "//go:build mage\n\npackage main\n\nimport (\n\t//mage:import\n\t_ \"github.com/magepack/magepack/tasks\"\n)\n",
		"placeholder.go": "package relmage\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(mod, n), []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid()) // another test process may be compiling too
	for _, args := range [][]string{{"mod", "tidy"}, {"tool", "mage", "-compile", tmp}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = mod, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s in a consumer module: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin, os.Rename(tmp, bin)
})

// relSourceHash hashes what the compiled targets are made of.
func relSourceHash(repo string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	err := filepath.WalkDir(filepath.Join(repo, "tasks"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// relMage returns the compiled mage binary, failing the test if it cannot
// be built.
func relMage(t *testing.T) string {
	t.Helper()
	bin, err := relMageBinary()
	require.NoError(t, err, "compile the targets with go tool mage -compile")
	return bin
}

// relNewApp creates a Go module with the test app (main package at the
// root, plus extra files) in a fresh git repository with one commit, and
// returns its folder. dist/ is git-ignored so runs do not make it dirty.
func relNewApp(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":     "module example.com/relapp\n\ngo 1.25.0\n",
		"main.go":    relMainGo,
		".gitignore": "dist/\n",
	}
	for n, c := range extra {
		files[n] = c
	}
	for n, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
	}
	relGit(t, dir, "init", "-q")
	relGit(t, dir, "add", "-A")
	relGit(t, dir, "commit", "-q", "-m", "relapp")
	return dir
}

func relGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=magepack test", "-c", "user.email=test@magepack.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

// relEnv is the environment of a mage run: the test's own without any
// MAGEPACK_* setting (so the host's cannot leak in), a marker unique to
// the run, then env (later entries win).
func relEnv(marker string, env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAGEPACK_") {
			out = append(out, kv)
		}
	}
	out = append(out, relMarkerEnv+"="+marker)
	return append(out, env...)
}

// relProc is a running mage binary.
type relProc struct {
	cmd    *exec.Cmd
	marker string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	code   int
}

type relSyncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w relSyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// relStart starts the mage binary with targets in dir. env adds to (and
// overrides) the test's environment. The process is killed if the test
// ends first.
func relStart(t *testing.T, dir string, env []string, targets ...string) *relProc {
	t.Helper()
	return relStartCmd(t, exec.Command(relMage(t), targets...), dir, env)
}

func relStartCmd(t *testing.T, cmd *exec.Cmd, dir string, env []string) *relProc {
	t.Helper()
	p := &relProc{cmd: cmd, marker: relRandom(), done: make(chan struct{})}
	cmd.Dir = dir
	cmd.Env = relEnv(p.marker, env...)
	cmd.Stdout = relSyncWriter{&p.mu, &p.stdout}
	cmd.Stderr = relSyncWriter{&p.mu, &p.stderr}
	require.NoError(t, cmd.Start())
	go func() {
		err := cmd.Wait()
		p.code = 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			p.code = exit.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		// Ctrl-C first, so the run removes its containers; then kill.
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *relProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("mage %v did not exit within %s\nstdout:\n%s\nstderr:\n%s", p.cmd.Args[1:], d, p.out(), p.errOut())
		return -1
	}
}

func (p *relProc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *relProc) errOut() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitOutput waits up to d for stdout to contain s.
func (p *relProc) waitOutput(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.out(), s) {
		select {
		case <-p.done:
			t.Fatalf("mage exited with %d before printing %q\nstdout:\n%s\nstderr:\n%s", p.code, s, p.out(), p.errOut())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mage did not print %q within %s\nstdout:\n%s\nstderr:\n%s", s, d, p.out(), p.errOut())
		}
	}
}

// relResult is a finished mage run.
type relResult struct {
	code           int
	stdout, stderr string
	marker         string
}

// relRun runs the mage binary with targets in dir and waits for it (at
// most three minutes).
func relRun(t *testing.T, dir string, env []string, targets ...string) relResult {
	t.Helper()
	p := relStart(t, dir, env, targets...)
	code := p.wait(t, 3*time.Minute)
	return relResult{code: code, stdout: p.out(), stderr: p.errOut(), marker: p.marker}
}

// requireOK fails the test with the run's output unless it succeeded.
func (r relResult) requireOK(t *testing.T) {
	t.Helper()
	require.Equal(t, 0, r.code, "mage failed\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

// assertNoPanic checks that output carries no Go panic or stack trace.
func relAssertNoPanic(t *testing.T, output string) {
	t.Helper()
	assert.NotContains(t, output, "panic:", "a user mistake must not panic")
	assert.NotRegexp(t, regexp.MustCompile(`goroutine \d+ \[`), output, "no stack trace")
}

// relSurvivors lists the processes (pid and command line) that still
// carry marker in their environment. Zombies, which have none, are not
// counted: they hold no resources but a process table slot.
func relSurvivors(marker string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, pd := range procs {
		env, err := os.ReadFile(filepath.Join(pd, "environ"))
		if err != nil || !bytes.Contains(env, []byte(relMarkerEnv+"="+marker+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(pd, "cmdline"))
		found = append(found, filepath.Base(pd)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// relAssertNoSurvivors waits a moment for the run's processes to go, then
// fails listing those that did not.
func relAssertNoSurvivors(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	var left []string
	for {
		if left = relSurvivors(marker); len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	assert.Empty(t, left, "processes of the interrupted run still alive")
}

// relAssertNoTemp fails when dir holds a half-written .magepack-tmp-* file.
func relAssertNoTemp(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, dist.TempPrefix+"*"))
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files left in %s", dir)
}

// relChecksumsVerify runs sha256sum -c on dist's SHA256SUMS, the way a user
// checks a download.
func relChecksumsVerify(t *testing.T, distDir string) {
	t.Helper()
	cmd := exec.Command("sha256sum", "-c", dist.ChecksumsFile)
	cmd.Dir = distDir
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "sha256sum -c in %s:\n%s", distDir, out)
}

// relManifest reads dist/artifacts.json.
func relManifest(t *testing.T, distDir string) dist.Manifest {
	t.Helper()
	m, err := dist.ReadManifest(distDir)
	require.NoError(t, err)
	return m
}

func relRandom() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// relImageRepo returns a repository name for the test's images, unique to
// the run, and removes every image tagged in it when the test ends.
func relImageRepo(t *testing.T, cli *client.Client, what string) string {
	t.Helper()
	repo := "magepack-test/rel-" + what + "-" + relRandom()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("reference", repo)})
		if err != nil {
			t.Logf("list images of %s: %v", repo, err)
			return
		}
		for _, img := range list.Items {
			for _, tag := range img.RepoTags {
				_, _ = cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			}
		}
	})
	return repo
}

// relImageTags lists the tags of repo the engine has.
func relImageTags(t *testing.T, cli *client.Client, repo string) []string {
	t.Helper()
	list, err := cli.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("reference", repo)})
	require.NoError(t, err)
	var tags []string
	for _, img := range list.Items {
		tags = append(tags, img.RepoTags...)
	}
	return tags
}

// relSmokeContainers lists the smoke containers of the images of repo:
// all of them, or with running only those running.
func relSmokeContainers(t *testing.T, cli *client.Client, repo string, running ...bool) []string {
	t.Helper()
	filters := client.Filters{}.Add("label", engine.SmokeLabel+"=1")
	if len(running) > 0 && running[0] {
		filters = filters.Add("status", "running")
	}
	list, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
		All:     true,
		Filters: filters,
	})
	require.NoError(t, err)
	var ids []string
	for _, c := range list.Items {
		if strings.HasPrefix(c.Image, repo+":") || strings.HasPrefix(c.Image, repo+"@") {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func TestIntegrationCompileErrorKeepsPreviousBinaries(t *testing.T) {
	slow(t, "mage compiles")
	app := relNewApp(t, nil)
	distDir := filepath.Join(app, "dist")
	env := []string{"MAGEPACK_PLATFORMS=linux/amd64,windows/amd64"}

	relRun(t, app, env, "crossCompile").requireOK(t)
	sums, err := os.ReadFile(filepath.Join(distDir, dist.ChecksumsFile))
	require.NoError(t, err)
	winExe := filepath.Join(distDir, "relapp_windows_amd64.exe")
	winBefore, err := os.ReadFile(winExe)
	require.NoError(t, err)

	// A syntax error only windows compiles; linux builds a changed binary.
	require.NoError(t, os.WriteFile(filepath.Join(app, "broken_windows.go"), []byte("package main\n\nfunc broken( {\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(app, "extra_linux.go"), []byte("package main\n\nvar extra = \"changed\"\n\nfunc init() { _ = extra }\n"), 0o644))
	res := relRun(t, app, env, "crossCompile")

	assert.Equal(t, tasks.ExitBuild, res.code, "a compile error exits with ExitBuild")
	assert.Contains(t, res.stdout, "[linux/amd64] built dist/relapp_linux_amd64", "the platform that compiled is reported")
	assert.Contains(t, res.stdout, "[windows/amd64] FAILED")
	assert.Contains(t, res.stderr, "go build for windows/amd64 failed")
	assert.Contains(t, res.stderr, "broken_windows.go:3", "the compiler's output is shown")
	relAssertNoPanic(t, res.stdout+res.stderr)

	winAfter, err := os.ReadFile(winExe)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(winBefore, winAfter), "the previous windows binary stays in place")
	relChecksumsVerify(t, distDir)
	sumsAfter, err := os.ReadFile(filepath.Join(distDir, dist.ChecksumsFile))
	require.NoError(t, err)
	assert.NotEqual(t, string(sums), string(sumsAfter), "SHA256SUMS follows the rebuilt linux binary")
	relAssertNoTemp(t, distDir)
	m := relManifest(t, distDir)
	assert.Len(t, m.Binaries, 2, "both binaries stay recorded")
	for _, b := range m.Binaries {
		sum, err := dist.Sum(filepath.Join(app, b.Path))
		require.NoError(t, err)
		assert.Equal(t, sum, b.SHA256, "artifacts.json matches %s on disk", b.Path)
	}
}

func TestIntegrationInterruptCrossCompile(t *testing.T) {
	slow(t, "mage compiles")
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{name: "Ctrl-C", sig: syscall.SIGINT},
		// What CI runners, timeout(1) and container stops send.
		{name: "SIGTERM", sig: syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := relNewApp(t, nil)
			distDir := filepath.Join(app, "dist")
			tmp := t.TempDir()
			// An empty build cache makes go build compile the standard
			// library for each platform: many seconds of work to interrupt.
			p := relStart(t, app, []string{"GOCACHE=" + t.TempDir(), "TMPDIR=" + tmp, "MAGEPACK_PLATFORMS=linux/amd64,linux/arm64,windows/amd64"}, "crossCompile")
			p.waitOutput(t, "[build]", time.Minute)
			time.Sleep(1500 * time.Millisecond) // let go build start its compilers
			require.NotEmpty(t, relSurvivors(p.marker), "go build should be running when interrupted")

			require.NoError(t, p.cmd.Process.Signal(tc.sig))
			start := time.Now()
			code := p.wait(t, 15*time.Second)
			took := time.Since(start)
			t.Logf("after %s: exit %d in %s: %s", tc.name, code, took.Round(time.Millisecond), strings.TrimSpace(p.errOut()))

			assert.Equal(t, tasks.ExitInterrupted, code, "exits with 130\nstdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
			assert.Less(t, took, 5*time.Second, "the run stops within seconds (mage gives up after 5s)")
			assert.Contains(t, p.out(), "cancelled")
			assert.Contains(t, p.errOut(), "interrupted: 3 of 3 builds stopped; dist keeps their previous binaries")
			relAssertNoPanic(t, p.out()+p.errOut())
			relAssertNoSurvivors(t, p.marker)
			relAssertNoTemp(t, distDir)
			left, err := filepath.Glob(filepath.Join(tmp, "*"))
			require.NoError(t, err)
			assert.Empty(t, left, "no go build work folders left in TMPDIR")
			for _, b := range []string{"relapp_linux_amd64", "relapp_linux_arm64", "relapp_windows_amd64.exe"} {
				assert.NoFileExists(t, filepath.Join(distDir, b), "no half-built binary")
			}
		})
	}
}

func TestIntegrationConcurrentCrossCompile(t *testing.T) {
	slow(t, "mage compiles")
	app := relNewApp(t, nil)
	distDir := filepath.Join(app, "dist")
	env := []string{"MAGEPACK_PLATFORMS=linux/amd64,darwin/arm64"}

	// The test holds the dist lock, as a run in progress would, until both
	// runs are waiting for it; then they contend for it with each other.
	unlock, err := dist.Lock(context.Background(), distDir)
	require.NoError(t, err)
	runs := []*relProc{relStart(t, app, env, "crossCompile"), relStart(t, app, env, "crossCompile")}
	for _, p := range runs {
		p.waitOutput(t, "dist is in use by another magepack run; waiting up to", time.Minute)
	}
	require.NoError(t, unlock())

	for i, p := range runs {
		code := p.wait(t, 3*time.Minute)
		assert.Equal(t, 0, code, "run %d\nstdout:\n%s\nstderr:\n%s", i+1, p.out(), p.errOut())
		assert.Contains(t, p.out(), "[linux/amd64] built dist/relapp_linux_amd64", "run %d built after its wait", i+1)
		relAssertNoPanic(t, p.out()+p.errOut())
	}

	relChecksumsVerify(t, distDir)
	relAssertNoTemp(t, distDir)
	m := relManifest(t, distDir)
	require.Len(t, m.Binaries, 2)
	for _, b := range m.Binaries {
		sum, err := dist.Sum(filepath.Join(app, b.Path))
		require.NoError(t, err)
		assert.Equal(t, sum, b.SHA256, "artifacts.json matches %s on disk", b.Path)
	}
}

func TestIntegrationLockWaitInterrupted(t *testing.T) {
	slow(t, "mage compiles")
	app := relNewApp(t, nil)
	distDir := filepath.Join(app, "dist")
	// Another run holds the lock for the whole test.
	unlock, err := dist.Lock(context.Background(), distDir)
	require.NoError(t, err)
	defer unlock()

	p := relStart(t, app, []string{"MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile")
	p.waitOutput(t, "waiting up to", time.Minute)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	code := p.wait(t, 10*time.Second)
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
	assert.Contains(t, p.errOut(), "is in use by another magepack run")
	assert.NoFileExists(t, filepath.Join(distDir, "relapp_linux_amd64"))
}

func TestEngineInterruptSmokeRun(t *testing.T) {
	slow(t, "the engine")
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "interrupt")
	app := relNewApp(t, nil)
	distDir := filepath.Join(app, "dist")

	// The app answers 404 to every path, so this smoke run waits for a 200
	// that never comes (for 20s) until it is interrupted.
	p := relStart(t, app, []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=/never-200"}, "dockerScratch")
	var id string
	deadline := time.Now().Add(2 * time.Minute)
	for id == "" {
		if ids := relSmokeContainers(t, cli, repo, true); len(ids) > 0 {
			id = ids[0]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("mage exited with %d before the smoke run started\nstdout:\n%s\nstderr:\n%s", p.code, p.out(), p.errOut())
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "no smoke container appeared\nstdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
	}

	// While it runs: the smoke container is hardened.
	// Engine 20.10 may answer "no such container" for a moment after
	// listing a new one.
	ins, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	for try := 0; cerrdefs.IsNotFound(err) && try < 20; try++ {
		time.Sleep(100 * time.Millisecond)
		ins, err = cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	}
	if err != nil {
		code := p.wait(t, 30*time.Second)
		t.Fatalf("inspect the smoke container: %v\nmage exited %d\nstdout:\n%s\nstderr:\n%s", err, code, p.out(), p.errOut())
	}
	hc := ins.Container.HostConfig
	require.NotNil(t, hc)
	assert.True(t, hc.ReadonlyRootfs, "read-only root file system")
	assert.Equal(t, []string{"ALL"}, []string(hc.CapDrop), "every capability dropped")
	assert.Contains(t, hc.SecurityOpt, "no-new-privileges")
	assert.Equal(t, "65532:65532", ins.Container.Config.User, "runs as the non-root user")
	for _, bindings := range hc.PortBindings {
		for _, b := range bindings {
			assert.Equal(t, "127.0.0.1", b.HostIP.String(), "published on loopback only")
		}
	}

	time.Sleep(500 * time.Millisecond) // a few probes answered 404
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	start := time.Now()
	code := p.wait(t, 15*time.Second)
	t.Logf("after Ctrl-C: exit %d in %s: %s", code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(p.errOut()))
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, p.errOut(), "context canceled")
	relAssertNoPanic(t, p.out()+p.errOut())

	_, err = cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	assert.True(t, cerrdefs.IsNotFound(err), "the smoke container is removed after Ctrl-C (inspect: %v)", err)
	assert.Empty(t, relSmokeContainers(t, cli, repo))
	relAssertNoSurvivors(t, p.marker)
	relAssertNoTemp(t, distDir)
	// An image whose smoke run did not pass is not recorded.
	assert.Empty(t, relManifest(t, distDir).Images)
}

func TestEngineSmokeFailureShowsLogs(t *testing.T) {
	slow(t, "the engine")
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "crash")
	app := relNewApp(t, map[string]string{"cmd/crash/main.go": relCrashGo})

	res := relRun(t, app, []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_MAIN=./cmd/crash"}, "dockerScratch")
	assert.Equal(t, tasks.ExitImage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stderr, "smoke run of "+repo)
	assert.Contains(t, res.stderr, "exited with code 3")
	assert.Contains(t, res.stderr, "relcrash: crashing on purpose", "the container's stderr is shown")
	assert.Contains(t, res.stderr, "relcrash: starting", "the container's stdout is shown")
	relAssertNoPanic(t, res.stdout+res.stderr)
	assert.Empty(t, relSmokeContainers(t, cli, repo), "the failed smoke container is removed")
}

// relEngineProxy is a fake Engine API endpoint on a unix socket that
// forwards to the real engine, for what a real engine cannot show: it can
// die in the middle of an image load (dropLoad), it can hold back its answer
// to a container create until the client gives up (holdCreate, told on
// createSeen), and it records the build context a /build request sends.
type relEngineProxy struct {
	host       string // DOCKER_HOST value, unix://…
	createSeen chan struct{}

	mu         sync.Mutex
	dropLoad   bool
	holdCreate bool
	gone       bool
	context    []byte
}

// relProxyMode says which fault the proxy plays.
type relProxyMode int

const (
	relForward    relProxyMode = iota // forward everything (and record /build)
	relDropLoad                       // die during /images/load
	relHoldCreate                     // create containers, but answer only when the client has gone
)

func relStartProxy(t *testing.T, cli *client.Client, mode relProxyMode) *relEngineProxy {
	t.Helper()
	upstream, ok := strings.CutPrefix(cli.DaemonHost(), "unix://")
	if !ok {
		t.Skipf("the engine at %s is not on a unix socket; the proxy forwards only to one", cli.DaemonHost())
	}
	sockDir, err := os.MkdirTemp("", "mpx") // short: unix socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "engine.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)

	px := &relEngineProxy{host: "unix://" + sock, dropLoad: mode == relDropLoad, holdCreate: mode == relHoldCreate, createSeen: make(chan struct{})}
	var seenOnce sync.Once
	hangUp := func(w http.ResponseWriter) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", upstream)
		}},
		FlushInterval: -1,
		ErrorHandler:  func(w http.ResponseWriter, _ *http.Request, _ error) { hangUp(w) },
		ModifyResponse: func(resp *http.Response) error {
			if !px.holdCreate || !strings.HasSuffix(resp.Request.URL.Path, "/containers/create") {
				return nil
			}
			// The engine has made the container; its answer waits until
			// the client stops waiting for it.
			seenOnce.Do(func() { close(px.createSeen) })
			select {
			case <-resp.Request.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return nil
		},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		px.mu.Lock()
		gone := px.gone
		drop := px.dropLoad && strings.HasSuffix(r.URL.Path, "/images/load")
		if drop {
			px.gone = true // from now on the engine is away
		}
		px.mu.Unlock()
		switch {
		case gone:
			hangUp(w)
			return
		case drop:
			// Part of the image reaches the engine, then the line goes dead.
			r.Body = &relCutBody{r: r.Body, left: 64 << 10}
		case strings.HasSuffix(r.URL.Path, "/build"):
			r.Body = &relRecordBody{r: r.Body, px: px}
		}
		rp.ServeHTTP(w, r)
	}))
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return px
}

// relCutBody passes left bytes through, then fails like a dropped line.
type relCutBody struct {
	r    io.ReadCloser
	left int
}

func (b *relCutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("engine went away")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (b *relCutBody) Close() error { return b.r.Close() }

// relRecordBody keeps a copy of what passes through.
type relRecordBody struct {
	r  io.ReadCloser
	px *relEngineProxy
}

func (b *relRecordBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.px.mu.Lock()
	b.px.context = append(b.px.context, p[:n]...)
	b.px.mu.Unlock()
	return n, err
}

func (b *relRecordBody) Close() error { return b.r.Close() }

// buildContext returns the bytes of the /build requests seen so far.
func (px *relEngineProxy) buildContext() []byte {
	px.mu.Lock()
	defer px.mu.Unlock()
	return append([]byte(nil), px.context...)
}

func TestEngineGoesAwayDuringLoad(t *testing.T) {
	slow(t, "the engine")
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "gone")
	px := relStartProxy(t, cli, relDropLoad)
	app := relNewApp(t, nil)

	// A fresh repository and commit: the image is new to the engine, so it
	// is sent (a known image would only be tagged).
	res := relRun(t, app, []string{"DOCKER_HOST=" + px.host, "MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=off"}, "dockerScratch")
	assert.Equal(t, tasks.ExitImage, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	t.Logf("engine gone: exit %d: %s", res.code, strings.TrimSpace(res.stderr))
	relAssertNoPanic(t, res.stdout+res.stderr)
	errLines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	assert.Len(t, errLines, 1, "one clear line: %q", res.stderr)
	assert.Contains(t, res.stderr, "load "+repo+":")
	assert.Contains(t, res.stderr, px.host, "the message names the engine")
	assert.Contains(t, res.stderr, "check that the Docker engine is running", "the message says what to do")

	assert.Empty(t, relImageTags(t, cli, repo), "no tag of a half-loaded image")
	m := relManifest(t, filepath.Join(app, "dist"))
	assert.Empty(t, m.Images, "no image recorded")
}

// relTarNames lists the entry names of an uncompressed tar stream.
func relTarNames(t *testing.T, data []byte) []string {
	t.Helper()
	cmd := exec.Command("tar", "-tf", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	require.NoError(t, err, "read the build context as a tar")
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		names = append(names, strings.TrimPrefix(sc.Text(), "./"))
	}
	return names
}

// relJSON renders v for substring checks.
func relJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestEngineInterruptWhileCreatingSmokeContainer(t *testing.T) {
	slow(t, "the engine")
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "create")
	px := relStartProxy(t, cli, relHoldCreate)
	app := relNewApp(t, nil)

	p := relStart(t, app, []string{"DOCKER_HOST=" + px.host, "MAGEPACK_IMAGE=" + repo}, "dockerScratch")
	select {
	case <-px.createSeen:
	case <-p.done:
		t.Fatalf("mage exited with %d before creating the smoke container\nstdout:\n%s\nstderr:\n%s", p.code, p.out(), p.errOut())
	case <-time.After(2 * time.Minute):
		t.Fatalf("no smoke container was created\nstdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
	}
	// Ctrl-C while the engine has made the container but magepack has
	// not heard of it yet.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	code := p.wait(t, 15*time.Second)
	t.Logf("after Ctrl-C: exit %d: %s", code, strings.TrimSpace(p.errOut()))
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
	assert.Empty(t, relSmokeContainers(t, cli, repo), "the container the engine created is removed")
}

// slow skips the test under -short: it needs what the fast inner loop
// leaves out (named by needs: the engine, a registry, builds, mage).
func slow(t *testing.T, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: needs %s", needs)
	}
}
