package e2e_test

// Bad input: every mistake a user can make in the configuration
// ends the run with a named error that says how to fix it, the right exit
// code, no stack trace, and nothing written to dist/.

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

func TestIntegrationBadInput(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	const libOnly = "package relapp\n"
	signKey := fixture.CosignKey(t, "right")
	tests := []struct {
		name   string
		target string
		env    []string
		files  map[string]string // added to (or replacing) the test app's files
		engine bool              // needs a Docker engine (and the old builder image)
		code   int
		want   []string // substrings of stderr
	}{
		{
			name: "unknown platform", env: []string{"MAGEPACK_PLATFORMS=linux/amd65"}, code: tasks.ExitConfig,
			want: []string{`platform "linux/amd65" is not supported by go1.`, "did you mean linux/amd64?", "(MAGEPACK_PLATFORMS)"},
		},
		{
			name: "platform with a dash", env: []string{"MAGEPACK_PLATFORMS=linux-amd64"}, code: tasks.ExitConfig,
			want: []string{`platform "linux-amd64" is malformed: want os/arch, e.g. linux/amd64`},
		},
		{
			name: "platform without arch", env: []string{"MAGEPACK_PLATFORMS=linux/"}, code: tasks.ExitConfig,
			want: []string{`platform "linux/" is malformed: want os/arch`},
		},
		{
			name: "empty platform list", env: []string{"MAGEPACK_PLATFORMS=,"}, code: tasks.ExitConfig,
			want: []string{`platform list "," is empty`, "or all"},
		},
		{
			name: "all mixed with names", env: []string{"MAGEPACK_PLATFORMS=all,linux/amd64"}, code: tasks.ExitConfig,
			want: []string{`"all" cannot be combined with platform names`},
		},
		{
			name: "main is not a main package", env: []string{"MAGEPACK_MAIN=./lib"},
			files: map[string]string{"lib/lib.go": "package lib\n"}, code: tasks.ExitConfig,
			want: []string{`main package "./lib"`, "is package lib, not main", "set MAGEPACK_MAIN"},
		},
		{
			name: "main does not exist", env: []string{"MAGEPACK_MAIN=./cmd/nope"}, code: tasks.ExitConfig,
			want: []string{`main package "./cmd/nope"`, "does not exist", "set MAGEPACK_MAIN"},
		},
		{
			name: "main outside the module", env: []string{"MAGEPACK_MAIN=../elsewhere"}, code: tasks.ExitConfig,
			want: []string{"is outside the module", "set MAGEPACK_MAIN"},
		},
		{
			name: "no main package and none configured", files: map[string]string{"main.go": libOnly}, code: tasks.ExitConfig,
			want: []string{"no main package in module", "set MAGEPACK_MAIN"},
		},
		{
			name:  "several main packages and none configured",
			files: map[string]string{"main.go": libOnly, "cmd/a/main.go": fixture.CrashMain, "cmd/b/main.go": fixture.CrashMain}, code: tasks.ExitConfig,
			want: []string{"has several main packages (./cmd/a, ./cmd/b)", "MAGEPACK_MAIN=./cmd/...", "MAGEPACK_MAIN=./cmd/a"},
		},
		{
			name: "version not semver", env: []string{"MAGEPACK_VERSION=1.2"}, code: tasks.ExitConfig,
			want: []string{`version "1.2" is not semver`, "e.g. 1.2.0", "(MAGEPACK_VERSION)"},
		},
		{
			name: "version with four parts", env: []string{"MAGEPACK_VERSION=v1.2.3.4"}, code: tasks.ExitConfig,
			want: []string{`version "v1.2.3.4" is not semver`},
		},
		{
			name: "invalid image name", env: []string{"MAGEPACK_IMAGE=Bad/Name"}, code: tasks.ExitConfig,
			want: []string{`image "Bad/Name" is not a valid repository name`, "set MAGEPACK_IMAGE"},
		},
		{
			name: "bogus pull policy", env: []string{"MAGEPACK_PULL=sometimes"}, code: tasks.ExitConfig,
			want: []string{`pull policy "sometimes" is not valid`, "missing, always or never (MAGEPACK_PULL)"},
		},
		{
			name: "bogus smoke mode", env: []string{"MAGEPACK_SMOKE=healthz"}, code: tasks.ExitConfig,
			want: []string{`smoke setting "healthz" is not valid`, "off, start, run:<args> for a command-line tool", "an HTTP path starting with / (e.g. /healthz)", "(MAGEPACK_SMOKE)"},
		},
		{
			// Refused by the same rule as the engine's, before anything is built.
			name: "smoke path with a space", target: "dockerScratch", env: []string{"MAGEPACK_SMOKE=/health z"}, code: tasks.ExitConfig,
			want: []string{`smoke setting "/health z" is not valid: an HTTP path cannot hold spaces; escape them (/health%20z) (MAGEPACK_SMOKE)`},
		},
		{
			name: "bogus cgo", env: []string{"MAGEPACK_CGO=maybe"}, code: tasks.ExitConfig,
			want: []string{`MAGEPACK_CGO="maybe": want 0, 1 or static`},
		},
		{
			name: "port out of range", env: []string{"MAGEPACK_PORT=99999"}, code: tasks.ExitConfig,
			want: []string{`MAGEPACK_PORT="99999": want a port number from 1 to 65535`},
		},
		{
			name: "unknown variant", env: []string{"MAGEPACK_VARIANTS=scratch,distroless"}, code: tasks.ExitConfig,
			want: []string{`variant "distroless" is not valid`, "(MAGEPACK_VARIANTS)"},
		},
		{
			name: "bogus source date epoch", env: []string{"SOURCE_DATE_EPOCH=yesterday"}, code: tasks.ExitConfig,
			want: []string{`SOURCE_DATE_EPOCH="yesterday" is not a Unix time in seconds`},
		},
		{
			name: "several mistakes at once", env: []string{"MAGEPACK_PULL=sometimes", "MAGEPACK_CGO=maybe"}, code: tasks.ExitConfig,
			want: []string{"MAGEPACK_PULL", "MAGEPACK_CGO"},
		},
		{
			name: "dist is a file", env: []string{"MAGEPACK_DIST=go.mod"}, code: tasks.ExitConfig,
			want: []string{`dist "go.mod" is a file, not a folder: remove it or set MAGEPACK_DIST`},
		},
		{
			name: "dist under a file", env: []string{"MAGEPACK_DIST=go.mod/dist"}, code: tasks.ExitConfig,
			want: []string{"cannot be created: a parent of it is a file", "remove it or choose another folder (MAGEPACK_DIST)"},
		},
		{
			// procfs refuses new folders even to root.
			name: "dist cannot be created", env: []string{"MAGEPACK_DIST=/proc/magepack-dist"}, code: tasks.ExitConfig,
			want: []string{`dist "/proc/magepack-dist" cannot be created (`, "choose a folder you can write to (MAGEPACK_DIST)"},
		},
		{
			// sysfs refuses new files even to root.
			name: "dist not writable", env: []string{"MAGEPACK_DIST=/sys/kernel"}, code: tasks.ExitConfig,
			want: []string{`dist "/sys/kernel" is not writable (`, "fix its permissions or choose another folder (MAGEPACK_DIST)"},
		},
		{
			name: "dist not writable, odd errno", env: []string{"MAGEPACK_DIST=/proc/self"}, code: tasks.ExitConfig,
			want: []string{`dist "/proc/self" is not writable (`, "(MAGEPACK_DIST)"},
		},
		{
			name: "dockerfile does not exist", target: "dockerScratch", env: []string{"MAGEPACK_DOCKERFILE=nope.Dockerfile"}, code: tasks.ExitConfig,
			want: []string{"dockerfile nope.Dockerfile does not exist in", "fix MAGEPACK_DOCKERFILE"},
		},
		{
			name: "dockerfile outside the module", target: "dockerAlpine", env: []string{"MAGEPACK_DOCKERFILE=../Dockerfile"}, code: tasks.ExitConfig,
			want: []string{`dockerfile "../Dockerfile" is outside the module`, "(MAGEPACK_DOCKERFILE)"},
		},
		{
			name: "missing CA bundle", target: "dockerScratch", env: []string{"MAGEPACK_CA_BUNDLE=/nonexistent/ca.pem"}, code: tasks.ExitConfig,
			want: []string{`CA bundle "/nonexistent/ca.pem" cannot be read`, "set MAGEPACK_CA_BUNDLE to a PEM file"},
		},
		{
			name: "empty CA bundle", target: "dockerScratch", env: []string{"MAGEPACK_CA_BUNDLE=empty.pem"},
			files: map[string]string{"empty.pem": ""}, code: tasks.ExitConfig,
			want: []string{`CA bundle "empty.pem" is not a non-empty file`, "MAGEPACK_CA_BUNDLE"},
		},
		{
			name: "no Docker engine", target: "dockerScratch", env: []string{"DOCKER_HOST=unix:///nonexistent.sock"}, code: tasks.ExitNoEngine,
			want: []string{"no Docker engine at unix:///nonexistent.sock (DOCKER_HOST)", "start Docker, or set DOCKER_HOST"},
		},
		{
			name: "signing key file missing", env: []string{"MAGEPACK_SIGN_KEY=/nonexistent/cosign.key"}, code: tasks.ExitConfig,
			want: []string{"key file /nonexistent/cosign.key names no readable file (file does not exist)", "(MAGEPACK_SIGN_KEY)"},
		},
		{
			name: "signing key is a public key", env: []string{"MAGEPACK_SIGN_KEY=cosign.pub"},
			files: map[string]string{"cosign.pub": string(signKey.Public)}, code: tasks.ExitConfig,
			want: []string{"key file cosign.pub is a public key", "(MAGEPACK_SIGN_KEY)"},
		},
		{
			name: "signing key with a wrong password", env: []string{"MAGEPACK_SIGN_KEY=" + string(signKey.Private), "COSIGN_PASSWORD=wrong"}, code: tasks.ExitConfig,
			want: []string{"the PEM key given inline is encrypted", "does not open it", "(MAGEPACK_SIGN_KEY)", "COSIGN_PASSWORD"},
		},
		{
			name: "builder Go older than go.mod", target: "dockerScratch", engine: true,
			env:   []string{"MAGEPACK_DOCKERFILE=Dockerfile", "MAGEPACK_PULL=never"},
			files: map[string]string{"Dockerfile": "ARG GO_IMAGE\nFROM ${GO_IMAGE} AS build\nFROM scratch\nCOPY main.go /\n"},
			code:  tasks.ExitConfig,
			want:  []string{"has Go 1.18.0, but go.mod asks for go 1.25.0: use golang:1.25-alpine or newer (MAGEPACK_BUILDER)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if tc.engine {
				cli := fixture.Engine(t)
				builder := relFakeBuilder(t, cli, "1.18.0", false)
				env = append(env, "MAGEPACK_BUILDER="+builder)
				tc.want = append(tc.want, "builder image "+builder)
			}
			app := relApp(t, tc.files)
			goMod, err := os.ReadFile(filepath.Join(app, "go.mod"))
			require.NoError(t, err)
			target := tc.target
			if target == "" {
				target = "crossCompile"
			}

			res := fixture.RunMage(t, tasksCmd(t, app, env, target))
			t.Logf("exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))

			assert.Equal(t, tc.code, res.Code, "exit code\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			for _, w := range tc.want {
				assert.Contains(t, res.Stderr, w)
			}
			relAssertNoPanic(t, res.Stdout+res.Stderr)
			assert.NotContains(t, res.Stdout, "[build]", "no build starts")
			relAssertNoDist(t, filepath.Join(app, "dist"))
			after, err := os.ReadFile(filepath.Join(app, "go.mod"))
			require.NoError(t, err)
			assert.Equal(t, string(goMod), string(after), "the module is left alone")
			if tc.code == tasks.ExitNoEngine {
				assert.Equal(t, 1, strings.Count(strings.TrimSpace(res.Stderr), "\n")+1, "one line: %q", res.Stderr)
			}
		})
	}
}

// relAssertNoDist fails, naming what it holds, when the dist folder
// exists: a run that stops at a configuration mistake writes nothing.
func relAssertNoDist(t *testing.T, distDir string) {
	t.Helper()
	entries, err := os.ReadDir(distDir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Errorf("nothing should be written to dist/, but %s exists holding %q", distDir, names)
}

// relFakeBuilder imports a stand-in for a golang builder image, its Go
// version told by GOLANG_VERSION as in the official images, under a name
// unique to the test (removed afterwards). With shell it holds the host's
// static busybox as /bin/sh, enough for RUN steps; without, it is empty
// (magepack refuses an old builder before running anything in it).
func relFakeBuilder(t *testing.T, cli *client.Client, goVersion string, shell bool) string {
	t.Helper()
	ref := relImageRepo(t, cli, "golang") + ":" + goVersion
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(data)
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "README", Mode: 0o644}, []byte("a stand-in for golang:"+goVersion+"\n"))
	if shell {
		bb, err := os.ReadFile(fixture.Busybox(t))
		require.NoError(t, err)
		add(&tar.Header{Name: "bin/busybox", Mode: 0o755}, bb)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}))
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}))
	}
	require.NoError(t, tw.Close())
	ctx := context.Background()
	resp, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, ref, client.ImageImportOptions{
		Changes: []string{"ENV GOLANG_VERSION=" + goVersion, "ENV PATH=/usr/local/go/bin:/bin"},
	})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp)
	require.NoError(t, resp.Close())
	_, err = cli.ImageInspect(ctx, ref)
	require.False(t, cerrdefs.IsNotFound(err), "the engine has %s after the import", ref)
	require.NoError(t, err)
	return ref
}
