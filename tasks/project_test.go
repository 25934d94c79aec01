package tasks

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

const libGo = "package svc\n"

// TestResolve resolves configurations against real modules in real git
// repositories (or none) and checks the plan, or the error and its fix.
func TestResolve(t *testing.T) {
	rootMain := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	cmdMain := svcRepo(t, map[string]string{"svc.go": libGo, "cmd/svcd/main.go": fixture.ServiceMain}, "")
	noMain := svcRepo(t, map[string]string{"svc.go": libGo}, "")
	twoMains := svcRepo(t, map[string]string{"svc.go": libGo, "cmd/a/main.go": fixture.ServiceMain, "cmd/b/main.go": fixture.ServiceMain}, "")
	noGit := t.TempDir()
	fixture.WriteFiles(t, noGit, map[string]string{"go.mod": "module example.com/acme/svc\n\ngo 1.25.0\n", "main.go": fixture.ServiceMain})
	noModule := t.TempDir()
	mixedCase := svcRepo(t, map[string]string{"svc.go": libGo, "cmd/MyApp/main.go": fixture.ServiceMain}, "")
	rootHead := strings.TrimSpace(git(t, rootMain, "rev-parse", "HEAD"))
	require.Len(t, rootHead, 40)

	tests := []struct {
		name  string
		dir   string
		cfg   Config
		env   map[string]string
		check func(t *testing.T, r *run)
		err   []string // substrings of the error; none means success
	}{
		{
			name: "root is package main", dir: rootMain,
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, ".", p.services[0].main)
				assert.Equal(t, "svc", p.services[0].name, "the module path's last element")
				assert.Equal(t, "svc", p.services[0].image, "the image defaults to the name")
				assert.Equal(t, "example.com/acme/svc", p.ModulePath)
				assert.Equal(t, filepath.Join(p.Root, "dist"), p.Dist)
				assert.Equal(t, "1.2.3", p.versionString(), "HEAD is on tag v1.2.3")
				assert.Equal(t, rootHead, p.Version.Commit)
				assert.Equal(t, fixture.CommitTime, p.Created.UTC(), "created is the commit time")
				assert.Len(t, p.Platforms, 5, "the default platforms")
				assert.True(t, strings.HasPrefix(p.GoVersion, "go1."), p.GoVersion)
			},
		},
		{
			name: "only main under cmd", dir: cmdMain,
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "./cmd/svcd", p.services[0].main)
				assert.Equal(t, "svcd", p.services[0].name)
				assert.True(t, strings.HasPrefix(p.versionString(), "0.0.0-dev.1+g"), "no tag: %s", p.versionString())
			},
		},
		{
			name: "resolved from a subfolder", dir: filepath.Join(cmdMain, "cmd", "svcd"),
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "./cmd/svcd", p.services[0].main)
				assert.Equal(t, filepath.Join(p.Root, "dist"), p.Dist, "dist is relative to the module root")
			},
		},
		{
			name: "configured main", dir: twoMains, cfg: Config{Main: "cmd/b"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "./cmd/b", p.services[0].main)
				assert.Equal(t, "b", p.services[0].name)
			},
		},
		{
			name: "main from the environment over Go", dir: twoMains, cfg: Config{Main: "./cmd/a"}, env: map[string]string{"MAGEPACK_MAIN": "./cmd/b"},
			check: func(t *testing.T, r *run) { p := r.p; assert.Equal(t, "./cmd/b", p.services[0].main) },
		},
		{name: "no main package", dir: noMain, err: []string{"no main package in module", "set MAGEPACK_MAIN"}},
		{name: "several main packages", dir: twoMains, err: []string{"several main packages (./cmd/a, ./cmd/b)", "MAGEPACK_MAIN=./cmd/a"}},
		{name: "configured main is not main", dir: noMain, cfg: Config{Main: "."}, err: []string{"main package", "not main", "MAGEPACK_MAIN"}},
		{
			name: "configured name", dir: rootMain, cfg: Config{Name: "api"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "api", p.services[0].name)
				assert.Equal(t, "api", p.services[0].image)
				assert.Equal(t, filepath.Join(p.Dist, "api_linux_amd64"), p.binaryPath(p.services[0], platform.Platform{OS: "linux", Arch: "amd64"}))
				assert.Equal(t, filepath.Join(p.Dist, "api_windows_amd64.exe"), p.binaryPath(p.services[0], platform.Platform{OS: "windows", Arch: "amd64"}))
			},
		},
		{name: "name with a slash", dir: rootMain, cfg: Config{Name: "a/b"}, err: []string{`name "a/b" cannot name a binary: set MAGEPACK_NAME`}},
		{name: "name with a space", dir: rootMain, env: map[string]string{"MAGEPACK_NAME": "my app"}, err: []string{`name "my app"`, "MAGEPACK_NAME"}},
		{
			name: "image behind a registry host", dir: rootMain, cfg: Config{Image: "127.0.0.1:5000/team/svc"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, []string{"127.0.0.1:5000/team/svc:1.2.3-scratch", "127.0.0.1:5000/team/svc:1.2-scratch", "127.0.0.1:5000/team/svc:1-scratch", "127.0.0.1:5000/team/svc:scratch"}, p.refs(p.services[0], "scratch"))
			},
		},
		{name: "image with capitals", dir: rootMain, cfg: Config{Image: "Team/Svc"}, err: []string{`image "Team/Svc" is not a valid repository name`, "set MAGEPACK_IMAGE"}},
		{name: "image with a tag", dir: rootMain, env: map[string]string{"MAGEPACK_IMAGE": "svc:latest"}, err: []string{`image "svc:latest"`, "MAGEPACK_IMAGE"}},
		{
			name: "version override keeps git's commit", dir: rootMain, env: map[string]string{"MAGEPACK_VERSION": "v2.3.4-rc.1+build.5"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "2.3.4-rc.1+build.5", p.versionString())
				assert.Equal(t, rootHead, p.Version.Commit)
				assert.Equal(t, []string{"svc:2.3.4-rc.1-build.5-alpine", "svc:alpine"}, p.refs(p.services[0], "alpine"), "'+' becomes '-'; no X.Y tags for a prerelease")
			},
		},
		{
			name: "version override without git", dir: noGit, cfg: Config{Version: "1.0.0"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "1.0.0", p.versionString())
				assert.Empty(t, p.Version.Commit)
				assert.NotContains(t, p.labels(p.services[0]), "org.opencontainers.image.revision", "no commit, no revision label")
			},
		},
		{name: "no git and no version", dir: noGit, err: []string{"no version from git in", "set MAGEPACK_VERSION"}},
		{name: "version not semver", dir: rootMain, env: map[string]string{"MAGEPACK_VERSION": "1.2"}, err: []string{"MAGEPACK_VERSION", `"1.2"`}},
		{
			name: "SOURCE_DATE_EPOCH", dir: rootMain, env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC), p.Created)
				assert.Equal(t, "2023-11-14T22:13:20Z", p.labels(p.services[0])["org.opencontainers.image.created"])
				assert.Equal(t, fixture.CommitTime, p.Version.Date.UTC(), "the binaries keep the commit date")
			},
		},
		{
			name: "SOURCE_DATE_EPOCH zero", dir: rootMain, env: map[string]string{"SOURCE_DATE_EPOCH": "0"},
			check: func(t *testing.T, r *run) { p := r.p; assert.Equal(t, time.Unix(0, 0).UTC(), p.Created) },
		},
		{name: "SOURCE_DATE_EPOCH negative", dir: rootMain, env: map[string]string{"SOURCE_DATE_EPOCH": "-1"}, err: []string{`SOURCE_DATE_EPOCH="-1" is not a Unix time in seconds`}},
		{name: "SOURCE_DATE_EPOCH a date", dir: rootMain, env: map[string]string{"SOURCE_DATE_EPOCH": "2024-01-01"}, err: []string{`SOURCE_DATE_EPOCH="2024-01-01"`}},
		{name: "SOURCE_DATE_EPOCH fractional", dir: rootMain, env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000.5"}, err: []string{`SOURCE_DATE_EPOCH="1700000000.5"`}},
		{
			name: "platforms", dir: rootMain, env: map[string]string{"MAGEPACK_PLATFORMS": "linux/arm64, windows/amd64"},
			check: func(t *testing.T, r *run) {
				p := r.p
				require.Len(t, p.Platforms, 2)
				assert.Equal(t, "linux/arm64", p.Platforms[0].String())
				assert.Equal(t, "windows/amd64", p.Platforms[1].String())
			},
		},
		{name: "unknown platform", dir: rootMain, env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd65"}, err: []string{"MAGEPACK_PLATFORMS", `"linux/amd65"`, "linux/amd64"}},
		{
			name: "absolute dist", dir: rootMain, cfg: Config{Dist: filepath.Join(noGit, "out")},
			check: func(t *testing.T, r *run) { p := r.p; assert.Equal(t, filepath.Join(noGit, "out"), p.Dist) },
		},
		{name: "dist is a file", dir: rootMain, cfg: Config{Dist: "go.mod"}, err: []string{`dist "go.mod" is a file`, "MAGEPACK_DIST"}},
		{name: "not in a module", dir: noModule, cfg: Config{Version: "1.0.0"}, err: []string{"go.mod"}},
		{
			name: "a list of main packages", dir: twoMains, cfg: Config{Main: "./cmd/a, cmd/b,./cmd/a", Services: map[string]Service{"b": {Smoke: "off"}}},
			check: func(t *testing.T, r *run) {
				p := r.p
				require.Len(t, p.services, 2, "duplicates count once")
				assert.Equal(t, []string{"a", "b"}, []string{p.services[0].name, p.services[1].name})
				assert.Equal(t, []string{"./cmd/a", "./cmd/b"}, []string{p.services[0].main, p.services[1].main})
				assert.Equal(t, []string{"a", "b"}, []string{p.services[0].image, p.services[1].image}, "unset, each image is its name")
				assert.Equal(t, engine.SmokeStart, p.services[0].smoke.Mode)
				assert.Equal(t, engine.SmokeOff, p.services[1].smoke.Mode, "the per-service setting")
				assert.Len(t, p.jobs(), 10, "2 services x 5 platforms")
				assert.Equal(t, "a linux/amd64", p.jobs()[0].String())
				assert.Equal(t, "b windows/amd64", p.jobs()[9].String())
				assert.Equal(t, filepath.Join(p.Dist, "b_linux_arm64"), p.binaryPath(p.services[1], platform.Platform{OS: "linux", Arch: "arm64"}))
			},
		},
		{
			name: "image prefix with several services", dir: twoMains, env: map[string]string{"MAGEPACK_MAIN": "./cmd/a,./cmd/b", "MAGEPACK_IMAGE": "ghcr.io/team/"},
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "ghcr.io/team/a", p.services[0].image)
				assert.Equal(t, "ghcr.io/team/b:scratch", p.refs(p.services[1], "scratch")[len(p.refs(p.services[1], "scratch"))-1])
			},
		},
		{name: "a name with several services", dir: twoMains, cfg: Config{Main: "./cmd/a,./cmd/b"}, env: map[string]string{"MAGEPACK_NAME": "api"}, err: []string{"MAGEPACK_NAME=api names one service, but there are 2", "unset MAGEPACK_NAME"}},
		{name: "smoke arguments with several services", dir: twoMains, cfg: Config{Main: "./cmd/..."}, env: map[string]string{"MAGEPACK_ARGS": "--peer x:1", "MAGEPACK_ENV": "A=1"},
			err: []string{"MAGEPACK_ARGS (Settings.Args) and MAGEPACK_ENV (Settings.Env) apply to a single service, but there are 2 (./cmd/a, ./cmd/b)", "Settings.Services[name].Args and .Env for each service"}},
		{
			name: "smoke arguments for the one service", dir: twoMains, cfg: Config{Main: "./cmd/a"}, env: map[string]string{"MAGEPACK_ARGS": "--peer x:1", "MAGEPACK_ENV": "A=1"},
			check: func(t *testing.T, r *run) {
				assert.Equal(t, []string{"--peer", "x:1"}, r.p.services[0].smoke.Args)
				assert.Equal(t, []string{"A=1"}, r.p.services[0].smoke.Env)
			},
		},
		{name: "arguments for a service that is not one", dir: twoMains, cfg: Config{Main: "./cmd/a", Services: map[string]Service{"c": {Args: []string{"-x"}}}}, err: []string{`settings for "c", which no main package of the module is named`}},
		{name: "settings for a service that is not one", dir: twoMains, cfg: Config{Main: "./cmd/a", Services: map[string]Service{"c": {Port: 1}}}, err: []string{`settings for "c", which no main package of the module is named`, "the services are a, b"}},
		{
			name: "settings for a service this run leaves out", dir: twoMains, cfg: Config{Main: "./cmd/a", Services: map[string]Service{"b": {Smoke: "off"}}},
			check: func(t *testing.T, r *run) {
				assert.Len(t, r.p.services, 1, "a CI job may build one service with the shared magefile")
			},
		},
		{
			name: "derived name that is not an image name", dir: mixedCase,
			check: func(t *testing.T, r *run) {
				p := r.p
				assert.Equal(t, "MyApp", p.services[0].name, "the binary keeps the folder's name")
				assert.Equal(t, "myapp", p.services[0].image, "the image name is lowercased")
				assert.Contains(t, output(r).String(), "[config] image myapp for service MyApp: \"MyApp\" is not a valid image name (set MAGEPACK_IMAGE to choose another)")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := testRun(t, tt.dir, tt.cfg, tt.env)
			if len(tt.err) > 0 {
				require.Error(t, err)
				msg := fail(err).Error() // as mage shows it
				for _, w := range tt.err {
					assert.Contains(t, msg, w)
				}
				assert.Equal(t, ExitConfig, exitCode(err), "a configuration error: %v", err)
				return
			}
			require.NoError(t, err)
			tt.check(t, r)
		})
	}
}

func TestResolveErrorsAreTyped(t *testing.T) {
	dir := svcRepo(t, map[string]string{"svc.go": libGo}, "")
	_, err := testRun(t, dir, Config{}, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, gobuild.ErrNoMain), "errors.Is(err, gobuild.ErrNoMain): %v", err)

	noGit := t.TempDir()
	fixture.WriteFiles(t, noGit, map[string]string{"go.mod": "module example.com/x\n\ngo 1.25.0\n", "main.go": fixture.ServiceMain})
	_, err = testRun(t, noGit, Config{}, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, version.ErrNoGit), "errors.Is(err, version.ErrNoGit): %v", err)
}

func TestProjectLabelsAndRefs(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	head := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	p := mustRun(t, dir, Config{}, nil).p
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.title":    "svc",
		"org.opencontainers.image.version":  "1.2.3",
		"org.opencontainers.image.created":  "2024-05-06T07:08:09Z",
		"org.opencontainers.image.source":   "https://example.com/acme/svc",
		"org.opencontainers.image.revision": head,
	}, p.labels(p.services[0]))
	assert.Equal(t, []string{"svc:1.2.3-scratch", "svc:1.2-scratch", "svc:1-scratch", "svc:scratch"}, p.refs(p.services[0], "scratch"))

	// One commit past the tag: a dev version, whose '+' becomes '-' in the
	// tag, and no X.Y tags.
	fixture.WriteFiles(t, dir, map[string]string{"README": "svc\n"})
	git(t, dir, "add", "README")
	git(t, dir, "commit", "-q", "-m", "readme")
	head = strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	p = mustRun(t, dir, Config{}, nil).p
	want := "1.2.3-dev.1+g" + head[:version.ShortLen]
	assert.Equal(t, want, p.versionString())
	assert.Equal(t, []string{"svc:" + strings.ReplaceAll(want, "+", "-") + "-alpine", "svc:alpine"}, p.refs(p.services[0], "alpine"))

	tests := []struct{ modulePath, want string }{
		{"example.com/acme/svc", "https://example.com/acme/svc"},
		{"github.com/a/b/v2", "https://github.com/a/b/v2"},
		{"svc", "svc"},
		{"local/svc", "local/svc"},
	}
	for _, tt := range tests {
		t.Run("source "+tt.modulePath, func(t *testing.T) {
			assert.Equal(t, tt.want, plan.SourceURL(tt.modulePath))
		})
	}
}

// TestOnceMapRunsEachKeyOnce checks the run's memo: concurrent callers of
// one key share one call and its result, other keys run apart.
func TestOnceMapRunsEachKeyOnce(t *testing.T) {
	var m onceMap[string, int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	got := make([]int, 8)
	for i := range got {
		wg.Go(func() {
			key := "a"
			if i%2 == 1 {
				key = "b"
			}
			got[i], _ = m.do(key, func() (int, error) { return int(calls.Add(1)), nil })
		})
	}
	wg.Wait()
	assert.Equal(t, int32(2), calls.Load(), "one call per key")
	for i := range got {
		assert.Equal(t, got[i%2], got[i], "caller %d got its key's one result", i)
	}
	assert.NotEqual(t, got[0], got[1], "two keys, two calls")
	_, err := m.do("c", func() (int, error) { return 0, errors.New("boom") })
	assert.EqualError(t, err, "boom")
	_, err = m.do("c", func() (int, error) { return 1, nil })
	assert.EqualError(t, err, "boom", "the first call's result, its error included")
}
