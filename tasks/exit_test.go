package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/magefile/mage/mg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/merge"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/rebuild"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/verify"
	"github.com/magepack/magepack/tasks/version"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// firstClass is the index in errorClasses of the row that classifies err,
// or -1.
func firstClass(err error) int {
	for i, c := range errorClasses {
		if c.match(err) {
			return i
		}
	}
	return -1
}

// TestErrorClasses gives every row of the error table an error of its
// kind, made by the concern package that makes it where that can be done
// without an engine or a registry, and checks the exit code mage sees, the
// setting the message names, and that wrapping keeps both. Every row must
// be covered.
func TestErrorClasses(t *testing.T) {
	ctx := context.Background()
	ports := []platform.Port{{GOOS: "linux", GOARCH: "amd64", FirstClass: true}, {GOOS: "linux", GOARCH: "arm64", FirstClass: true}}
	lib := t.TempDir()
	fixture.WriteFiles(t, lib, map[string]string{"go.mod": "module example.com/lib\n\ngo 1.25\n", "lib.go": "package lib\n"})
	glibc := fixture.GlibcProgram(t) // a cgo build against the host's glibc
	dyn, err := linkage.Inspect(glibc)
	require.NoError(t, err)

	tests := []struct {
		name  string
		err   func(t *testing.T) error
		code  int
		named string // the setting the final message names
		slow  bool   // builds or resolves a repo: not under -short
	}{
		{name: "interrupted build", code: ExitInterrupted, slow: true, err: func(t *testing.T) error {
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, ""), Config{Platforms: "linux/arm64"}, nil)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := r.compile(cctx, r.p.jobs())
			return err
		}},
		{name: "bad environment value", code: ExitConfig, named: "MAGEPACK_PORT", err: func(t *testing.T) error {
			_, err := configure(Config{}, envOf(map[string]string{"MAGEPACK_PORT": "70000"}))
			return err
		}},
		{name: "no main package", code: ExitConfig, named: "MAGEPACK_MAIN", err: func(t *testing.T) error {
			_, err := gobuild.FindMain(ctx, lib)
			return err
		}},
		{name: "not in a module", code: ExitConfig, err: func(t *testing.T) error {
			tc, err := toolchain.Probe(ctx, t.TempDir())
			require.NoError(t, err)
			_, err = tc.ModuleRoot()
			return err
		}},
		{name: "go.mod without a module line", code: ExitConfig, err: func(t *testing.T) error {
			dir := t.TempDir()
			fixture.WriteFiles(t, dir, map[string]string{"go.mod": "go 1.25\n"})
			tc, err := toolchain.Probe(ctx, dir)
			require.NoError(t, err)
			_, err = tc.ModulePath()
			return err
		}},
		{name: "unknown platform", code: ExitConfig, named: "MAGEPACK_PLATFORMS", err: func(t *testing.T) error {
			_, err := platform.Parse("linux/amd65", ports, "go1.26")
			return err
		}},
		{name: "malformed platform", code: ExitConfig, named: "MAGEPACK_PLATFORMS", err: func(t *testing.T) error {
			_, err := platform.Parse("linux-amd64", ports, "go1.26")
			return err
		}},
		{name: "version not semver", code: ExitConfig, named: "MAGEPACK_VERSION", err: func(t *testing.T) error {
			_, err := version.Parse("1.2")
			return err
		}},
		{name: "no git", code: ExitConfig, named: "MAGEPACK_VERSION", err: func(t *testing.T) error {
			_, err := version.FromGit(ctx, t.TempDir())
			return err
		}},
		{name: "builder older than go.mod", code: ExitConfig, named: "MAGEPACK_BUILDER", err: func(t *testing.T) error {
			return dockerfile.CheckBuilder(semver.MustParse("1.18.0"), semver.MustParse("1.25.0"), "golang:1.18")
		}},
		{name: "no CA bundle", code: ExitConfig, named: "MAGEPACK_CA_BUNDLE", err: func(t *testing.T) error {
			// Only a machine without any system bundle makes this one.
			return fmt.Errorf("assemble the scratch image: %w", image.ErrNoCABundle)
		}},
		{name: "merge parts that are not there", code: ExitConfig, named: "MAGEPACK_MERGE", err: func(t *testing.T) error {
			_, err := merge.Expand("dist-*", t.TempDir())
			return err
		}},
		{name: "merge into one of its parts", code: ExitConfig, named: "MAGEPACK_DIST", err: func(t *testing.T) error {
			return fmt.Errorf("merge into dist-1: %w", merge.ErrDestIsPart)
		}},
		{name: "merge refuses a part", code: ExitMerge, err: func(t *testing.T) error {
			_, err := merge.Decide(merge.Read([]string{t.TempDir()}))
			return err
		}},
		{name: "a file changed after it was built", code: ExitMerge, err: func(t *testing.T) error {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "app_linux_amd64"), []byte("tampered"), 0o755))
			require.NoError(t, dist.WriteChecksums(dir, nil))
			require.NoError(t, os.WriteFile(filepath.Join(dir, dist.ChecksumsFile), []byte(strings.Repeat("0", 64)+"  app_linux_amd64\n"), 0o644))
			_, err := dist.VerifyChecksums(dir)
			var ce *dist.ChecksumError
			require.ErrorAs(t, err, &ce)
			return err
		}},
		{name: "no engine", code: ExitNoEngine, named: "DOCKER_HOST", err: func(t *testing.T) error {
			t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
			_, err := engine.Connect(ctx)
			return err
		}},
		{name: "a binary the static check cannot find", code: ExitCheck, err: func(t *testing.T) error {
			// No row: the check family's code.
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, ""), Config{Platforms: "linux/amd64"}, nil)
			_, err := r.checkBinaries(r.p.jobs())
			assert.Contains(t, err.Error(), "run crossCompile first")
			assert.Equal(t, -1, firstClass(err), "no row of the table")
			return err
		}},
		{name: "static check", code: ExitCheck, slow: true, err: func(t *testing.T) error {
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, ""), Config{Platforms: "linux/amd64", Variants: "scratch"}, nil)
			j := r.p.jobs()[0]
			require.NoError(t, os.MkdirAll(r.p.Dist, 0o755))
			require.NoError(t, copyFile(glibc, r.p.binaryPath(j.svc, j.pl)))
			_, err := r.checkBinaries([]job{j})
			assert.Contains(t, err.Error(), "static check failed:\n")
			return err
		}},
		{name: "dynamic binary bound for scratch", code: ExitCheck, named: "MAGEPACK_CGO", err: func(t *testing.T) error {
			return linkage.CheckScratch(dyn)
		}},
		{name: "dynamic cgo binary bound for scratch", code: ExitCheck, named: "MAGEPACK_CGO=static", err: func(t *testing.T) error {
			require.Equal(t, "1", dyn.CGO, "a cgo build")
			err := linkage.CheckScratch(dyn)
			assert.NotContains(t, err.Error(), "build with CGO_ENABLED=0", "never the stub")
			return err
		}},
		{name: "no C compiler for a platform", code: ExitConfig, named: "MAGEPACK_CC=linux/arm64=", err: func(t *testing.T) error {
			_, err := cgo.Choose(cgo.Spec{}, []gobuild.Target{{OS: "linux", Arch: "arm64"}}, gobuild.Target{OS: "linux", Arch: "amd64"}, true,
				func(string) (string, error) { return "", exec.ErrNotFound })
			assert.Contains(t, err.Error(), "gcc-aarch64-linux-gnu", "the Debian package")
			return err
		}},
		{name: "static cgo for darwin", code: ExitConfig, named: "MAGEPACK_PLATFORMS", err: func(t *testing.T) error {
			_, err := cgo.Choose(cgo.Spec{}, []gobuild.Target{{OS: "darwin", Arch: "arm64"}}, gobuild.Target{OS: "linux", Arch: "amd64"}, true, exec.LookPath)
			return err
		}},
		{name: "a package of only cgo files, without cgo", code: ExitBuild, named: "MAGEPACK_CGO=static", slow: true, err: func(t *testing.T) error {
			dir := svcRepo(t, map[string]string{
				"main.go": "package main\n\nimport \"example.com/acme/svc/c\"\n\nfunc main() { println(c.Two()) }\n",
				"c/c.go":  "package c\n\n// int two() { return 2; }\nimport \"C\"\n\nfunc Two() int { return int(C.two()) }\n",
			}, "")
			r := mustRun(t, dir, Config{Platforms: "linux/amd64"}, nil)
			_, err := r.compile(ctx, r.p.jobs())
			var de *cgo.DroppedError
			require.ErrorAs(t, err, &de)
			assert.NotContains(t, err.Error(), "build constraints exclude", "explained, not shown raw")
			assert.Contains(t, output(r).String(), "[cgo] warning: example.com/acme/svc/c has C code", "warned before the build")
			return err
		}},
		{name: "compile error", code: ExitBuild, slow: true, err: func(t *testing.T) error {
			dir := svcRepo(t, map[string]string{"main.go": "package main\n\nfunc main() { undefinedCall() }\n"}, "")
			r := mustRun(t, dir, Config{Platforms: "linux/amd64"}, nil)
			_, err := r.compile(ctx, r.p.jobs())
			var be *gobuild.BuildError
			require.ErrorAs(t, err, &be)
			assert.Contains(t, err.Error(), "undefinedCall", "the compiler's output")
			return err
		}},
		{name: "failing Dockerfile step", code: ExitBuild, err: func(t *testing.T) error {
			return &engine.BuildStepError{Step: "Step 3/7 : RUN exit 3", Message: "returned a non-zero code: 3", Code: 3}
		}},
		{name: "registry refused the login", code: ExitPush, named: "docker login 127.0.0.1:", err: func(t *testing.T) error {
			refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			}))
			t.Cleanup(refusing.Close)
			t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of the user's
			idx, err := random.Index(64, 1, 1)
			require.NoError(t, err)
			_, err = image.Push(ctx, strings.TrimPrefix(refusing.URL, "http://")+"/app", idx, []string{"1.0.0"})
			var ae *image.AuthError
			require.ErrorAs(t, err, &ae)
			return err
		}},
		{name: "a push step failed", code: ExitPush, err: func(t *testing.T) error {
			// No row: the push family's code.
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0"), Config{Platforms: "linux/amd64", Image: "127.0.0.1:5000/svc"}, nil)
			r.registry = &fakeRegistry{push: refusePush}
			_, err := r.pushIndexes(ctx, []published{builtIndex(t, r, r.p.services[0], variantScratch)})
			assert.Equal(t, -1, firstClass(err), "no row of the table")
			return err
		}},
		{name: "registry unreachable", code: ExitPush, slow: true, err: func(t *testing.T) error {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			dead := l.Addr().String()
			require.NoError(t, l.Close())
			dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0")
			r := mustRun(t, dir, Config{Platforms: "linux/amd64", Variants: "scratch", Image: dead + "/app"}, nil)
			err = r.publish(ctx)
			assert.Contains(t, err.Error(), dead)
			return err
		}},
		{name: "pull forbidden", code: ExitImage, named: "MAGEPACK_PULL=missing", err: func(t *testing.T) error {
			return &engine.PullForbiddenError{Ref: "alpine:3.22"}
		}},
		{name: "pull failed", code: ExitImage, named: "MAGEPACK_PULL", err: func(t *testing.T) error {
			return &engine.PullError{Ref: "alpine:3.22", Err: errors.New("connection refused")}
		}},
		{name: "pull policy", code: ExitConfig, named: "MAGEPACK_PULL", err: func(t *testing.T) error {
			_, err := engine.ParsePullPolicy("sometimes")
			return err
		}},
		{name: "dist is a file", code: ExitConfig, named: "MAGEPACK_DIST", err: func(t *testing.T) error {
			file := filepath.Join(t.TempDir(), "dist")
			require.NoError(t, os.WriteFile(file, nil, 0o644))
			_, err := dist.Lock(ctx, file)
			return err
		}},
		{name: "empty binary name", code: ExitConfig, named: "MAGEPACK_NAME", err: func(t *testing.T) error {
			_, err := gobuild.Plan(gobuild.Config{}, []gobuild.Target{{OS: "linux", Arch: "amd64"}}, nil)
			return err
		}},
		{name: "no platforms", code: ExitConfig, named: "MAGEPACK_PLATFORMS", err: func(t *testing.T) error {
			_, err := gobuild.Plan(gobuild.Config{Name: "app"}, nil, nil)
			return err
		}},
		{name: "cgo without a cross compiler", code: ExitConfig, named: "MAGEPACK_CGO=0", err: func(t *testing.T) error {
			_, err := gobuild.Plan(gobuild.Config{Name: "app", CGO: true, Host: gobuild.Target{OS: "linux", Arch: "amd64"}}, []gobuild.Target{{OS: "linux", Arch: "arm64"}}, nil)
			return err
		}},
		{name: "smoke run failed", code: ExitImage, named: `Settings.Services["name"].Args and .Env, or MAGEPACK_ARGS and MAGEPACK_ENV`, err: func(t *testing.T) error {
			return &engine.SmokeError{Ref: "app:1.0.0-scratch", Reason: "container exited with code 1", ExitCode: 1}
		}},
		{name: "service died at start in its smoke run", code: ExitImage, named: `Settings.Services["svc"].Args and .Env`, err: func(t *testing.T) error {
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0"), Config{Platforms: "linux/amd64"}, nil)
			eng := &fakeEngine{smoke: func(context.Context) (engine.SmokeResult, error) {
				return engine.SmokeResult{}, &engine.SmokeError{Ref: "svc:1.0.0-scratch", Reason: "container exited with code 1", ExitCode: 1, ReadOnlyRoot: true}
			}}
			return r.smoke(ctx, eng, r.p.services[0], variantScratch, "svc:1.0.0-scratch")
		}},
		{name: "an image step failed", code: ExitImage, err: func(t *testing.T) error {
			// No row: the image family's code.
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0"), Config{Platforms: "linux/amd64"}, nil)
			r.connect = func(context.Context) (dockerEngine, error) {
				return &fakeEngine{platform: func() (string, string, string, error) { return "", "", "", errors.New("GET /info: unexpected EOF") }}, nil
			}
			_, err := r.enginePlatform(ctx)
			assert.Equal(t, -1, firstClass(err), "no row of the table")
			return err
		}},
		{name: "smoke run timed out", code: ExitImage, err: func(t *testing.T) error {
			err := &engine.SmokeError{Ref: "app:1.0.0-scratch", Reason: "GET /healthz got no answer", ExitCode: -1}
			assert.Empty(t, smokeFix(err), "a container that still runs started: no hint about flags")
			return err
		}},
		{name: "bad smoke environment", code: ExitConfig, named: "MAGEPACK_ENV", err: func(t *testing.T) error {
			return &engine.SmokeOptionsError{Field: "Env", Reason: `smoke environment entry "X" is not KEY=value`}
		}},
		{name: "command-line tool under a service's smoke run", code: ExitImage, named: "MAGEPACK_SMOKE=run:", err: func(t *testing.T) error {
			return &engine.SmokeError{Ref: "cli:1.0.0-scratch", Reason: "container exited with code 0 at once", CommandLine: true}
		}},
		{name: "bad smoke options", code: ExitConfig, named: "MAGEPACK_PORT", err: func(t *testing.T) error {
			return &engine.SmokeOptionsError{Field: "Port", Reason: "smoke path /healthz needs the port the image listens on"}
		}},
		{name: "port in use", code: ExitImage, named: "MAGEPACK_PORT", err: func(t *testing.T) error {
			return &engine.PortInUseError{Port: 8080, Err: errors.New("address already in use")}
		}},
		{name: "Dockerfile needs BuildKit", code: ExitConfig, named: "MAGEPACK_DOCKERFILE", err: func(t *testing.T) error {
			df, err := dockerfile.Parse(strings.NewReader("FROM golang\nRUN --mount=type=cache,target=/root/.cache go build ./...\n"))
			require.NoError(t, err)
			require.NotEmpty(t, df.BuildKit)
			return &engine.BuildKitError{Dockerfile: "Dockerfile", BuildKitLine: df.BuildKit[0]}
		}},
		{name: "base lacks a platform", code: ExitImage, named: "MAGEPACK_ALPINE_BASE", err: func(t *testing.T) error {
			reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			t.Cleanup(reg.Close)
			ref := strings.TrimPrefix(reg.URL, "http://") + "/alpine:3"
			base, err := random.Image(64, 1)
			require.NoError(t, err)
			base, err = mutate.ConfigFile(base, &v1.ConfigFile{OS: "linux", Architecture: "amd64"})
			require.NoError(t, err)
			require.NoError(t, remote.Write(pubRef(t, ref), base))
			_, err = image.RemoteBase(ctx, ref, []v1.Platform{{OS: "linux", Architecture: "s390x"}})
			var mp *image.MissingPlatformError
			require.ErrorAs(t, err, &mp)
			return fmt.Errorf("alpine base (MAGEPACK_ALPINE_BASE): %w", err) // as publish says it
		}},
		{name: "rebase of a scratch image", code: ExitImage, err: func(t *testing.T) error {
			_, err := image.SplitBase(magepackImage(t, 1, nil))
			return err
		}},
		{name: "rebase of an image not on its recorded base", code: ExitImage, err: func(t *testing.T) error {
			s, err := image.SplitBase(magepackImage(t, 2, map[string]string{image.AnnotationBaseName: "alpine:3", image.AnnotationBaseDigest: "sha256:" + strings.Repeat("0", 64)}))
			require.NoError(t, err)
			other, err := random.Image(64, 1)
			require.NoError(t, err)
			return s.CheckBase(other)
		}},
		{name: "signing key that is a public key", code: ExitConfig, named: "MAGEPACK_SIGN_KEY", err: func(t *testing.T) error {
			_, err := configure(Config{SignKey: string(fixture.ECDSAKey(t).Public)}, envOf(nil))
			return err
		}},
		{name: "signing key without its password", code: ExitConfig, named: "COSIGN_PASSWORD", err: func(t *testing.T) error {
			_, err := attest.LoadSigner(string(fixture.CosignKey(t, "pw").Private), nil)
			return err
		}},
		{name: "rebuild of a commit the repository lacks", code: ExitConfig, err: func(t *testing.T) error {
			dir := t.TempDir()
			fixture.WriteFiles(t, dir, map[string]string{"README": "x\n"})
			fixture.GitInit(t, dir).Commit("one")
			_, err := rebuild.NewCheckout(context.Background(), dir, strings.Repeat("ab", 20))
			return err
		}},
		{name: "rebuild that differs", code: ExitVerify, err: func(t *testing.T) error {
			dir := t.TempDir()
			pub, got := filepath.Join(dir, "published"), filepath.Join(dir, "rebuilt")
			require.NoError(t, os.WriteFile(pub, []byte("one"), 0o644))
			require.NoError(t, os.WriteFile(got, []byte("two"), 0o644))
			res, err := rebuild.Binary("dist/app_linux_amd64", pub, got)
			require.NoError(t, err)
			return rebuild.Report{Results: []rebuild.Result{res}}.Err()
		}},
		{name: "verification failed", code: ExitVerify, err: func(t *testing.T) error {
			return &verify.Failure{Artifact: "127.0.0.1:5000/app@sha256:0", Check: verify.CheckSignature, Detail: "no signature by the key"}
		}},
		{name: "verification interrupted", code: ExitInterrupted, err: func(t *testing.T) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := verify.Image(ctx, "127.0.0.1:1/app:1.0.0", fixture.ECDSAKey(t).Key)
			return err
		}},
		{name: "vulnerability database unreadable", code: ExitConfig, named: "MAGEPACK_VULNDB", err: func(t *testing.T) error {
			return vulncheck.CheckDB("file://" + filepath.Join(t.TempDir(), "no-vulndb"))
		}},
		{name: "vulnerable code reached", code: ExitVulnerable, named: "MAGEPACK_VULN_WAIVERS", err: func(t *testing.T) error {
			return &vulnError{ids: []string{"GO-2022-1059"}, binaries: []string{"dist/app_linux_amd64"}, fixes: []string{"go get golang.org/x/text@v0.3.8"}}
		}},
		{name: "image cannot be assembled", code: ExitImage, err: func(t *testing.T) error {
			r := mustRun(t, svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, ""), Config{Platforms: "linux/amd64"}, nil)
			s := r.p.services[0]
			_, err := assemble(r.p.planImage(s, variantScratch, r.p.Platforms[0], filepath.Join(t.TempDir(), "missing")), nil, "")
			return err
		}},
	}
	covered := map[int]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.slow && testing.Short() {
				t.Skip("builds or resolves a repository")
			}
			err := tt.err(t)
			require.Error(t, err)
			covered[firstClass(err)] = true
			failed := fail(err)
			t.Logf("error: %v", failed)
			assert.Equal(t, tt.code, mg.ExitStatus(failed), "mage's exit status of fail(err)")
			assert.ErrorIs(t, failed, err)
			assert.Contains(t, failed.Error(), err.Error(), "fail keeps the message")
			if tt.named != "" {
				assert.Contains(t, failed.Error(), tt.named, "the message names the setting to change")
			}
			// A later wrap keeps the class.
			assert.Equal(t, tt.code, mg.ExitStatus(fail(fmt.Errorf("publish: %w", failed))), "wrapped after fail")
			assert.Equal(t, tt.code, mg.ExitStatus(fail(fmt.Errorf("publish: %w", err))), "wrapped before fail")
		})
	}
	t.Run("anything else", func(t *testing.T) {
		err := fmt.Errorf("write %s: %w", "x", os.ErrPermission)
		assert.Equal(t, -1, firstClass(err))
		assert.Equal(t, ExitFailure, mg.ExitStatus(fail(err)))
		assert.Equal(t, err.Error(), fail(err).Error(), "no setting to name")
	})
	t.Run("nil", func(t *testing.T) {
		assert.NoError(t, fail(nil))
		assert.Equal(t, 0, mg.ExitStatus(fail(nil)))
	})
	if !testing.Short() {
		for i := range errorClasses {
			assert.True(t, covered[i], "row %d of errorClasses (exit %d) has no test case", i, errorClasses[i].code)
		}
	}
}

// copyFile copies src to dst.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// TestStepFamilies checks how a step's family and the error table share
// the work: the table's rows win, the innermost step's family comes next,
// and a step leaves the message alone.
func TestStepFamilies(t *testing.T) {
	stepOf := func(f family, err error) error {
		f.claim(&err)
		return err
	}
	unknown := &platform.UnknownError{Name: "linux/amd65"}
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"outside any step", errors.New("EOF"), ExitFailure},
		{"inside a push step", stepOf(pushing, errors.New("EOF")), ExitPush},
		{"inside a check step", stepOf(checking, errors.New("EOF")), ExitCheck},
		{"an image step inside a push step", stepOf(pushing, fmt.Errorf("push: %w", stepOf(imaging, errors.New("EOF")))), ExitImage},
		{"a joined error, one part in a step", errors.Join(errors.New("EOF"), stepOf(imaging, errors.New("EOF"))), ExitImage},
		{"a row's error inside a step", stepOf(imaging, fmt.Errorf("base: %w", unknown)), ExitConfig},
		{"Ctrl-C inside a step", stepOf(pushing, context.Canceled), ExitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.code, mg.ExitStatus(fail(tt.err)))
			assert.Equal(t, tt.code, mg.ExitStatus(fail(fmt.Errorf("wrapped: %w", tt.err))), "wrapped")
		})
	}
	var none error
	pushing.claim(&none)
	assert.NoError(t, none, "a step that succeeded")
	assert.Equal(t, "EOF", stepOf(imaging, errors.New("EOF")).Error(), "the message is the error's own")
}

// magepackImage is a random image of n layers whose top one magepack's
// history claims, with annotations on its manifest.
func magepackImage(t *testing.T, n int64, annotations map[string]string) v1.Image {
	t.Helper()
	img, err := random.Image(64, n)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.History = make([]v1.History, n)
	cfg.History[n-1].CreatedBy = image.CreatedBy
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	return mutate.Annotations(img, annotations).(v1.Image)
}
