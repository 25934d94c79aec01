package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// memRegistry runs go-containerregistry's in-memory registry on loopback
// and returns its host.
func memRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// anonymous keeps tests independent of the machine's docker config.
var anonymous = WithKeychain(authn.NewMultiKeychain())

func testIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx, err := Index(platformImages(t))
	require.NoError(t, err)
	return idx
}

// assertPushed checks that every tag of pushed resolves in the registry to
// idx, with all its images.
func assertPushed(t *testing.T, idx v1.ImageIndex, pushed []Pushed, refs ...string) {
	t.Helper()
	want, err := idx.Digest()
	require.NoError(t, err)
	require.Len(t, pushed, len(refs))
	for i, ref := range refs {
		assert.Equal(t, ref, pushed[i].Reference)
		assert.Equal(t, want.String(), pushed[i].Digest)
		assert.Positive(t, pushed[i].Bytes)
		assert.Positive(t, pushed[i].Duration)
	}
}

func TestPushInMemory(t *testing.T) {
	host := memRegistry(t)
	idx := testIndex(t)
	ctx := context.Background()
	var lines []string
	pushed, err := Push(ctx, host+"/hello", idx, []string{"1.2.3-scratch", "scratch"}, anonymous, WithJobs(2), WithLog(func(s string) { lines = append(lines, s) }))
	require.NoError(t, err)
	assertPushed(t, idx, pushed, host+"/hello:1.2.3-scratch", host+"/hello:scratch")
	size, err := idx.Size()
	require.NoError(t, err)
	assert.Greater(t, pushed[0].Bytes, size, "the first tag carries the blobs")
	assert.Equal(t, size, pushed[1].Bytes, "later tags add only the manifest")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "[push] "+host+"/hello:1.2.3-scratch@sha256:")

	for _, tag := range []string{"1.2.3-scratch", "scratch"} {
		ref, err := name.NewTag(host + "/hello:" + tag)
		require.NoError(t, err)
		got, err := remote.Index(ref)
		require.NoError(t, err)
		gd, err := got.Digest()
		require.NoError(t, err)
		assert.Equal(t, pushed[0].Digest, gd.String(), tag)
		im, err := got.IndexManifest()
		require.NoError(t, err)
		assert.Len(t, im.Manifests, 3)
	}

	// Pushing the same index again is a no-op for blobs and still succeeds.
	again, err := Push(ctx, host+"/hello", idx, []string{"scratch"}, anonymous)
	require.NoError(t, err)
	assert.Equal(t, pushed[0].Digest, again[0].Digest)
}

func TestPushInvalidInput(t *testing.T) {
	host := memRegistry(t)
	idx := testIndex(t)
	tests := []struct {
		name string
		repo string
		idx  v1.ImageIndex
		tags []string
		opts []Option
		want string
	}{
		{name: "repository with a tag", repo: host + "/hello:1", idx: idx, tags: []string{"x"}, want: "is not valid"},
		{name: "upper-case repository", repo: host + "/Hello", idx: idx, tags: []string{"x"}, want: `repository "` + host + `/Hello" is not valid`},
		{name: "no tags", repo: host + "/hello", idx: idx, want: "no tags"},
		{name: "bad tag", repo: host + "/hello", idx: idx, tags: []string{"-x"}, want: `tag "-x" is not valid`},
		{name: "tag with plus", repo: host + "/hello", idx: idx, tags: []string{"1.0.0+g1"}, want: `tag "1.0.0+g1" is not valid`},
		{name: "no index", repo: host + "/hello", tags: []string{"x"}, want: "no image index"},
		{name: "zero jobs", repo: host + "/hello", idx: idx, tags: []string{"x"}, opts: []Option{WithJobs(0)}, want: "WithJobs(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Push(context.Background(), tt.repo, tt.idx, tt.tags, tt.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPushCancelled(t *testing.T) {
	host := memRegistry(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Push(ctx, host+"/hello", testIndex(t), []string{"x"}, anonymous)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRemoteBase(t *testing.T) {
	host := memRegistry(t)
	imgs := platformImages(t)
	_, err := Push(context.Background(), host+"/base", testIndex(t), []string{"multi"}, anonymous)
	require.NoError(t, err)
	single, err := name.NewTag(host + "/base:single")
	require.NoError(t, err)
	require.NoError(t, remote.Write(single, imgs[0]))

	digest := func(img v1.Image) string {
		d, err := img.Digest()
		require.NoError(t, err)
		return d.String()
	}
	tests := []struct {
		name      string
		ref       string
		platforms []v1.Platform
		want      []v1.Image
		wantErr   *MissingPlatformError
	}{
		{
			name:      "platforms from an index, in the order asked",
			ref:       host + "/base:multi",
			platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}, {OS: "linux", Architecture: "amd64"}},
			want:      []v1.Image{imgs[1], imgs[2], imgs[0]},
		},
		{
			name:      "arm64 v8 is arm64",
			ref:       host + "/base:multi",
			platforms: []v1.Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}},
			want:      []v1.Image{imgs[1]},
		},
		{
			name:      "arm without variant takes the one there is",
			ref:       host + "/base:multi",
			platforms: []v1.Platform{{OS: "linux", Architecture: "arm"}},
			want:      []v1.Image{imgs[2]},
		},
		{
			name:      "missing platform in an index",
			ref:       host + "/base:multi",
			platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "s390x"}},
			wantErr:   &MissingPlatformError{Ref: host + "/base:multi", Platform: "linux/s390x", Available: []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
		},
		{
			name:      "missing variant",
			ref:       host + "/base:multi",
			platforms: []v1.Platform{{OS: "linux", Architecture: "arm", Variant: "v6"}},
			wantErr:   &MissingPlatformError{Ref: host + "/base:multi", Platform: "linux/arm/v6", Available: []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
		},
		{
			name:      "single image of the right platform",
			ref:       host + "/base:single",
			platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}},
			want:      []v1.Image{imgs[0]},
		},
		{
			name:      "single image of another platform",
			ref:       host + "/base:single",
			platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}},
			wantErr:   &MissingPlatformError{Ref: host + "/base:single", Platform: "linux/arm64", Available: []string{"linux/amd64"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RemoteBase(context.Background(), tt.ref, tt.platforms, anonymous)
			if tt.wantErr != nil {
				var mpe *MissingPlatformError
				require.ErrorAs(t, err, &mpe)
				assert.Equal(t, tt.wantErr, mpe)
				assert.Contains(t, err.Error(), "has no "+tt.wantErr.Platform+" image (it has "+strings.Join(tt.wantErr.Available, ", ")+")")
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tt.want))
			for i := range tt.want {
				assert.Equal(t, digest(tt.want[i]), digest(got[i]), "image %d", i)
			}
		})
	}

	t.Run("unknown tag", func(t *testing.T) {
		_, err := RemoteBase(context.Background(), host+"/base:nope", []v1.Platform{{OS: "linux", Architecture: "amd64"}}, anonymous)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "fetch base image "+host+"/base:nope")
	})

	t.Run("build on a remote base", func(t *testing.T) {
		bases, err := RemoteBase(context.Background(), host+"/base:multi", []v1.Platform{{OS: "linux", Architecture: "arm64"}}, anonymous)
		require.NoError(t, err)
		s := scratchSpec(t)
		s.Arch, s.Base = "arm64", bases[0]
		img := mustBuild(t, s)
		layers, err := img.Layers()
		require.NoError(t, err)
		assert.Len(t, layers, 2, "the base's layer plus ours")
	})
}

func TestPushRegistryIntegration(t *testing.T) {
	idx := testIndex(t)
	tests := []struct {
		name     string
		auth     bool
		user     string
		password string
		wantAuth bool
	}{
		{name: "open registry"},
		{name: "basic auth, right password", auth: true, user: "ci", password: "s3cret"},
		{name: "basic auth, wrong password", auth: true, user: "ci", password: "wrong", wantAuth: true},
		{name: "basic auth, not logged in", auth: true, wantAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []fixture.RegistryOption
			if tt.auth {
				opts = append(opts, fixture.WithBasicAuth("ci", "s3cret"))
			}
			reg := fixture.StartRegistry(t, opts...)
			fixture.DockerConfig(t, reg.Host, tt.user, tt.password)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pushed, err := Push(ctx, reg.Host+"/magepack/hello", idx, []string{"1.2.3-scratch", "scratch"})
			if tt.wantAuth {
				var ae *AuthError
				require.ErrorAs(t, err, &ae, "registry log:\n%s", reg.Log())
				assert.Equal(t, reg.Host, ae.Host)
				assert.Contains(t, err.Error(), "authentication to "+reg.Host+" failed")
				assert.Contains(t, err.Error(), "docker login "+reg.Host)
				assert.Contains(t, err.Error(), "DOCKER_CONFIG")
				assert.Empty(t, pushed)
				return
			}
			require.NoError(t, err, "registry log:\n%s", reg.Log())
			assertPushed(t, idx, pushed, reg.Host+"/magepack/hello:1.2.3-scratch", reg.Host+"/magepack/hello:scratch")

			// The real registry serves back what was pushed, every platform.
			got, err := RemoteBase(ctx, reg.Host+"/magepack/hello:scratch",
				[]v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}})
			require.NoError(t, err)
			for i, want := range []v1.Image{platformImages(t)[0], platformImages(t)[2]} {
				wd, err := Digests(want)
				require.NoError(t, err)
				gd, err := Digests(got[i])
				require.NoError(t, err)
				assert.Equal(t, wd, gd)
				ls, err := got[i].Layers()
				require.NoError(t, err)
				entries, _ := layerEntries(t, ls[0])
				assert.Contains(t, entries, "usr/local/bin/hello")
			}
		})
	}
}

func TestPushRegistryGoneIntegration(t *testing.T) {
	reg := fixture.StartRegistry(t)
	reg.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Push(ctx, reg.Host+"/hello", testIndex(t), []string{"x"}, anonymous)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "push "+reg.Host+"/hello:x")
	assert.Contains(t, err.Error(), "registry "+reg.Host+" is not reachable")
	var ae *AuthError
	assert.NotErrorAs(t, err, &ae, "an unreachable registry is not an auth failure")
}
