package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

var fixedTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// tinyImage builds a one-file image whose bytes depend only on its
// arguments, so its config digest is known before the engine sees it.
func tinyImage(t *testing.T, content string, cfg v1.Config) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: fixedTime, Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config, cf.Created = "linux", runtime.GOARCH, cfg, v1.Time{Time: fixedTime}
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// cleanupImage removes image id (and all its tags) when the test ends.
func cleanupImage(t testing.TB, e *engine.Engine, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, e.Remove(ctx, id))
	})
}

func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	require.NoError(t, err)
	return h.String()
}

func TestLoadEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	img := tinyImage(t, "load "+t.Name(), v1.Config{})
	id := configDigest(t, img)
	manifest, err := img.Digest()
	require.NoError(t, err)
	cleanupImage(t, e, id)
	const tag1, tag2 = "magepack-test/engine-load:one", "magepack-test/engine-load:two"

	var lines []string
	first, err := e.Load(ctx, img, []string{tag1}, func(s string) { lines = append(lines, s) })
	require.NoError(t, err)
	assert.Equal(t, id, first.ID, "image ID is the config digest")
	assert.Equal(t, id, first.ConfigDigest)
	assert.Equal(t, manifest.String(), first.ManifestDigest)
	assert.False(t, first.Skipped)
	assert.Positive(t, first.Size)
	assert.Positive(t, first.Duration)
	assert.NotEmpty(t, lines, "progress reported")

	tests := []struct {
		name string
		tags []string
	}{
		{"same tag again", []string{tag1}},
		{"another tag", []string{tag1, tag2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			again, err := e.Load(ctx, img, tt.tags, nil)
			require.NoError(t, err)
			assert.True(t, again.Skipped, "the engine has the image: nothing sent")
			assert.Equal(t, id, again.ID)
			assert.Empty(t, again.Pruned)
			info, err := e.Inspect(ctx, id)
			require.NoError(t, err)
			assert.Subset(t, info.RepoTags, tt.tags)
		})
	}

	t.Run("rejected tags", func(t *testing.T) {
		_, err := e.Load(ctx, img, nil, nil)
		assert.ErrorContains(t, err, "no tag given")
		_, err = e.Load(ctx, img, []string{"Bad Tag!"}, nil)
		assert.ErrorContains(t, err, `tag "Bad Tag!" is not a valid image reference`)
	})
}

func TestLoadMovesTagsEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	const repo = "magepack-test/engine-move"

	tests := []struct {
		name       string
		oldTags    []string // tags the previous image has
		newTags    []string // tags the new image takes
		container  bool     // a container uses the previous image
		wantPruned bool
		wantKept   []string // tags the previous image keeps
	}{
		{name: "dangling previous image removed", oldTags: []string{repo + ":a"}, newTags: []string{repo + ":a"}, wantPruned: true},
		{name: "all tags moved", oldTags: []string{repo + ":b", repo + ":c"}, newTags: []string{repo + ":b", repo + ":c"}, wantPruned: true},
		{name: "still tagged elsewhere kept", oldTags: []string{repo + ":d", repo + ":e"}, newTags: []string{repo + ":d"}, wantKept: []string{repo + ":e"}},
		{name: "used by a container kept", oldTags: []string{repo + ":f"}, newTags: []string{repo + ":f"}, container: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tinyImage(t, "old "+t.Name(), v1.Config{})
			next := tinyImage(t, "new "+t.Name(), v1.Config{})
			oldID, nextID := configDigest(t, old), configDigest(t, next)
			cleanupImage(t, e, oldID)
			cleanupImage(t, e, nextID)
			_, err := e.Load(ctx, old, tt.oldTags, nil)
			require.NoError(t, err)
			if tt.container {
				c, err := e.Client().ContainerCreate(ctx, client.ContainerCreateOptions{
					Image: oldID, Config: &container.Config{Cmd: []string{"/hello.txt"}},
				})
				require.NoError(t, err)
				t.Cleanup(func() {
					_, err := e.Client().ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
					assert.NoError(t, err)
				})
			}

			var lines []string
			res, err := e.Load(ctx, next, tt.newTags, func(s string) { lines = append(lines, s) })
			require.NoError(t, err)
			assert.Equal(t, nextID, res.ID)
			for _, tag := range tt.newTags {
				info, err := e.Inspect(ctx, tag)
				require.NoError(t, err)
				assert.Equal(t, nextID, info.ID, "%s moved", tag)
			}

			prev, err := e.Inspect(ctx, oldID)
			if tt.wantPruned {
				assert.Equal(t, []string{oldID}, res.Pruned)
				assert.ErrorIs(t, err, engine.ErrImageNotFound, "previous image removed")
				return
			}
			assert.Empty(t, res.Pruned)
			require.NoError(t, err, "previous image kept")
			assert.ElementsMatch(t, tt.wantKept, prev.RepoTags)
			if tt.container {
				assert.Contains(t, strings.Join(lines, "\n"), "kept previous image")
			}
		})
	}
}

func TestParsePullPolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    engine.PullPolicy
		wantErr string
	}{
		{"", engine.PullMissing, ""},
		{"missing", engine.PullMissing, ""},
		{" Always ", engine.PullAlways, ""},
		{"NEVER", engine.PullNever, ""},
		{"sometimes", "", `pull policy "sometimes" is not valid; use missing, always or never`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := engine.ParsePullPolicy(tt.in)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEnsureImageEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	img := tinyImage(t, "ensure "+t.Name(), v1.Config{})
	// A local-only name: pulling it would fail, so success proves no pull.
	const present = "magepack-test/engine-ensure:present"
	cleanupImage(t, e, configDigest(t, img))
	_, err := e.Load(ctx, img, []string{present}, nil)
	require.NoError(t, err)

	// A registry that exists but does not have the image, and one that is not there.
	reg := fixture.StartRegistry(t)
	inRegistry := reg.Host + "/magepack-test/ensure:pushed"
	pushed := tinyImage(t, "pushed "+t.Name(), v1.Config{})
	ref, err := name.NewTag(inRegistry)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, pushed))
	cleanupImage(t, e, configDigest(t, pushed))
	unreachable := "127.0.0.1:1/magepack-test/nowhere:1"

	tests := []struct {
		name    string
		ref     string
		policy  engine.PullPolicy
		wantErr string
	}{
		{name: "missing: present image, no pull", ref: present, policy: engine.PullMissing},
		{name: "never: present image", ref: present, policy: engine.PullNever},
		{name: "never: absent image", ref: "alpine:3.22", policy: engine.PullNever,
			wantErr: `image "alpine:3.22" is not in the engine and the pull policy never forbids pulling: pull it first (docker pull alpine:3.22) or allow pulls`},
		{name: "missing: absent image is pulled", ref: inRegistry, policy: engine.PullMissing},
		{name: "always: pulls again", ref: inRegistry, policy: engine.PullAlways},
		{name: "always: local-only image cannot be pulled", ref: present, policy: engine.PullAlways,
			wantErr: `pull "` + present + `": `},
		{name: "missing: unreachable registry", ref: unreachable, policy: engine.PullMissing,
			wantErr: `pull "` + unreachable + `": `},
		{name: "bad policy", ref: present, policy: "sometimes", wantErr: `pull policy "sometimes" is not valid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.EnsureImage(ctx, tt.ref, tt.policy)
			if tt.wantErr == "" {
				require.NoError(t, err)
				_, err := e.Inspect(ctx, tt.ref)
				assert.NoError(t, err, "image present afterwards")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.policy == engine.PullNever {
				var pf *engine.PullForbiddenError
				assert.True(t, errors.As(err, &pf))
				assert.ErrorIs(t, err, engine.ErrImageNotFound)
			}
		})
	}
}

func TestImageEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	base := fixture.AlpineBase(t)
	info, err := e.Inspect(ctx, base)
	require.NoError(t, err)

	img, err := e.Image(ctx, base)
	require.NoError(t, err)
	id, err := img.ConfigName()
	require.NoError(t, err)
	assert.Equal(t, info.ID, id.String())
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Contains(t, cf.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	assert.Equal(t, runtime.GOARCH, cf.Architecture)
	raw, err := img.RawConfigFile()
	require.NoError(t, err)
	assert.Equal(t, id, mustHash(t, raw), "config is the engine's own blob")

	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	files := layerFiles(t, layers[0])
	assert.Contains(t, files["etc/passwd"], "alpineuser:x:1000:1000:")
	assert.Contains(t, files, "bin/busybox")

	_, err = e.Image(ctx, "magepack-test/engine-none:absent")
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
	assert.ErrorContains(t, err, `image "magepack-test/engine-none:absent": not in the engine at `)
}

func TestInspectEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	cfg := v1.Config{
		User:         "65532:65532",
		Env:          []string{"PATH=/usr/local/bin", "MODE=test"},
		Entrypoint:   []string{"/usr/local/bin/app"},
		Cmd:          []string{"serve"},
		WorkingDir:   "/srv",
		Labels:       map[string]string{"org.opencontainers.image.title": "app"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/udp": {}},
	}
	img := tinyImage(t, "inspect "+t.Name(), cfg)
	id := configDigest(t, img)
	cleanupImage(t, e, id)
	const tag = "magepack-test/engine-inspect:1"
	_, err := e.Load(ctx, img, []string{tag}, nil)
	require.NoError(t, err)

	info, err := e.Inspect(ctx, tag)
	require.NoError(t, err)
	assert.Equal(t, id, info.ID)
	assert.Equal(t, []string{tag}, info.RepoTags)
	assert.Equal(t, "linux", info.Os)
	assert.Equal(t, runtime.GOARCH, info.Architecture)
	assert.True(t, info.Created.Equal(fixedTime), "created %v", info.Created)
	assert.Positive(t, info.Size)
	assert.Equal(t, engine.ImageConfig{
		User: cfg.User, Env: cfg.Env, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, WorkingDir: cfg.WorkingDir,
		Labels: cfg.Labels, ExposedPorts: []string{"8080/tcp", "9090/udp"},
	}, info.Config)

	require.NoError(t, e.Remove(ctx, tag))
	_, err = e.Inspect(ctx, tag)
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
	assert.NoError(t, e.Remove(ctx, tag), "removing a missing image is not an error")
}

func mustHash(t *testing.T, b []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(bytes.NewReader(b))
	require.NoError(t, err)
	return h
}

// layerFiles returns the regular files of a layer by path, with contents.
func layerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		require.NoError(t, err)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[strings.TrimPrefix(hdr.Name, "./")] = string(b)
		}
	}
}
