package gobuild

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

func TestPlanKeepsGOCACHEPROG(t *testing.T) {
	const prog = "GOCACHEPROG=/usr/local/bin/go-cacher --cache-server=http://cache.internal:31364"
	jobs, err := Plan(Config{Name: "app", Parallel: 3}, fivePlatforms, []string{"PATH=/usr/bin", prog, "GOCACHE=/cache"})
	require.NoError(t, err)
	require.Len(t, jobs, 5)
	for _, j := range jobs {
		assert.Contains(t, j.Env, prog, "%s: every build gets the user's GOCACHEPROG", j.Target)
		assert.Contains(t, j.Env, "GOCACHE=/cache")
	}
	d, lines := ConfigDigest(jobs)
	d2, _ := ConfigDigest(mustPlan(t, Config{Name: "app"}, fivePlatforms, []string{"PATH=/usr/bin"}))
	assert.Equal(t, d2, d, "a shared cache does not change the configuration")
	assert.NotContains(t, strings.Join(lines, "\n"), "GOCACHEPROG")
}

func mustPlan(t *testing.T, cfg Config, targets []Target, env []string) []Job {
	t.Helper()
	jobs, err := Plan(cfg, targets, env)
	require.NoError(t, err)
	return jobs
}

// cacherStats matches the line go-cacher --verbose prints when the go
// command closes it.
var cacherStats = regexp.MustCompile(`cacher: closing; (\d+) gets \((\d+) hits, (\d+) misses, (\d+) errors\); (\d+) puts \((\d+) errors\)`)

// compileRun matches a compiler invocation in `go build -x` output.
var compileRun = regexp.MustCompile(`(?m)pkg/tool/[^/\s]+/compile(\.exe)? `)

// TestGOCACHEPROGSharedCacheIntegration does cold builds (skipped with
// -short). It runs a real GOCACHEPROG implementation, go-cacher and its
// HTTP server go-cacher-server from github.com/bradfitz/go-tool-cache, on
// loopback as a stand-in for a shared cache service, and builds the same
// module on two "machines" (each its own empty GOCACHE and go-cacher disk
// folder, nothing in common but the server), three platforms in parallel.
// Machine B must get its compiled packages from the server: it compiles
// nothing, every parallel go build reports cache hits, and its binaries
// are byte-identical to machine A's.
func TestGOCACHEPROGSharedCacheIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("cold builds on two machines: skipped with -short")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator),
		"github.com/bradfitz/go-tool-cache/cmd/go-cacher", "github.com/bradfitz/go-tool-cache/cmd/go-cacher-server")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build go-cacher (a tool of this module): %s", out)
	cacher := filepath.Join(bin, "go-cacher")
	server := filepath.Join(bin, "go-cacher-server")

	addr := freeLoopback(t)
	var serverLog fixture.SyncBuffer
	srv := exec.Command(server, "-listen", addr, "-cache-dir", filepath.Join(tmp, "server"), "-verbose")
	srv.Stdout, srv.Stderr = &serverLog, &serverLog
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	waitHTTP(t, "http://"+addr+"/")

	targets := []Target{linuxAMD64, linuxARM64, windowsAMD64}
	machine := func(name string) []Result {
		t.Helper()
		dir := filepath.Join(tmp, name, "checkout")
		writeModule(t, dir, map[string]string{"main.go": helloMain})
		var env []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if k != "GOCACHE" && k != "GOCACHEPROG" && k != "GOFLAGS" {
				env = append(env, kv)
			}
		}
		env = append(env,
			"GOCACHE="+filepath.Join(tmp, name, "gocache"),
			"GOCACHEPROG="+cacher+" --cache-dir="+filepath.Join(tmp, name, "go-cacher")+" --cache-server=http://"+addr+" --verbose",
			"GOFLAGS=-x", // print what go build runs: the compiles it could not take from a cache
		)
		cfg := helloConfig(dir)
		cfg.Parallel = len(targets)
		jobs, err := Plan(cfg, targets, env)
		require.NoError(t, err)
		results, err := Run(ctx, jobs, cfg, nil)
		require.NoError(t, err)
		return results
	}

	a := machine("machine-a")
	putsA, compilesA := 0, 0
	for _, r := range a {
		s := stats(t, r)
		putsA += s.puts
		compilesA += len(compileRun.FindAllString(r.Output, -1))
	}
	require.Positive(t, compilesA, "machine A compiles from scratch")
	require.Positive(t, putsA, "machine A stores its results in the shared cache")
	logBeforeB := len(serverLog.String())

	b := machine("machine-b")
	for i, r := range b {
		t.Run(r.Job.Target.String(), func(t *testing.T) {
			s := stats(t, r)
			assert.Positive(t, s.hits, "every parallel go build on B used GOCACHEPROG and got hits")
			assert.Zero(t, s.getErrors+s.putErrors)
			assert.Empty(t, compileRun.FindAllString(r.Output, -1), "B compiles nothing: every package came from the shared cache")
			assert.Equal(t, a[i].SHA256, r.SHA256, "byte-identical to machine A's binary")
		})
	}
	served := strings.Count(serverLog.String()[logBeforeB:], "200 GET /output/")
	assert.Positive(t, served, "the server handed machine B the outputs")
	t.Logf("machine A: %d compiles, %d puts; machine B: 0 compiles, %d outputs served by the shared cache", compilesA, putsA, served)
}

type cacheStats struct{ gets, hits, misses, getErrors, puts, putErrors int }

// stats reads go-cacher's closing line from a build's output.
func stats(t *testing.T, r Result) cacheStats {
	t.Helper()
	m := cacherStats.FindStringSubmatch(r.Output)
	require.NotNil(t, m, "%s: go-cacher ran for this build and printed its stats:\n%s", r.Job.Target, tail(r.Output))
	n := make([]int, len(m)-1)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return cacheStats{gets: n[0], hits: n[1], misses: n[2], getErrors: n[3], puts: n[4], putErrors: n[5]}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// freeLoopback returns a loopback address with a port free right now.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// waitHTTP waits up to 10 seconds for url to answer 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
