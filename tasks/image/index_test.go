package image

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"errors"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndex(t *testing.T) {
	imgs := platformImages(t) // amd64, arm64, arm/v7
	idx, err := Index([]v1.Image{imgs[1], imgs[2], imgs[0]})
	require.NoError(t, err)

	mt, err := idx.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIImageIndex, mt)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 3)
	var got []string
	for _, d := range im.Manifests {
		require.NotNil(t, d.Platform)
		got = append(got, d.Platform.String())
		assert.Equal(t, types.OCIManifestSchema1, d.MediaType)
	}
	assert.Equal(t, []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}, got, "sorted by platform")

	for i, want := range []v1.Image{imgs[0], imgs[2], imgs[1]} {
		wd, err := want.Digest()
		require.NoError(t, err)
		assert.Equal(t, wd, im.Manifests[i].Digest, got[i])
	}

	same, err := Index([]v1.Image{imgs[2], imgs[0], imgs[1]})
	require.NoError(t, err)
	d1, err := idx.Digest()
	require.NoError(t, err)
	d2, err := same.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "input order does not change the index")
}

func TestIndexErrors(t *testing.T) {
	imgs := platformImages(t)
	tests := []struct {
		name string
		imgs []v1.Image
		want string
	}{
		{name: "no images", imgs: nil, want: "image index of no images"},
		{name: "same platform twice", imgs: []v1.Image{imgs[0], imgs[1], imgs[0]}, want: "two images for linux/amd64"},
		{name: "image without platform", imgs: []v1.Image{empty.Image}, want: "image 0 has no platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Index(tt.imgs)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// variantIndexes are two single-platform indexes standing in for the
// scratch and alpine variants.
func variantIndexes(t *testing.T) (v1.ImageIndex, v1.ImageIndex) {
	t.Helper()
	imgs := platformImages(t)
	a, err := Index(imgs[:2])
	require.NoError(t, err)
	b, err := Index(imgs[2:])
	require.NoError(t, err)
	return a, b
}

func TestWriteLayout(t *testing.T) {
	scratch, alpine := variantIndexes(t)
	dir := filepath.Join(t.TempDir(), "dist", "oci")
	require.NoError(t, WriteLayout(dir, []Named{
		{Variant: "scratch", Index: scratch, Tags: []string{"1.2.3-scratch", "scratch"}},
		{Variant: "alpine", Index: alpine, Tags: []string{"1.2.3-alpine", "alpine"}},
	}))

	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	top, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := top.IndexManifest()
	require.NoError(t, err)

	sd, err := scratch.Digest()
	require.NoError(t, err)
	ad, err := alpine.Digest()
	require.NoError(t, err)
	want := []struct {
		tag    string
		digest v1.Hash
	}{{"1.2.3-scratch", sd}, {"scratch", sd}, {"1.2.3-alpine", ad}, {"alpine", ad}}
	require.Len(t, im.Manifests, len(want))
	for i, w := range want {
		d := im.Manifests[i]
		assert.Equal(t, w.tag, d.Annotations[RefNameAnnotation])
		assert.Equal(t, w.digest, d.Digest, w.tag)
		assert.Equal(t, types.OCIImageIndex, d.MediaType, w.tag)
	}

	// Every image of every variant is readable back from the layout.
	for _, h := range []v1.Hash{sd, ad} {
		ii, err := top.ImageIndex(h)
		require.NoError(t, err)
		iim, err := ii.IndexManifest()
		require.NoError(t, err)
		for _, m := range iim.Manifests {
			img, err := ii.Image(m.Digest)
			require.NoError(t, err)
			cfg, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, m.Platform.Architecture, cfg.Architecture)
			l := topLayer(t, img)
			entries, _ := layerEntries(t, l)
			assert.Contains(t, entries, "usr/local/bin/hello")
		}
	}
	assert.FileExists(t, filepath.Join(dir, "oci-layout"))
	assertNoLeftovers(t, filepath.Dir(dir))

	// Writing again replaces the layout whole.
	require.NoError(t, WriteLayout(dir, []Named{{Variant: "scratch", Index: scratch, Tags: []string{"scratch"}}}))
	p, err = layout.FromPath(dir)
	require.NoError(t, err)
	top, err = p.ImageIndex()
	require.NoError(t, err)
	im, err = top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	assert.Equal(t, "scratch", im.Manifests[0].Annotations[RefNameAnnotation])
	_, err = os.Stat(filepath.Join(dir, "blobs", "sha256", ad.Hex))
	assert.True(t, os.IsNotExist(err), "blobs of the previous layout are gone")
	assertNoLeftovers(t, filepath.Dir(dir))
}

func assertNoLeftovers(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "temporary %s left behind", e.Name())
	}
}

// failingIndex is an index whose only layer can be hashed but, once fail is
// set, not read: writing it fails half-way.
func failingIndex(t *testing.T, fail *atomic.Bool) v1.ImageIndex {
	t.Helper()
	data := []byte("not really a tar, but never read")
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		if fail.Load() {
			return nil, errors.New("disk on fire")
		}
		return io.NopCloser(strings.NewReader(string(data))), nil
	})
	require.NoError(t, err)
	img, err := mutate.AppendLayers(empty.Image, l)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "s390x"
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	idx, err := Index([]v1.Image{img})
	require.NoError(t, err)
	_, err = idx.Digest()
	require.NoError(t, err)
	return idx
}

func TestWriteLayoutFailureKeepsPrevious(t *testing.T) {
	scratch, alpine := variantIndexes(t)
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, WriteLayout(dir, []Named{{Variant: "scratch", Index: scratch, Tags: []string{"scratch"}}}))
	before, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)

	var fail atomic.Bool
	bad := failingIndex(t, &fail)
	fail.Store(true)

	tests := []struct {
		name    string
		indexes []Named
		want    string
	}{
		{name: "blob cannot be read", indexes: []Named{{Variant: "alpine", Index: alpine, Tags: []string{"alpine"}}, {Variant: "bad", Index: bad, Tags: []string{"bad"}}}, want: "disk on fire"},
		{name: "no indexes", indexes: nil, want: "no image indexes"},
		{name: "variant without tags", indexes: []Named{{Variant: "alpine", Index: alpine}}, want: `variant "alpine" has no tags`},
		{name: "variant without index", indexes: []Named{{Variant: "alpine", Tags: []string{"alpine"}}}, want: `variant "alpine" has no image index`},
		{name: "tag used twice", indexes: []Named{{Variant: "scratch", Index: scratch, Tags: []string{"x"}}, {Variant: "alpine", Index: alpine, Tags: []string{"x"}}}, want: `tag "x" is given to variants "scratch" and "alpine"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteLayout(dir, tt.indexes)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), dir, "the error names the layout")
			after, err := os.ReadFile(filepath.Join(dir, "index.json"))
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "previous layout intact")
			_, err = layout.FromPath(dir)
			assert.NoError(t, err)
			assertNoLeftovers(t, filepath.Dir(dir))
		})
	}

	// A file where the layout should go is refused, not replaced.
	file := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, os.WriteFile(file, []byte("keep me"), 0o644))
	err = WriteLayout(file, []Named{{Variant: "scratch", Index: scratch, Tags: []string{"scratch"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a directory")
}
