package e2e_test

// Services that need flags and environment to start, end to
// end through the real engine: fixture.ConfiguredMain refuses to start
// without -peer and writes its state into its working directory, which the
// hardened smoke container's read-only root refuses, unless DATA_DIR
// points under /tmp.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// TestEngineSmokeArgsEnvSingleService drives one service through
// dockerScratch with MAGEPACK_ARGS and MAGEPACK_ENV, in each smoke mode:
// it fails without them, each failure saying what to set, and passes with
// them.
func TestEngineSmokeArgsEnvSingleService(t *testing.T) {
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "configured")
	app := relApp(t, map[string]string{"cmd/configured/main.go": fixture.ConfiguredMain})
	base := []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_MAIN=./cmd/configured", "MAGEPACK_SMOKE=/healthz"}
	args := "MAGEPACK_ARGS=-peer 127.0.0.1:9"
	env := "MAGEPACK_ENV=DATA_DIR=/tmp,LOG=debug"

	tests := []struct {
		name   string
		env    []string
		code   int
		stdout string   // a line pattern of the progress on success
		stderr []string // substrings of the error
	}{
		{name: "no flag", env: nil, code: tasks.ExitImage, stderr: []string{
			"container exited with code 1 before answering /healthz", "configured: -peer is required",
			`Settings.Services["configured"].Args and .Env, or MAGEPACK_ARGS and MAGEPACK_ENV`}},
		{name: "no data directory", env: []string{args}, code: tasks.ExitImage, stderr: []string{
			"open state.json: read-only file system", "/tmp is writable", "MAGEPACK_ENV"}},
		{name: "both, HTTP path", env: []string{args, env}, code: 0,
			stdout: `(?m)^\[scratch\] smoke run ok: /healthz answered 200 in `},
		{name: "both, start", env: []string{args, env, "MAGEPACK_SMOKE=start"}, code: 0,
			stdout: `(?m)^\[scratch\] smoke run ok: still running after `},
		{name: "both, run:", env: []string{args, env, "MAGEPACK_SMOKE=run:check"}, code: 0,
			stdout: `(?m)^\[scratch\] smoke run ok: run:check exited 0 in \S+: configured: ready, peer 127.0.0.1:9, state in /tmp$`},
		{name: "env entry without =", env: []string{args, "MAGEPACK_ENV=DATA_DIR"}, code: tasks.ExitConfig, stderr: []string{
			`MAGEPACK_ENV="DATA_DIR"`, `entry "DATA_DIR" is not KEY=value`}},
		{name: "arguments for several services", env: []string{args, "MAGEPACK_MAIN=./cmd/configured,."}, code: tasks.ExitConfig, stderr: []string{
			"MAGEPACK_ARGS (Settings.Args) apply to a single service, but there are 2", `Settings.Services[name].Args`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fixture.RunMage(t, tasksCmd(t, app, append(append([]string{}, base...), tt.env...), "dockerScratch"))
			relAssertNoPanic(t, res.Stdout+res.Stderr)
			assert.Equal(t, tt.code, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			if tt.stdout != "" {
				assert.Regexp(t, regexp.MustCompile(tt.stdout), res.Stdout)
			}
			if res.Code != 0 {
				t.Logf("the error as users see it:\n%s", res.Stderr)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, res.Stderr, s)
			}
			assert.Empty(t, relSmokeContainers(t, cli, repo), "the smoke containers are removed")
		})
	}
}

// configuredMagefile gives the service that needs a flag and a data
// directory its smoke run's arguments and environment, and the plain
// service none.
const configuredMagefile = `//go:build mage

package main

import (
	//mage:import
	"github.com/magepack/magepack/tasks"
)

func init() {
	tasks.Settings.Services = map[string]tasks.Service{
		"configured": {
			Args: []string{"--peer", "127.0.0.1:9000"},
			Env:  map[string]string{"DATA_DIR": "/tmp"},
		},
	}
}
`

// TestEngineSmokeArgsEnvPerService: a consumer's magefile sets one of two
// services' arguments and environment in Settings.Services; both images
// pass their smoke runs in one dockerScratch run.
func TestEngineSmokeArgsEnvPerService(t *testing.T) {
	cli := fixture.Engine(t)
	fixture.SkipShort(t, "compiles a consumer's magefile")
	dir := fixture.NewModule(t, fixture.Module{
		Path:     "example.com/acme/configured",
		Go:       "1.25.0",
		Magepack: true,
		Files: map[string]string{
			"cmd/api/main.go":        fixture.ServiceMain,
			"cmd/configured/main.go": fixture.ConfiguredMain,
			"magefiles/magefile.go":  configuredMagefile,
		},
		GitIgnore: "/dist/\n",
		Git:       true,
	})
	bin := fixture.CompileMage(t, dir)
	prefix := "magepack-test/svcargs-" + relRandom()
	relRemoveImagesAtEnd(t, cli, prefix+"/*")

	res := fixture.RunMage(t, fixture.MageCmd{Bin: bin, Dir: dir, Args: []string{"dockerScratch"},
		Env: []string{"MAGEPACK_MAIN=./cmd/...", "MAGEPACK_IMAGE=" + prefix, "MAGEPACK_SMOKE=/healthz"}})
	res.RequireOK(t)
	for _, svc := range []string{"api", "configured"} {
		assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(`(?m)^\[%s scratch\] smoke run ok: /healthz answered 200 in `, svc)), res.Stdout)
		assert.Empty(t, relSmokeContainers(t, cli, prefix+"/"+svc))
	}
	assert.FileExists(t, filepath.Join(dir, "dist", "artifacts.json"))
}
