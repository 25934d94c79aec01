package tasks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

// resolveWith merges cfg with env (no other environment) and resolves the
// project in dir, as setup does for a mage run.
func resolveWith(t *testing.T, dir string, cfg Config, env map[string]string) (*project, error) {
	t.Helper()
	merged, err := merge(cfg, envOf(env))
	if err != nil {
		return nil, err
	}
	return resolve(context.Background(), merged, dir, func(k string) string { return env[k] })
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
