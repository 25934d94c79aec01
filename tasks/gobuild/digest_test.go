package gobuild

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fivePlatforms = []Target{
	{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}, {OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"}, {OS: "windows", Arch: "amd64"},
}

// planDigest plans cfg for targets under osEnv and digests the jobs.
func planDigest(t *testing.T, cfg Config, targets []Target, osEnv []string) (string, []string) {
	t.Helper()
	jobs, err := Plan(cfg, targets, osEnv)
	require.NoError(t, err)
	return ConfigDigest(jobs)
}

func TestConfigDigestLines(t *testing.T) {
	cfg := Config{Name: "api", Main: "./cmd/api", Version: "1.2.3", Commit: "abc123", Date: date, Host: linuxAMD64, LdflagsExtra: "-X 'main.greeting=hello world'"}
	osEnv := []string{"PATH=/usr/bin", "HOME=/root", "GOFLAGS=-tags=netgo", "GOAMD64=v3", "CC=gcc"}
	digest, lines := planDigest(t, cfg, fivePlatforms, osEnv)
	assert.Equal(t, []string{
		`api: env CGO_ENABLED=0`,
		`api: env GOAMD64=v3`,
		`api: env GOFLAGS=-tags=netgo`,
		`api: go build -trimpath -buildvcs=auto -gcflags=all=-dwarf=false -ldflags "-s -w -buildid= -X main.version=1.2.3 -X main.commit=abc123 -X main.date=2024-01-02T02:04:05Z -X 'main.greeting=hello world'" -o <output> ./cmd/api`,
	}, lines, "one set of lines for all five platforms; CC left out with cgo off")
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest)
}

// TestConfigDigestSameOnEveryMachine plans the same run on two CI machines
// that differ in everything a machine does (paths, caches, tools, CI
// variables) and in the platforms each was asked to plan: the digest must
// not differ.
func TestConfigDigestSameOnEveryMachine(t *testing.T) {
	base := Config{Name: "app", Version: "1.2.3", Commit: "abc123", Date: date, Host: linuxAMD64}
	machineA := base
	machineA.ModuleDir = "/home/runner/work/app/app"
	machineA.Dist = "/home/runner/work/app/app/dist"
	machineA.GoBin = "/opt/hostedtoolcache/go/1.26.8/x64/bin/go"
	machineA.Parallel = 4
	envA := []string{
		"PATH=/opt/hostedtoolcache/go/bin:/usr/bin", "HOME=/home/runner", "GOPATH=/home/runner/go",
		"GOCACHE=/home/runner/.cache/go-build", "GOMODCACHE=/home/runner/go/pkg/mod", "TMPDIR=/tmp",
		"GOCACHEPROG=/usr/local/bin/go-cacher --cache-server=http://10.0.0.5:31364", "GOPROXY=https://proxy.golang.org",
		"GITHUB_RUN_ID=123", "GOROOT=/opt/hostedtoolcache/go/1.26.8/x64", "GOFLAGS=-mod=readonly", "CC=/usr/bin/gcc",
	}
	machineB := base
	machineB.ModuleDir = "/builds/team/app"
	machineB.Dist = "dist"
	machineB.Parallel = 2
	machineB.ExtraEnv = []string{"GOTMPDIR=/scratch"}
	envB := []string{
		"PATH=/usr/local/go/bin:/bin", "HOME=/root", "GOPATH=/root/go", "GOCACHE=/cache/go", "USER=root",
		"CI_JOB_ID=987", "GOFLAGS=-mod=readonly", "GOPROXY=https://goproxy.example,direct", "GONOSUMDB=*",
	}
	// Each shard plans the whole run, but in whatever order its config lists it.
	reversed := []Target{fivePlatforms[4], fivePlatforms[3], fivePlatforms[2], fivePlatforms[1], fivePlatforms[0]}
	dA, linesA := planDigest(t, machineA, fivePlatforms, envA)
	dB, linesB := planDigest(t, machineB, reversed, envB)
	assert.Equal(t, linesA, linesB)
	assert.Equal(t, dA, dB)
	dOne, _ := planDigest(t, machineB, fivePlatforms[:1], envB)
	assert.Equal(t, dA, dOne, "the platform list is recorded apart, not in the digest")
}

// TestConfigDigestChangesWithTheBytes changes one thing that changes what
// go build writes at a time: each must give another digest.
func TestConfigDigestChangesWithTheBytes(t *testing.T) {
	base := Config{Name: "app", Version: "1.2.3", Commit: "abc123", Date: date, Host: linuxAMD64}
	baseEnv := []string{"PATH=/usr/bin", "HOME=/root", "CC=gcc"}
	want, _ := planDigest(t, base, fivePlatforms, baseEnv)
	tests := []struct {
		name    string
		cfg     func(*Config)
		env     []string // appended to baseEnv
		targets []Target // default fivePlatforms
	}{
		{name: "version", cfg: func(c *Config) { c.Version = "1.2.4" }},
		{name: "commit", cfg: func(c *Config) { c.Commit = "def456" }},
		{name: "date", cfg: func(c *Config) { c.Date = date.Add(time.Second) }},
		{name: "extra ldflags", cfg: func(c *Config) { c.LdflagsExtra = "-X main.x=1" }},
		{name: "symbols kept", cfg: func(c *Config) { c.KeepSymbols = true }},
		{name: "version variable", cfg: func(c *Config) { c.VersionVars.Version = "main.v" }},
		{name: "main package", cfg: func(c *Config) { c.Main = "./cmd/app" }},
		{name: "service name", cfg: func(c *Config) { c.Name = "app2" }},
		{name: "cgo on", cfg: func(c *Config) { c.CGO = true }, targets: []Target{linuxAMD64}},
		{name: "GOFLAGS", env: []string{"GOFLAGS=-tags=netgo"}},
		{name: "GOAMD64", env: []string{"GOAMD64=v3"}},
		{name: "GOARM64", env: []string{"GOARM64=v8.2"}},
		{name: "GOEXPERIMENT", env: []string{"GOEXPERIMENT=nogreenteagc"}},
		{name: "GOFIPS140", env: []string{"GOFIPS140=latest"}},
		{name: "GO111MODULE", env: []string{"GO111MODULE=off"}},
		{name: "external linker switch", env: []string{"GO_EXTLINK_ENABLED=1"}},
		{name: "extra env", cfg: func(c *Config) { c.ExtraEnv = []string{"GOAMD64=v2"} }},
	}
	seen := map[string]string{want: "base"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			targets := tc.targets
			if targets == nil {
				targets = fivePlatforms
			}
			got, _ := planDigest(t, cfg, targets, append(append([]string(nil), baseEnv...), tc.env...))
			assert.NotEqual(t, want, got)
			prev, dup := seen[got]
			assert.False(t, dup, "same digest as %q", prev)
			seen[got] = tc.name
		})
	}

	t.Run("with cgo on, the C toolchain counts", func(t *testing.T) {
		cgo := base
		cgo.CGO = true
		host := []Target{linuxAMD64}
		d0, lines := planDigest(t, cgo, host, []string{"CC=gcc"})
		assert.Contains(t, lines, "app: env CC=gcc")
		for _, env := range [][]string{{"CC=clang"}, {"CC=gcc", "CGO_CFLAGS=-O3"}, {"CC=gcc", "CGO_LDFLAGS=-static"}, {"CC=gcc", "CXX=g++"}} {
			d, _ := planDigest(t, cgo, host, env)
			assert.NotEqual(t, d0, d, "%v", env)
		}
		d, _ := planDigest(t, cgo, host, []string{"CC=gcc", "HOME=/elsewhere"})
		assert.Equal(t, d0, d)
	})
}

func TestConfigDigestSeveralServices(t *testing.T) {
	api := Config{Name: "api", Main: "./cmd/api", Dist: filepath.Join("x", "dist"), Version: "1.0.0"}
	worker := api
	worker.Name, worker.Main = "worker", "./cmd/worker"
	apiJobs, err := Plan(api, fivePlatforms, nil)
	require.NoError(t, err)
	workerJobs, err := Plan(worker, fivePlatforms[:2], nil)
	require.NoError(t, err)
	both, lines := ConfigDigest(append(apiJobs, workerJobs...))
	again, _ := ConfigDigest(append(workerJobs, apiJobs...))
	assert.Equal(t, both, again, "job order does not matter")
	assert.Len(t, lines, 4, "two lines per service")
	onlyAPI, _ := ConfigDigest(apiJobs)
	assert.NotEqual(t, both, onlyAPI, "the services are part of the configuration")
}

func TestQuoteWords(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{in: []string{"build", "-o", "x"}, want: "build -o x"},
		{in: []string{"a b"}, want: `"a b"`},
		{in: []string{"a", "b"}, want: "a b"},
		{in: []string{""}, want: `""`},
		{in: []string{`say "hi"`}, want: `"say \"hi\""`},
		{in: []string{"line\nbreak"}, want: `"line\nbreak"`},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, quoteWords(tc.in))
	}
}
