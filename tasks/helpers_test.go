package tasks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// svcCommitTime is the commit time pubGit stamps, so the version date and
// the images' creation time of a test repository are known.
var svcCommitTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// svcMain is the service the target-level tests build: /healthz answers
// 200 on $PORT (default 8080), and -version prints the stamped version,
// commit and date.
const svcMain = `package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version, commit, date)
		return
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Println("svc", version, "listening on", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// writeFiles writes files (slash-separated paths relative to dir) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// svcRepo writes module example.com/acme/svc with files into a new folder,
// commits it at svcCommitTime (dist/ ignored) and, when tag is not empty,
// tags the commit. It returns the folder.
func svcRepo(t *testing.T, files map[string]string, tag string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"go.mod":     "module example.com/acme/svc\n\ngo 1.25.0\n",
		".gitignore": "/dist/\n",
	}
	for n, c := range files {
		all[n] = c
	}
	writeFiles(t, dir, all)
	pubGit(t, dir, "init", "-q", "-b", "main")
	pubGit(t, dir, "add", "-A")
	pubGit(t, dir, "commit", "-q", "-m", "svc")
	if tag != "" {
		pubGit(t, dir, "tag", tag)
	}
	return dir
}

// testRun merges cfg with env (no other environment) and resolves a run
// in dir, as a mage run does, with its progress going to a buffer that
// the test log shows when the test fails. It returns the error of a
// configuration that does not resolve.
func testRun(t *testing.T, dir string, cfg Config, env map[string]string) (*run, error) {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() && buf.Len() > 0 {
			t.Logf("target output:\n%s", buf.String())
		}
	})
	return newRun(context.Background(), cfg, dir, envOf(env), buf)
}

// mustRun is testRun for a configuration that must resolve.
func mustRun(t *testing.T, dir string, cfg Config, env map[string]string) *run {
	t.Helper()
	r, err := testRun(t, dir, cfg, env)
	require.NoError(t, err)
	return r
}

// output is what r has printed so far; reset empties it.
func output(r *run) *syncBuffer { return r.log.w.(*syncBuffer) }

// syncBuffer is a bytes.Buffer safe for the parallel writers of a run.
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

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// envOf is a lookup over a fixed environment, as newRun takes it.
func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// needGCC skips the test when gcc (which cgo builds use) is missing and
// CI is unset; under CI that fails the test.
func needGCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		msg := "cgo builds need a C compiler: install Debian's gcc (.ci/install does)"
		if os.Getenv("CI") == "" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
}

// pubGit runs git in dir with a fixed identity and commit time.
func pubGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=magepack test", "GIT_AUTHOR_EMAIL=test@magepack.invalid",
		"GIT_COMMITTER_NAME=magepack test", "GIT_COMMITTER_EMAIL=test@magepack.invalid",
		"GIT_AUTHOR_DATE=2024-05-06T07:08:09Z", "GIT_COMMITTER_DATE=2024-05-06T07:08:09Z",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
	)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), b)
	return strings.TrimSpace(string(b))
}

// randomSuffix is a short random suffix for image names no other test run
// uses.
func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// slow skips the test under -short: it needs what the fast inner loop
// leaves out (named by needs: the engine, a registry, builds, mage).
func slow(t *testing.T, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: needs %s", needs)
	}
}
