package tasks

import (
	"context"
	"errors"
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

func linuxAmd64() (string, string, string, error) { return "linux", "amd64", "", nil }

// TestEngineFailurePaths drives the image steps against an engine that
// fails as a real one cannot be made to on demand, and checks the exit
// status and message a user gets for each.
func TestEngineFailurePaths(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0")
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
		ctx  context.Context
		step func(r *run, ctx context.Context, eng dockerEngine) error
		code int
		want []string
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
				_, err := r.engineBase(ctx, eng, "alpine:3.22", r.p.platforms[0])
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
			r := mustRun(t, dir, Config{Platforms: "linux/amd64"}, nil)
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
