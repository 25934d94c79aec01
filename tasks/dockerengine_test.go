package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/Masterminds/semver/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/plan"
)

// fakeEngine is a Docker engine that fails the way a test asks: each
// method it is given runs; one it is not given fails the test.
type fakeEngine struct {
	dockerEngine // nil: an unexpected call panics, naming the method
	platform     func() (string, string, string, error)
	ensure       func(ref string) error
	load         func(ctx context.Context) (engine.LoadResult, error)
	smoke        func(ctx context.Context) (engine.SmokeResult, error)
	builderGo    func(ctx context.Context) (*semver.Version, error)
	build        func(ctx context.Context) (engine.BuildResult, error)
	inspect      func(ref string) (engine.ImageInfo, error)
}

func (f *fakeEngine) Where() string { return "the fake engine" }
func (f *fakeEngine) Platform(context.Context) (string, string, string, error) {
	return f.platform()
}
func (f *fakeEngine) EnsureImage(_ context.Context, ref string, _ engine.PullPolicy) error {
	return f.ensure(ref)
}
func (f *fakeEngine) Load(ctx context.Context, _ v1.Image, _ []string, _ func(string)) (engine.LoadResult, error) {
	return f.load(ctx)
}
func (f *fakeEngine) Smoke(ctx context.Context, _ string, _ engine.SmokeOptions) (engine.SmokeResult, error) {
	return f.smoke(ctx)
}
func (f *fakeEngine) BuilderGoVersion(ctx context.Context, _ string) (*semver.Version, error) {
	return f.builderGo(ctx)
}
func (f *fakeEngine) Build(ctx context.Context, _ engine.BuildOptions) (engine.BuildResult, error) {
	return f.build(ctx)
}
func (f *fakeEngine) Inspect(_ context.Context, ref string) (engine.ImageInfo, error) {
	return f.inspect(ref)
}

func linuxAmd64() (string, string, string, error) { return "linux", "amd64", "", nil }

// TestEngineFailurePaths drives the image steps against an engine that
// fails as a real one cannot be made to on demand, and checks the exit
// status and message a user gets for each.
func TestEngineFailurePaths(t *testing.T) {
	// The Dockerfile names no Go builder: its check is skipped.
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain, "Dockerfile": "FROM scratch\nCOPY svc /\n"}, "v1.0.0")
	// The image layer holds the binary's bytes; which bytes does not
	// matter here, only that the check calls it a static Linux binary.
	bin := filepath.Join(t.TempDir(), "svc_linux_amd64")
	require.NoError(t, os.WriteFile(bin, []byte("not really an ELF file"), 0o755))
	static := linkage.Report{Path: bin, Format: "elf", OS: "linux", Arch: "amd64", Linkage: linkage.Static, Libc: linkage.None}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		eng  *fakeEngine
		// dockerfile builds with the repository's Dockerfile.
		dockerfile bool
		ctx        context.Context
		step       func(r *run, ctx context.Context, eng dockerEngine) error
		code       int
		want       []string
	}{
		{
			name: "the engine dies mid-load", code: ExitImage, want: []string{"load: unexpected EOF"},
			eng: &fakeEngine{platform: linuxAmd64, load: func(context.Context) (engine.LoadResult, error) {
				return engine.LoadResult{}, errors.New("load: unexpected EOF")
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.assembledImage(ctx, eng, r.p.services[0], variantScratch, static)
				return err
			},
		},
		{
			name: "Ctrl-C during the load", code: ExitInterrupted, ctx: cancelled,
			eng: &fakeEngine{platform: linuxAmd64, load: func(ctx context.Context) (engine.LoadResult, error) {
				return engine.LoadResult{}, ctx.Err()
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.assembledImage(ctx, eng, r.p.services[0], variantScratch, static)
				return err
			},
		},
		{
			name: "an engine that runs Windows containers", code: ExitImage, want: []string{"the fake engine runs windows containers", "switch the engine to Linux containers"},
			eng: &fakeEngine{platform: func() (string, string, string, error) { return "windows", "amd64", "", nil }},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.enginePlatform(ctx)
				return err
			},
		},
		{
			name: "the Alpine base may not be pulled", code: ExitImage, want: []string{"set MAGEPACK_PULL=missing"},
			eng: &fakeEngine{ensure: func(ref string) error { return &engine.PullForbiddenError{Ref: ref} }},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.engineBase(ctx, eng, "alpine:3.22", r.p.Platforms[0])
				return err
			},
		},
		{
			name: "the smoke container exits at once with 0", code: ExitImage, want: []string{"MAGEPACK_SMOKE=run:--version"},
			eng: &fakeEngine{smoke: func(context.Context) (engine.SmokeResult, error) {
				return engine.SmokeResult{}, &engine.SmokeError{Ref: "svc:scratch", Reason: "container exited with code 0 at once", CommandLine: true}
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				return r.smoke(ctx, eng, r.p.services[0], variantScratch, "svc:scratch")
			},
		},
		{
			name: "the smoke container dies with an error", code: ExitImage,
			want: []string{"open /var/lib/svc: read-only file system", `Settings.Services["svc"].Args and .Env`},
			eng: &fakeEngine{smoke: func(context.Context) (engine.SmokeResult, error) {
				return engine.SmokeResult{}, &engine.SmokeError{Ref: "svc:scratch", Reason: "container exited with code 1", ExitCode: 1,
					Logs: "svc: open /var/lib/svc: read-only file system\n", ReadOnlyRoot: true}
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				return r.smoke(ctx, eng, r.p.services[0], variantScratch, "svc:scratch")
			},
		},
		{
			name: "a Dockerfile step fails", code: ExitBuild, dockerfile: true, want: []string{"Step 2/2 : COPY svc /"},
			eng: &fakeEngine{build: func(context.Context) (engine.BuildResult, error) {
				return engine.BuildResult{}, &engine.BuildStepError{Step: "Step 2/2 : COPY svc /", Message: "COPY failed: file not found in build context", Code: 1}
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.dockerfileImage(ctx, eng, r.p.services[0], variantScratch)
				return err
			},
		},
		{
			// The build is no step of the image family: an engine failure
			// in it is no image failure, as it never was.
			name: "the engine dies mid-build", code: ExitFailure, dockerfile: true, want: []string{"docker build of"},
			eng: &fakeEngine{build: func(context.Context) (engine.BuildResult, error) {
				return engine.BuildResult{}, errors.New("docker build of . with Dockerfile: unexpected EOF")
			}},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.dockerfileImage(ctx, eng, r.p.services[0], variantScratch)
				return err
			},
		},
		{
			name: "the built image cannot be read back", code: ExitImage, dockerfile: true, want: []string{"No such image: sha256:0123"},
			eng: &fakeEngine{
				build: func(context.Context) (engine.BuildResult, error) { return engine.BuildResult{ID: "sha256:0123"}, nil },
				inspect: func(ref string) (engine.ImageInfo, error) {
					return engine.ImageInfo{}, fmt.Errorf("inspect %s: No such image: %s", ref, ref)
				},
			},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.dockerfileImage(ctx, eng, r.p.services[0], variantScratch)
				return err
			},
		},
		{
			name: "Ctrl-C during the builder check", code: ExitInterrupted, ctx: cancelled,
			eng: &fakeEngine{builderGo: func(ctx context.Context) (*semver.Version, error) { return nil, ctx.Err() }},
			step: func(r *run, ctx context.Context, eng dockerEngine) error {
				_, err := r.checkBuilder(ctx, eng, plan.Dockerfile{Path: "Dockerfile", GoBuilder: dockerfile.GoBuilder{Image: "golang:1.25-alpine", Line: 3}})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Platforms: "linux/amd64"}
			if tt.dockerfile {
				cfg.Dockerfile = "Dockerfile"
			}
			r := mustRun(t, dir, cfg, nil)
			r.connect = func(context.Context) (dockerEngine, error) { return tt.eng, nil }
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			err := fail(tt.step(r, ctx, tt.eng))
			var ee *exitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.code, ee.ExitStatus(), "%v", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
