package tasks

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/shard"
)

func strPtr(s string) *string { return &s }

// TestMergeEveryVariable checks env > Go > defaults for every MAGEPACK_*
// variable: the default alone, a Go value over it, and an environment value
// over the Go one.
func TestMergeEveryVariable(t *testing.T) {
	tests := []struct {
		env   string
		get   func(Config) any
		def   any           // with neither set
		goSet func(*Config) // a Go-level value ...
		goVal any           // ... and what merge makes of it
		value string        // an environment value ...
		want  any           // ... and what merge makes of it
	}{
		{"MAGEPACK_MAIN", func(c Config) any { return c.Main }, "", func(c *Config) { c.Main = "./cmd/a" }, "./cmd/a", "./cmd/b", "./cmd/b"},
		{"MAGEPACK_NAME", func(c Config) any { return c.Name }, "", func(c *Config) { c.Name = "a" }, "a", "b", "b"},
		{"MAGEPACK_PLATFORMS", func(c Config) any { return c.Platforms }, platform.Default, func(c *Config) { c.Platforms = "linux/arm64" }, "linux/arm64", " linux/amd64,windows/amd64 ", "linux/amd64,windows/amd64"},
		{"MAGEPACK_DIST", func(c Config) any { return c.Dist }, "dist", func(c *Config) { c.Dist = "out" }, "out", "/tmp/x", "/tmp/x"},
		{"MAGEPACK_IMAGE", func(c Config) any { return c.Image }, "", func(c *Config) { c.Image = "a" }, "a", "ghcr.io/team/b", "ghcr.io/team/b"},
		{"MAGEPACK_VERSION", func(c Config) any { return c.Version }, "", func(c *Config) { c.Version = "1.0.0" }, "1.0.0", "v2.0.0", "v2.0.0"},
		{"MAGEPACK_CGO", func(c Config) any { return c.CGO }, false, func(c *Config) { c.CGO = true }, true, "0", false},
		{"MAGEPACK_CC", func(c Config) any { return c.CC }, "", func(c *Config) { c.CC = "gcc" }, "gcc", "musl-gcc", "musl-gcc"},
		{"MAGEPACK_TAGS", func(c Config) any { return c.Tags }, "", func(c *Config) { c.Tags = "a" }, "a", "sqlite_omit_load_extension", "sqlite_omit_load_extension"},
		{"MAGEPACK_LDFLAGS", func(c Config) any { return c.Ldflags }, "", func(c *Config) { c.Ldflags = "-X a=b" }, "-X a=b", "-X main.date={{.Date}}", "-X main.date={{.Date}}"},
		{"MAGEPACK_VERSION_VAR", func(c Config) any { return c.VersionVar }, "", func(c *Config) { c.VersionVar = "main.v" }, "main.v", "x.Version", "x.Version"},
		{"MAGEPACK_COMMIT_VAR", func(c Config) any { return c.CommitVar }, "", func(c *Config) { c.CommitVar = "main.c" }, "main.c", "x.Commit", "x.Commit"},
		{"MAGEPACK_DATE_VAR", func(c Config) any { return c.DateVar }, "", func(c *Config) { c.DateVar = "main.d" }, "main.d", "x.Date", "x.Date"},
		{"MAGEPACK_PARALLEL", func(c Config) any { return c.Parallel }, 0, func(c *Config) { c.Parallel = 3 }, 3, "1", 1},
		{"MAGEPACK_ALPINE_BASE", func(c Config) any { return c.AlpineBase }, plan.DefaultAlpineBase, func(c *Config) { c.AlpineBase = "mirror/alpine:3" }, "mirror/alpine:3", "magepack-test/alpine:3", "magepack-test/alpine:3"},
		{"MAGEPACK_DOCKERFILE", func(c Config) any { return c.Dockerfile }, "", func(c *Config) { c.Dockerfile = "Dockerfile" }, "Dockerfile", "build/Dockerfile.scratch", "build/Dockerfile.scratch"},
		{"MAGEPACK_BUILDER", func(c Config) any { return c.Builder }, "", func(c *Config) { c.Builder = "golang:1.25" }, "golang:1.25", "golang:1.26-alpine", "golang:1.26-alpine"},
		{"MAGEPACK_PULL", func(c Config) any { return c.Pull }, "missing", func(c *Config) { c.Pull = "always" }, "always", "never", "never"},
		{"MAGEPACK_SMOKE", func(c Config) any { return c.Smoke }, "start", func(c *Config) { c.Smoke = "/healthz" }, "/healthz", "off", "off"},
		{"MAGEPACK_PORT", func(c Config) any { return c.Port }, 8080, func(c *Config) { c.Port = 9090 }, 9090, "3000", 3000},
		{"MAGEPACK_ARGS", func(c Config) any { return c.Args }, []string(nil), func(c *Config) { c.Args = []string{"-a"} }, []string{"-a"}, " --peer  127.0.0.1:9000 ", []string{"--peer", "127.0.0.1:9000"}},
		{"MAGEPACK_ENV", func(c Config) any { return c.Env }, map[string]string(nil), func(c *Config) { c.Env = map[string]string{"A": "1"} }, map[string]string{"A": "1"}, "DATA_DIR=/tmp/data, OPTS=a=b,EMPTY=,", map[string]string{"DATA_DIR": "/tmp/data", "OPTS": "a=b", "EMPTY": ""}},
		{"MAGEPACK_TZDATA", func(c Config) any { return c.TZData }, false, func(c *Config) { c.TZData = true }, true, "false", false},
		{"MAGEPACK_CA_BUNDLE", func(c Config) any { return c.CABundle }, "", func(c *Config) { c.CABundle = "ca.pem" }, "ca.pem", "/etc/ca.pem", "/etc/ca.pem"},
		{"MAGEPACK_VARIANTS", func(c Config) any { return c.Variants }, "scratch,alpine", func(c *Config) { c.Variants = "alpine" }, "alpine", "scratch", "scratch"},
		{"MAGEPACK_PUSH", func(c Config) any { return c.Push }, "auto", func(c *Config) { c.Push = "never" }, "never", "auto", "auto"},
		{"MAGEPACK_TAG_PREFIX", func(c Config) any { return c.TagPrefix }, (*string)(nil), func(c *Config) { c.TagPrefix = strPtr("services/") }, strPtr("services/"), "", strPtr("")},
		{"MAGEPACK_SHARD", func(c Config) any { return c.Shard }, "", func(c *Config) { c.Shard = "1/2" }, "1/2", "2/3", "2/3"},
		{"MAGEPACK_MERGE", func(c Config) any { return c.Merge }, "dist-*", func(c *Config) { c.Merge = "parts/*" }, "parts/*", "a,b", "a,b"},
		{"MAGEPACK_TIMINGS", func(c Config) any { return c.Timings }, false, func(c *Config) { c.Timings = true }, true, "0", false},
		{"MAGEPACK_SIGN_KEY", func(c Config) any { return c.SignKey }, "", func(c *Config) { c.SignKey = "cosign.key" }, "cosign.key", "/run/secrets/key", "/run/secrets/key"},
		{"MAGEPACK_VERIFY_KEY", func(c Config) any { return c.VerifyKey }, "", func(c *Config) { c.VerifyKey = "cosign.pub" }, "cosign.pub", "/keys/cosign.pub", "/keys/cosign.pub"},
		{"MAGEPACK_VULNDB", func(c Config) any { return c.VulnDB }, "", func(c *Config) { c.VulnDB = "https://mirror/vulndb" }, "https://mirror/vulndb", "file:///srv/vulndb", "file:///srv/vulndb"},
		{"MAGEPACK_VULN_WAIVERS", func(c Config) any { return c.VulnWaivers }, map[string]string(nil), func(c *Config) { c.VulnWaivers = map[string]string{"GO-2022-1059": "a"} }, map[string]string{"GO-2022-1059": "a"}, "GO-2023-2000=b", map[string]string{"GO-2023-2000": "b"}},
		{"MAGEPACK_TOOLCHAIN", func(c Config) any { return c.Toolchain }, "", func(c *Config) { c.Toolchain = "go1.26.9" }, "go1.26.9", "go1.26.10", "go1.26.10"},
		{"MAGEPACK_REBUILD_REF", func(c Config) any { return c.RebuildRef }, "", func(c *Config) { c.RebuildRef = "ghcr.io/team/app:1.2.3-scratch" }, "ghcr.io/team/app:1.2.3-scratch", "ghcr.io/team/app@sha256:00", "ghcr.io/team/app@sha256:00"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.env] = true
		t.Run(tt.env, func(t *testing.T) {
			got, err := plan.Merge(Config{}, envOf(nil))
			require.NoError(t, err)
			assert.Equal(t, tt.def, tt.get(got), "default")

			var goCfg Config
			tt.goSet(&goCfg)
			got, err = plan.Merge(goCfg, envOf(nil))
			require.NoError(t, err)
			assert.Equal(t, tt.goVal, tt.get(got), "Go over the default")

			got, err = plan.Merge(goCfg, envOf(map[string]string{tt.env: tt.value}))
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.get(got), "environment over Go")

			got, err = plan.Merge(Config{}, envOf(map[string]string{tt.env: tt.value}))
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.get(got), "environment over the default")
		})
	}
	for _, name := range plan.Names() {
		assert.True(t, seen[name], "%s has no precedence case", name)
	}
	assert.Len(t, seen, len(plan.Names()), "every case names a variable merge reads")
}

func TestMergeLeavesOtherFieldsAlone(t *testing.T) {
	goCfg := Config{Main: "./cmd/app", Platforms: "linux/arm64", Port: 9000, CGO: true}
	got, err := plan.Merge(goCfg, envOf(map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64", "UNRELATED": "x"}))
	require.NoError(t, err)
	assert.Equal(t, "./cmd/app", got.Main)
	assert.Equal(t, "linux/amd64", got.Platforms)
	assert.Equal(t, 9000, got.Port)
	assert.True(t, got.CGO)
	assert.Equal(t, Config{Main: "./cmd/app", Platforms: "linux/arm64", Port: 9000, CGO: true}, goCfg, "the Go-level config is not modified")
}

// TestMergeEmptyIsUnset: CI templates pass unset inputs as empty strings;
// those must neither clear a Go-level value nor fail to parse.
func TestMergeEmptyIsUnset(t *testing.T) {
	goCfg := Config{Platforms: "linux/arm64", CGO: true, Parallel: 2, Port: 9000, Pull: "never"}
	env := map[string]string{}
	for _, name := range plan.Names() {
		if name != "MAGEPACK_TAG_PREFIX" { // the one whose empty value means something
			env[name] = " "
		}
	}
	got, err := plan.Merge(goCfg, envOf(env))
	require.NoError(t, err)
	want, err := plan.Merge(goCfg, envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "linux/arm64", got.Platforms)
	assert.True(t, got.CGO)
	assert.Equal(t, 2, got.Parallel)
	assert.Equal(t, 9000, got.Port)
}

func TestMergeBooleans(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"1", true}, {"true", true}, {"TRUE", true}, {"yes", true}, {"on", true}, {" 1 ", true},
		{"0", false}, {"false", false}, {"no", false}, {"off", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := plan.Merge(Config{CGO: !tt.want, TZData: !tt.want}, envOf(map[string]string{"MAGEPACK_CGO": tt.value, "MAGEPACK_TZDATA": tt.value}))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.CGO, "MAGEPACK_CGO")
			assert.Equal(t, tt.want, got.TZData, "MAGEPACK_TZDATA")
		})
	}
}

func TestMergeCGO(t *testing.T) {
	tests := []struct {
		goCfg             Config
		value             string
		wantCGO, wantStat bool
	}{
		{Config{}, "static", true, true},
		{Config{}, "STATIC", true, true},
		{Config{StaticCGO: true}, "1", true, false},
		{Config{StaticCGO: true}, "0", false, false},
		{Config{CGO: true}, "static", true, true},
		{Config{StaticCGO: true}, "", false, true}, // unset: Go's value stands (StaticCGO implies CGO when parsed)
	}
	for _, tt := range tests {
		got, err := plan.Merge(tt.goCfg, envOf(map[string]string{"MAGEPACK_CGO": tt.value}))
		require.NoError(t, err)
		assert.Equal(t, tt.wantCGO, got.CGO, "MAGEPACK_CGO=%q over %+v: CGO", tt.value, tt.goCfg)
		assert.Equal(t, tt.wantStat, got.StaticCGO, "MAGEPACK_CGO=%q over %+v: StaticCGO", tt.value, tt.goCfg)
		o, err := plan.Parse(got)
		require.NoError(t, err)
		assert.Equal(t, tt.wantCGO || tt.wantStat, o.CGO, "static implies cgo")
		assert.Equal(t, tt.wantStat, o.CGOStatic)
	}
}

func TestParseOptionsCgo(t *testing.T) {
	o, err := configure(Config{}, envOf(map[string]string{
		"MAGEPACK_CGO": "static", "MAGEPACK_TAGS": " sqlite_omit_load_extension, ,json1 ",
		"MAGEPACK_CC": "linux/amd64=musl-gcc,linux/arm64=aarch64-linux-gnu-gcc",
	}))
	require.NoError(t, err)
	assert.True(t, o.CGO)
	assert.True(t, o.CGOStatic)
	assert.Equal(t, []string{"sqlite_omit_load_extension", "json1"}, o.Tags)
	assert.Equal(t, "aarch64-linux-gnu-gcc", o.CC.For(gobuild.Target{OS: "linux", Arch: "arm64"}))
	assert.Equal(t, "musl-gcc", o.CC.For(gobuild.Target{OS: "linux", Arch: "amd64"}))
	assert.Equal(t, "", o.CC.For(gobuild.Target{OS: "linux", Arch: "riscv64"}), "found on PATH")
}

// TestMergeErrors checks that every bad value, from the environment or from
// Go, is a configuration error that names its variable and says what is
// wanted.
func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name string
		goCf Config
		env  map[string]string
		want []string
	}{
		{"cgo not a boolean", Config{}, map[string]string{"MAGEPACK_CGO": "maybe"}, []string{`MAGEPACK_CGO="maybe"`, "want 0, 1 or static"}},
		{"cgo mode", Config{}, map[string]string{"MAGEPACK_CGO": "dynamic"}, []string{`MAGEPACK_CGO="dynamic"`, "want 0, 1 or static"}},
		{"tag with a space", Config{}, map[string]string{"MAGEPACK_TAGS": "a,b c"}, []string{`build tag "b c"`, "(MAGEPACK_TAGS)"}},
		{"compiler per platform", Config{CC: "linux/amd64=musl-gcc,linux/amd64=gcc"}, nil, []string{"linux/amd64 is given twice", "(MAGEPACK_CC)"}},
		{"tzdata not a boolean", Config{}, map[string]string{"MAGEPACK_TZDATA": "2"}, []string{`MAGEPACK_TZDATA="2"`, "want 0 or 1"}},
		{"parallel not a number", Config{}, map[string]string{"MAGEPACK_PARALLEL": "many"}, []string{`MAGEPACK_PARALLEL="many"`, "at least 1"}},
		{"parallel zero", Config{}, map[string]string{"MAGEPACK_PARALLEL": "0"}, []string{`MAGEPACK_PARALLEL="0"`, "at least 1"}},
		{"parallel negative", Config{}, map[string]string{"MAGEPACK_PARALLEL": "-2"}, []string{`MAGEPACK_PARALLEL="-2"`}},
		{"port not a number", Config{}, map[string]string{"MAGEPACK_PORT": "http"}, []string{`MAGEPACK_PORT="http"`, "1 to 65535"}},
		{"port zero", Config{}, map[string]string{"MAGEPACK_PORT": "0"}, []string{`MAGEPACK_PORT="0"`}},
		{"port too high", Config{}, map[string]string{"MAGEPACK_PORT": "65536"}, []string{`MAGEPACK_PORT="65536"`}},
		{"port from Go out of range", Config{Port: 70000}, nil, []string{"port 70000 is out of range", "(MAGEPACK_PORT)"}},
		{"pull policy", Config{}, map[string]string{"MAGEPACK_PULL": "sometimes"}, []string{`pull policy "sometimes"`, "missing, always or never", "MAGEPACK_PULL"}},
		{"pull policy from Go", Config{Pull: "on demand"}, nil, []string{`pull policy "on demand"`, "MAGEPACK_PULL"}},
		{"smoke mode", Config{}, map[string]string{"MAGEPACK_SMOKE": "healthz"}, []string{`smoke setting "healthz"`, "/healthz", "(MAGEPACK_SMOKE)"}},
		{"smoke path with a space", Config{}, map[string]string{"MAGEPACK_SMOKE": "/health z"}, []string{`smoke setting "/health z"`, "(MAGEPACK_SMOKE)"}},
		{"per-service smoke", Config{Services: map[string]Service{"cli": {Smoke: "sometimes"}}}, nil, []string{`smoke setting "sometimes"`, `Settings.Services["cli"].Smoke`}},
		{"per-service port", Config{Services: map[string]Service{"api": {Port: 70000}}}, nil, []string{"port 70000 of service api", `Settings.Services["api"].Port`}},
		{"args with quotes", Config{}, map[string]string{"MAGEPACK_ARGS": `--greeting "hello world"`}, []string{`MAGEPACK_ARGS="--greeting \"hello world\""`, "takes no quotes", "Settings.Args"}},
		{"env entry without =", Config{}, map[string]string{"MAGEPACK_ENV": "DATA_DIR=/tmp,VERBOSE"}, []string{`MAGEPACK_ENV="DATA_DIR=/tmp,VERBOSE"`, `entry "VERBOSE" is not KEY=value`}},
		{"env entry without a key", Config{}, map[string]string{"MAGEPACK_ENV": "=x"}, []string{`MAGEPACK_ENV="=x"`, "is not KEY=value"}},
		{"env key twice", Config{}, map[string]string{"MAGEPACK_ENV": "A=1,A=2"}, []string{`MAGEPACK_ENV="A=1,A=2"`, "A is given twice"}},
		{"env key with a space", Config{}, map[string]string{"MAGEPACK_ENV": "DATA_DIR =/tmp"}, []string{`MAGEPACK_ENV="DATA_DIR =/tmp"`, `entry "DATA_DIR =/tmp" is not KEY=value`}},
		{"env key from Go with a space", Config{Env: map[string]string{"DATA DIR": "x"}}, nil, []string{`smoke environment key "DATA DIR"`, "(Settings.Env)"}},
		{"env key from Go", Config{Env: map[string]string{"A=B": "x"}}, nil, []string{`smoke environment key "A=B"`, "(Settings.Env)"}},
		{"per-service env key", Config{Services: map[string]Service{"api": {Env: map[string]string{"": "x"}}}}, nil, []string{`smoke environment key ""`, `Settings.Services["api"].Env`}},
		{"shard zero", Config{}, map[string]string{"MAGEPACK_SHARD": "0/3"}, []string{`shard "0/3"`, "(MAGEPACK_SHARD)"}},
		{"shard past the end", Config{}, map[string]string{"MAGEPACK_SHARD": "4/3"}, []string{`shard "4/3"`, "1 ≤ k ≤ n", "(MAGEPACK_SHARD)"}},
		{"shard not numbers", Config{Shard: "a/b"}, nil, []string{`shard "a/b"`, "(MAGEPACK_SHARD)"}},
		{"timings not a boolean", Config{}, map[string]string{"MAGEPACK_TIMINGS": "always"}, []string{`MAGEPACK_TIMINGS="always"`, "want 0 or 1"}},
		{"version not semver", Config{}, map[string]string{"MAGEPACK_VERSION": "1.2"}, []string{`version "1.2" is not semver`, "(MAGEPACK_VERSION)"}},
		{"push mode", Config{}, map[string]string{"MAGEPACK_PUSH": "always"}, []string{`push mode "always"`, "auto or never", "(MAGEPACK_PUSH)"}},
		{"unknown variant", Config{}, map[string]string{"MAGEPACK_VARIANTS": "scratch,distroless"}, []string{`variant "distroless"`, "(MAGEPACK_VARIANTS)"}},
		{"empty variant", Config{}, map[string]string{"MAGEPACK_VARIANTS": "scratch,"}, []string{`variant ""`, "(MAGEPACK_VARIANTS)"}},
		{"dockerfile outside the module", Config{}, map[string]string{"MAGEPACK_DOCKERFILE": "../Dockerfile"}, []string{`dockerfile "../Dockerfile" is outside the module`, "(MAGEPACK_DOCKERFILE)"}},
		{
			"every mistake at once", Config{Port: -1},
			map[string]string{"MAGEPACK_CGO": "x", "MAGEPACK_PARALLEL": "x", "MAGEPACK_PULL": "x", "MAGEPACK_SMOKE": "x"},
			[]string{"MAGEPACK_CGO", "MAGEPACK_PARALLEL", "MAGEPACK_PULL", "MAGEPACK_SMOKE", "(MAGEPACK_PORT)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configure(tt.goCf, envOf(tt.env))
			require.Error(t, err)
			var ce *plan.Error
			assert.True(t, errors.As(err, &ce), "a *plan.Error, got %T", err)
			assert.Equal(t, ExitConfig, exitCode(err))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "configuration: "), err.Error())
		})
	}
}

// TestParseOptionsTypes: each setting is parsed once, by its concern
// package's own parser, into the value the targets use.
func TestParseOptionsTypes(t *testing.T) {
	o, err := configure(Config{
		Pull: " Never", Smoke: "/healthz", Port: 9000, Variants: "alpine, scratch,alpine", Push: "never",
		Shard: "2/3", Merge: " a, b/*,", Version: "v1.2.3",
		Services: map[string]Service{"cli": {Smoke: "off"}, "api": {Port: 3000}},
	}, envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, engine.PullNever, o.Pull, "the engine's own rule: case and spaces do not matter")
	assert.Equal(t, engine.SmokeOptions{Mode: engine.SmokeHTTP, Path: "/healthz", Port: 9000}, o.Smoke)
	assert.Equal(t, []string{"alpine", "scratch"}, o.Variants, "deduplicated, in order")
	assert.False(t, o.Push)
	assert.Equal(t, shard.Spec{K: 2, N: 3}, o.Shard)
	assert.Equal(t, " a, b/*,", o.Merge, "merge.Expand reads the list")
	assert.Equal(t, "1.2.3", o.Version.String())
	assert.Equal(t, map[string]engine.SmokeOptions{
		"cli": {Mode: engine.SmokeOff, Port: 9000},
		"api": {Mode: engine.SmokeHTTP, Path: "/healthz", Port: 3000},
	}, o.Services)

	t.Run("arguments and environment", func(t *testing.T) {
		goCfg := Config{
			Smoke: "run:check", Args: []string{"-v"}, Env: map[string]string{"B": "2", "A": "1"},
			Services: map[string]Service{
				"api":    {Args: []string{"--peer", "db:5432"}, Env: map[string]string{"DATA_DIR": "/tmp/data"}},
				"worker": {Smoke: "start"},
				"quiet":  {Args: []string{}, Env: map[string]string{}},
			},
		}
		o, err := configure(goCfg, envOf(nil))
		require.NoError(t, err)
		assert.Equal(t, engine.SmokeOptions{Mode: engine.SmokeRun, Cmd: []string{"check"}, Port: 8080, Args: []string{"-v"}, Env: []string{"A=1", "B=2"}}, o.Smoke, "sorted by key")
		assert.Equal(t, engine.SmokeOptions{Mode: engine.SmokeRun, Cmd: []string{"check"}, Port: 8080, Args: []string{"--peer", "db:5432"}, Env: []string{"DATA_DIR=/tmp/data"}}, o.Services["api"], "the service's own")
		assert.Equal(t, engine.SmokeOptions{Mode: engine.SmokeStart, Port: 8080, Args: []string{"-v"}, Env: []string{"A=1", "B=2"}}, o.Services["worker"], "none of its own: the project's")
		assert.Empty(t, o.Services["quiet"].Args, "set empty: none")
		assert.Empty(t, o.Services["quiet"].Env, "set empty: none")

		o, err = configure(goCfg, envOf(map[string]string{"MAGEPACK_ARGS": "--peer 10.0.0.1:5432", "MAGEPACK_ENV": "DATA_DIR=/tmp/d"}))
		require.NoError(t, err)
		for _, name := range []string{"api", "worker", "quiet"} {
			assert.Equal(t, []string{"--peer", "10.0.0.1:5432"}, o.Services[name].Args, "MAGEPACK_ARGS over Go for %s", name)
			assert.Equal(t, []string{"DATA_DIR=/tmp/d"}, o.Services[name].Env, "MAGEPACK_ENV over Go for %s", name)
		}
		assert.Equal(t, []string{"--peer", "db:5432"}, goCfg.Services["api"].Args, "the Go-level settings are not modified")
	})

	t.Run("environment applies to every service", func(t *testing.T) {
		goCfg := Config{Services: map[string]Service{"cli": {Smoke: "off", Port: 1}}}
		o, err := configure(goCfg, envOf(map[string]string{"MAGEPACK_SMOKE": "start", "MAGEPACK_PORT": "8081"}))
		require.NoError(t, err)
		assert.Equal(t, engine.SmokeOptions{Mode: engine.SmokeStart, Port: 8081}, o.Services["cli"])
		assert.Equal(t, Service{Smoke: "off", Port: 1}, goCfg.Services["cli"], "the Go-level settings are not modified")
	})
}

func TestUnknownSettings(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{name: "known settings and other variables", environ: []string{"MAGEPACK_PLATFORMS=linux/arm64", "PATH=/bin", "MAGEPACKAGE=x", "GOFLAGS=-v"}},
		{name: "a typo names the setting", environ: []string{"MAGEPACK_PLATFROMS=linux/arm64"},
			want: []string{"MAGEPACK_PLATFROMS is not a magepack setting and is ignored; did you mean MAGEPACK_PLATFORMS?"}},
		{name: "a missing letter", environ: []string{"MAGEPACK_DOCKERFLE="},
			want: []string{"MAGEPACK_DOCKERFLE is not a magepack setting and is ignored; did you mean MAGEPACK_DOCKERFILE?"}},
		{name: "nothing close", environ: []string{"MAGEPACK_SOMETHING_ELSE_ENTIRELY=1"},
			want: []string{"MAGEPACK_SOMETHING_ELSE_ENTIRELY is not a magepack setting and is ignored"}},
		{name: "sorted, each once", environ: []string{"MAGEPACK_PROT=80", "MAGEPACK_NAEM=x"},
			want: []string{"MAGEPACK_NAEM is not a magepack setting and is ignored; did you mean MAGEPACK_NAME?", "MAGEPACK_PROT is not a magepack setting and is ignored; did you mean MAGEPACK_PORT?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, plan.UnknownSettings(tt.environ))
		})
	}
}
