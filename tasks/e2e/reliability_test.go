package e2e_test

// Reliability tests: the targets run as a user runs them, as a
// compiled mage binary in a throw-away module, and are faulted: a compile
// error on one platform, Ctrl-C during a build and during a smoke run, two
// runs at once, an engine that goes away mid-load, a smoke run that fails.
//
// The mage runner, the throw-away modules, the test service and the
// process and temp-file checks come from tasks/internal/fixture; the
// helpers here (prefixed rel) are the ones only these external tests use,
// shared with badinput_test.go, security_test.go and services_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	"github.com/magepack/magepack/tasks/sbom"
)

// relApp writes the test app into a new git repository with one commit
// and returns its folder: module example.com/relapp (so its binaries are
// dist/relapp_<os>_<arch>), fixture.ServiceMain at the root, dist/
// git-ignored so runs do not make the tree dirty, plus extra files.
// ServiceMain answers 404 to every path but /healthz, /version and /bad,
// so a smoke run probing another path waits until it is stopped.
func relApp(t *testing.T, extra map[string]string) string {
	t.Helper()
	files := map[string]string{"main.go": fixture.ServiceMain}
	for n, c := range extra {
		files[n] = c
	}
	return fixture.NewModule(t, fixture.Module{Path: "example.com/relapp", Go: "1.25.0", Files: files, GitIgnore: "dist/\n", Git: true})
}

// tasksCmd runs this checkout's targets (fixture.TasksMage, compiled once;
// under -short the test is skipped) with args in dir; env adds to the
// environment fixture.MageEnv gives every run.
func tasksCmd(t *testing.T, dir string, env []string, args ...string) fixture.MageCmd {
	t.Helper()
	return fixture.MageCmd{Bin: fixture.TasksMage(t), Dir: dir, Env: env, Args: args}
}

// marked is the environment entry that marks the processes of the mage
// run whose marker (fixture.MageProc.Marker) it is (see fixture.Processes).
func marked(marker string) string { return fixture.MarkerEnv + "=" + marker }

// relAssertNoPanic checks that output carries no Go panic or stack trace.
func relAssertNoPanic(t *testing.T, output string) {
	t.Helper()
	assert.NotContains(t, output, "panic:", "a user mistake must not panic")
	assert.NotRegexp(t, regexp.MustCompile(`goroutine \d+ \[`), output, "no stack trace")
}

// relAssertNoLeftovers fails when dir holds magepack's temporary files or
// go build work folders (fixture.Leftovers).
func relAssertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	assert.Empty(t, fixture.Leftovers(t, dir), "temporary files left in %s", dir)
}

// relVerifySums checks dist's SHA256SUMS the way `sha256sum -c` does: each
// line is "<64 hex digits>  <file>" (or " *<file>") naming a file in dist
// whose SHA-256 is that, and every binary listed has its SBOM listed too.
// It returns the binaries listed, in order.
func relVerifySums(t *testing.T, distDir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(distDir, dist.ChecksumsFile))
	require.NoError(t, err)
	line := regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)
	var names []string
	listed := map[string]bool{}
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if !assert.NotNil(t, m, "%s line %d is not in sha256sum's format: %q", dist.ChecksumsFile, i+1, l) {
			continue
		}
		listed[m[2]] = true
		if !strings.HasSuffix(m[2], sbom.FileSuffix) {
			names = append(names, m[2])
		}
		sum, err := dist.Sum(filepath.Join(distDir, filepath.FromSlash(m[2])))
		if assert.NoError(t, err, "%s line %d names %s", dist.ChecksumsFile, i+1, m[2]) {
			assert.Equal(t, m[1], sum, "%s: FAILED (its SHA-256 is not the one %s lists)", m[2], dist.ChecksumsFile)
		}
	}
	for _, n := range names {
		assert.True(t, listed[sbom.FileName(n)], "%s lists %s's SBOM too", dist.ChecksumsFile, n)
	}
	return names
}

// relManifest reads dist/artifacts.json.
func relManifest(t *testing.T, distDir string) dist.Manifest {
	t.Helper()
	m, err := dist.ReadManifest(distDir)
	require.NoError(t, err)
	return m
}

// relAssertManifestMatchesDisk checks that every binary artifacts.json
// lists is on disk (below the module root) with that size and SHA-256.
func relAssertManifestMatchesDisk(t *testing.T, root string, m dist.Manifest) {
	t.Helper()
	for _, b := range m.Binaries {
		path := filepath.Join(root, filepath.FromSlash(b.Path))
		fi, err := os.Stat(path)
		if !assert.NoError(t, err, "artifacts.json lists %s", b.Path) {
			continue
		}
		assert.Equal(t, fi.Size(), b.Size, "artifacts.json's size of %s", b.Path)
		sum, err := dist.Sum(path)
		require.NoError(t, err)
		assert.Equal(t, sum, b.SHA256, "artifacts.json matches %s on disk", b.Path)
	}
}

// relRandom is a short random string for names no other run uses.
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
	relRemoveImagesAtEnd(t, cli, repo)
	return repo
}

// relRemoveImagesAtEnd removes, when the test ends, every image tagged in
// a repository that reference (a name, or a pattern such as
// "magepack-test/x/*" as the engine's reference filter takes it) matches.
func relRemoveImagesAtEnd(t *testing.T, cli *client.Client, reference string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("reference", reference)})
		if err != nil {
			t.Logf("list images of %s: %v", reference, err)
			return
		}
		for _, img := range list.Items {
			for _, tag := range img.RepoTags {
				_, _ = cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			}
		}
	})
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
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := relApp(t, nil)
	distDir := filepath.Join(app, "dist")
	env := []string{"MAGEPACK_PLATFORMS=linux/amd64,windows/amd64"}

	fixture.RunMage(t, tasksCmd(t, app, env, "crossCompile")).RequireOK(t)
	sums, err := os.ReadFile(filepath.Join(distDir, dist.ChecksumsFile))
	require.NoError(t, err)
	winExe := filepath.Join(distDir, "relapp_windows_amd64.exe")
	winBefore, err := os.ReadFile(winExe)
	require.NoError(t, err)

	// A syntax error only windows compiles; linux builds a changed binary.
	require.NoError(t, os.WriteFile(filepath.Join(app, "broken_windows.go"), []byte("package main\n\nfunc broken( {\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(app, "extra_linux.go"), []byte("package main\n\nvar extra = \"changed\"\n\nfunc init() { _ = extra }\n"), 0o644))
	res := fixture.RunMage(t, tasksCmd(t, app, env, "crossCompile"))

	assert.Equal(t, tasks.ExitBuild, res.Code, "a compile error exits with ExitBuild")
	assert.Contains(t, res.Stdout, "[linux/amd64] built dist/relapp_linux_amd64", "the platform that compiled is reported")
	assert.Contains(t, res.Stdout, "[windows/amd64] FAILED")
	assert.Contains(t, res.Stderr, "go build for windows/amd64 failed")
	assert.Contains(t, res.Stderr, "broken_windows.go:3", "the compiler's output is shown")
	relAssertNoPanic(t, res.Stdout+res.Stderr)

	winAfter, err := os.ReadFile(winExe)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(winBefore, winAfter), "the previous windows binary stays in place")
	assert.Equal(t, []string{"relapp_linux_amd64", "relapp_windows_amd64.exe"}, relVerifySums(t, distDir), "SHA256SUMS lists both binaries")
	sumsAfter, err := os.ReadFile(filepath.Join(distDir, dist.ChecksumsFile))
	require.NoError(t, err)
	assert.NotEqual(t, string(sums), string(sumsAfter), "SHA256SUMS follows the rebuilt linux binary")
	relAssertNoLeftovers(t, distDir)
	m := relManifest(t, distDir)
	assert.Len(t, m.Binaries, 2, "both binaries stay recorded")
	relAssertManifestMatchesDisk(t, app, m)
}

func TestIntegrationInterruptCrossCompile(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
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
			app := relApp(t, nil)
			distDir := filepath.Join(app, "dist")
			tmp := t.TempDir()
			// An empty build cache makes go build compile the standard
			// library for each platform: many seconds of work to interrupt.
			p := fixture.StartMage(t, tasksCmd(t, app, []string{"GOCACHE=" + t.TempDir(), "TMPDIR=" + tmp, "MAGEPACK_PLATFORMS=linux/amd64,linux/arm64,windows/amd64"}, "crossCompile"))
			p.WaitOutput(t, "[build]", time.Minute)
			time.Sleep(1500 * time.Millisecond) // let go build start its compilers
			procs, err := fixture.Processes(marked(p.Marker))
			require.NoError(t, err)
			require.True(t, slices.ContainsFunc(procs, func(p string) bool { return strings.Contains(p, "go build") }),
				"go build should be running when interrupted; the run's processes:\n%s", strings.Join(procs, "\n"))

			require.NoError(t, p.Signal(tc.sig))
			start := time.Now()
			code := p.Wait(t, 15*time.Second).Code
			took := time.Since(start)
			t.Logf("after %s: exit %d in %s: %s", tc.name, code, took.Round(time.Millisecond), strings.TrimSpace(p.Stderr()))

			assert.Equal(t, tasks.ExitInterrupted, code, "exits with 130\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
			assert.Less(t, took, 5*time.Second, "the run stops within seconds (mage gives up after 5s)")
			assert.Contains(t, p.Stdout(), "cancelled")
			assert.Contains(t, p.Stderr(), "interrupted: 3 of 3 builds stopped; dist keeps their previous binaries")
			relAssertNoPanic(t, p.Stdout()+p.Stderr())
			fixture.AssertNoProcesses(t, marked(p.Marker), 3*time.Second)
			relAssertNoLeftovers(t, distDir)
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
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := relApp(t, nil)
	distDir := filepath.Join(app, "dist")
	env := []string{"MAGEPACK_PLATFORMS=linux/amd64,darwin/arm64"}

	// The test holds the dist lock, as a run in progress would, until both
	// runs are waiting for it; then they contend for it with each other.
	unlock, err := dist.Lock(context.Background(), distDir)
	require.NoError(t, err)
	runs := []*fixture.MageProc{fixture.StartMage(t, tasksCmd(t, app, env, "crossCompile")), fixture.StartMage(t, tasksCmd(t, app, env, "crossCompile"))}
	for _, p := range runs {
		p.WaitOutput(t, "dist is in use by another magepack run; waiting up to", time.Minute)
	}
	require.NoError(t, unlock())

	for i, p := range runs {
		code := p.Wait(t, 3*time.Minute).Code
		assert.Equal(t, 0, code, "run %d\nstdout:\n%s\nstderr:\n%s", i+1, p.Stdout(), p.Stderr())
		assert.Contains(t, p.Stdout(), "[linux/amd64] built dist/relapp_linux_amd64", "run %d built after its wait", i+1)
		relAssertNoPanic(t, p.Stdout()+p.Stderr())
	}

	assert.Equal(t, []string{"relapp_darwin_arm64", "relapp_linux_amd64"}, relVerifySums(t, distDir), "SHA256SUMS lists both binaries")
	relAssertNoLeftovers(t, distDir)
	m := relManifest(t, distDir)
	require.Len(t, m.Binaries, 2)
	relAssertManifestMatchesDisk(t, app, m)
}

func TestIntegrationLockWaitInterrupted(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := relApp(t, nil)
	distDir := filepath.Join(app, "dist")
	// Another run holds the lock for the whole test.
	unlock, err := dist.Lock(context.Background(), distDir)
	require.NoError(t, err)
	defer unlock()

	p := fixture.StartMage(t, tasksCmd(t, app, []string{"MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile"))
	p.WaitOutput(t, "waiting up to", time.Minute)
	require.NoError(t, p.Signal(syscall.SIGINT))
	code := p.Wait(t, 10*time.Second).Code
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	assert.Contains(t, p.Stderr(), "is in use by another magepack run")
	assert.NoFileExists(t, filepath.Join(distDir, "relapp_linux_amd64"))
}

func TestEngineInterruptSmokeRun(t *testing.T) {
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "interrupt")
	app := relApp(t, nil)
	distDir := filepath.Join(app, "dist")

	// The app answers 404 to every path but a few, so this smoke run
	// waits for a 200 that never comes (for 20s) until it is interrupted.
	p := fixture.StartMage(t, tasksCmd(t, app, []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=/never-200"}, "dockerScratch"))
	var id string
	deadline := time.Now().Add(2 * time.Minute)
	for id == "" {
		if ids := relSmokeContainers(t, cli, repo, true); len(ids) > 0 {
			id = ids[0]
			break
		}
		select {
		case <-p.Done():
			t.Fatalf("mage exited with %d before the smoke run started\nstdout:\n%s\nstderr:\n%s", p.Code(), p.Stdout(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "no smoke container appeared\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
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
		code := p.Wait(t, 30*time.Second).Code
		t.Fatalf("inspect the smoke container: %v\nmage exited %d\nstdout:\n%s\nstderr:\n%s", err, code, p.Stdout(), p.Stderr())
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
	require.NoError(t, p.Signal(syscall.SIGINT))
	start := time.Now()
	code := p.Wait(t, 15*time.Second).Code
	t.Logf("after Ctrl-C: exit %d in %s: %s", code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(p.Stderr()))
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, p.Stderr(), "context canceled")
	relAssertNoPanic(t, p.Stdout()+p.Stderr())

	_, err = cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	assert.True(t, cerrdefs.IsNotFound(err), "the smoke container is removed after Ctrl-C (inspect: %v)", err)
	assert.Empty(t, relSmokeContainers(t, cli, repo))
	fixture.AssertNoProcesses(t, marked(p.Marker), 3*time.Second)
	relAssertNoLeftovers(t, distDir)
	// An image whose smoke run did not pass is not recorded.
	assert.Empty(t, relManifest(t, distDir).Images)
}

func TestEngineSmokeFailureShowsLogs(t *testing.T) {
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "crash")
	app := relApp(t, map[string]string{"cmd/crash/main.go": fixture.CrashMain})

	res := fixture.RunMage(t, tasksCmd(t, app, []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_MAIN=./cmd/crash"}, "dockerScratch"))
	assert.Equal(t, tasks.ExitImage, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stderr, "smoke run of "+repo)
	assert.Contains(t, res.Stderr, "exited with code 3")
	assert.Contains(t, res.Stderr, "crash: crashing on purpose", "the container's stderr is shown")
	assert.Contains(t, res.Stderr, "crash: starting", "the container's stdout is shown")
	relAssertNoPanic(t, res.Stdout+res.Stderr)
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
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "gone")
	px := relStartProxy(t, cli, relDropLoad)
	app := relApp(t, nil)

	// A fresh repository and commit: the image is new to the engine, so it
	// is sent (a known image would only be tagged).
	res := fixture.RunMage(t, tasksCmd(t, app, []string{"DOCKER_HOST=" + px.host, "MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=off"}, "dockerScratch"))
	assert.Equal(t, tasks.ExitImage, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	t.Logf("engine gone: exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))
	relAssertNoPanic(t, res.Stdout+res.Stderr)
	errLines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	assert.Len(t, errLines, 1, "one clear line: %q", res.Stderr)
	assert.Contains(t, res.Stderr, "load "+repo+":")
	assert.Contains(t, res.Stderr, px.host, "the message names the engine")
	assert.Contains(t, res.Stderr, "check that the Docker engine is running", "the message says what to do")

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
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "create")
	px := relStartProxy(t, cli, relHoldCreate)
	app := relApp(t, nil)

	p := fixture.StartMage(t, tasksCmd(t, app, []string{"DOCKER_HOST=" + px.host, "MAGEPACK_IMAGE=" + repo}, "dockerScratch"))
	select {
	case <-px.createSeen:
	case <-p.Done():
		t.Fatalf("mage exited with %d before creating the smoke container\nstdout:\n%s\nstderr:\n%s", p.Code(), p.Stdout(), p.Stderr())
	case <-time.After(2 * time.Minute):
		t.Fatalf("no smoke container was created\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	}
	// Ctrl-C while the engine has made the container but magepack has
	// not heard of it yet.
	require.NoError(t, p.Signal(syscall.SIGINT))
	code := p.Wait(t, 15*time.Second).Code
	t.Logf("after Ctrl-C: exit %d: %s", code, strings.TrimSpace(p.Stderr()))
	assert.Equal(t, tasks.ExitInterrupted, code, "stdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	assert.Empty(t, relSmokeContainers(t, cli, repo), "the container the engine created is removed")
}
