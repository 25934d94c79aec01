package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// fakeRegistry is a registry that fails the way a test asks and records
// the references it was asked to push. A method it is not given fails the
// test's step with an error naming it.
type fakeRegistry struct {
	push      func(ctx context.Context, ref string) error
	referrers func(ctx context.Context, repo string) error
	base      func(ctx context.Context, ref string, platforms []v1.Platform) ([]v1.Image, error)

	mu     sync.Mutex
	tried  []string // every reference Push was asked for, in order
	refers []string // every repository PushReferrers was asked for
}

func (f *fakeRegistry) Push(ctx context.Context, repo string, idx v1.ImageIndex, tags []string) ([]image.Pushed, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	var pushed []image.Pushed
	for _, t := range tags {
		ref := repo + ":" + t
		f.mu.Lock()
		f.tried = append(f.tried, ref)
		f.mu.Unlock()
		if f.push == nil {
			return pushed, errors.New("fake registry: unexpected Push")
		}
		if err := f.push(ctx, ref); err != nil {
			return pushed, err
		}
		pushed = append(pushed, image.Pushed{Reference: ref, Digest: d.String(), Bytes: 1})
	}
	return pushed, nil
}

func (f *fakeRegistry) PushReferrers(ctx context.Context, repo string, artifacts []v1.Image) ([]image.PushedReferrer, error) {
	f.mu.Lock()
	f.refers = append(f.refers, repo)
	f.mu.Unlock()
	if f.referrers == nil {
		return nil, errors.New("fake registry: unexpected PushReferrers")
	}
	if err := f.referrers(ctx, repo); err != nil {
		return nil, err
	}
	return make([]image.PushedReferrer, len(artifacts)), nil
}

func (f *fakeRegistry) Base(ctx context.Context, ref string, platforms []v1.Platform) ([]v1.Image, error) {
	if f.base == nil {
		return nil, errors.New("fake registry: unexpected Base")
	}
	return f.base(ctx, ref, platforms)
}

func (f *fakeRegistry) Digest(context.Context, string) (string, error) {
	return "", errors.New("fake registry: unexpected Digest")
}

// refusePush is what image.Push returns for a registry that refuses a
// tag it already holds (an immutable tag): the reference, then the
// registry's answer.
func refusePush(_ context.Context, ref string) error {
	return fmt.Errorf("push %s: MANIFEST_INVALID: tag is immutable", ref)
}

// builtIndex is one small index of svc's variant, as buildIndexes makes
// it, with one referrer.
func builtIndex(t *testing.T, r *run, s *service, variant string) published {
	t.Helper()
	idx, err := random.Index(64, 1, 1)
	require.NoError(t, err)
	sbom, err := random.Image(64, 1)
	require.NoError(t, err)
	ip := indexPlan{svc: s, variant: variant, tags: r.p.tags(variant)}
	return published{plan: ip, named: image.Named{Variant: variant, Index: idx, Tags: ip.tags, Referrers: []v1.Image{sbom}}}
}

// TestRegistryFailurePaths drives publish's registry steps against a
// registry that fails as a real one cannot be made to on demand, and
// checks the exit status and message a user gets for each, and what was
// pushed before it.
func TestRegistryFailurePaths(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0")
	const repo = "127.0.0.1:5000/svc"
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ok := func(context.Context, string) error { return nil }

	tests := []struct {
		name     string
		reg      *fakeRegistry
		variants string
		ctx      context.Context
		step     func(r *run, ctx context.Context) error
		code     int
		want     []string
		tried    []string // the references Push was asked for
		refers   int      // how many PushReferrers calls were made
	}{
		{
			name: "the registry refuses the first tag", code: ExitPush,
			reg:   &fakeRegistry{push: refusePush},
			want:  []string{"push " + repo + ":1.0.0-scratch: MANIFEST_INVALID"},
			tried: []string{repo + ":1.0.0-scratch"},
		},
		{
			name: "the registry refuses a later tag", code: ExitPush,
			reg: &fakeRegistry{push: func(ctx context.Context, ref string) error {
				if strings.HasSuffix(ref, ":1-scratch") {
					return refusePush(ctx, ref)
				}
				return nil
			}},
			want:  []string{"push " + repo + ":1-scratch"},
			tried: []string{repo + ":1.0.0-scratch", repo + ":1.0-scratch", repo + ":1-scratch"},
		},
		{
			name: "the registry refuses the login", code: ExitPush,
			reg: &fakeRegistry{push: func(_ context.Context, ref string) error {
				return fmt.Errorf("push %s: %w", ref, &image.AuthError{Host: "127.0.0.1:5000", Err: errors.New("UNAUTHORIZED")})
			}},
			want:  []string{repo + ":1.0.0-scratch", "docker login 127.0.0.1:5000"},
			tried: []string{repo + ":1.0.0-scratch"},
		},
		{
			name: "the registry refuses the SBOMs after the images", code: ExitPush,
			reg: &fakeRegistry{push: ok, referrers: func(_ context.Context, repo string) error {
				return fmt.Errorf("push referrers to %s: DENIED: artifact uploads are disabled", repo)
			}},
			want:   []string{"push referrers to " + repo, "DENIED"},
			tried:  []string{repo + ":1.0.0-scratch", repo + ":1.0-scratch", repo + ":1-scratch", repo + ":scratch"},
			refers: 1,
		},
		{
			name: "Ctrl-C mid-push", code: ExitInterrupted, ctx: cancelled,
			reg: &fakeRegistry{push: func(ctx context.Context, ref string) error {
				return fmt.Errorf("push %s: %w", ref, ctx.Err())
			}},
			tried: []string{repo + ":1.0.0-scratch"},
		},
		{
			name: "the Alpine base cannot be read", code: ExitImage, variants: "alpine",
			reg: &fakeRegistry{base: func(_ context.Context, ref string, _ []v1.Platform) ([]v1.Image, error) {
				return nil, fmt.Errorf("base image %s: GET https://registry/v2/alpine/manifests/3.22: connection reset by peer", ref)
			}},
			step: func(r *run, ctx context.Context) error {
				pp, err := planPublish(r.p)
				require.NoError(t, err)
				_, err = r.buildIndexes(ctx, pp)
				return err
			},
			want: []string{"alpine base (MAGEPACK_ALPINE_BASE): base image alpine:3.22", "connection reset by peer"},
		},
		{
			name: "the Alpine base has no image for a platform", code: ExitImage, variants: "alpine",
			reg: &fakeRegistry{base: func(_ context.Context, ref string, _ []v1.Platform) ([]v1.Image, error) {
				return nil, &image.MissingPlatformError{Ref: ref, Platform: "linux/amd64", Available: []string{"linux/arm64"}}
			}},
			step: func(r *run, ctx context.Context) error {
				pp, err := planPublish(r.p)
				require.NoError(t, err)
				_, err = r.buildIndexes(ctx, pp)
				return err
			},
			want: []string{"has no linux/amd64 image (it has linux/arm64)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			variants := tt.variants
			if variants == "" {
				variants = "scratch"
			}
			r := mustRun(t, dir, Config{Platforms: "linux/amd64", Variants: variants, Image: repo, AlpineBase: "alpine:3.22"}, nil)
			r.registry = tt.reg
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			step := tt.step
			if step == nil {
				step = func(r *run, ctx context.Context) error {
					_, err := r.pushIndexes(ctx, []published{builtIndex(t, r, r.p.services[0], variantScratch)})
					return err
				}
			}
			err := fail(step(r, ctx))
			require.Error(t, err)
			t.Logf("error: %v", err)
			var ee *exitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.code, ee.ExitStatus())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tt.tried, tt.reg.tried, "the references pushed, in order")
			assert.Len(t, tt.reg.refers, tt.refers, "referrers go only after their images")
		})
	}
}

// TestPublishRefusedLeavesDist runs publish's whole path against a
// registry that refuses the push: the run fails with the push's exit
// status, and dist/oci and artifacts.json stay as the last good run left
// them.
func TestPublishRefusedLeavesDist(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.0.0")
	const repo = "127.0.0.1:5000/svc"
	r := mustRun(t, dir, Config{Platforms: "linux/amd64", Variants: "scratch", Image: repo}, nil)
	// The image carries any Go binary for linux/amd64 (its SBOM reads the
	// binary's build information): this test's own, not built for it.
	self, err := os.Executable()
	require.NoError(t, err)
	if r.p.tc.GOHOSTOS != "linux" || r.p.tc.GOHOSTARCH != "amd64" {
		t.Skipf("needs a linux/amd64 Go binary; this test runs on %s/%s", r.p.tc.GOHOSTOS, r.p.tc.GOHOSTARCH)
	}
	require.NoError(t, os.MkdirAll(r.p.Dist, 0o755))
	require.NoError(t, copyFile(self, r.p.binaryPath(r.p.services[0], r.p.Platforms[0])))
	layout := filepath.Join(r.p.Dist, "oci")
	require.NoError(t, os.MkdirAll(layout, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(layout, "index.json"), []byte("the last good layout"), 0o644))
	manifest := filepath.Join(r.p.Dist, "artifacts.json")
	require.NoError(t, os.WriteFile(manifest, []byte("{}\n"), 0o644))

	reg := &fakeRegistry{push: refusePush}
	r.registry = reg
	err = fail(r.publishIndexes(context.Background()))
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Equal(t, ExitPush, exitCode(err))
	assert.Contains(t, err.Error(), repo+":1.0.0-scratch")
	assert.Equal(t, []string{repo + ":1.0.0-scratch"}, reg.tried)
	got, rerr := os.ReadFile(filepath.Join(layout, "index.json"))
	require.NoError(t, rerr)
	assert.Equal(t, "the last good layout", string(got), "dist/oci after a refused push")
	got, rerr = os.ReadFile(manifest)
	require.NoError(t, rerr)
	assert.Equal(t, "{}\n", string(got), "artifacts.json after a refused push")
}
