package sqlite

// CGO done right: a service that stores notes in SQLite through
// github.com/mattn/go-sqlite3 (C inside), built the way a new user would:
// without cgo it is warned about before the build; with MAGEPACK_CGO=static
// it becomes a static binary for every Linux platform that runs on scratch;
// darwin is refused before any build.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// sqliteVersion is the go-sqlite3 release the test service uses.
const sqliteVersion = "v1.14.53"

// notesMain stores a note in SQLite under /tmp when it starts (the table
// is created then, so the database is opened at once), and answers
// GET /notes with the number of notes: 200 only when SQLite works.
const notesMain = `package main

import (
	"database/sql"
	"fmt"
	"log"
	"net/http"

	_ "github.com/mattn/go-sqlite3"
)

var version = "dev"

func main() {
	db, err := sql.Open("sqlite3", "/tmp/notes.db")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"); err != nil {
		log.Fatalf("create the notes table: %v", err)
	}
	if _, err := db.Exec("INSERT INTO notes (body) VALUES ('started')"); err != nil {
		log.Fatalf("add a note: %v", err)
	}
	http.HandleFunc("/notes", func(w http.ResponseWriter, r *http.Request) {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "{\"notes\": %d, \"version\": %q}\n", n, version)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
`

// notesModule writes the notes service as a git repository tagged v1.0.0,
// with go-sqlite3 fetched from the module proxy into the module cache.
func notesModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fixture.WriteModule(t, dir, fixture.Module{Path: "example.com/notes", Go: "1.25.0", GitIgnore: "dist/\n",
		Files: map[string]string{"main.go": notesMain}})
	for _, args := range [][]string{{"get", "github.com/mattn/go-sqlite3@" + sqliteVersion}, {"mod", "tidy"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			fixture.SkipOrFail(t, "go "+strings.Join(args, " ")+" needs the Go module proxy: "+err.Error()+"\n"+string(out))
		}
	}
	g := fixture.GitInit(t, dir)
	g.Commit("notes")
	g.Tag("v1.0.0")
	return dir
}

// cgoToolchains installs the C compilers static cgo builds for linux/amd64
// and linux/arm64 find on PATH: musl-gcc for the build machine's own
// platform, Debian's aarch64 cross compiler and its C library for arm64.
func cgoToolchains(t *testing.T) {
	t.Helper()
	fixture.NeedPackages(t, "static cgo builds for linux/amd64 (musl-gcc) and linux/arm64 (aarch64-linux-gnu-gcc)",
		"gcc", "musl-tools", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross")
}

// mage is the targets compiled into a mage binary, run in dir with env.
func mage(t *testing.T, dir string, env []string, args ...string) fixture.MageCmd {
	t.Helper()
	return fixture.MageCmd{Bin: fixture.TasksMage(t), Dir: dir, Env: env, Args: args}
}

// manifest reads distDir/artifacts.json.
func manifest(t *testing.T, distDir string) dist.Manifest {
	t.Helper()
	m, err := dist.ReadManifest(distDir)
	require.NoError(t, err)
	return m
}

// lineIndex is the index in out of the first line that contains s, or -1.
func lineIndex(out, s string) int {
	for i, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func TestIntegrationCgoOffWarnsBeforeTheBuild(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := notesModule(t)
	res := fixture.RunMage(t, mage(t, app, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock", "MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile"))
	res.RequireOK(t)
	warn := "[cgo] warning: github.com/mattn/go-sqlite3 has C code that CGO_ENABLED=0 leaves out (only its files without cgo are built: often a stub that fails at run time): set MAGEPACK_CGO=static for a static cgo binary, or use a pure-Go alternative"
	assert.Contains(t, res.Stdout, warn)
	w, built := lineIndex(res.Stdout, warn), lineIndex(res.Stdout, "built dist/notes_linux_amd64")
	require.GreaterOrEqual(t, built, 0, res.Stdout)
	assert.Less(t, w, built, "the warning comes before the build:\n%s", res.Stdout)
	assert.Equal(t, 1, strings.Count(res.Stdout, "go-sqlite3"), "said once")

	m := manifest(t, filepath.Join(app, "dist"))
	require.Len(t, m.Warnings, 1)
	assert.Equal(t, dist.Warning{Service: "notes", Name: "cgo", Subject: "github.com/mattn/go-sqlite3",
		Message: strings.TrimPrefix(warn, "[cgo] warning: ")}, m.Warnings[0])
}

func TestIntegrationCgoStaticDarwinRefusedBeforeAnyBuild(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := notesModule(t)
	res := fixture.RunMage(t, mage(t, app, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock",
		"MAGEPACK_CGO=static", "MAGEPACK_PLATFORMS=linux/amd64,darwin/arm64"}, "crossCompile"))
	assert.Equal(t, tasks.ExitConfig, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stderr, "a static cgo binary cannot be built for darwin/arm64: Apple's platforms always link their system library (libSystem) dynamically")
	assert.Contains(t, res.Stderr, "MAGEPACK_PLATFORMS", "names the setting to change")
	assert.NotContains(t, res.Stdout, "[build]", "refused before any build")
	assert.NoDirExists(t, filepath.Join(app, "dist"))
}

func TestIntegrationCgoStaticSqliteOnScratch(t *testing.T) {
	fixture.SkipShort(t, "compiles go-sqlite3's C code for two platforms (about a minute each, cold)")
	cgoToolchains(t)
	cli := fixture.Engine(t)
	repo := fixture.ImageRepo(t, cli, "notes")
	app := notesModule(t)
	distDir := filepath.Join(app, "dist")

	cmd := mage(t, app, []string{"MAGEPACK_CGO=static", "MAGEPACK_PLATFORMS=linux/amd64,linux/arm64",
		"MAGEPACK_VARIANTS=scratch", "MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=/notes"},
		"crossCompile", "staticCheck", "dockerScratch")
	cmd.Timeout = 25 * time.Minute
	res := fixture.RunMage(t, cmd)
	res.RequireOK(t)
	t.Logf("stdout:\n%s", res.Stdout)

	// The compilers were found on PATH and said once, before the build.
	assert.Contains(t, res.Stdout, "[config] static cgo binaries (tags netgo,osusergo): linux/amd64 with musl-gcc, linux/arm64 with aarch64-linux-gnu-gcc")
	assert.Contains(t, res.Stdout, "CGO on, static")
	assert.NotContains(t, res.Stdout, "[cgo] warning", "nothing is left out with cgo on")

	// arm64 links glibc statically, and go-sqlite3 calls dlopen: said once,
	// in plain words, with what it means on scratch.
	dlopen := regexp.MustCompile(`(?m)^\[linux/arm64\] warning: dist/notes_linux_arm64: glibc is linked in statically, but the binary calls dlopen \(loading plug-ins and extensions\), which needs glibc's shared libraries at run time; on scratch there are none, so those calls fail there; .*MAGEPACK_TAGS, e\.g\. sqlite_omit_load_extension`)
	assert.Contains(t, res.Stdout, "link musl instead (MAGEPACK_CC=linux/arm64=aarch64-linux-musl-gcc)")
	assert.Len(t, dlopen.FindAllString(res.Stdout, -1), 1, "one line for the arm64 binary")
	assert.NotContains(t, res.Stdout, "[linux/amd64] warning", "musl needs no such warning")

	// Both binaries are static, with the C library read from each.
	m := manifest(t, distDir)
	require.Len(t, m.Binaries, 2)
	libc := map[string]string{"amd64": "musl", "arm64": "glibc"}
	for _, b := range m.Binaries {
		assert.Equal(t, "static", b.Linkage, b.Path)
		assert.Equal(t, "1", b.CGO, b.Path)
		assert.Equal(t, "netgo,osusergo", b.Tags, b.Path)
		assert.Equal(t, libc[b.Arch], b.LinkedLibc, b.Path)
		assert.False(t, b.NSS, "%s: netgo and osusergo keep glibc's NSS out", b.Path)
	}
	for _, b := range m.Binaries {
		bom, err := os.ReadFile(filepath.Join(app, filepath.FromSlash(b.SBOM)))
		require.NoError(t, err)
		assert.Regexp(t, regexp.MustCompile(`"name":\s*"magepack:go:build:-tags",\s*"value":\s*"netgo,osusergo"`), string(bom), "%s: the tags are in the SBOM", b.SBOM)
	}
	require.Len(t, m.Checks, 2)
	for _, c := range m.Checks {
		assert.True(t, c.OK, "%s passes the scratch check: %s", c.Subject, c.Message)
	}
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s*dist/notes_linux_amd64\s.*\sstatic\s+-\s+musl linked in\s.*\sok\s*$`), res.Stdout, "the linkage table")
	assert.Regexp(t, regexp.MustCompile(`(?m)^\s*dist/notes_linux_arm64\s.*\sstatic\s+-\s+glibc linked in\s.*\sok\s*$`), res.Stdout)
	require.Len(t, m.Warnings, 1)
	assert.Equal(t, "static-glibc", m.Warnings[0].Name)
	assert.Equal(t, "dist/notes_linux_arm64", m.Warnings[0].Subject)

	// The amd64 scratch image started, created its database under /tmp and
	// answered HTTP.
	assert.Regexp(t, regexp.MustCompile(`(?m)^\[scratch\] smoke run ok: /notes answered 200`), res.Stdout)
	require.Len(t, m.Images, 1)
	assert.Equal(t, repo+":1.0.0-scratch", m.Images[0].Reference)
}
