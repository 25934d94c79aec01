package image

import (
	"io"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addedLayer is the layer Build added to img, as Build made it.
func addedLayer(t testing.TB, img v1.Image) *lazyLayer {
	t.Helper()
	a, ok := img.(*assembled)
	require.True(t, ok, "Build returns *assembled, got %T", img)
	l, ok := a.add.Layer.(*lazyLayer)
	require.True(t, ok, "the added layer is a *lazyLayer, got %T", a.add.Layer)
	return l
}

// TestBuildCompressesOnlyWhenAsked checks that what an engine load reads
// (config, its digest, the layers uncompressed) does not gzip the layer,
// with annotations as every real image has them, and that the first call
// naming the compressed layer does, once.
func TestBuildCompressesOnlyWhenAsked(t *testing.T) {
	img := mustBuild(t, annotatedSpec(t))
	l := addedLayer(t, img)

	_, err := img.ConfigName()
	require.NoError(t, err)
	_, err = img.RawConfigFile()
	require.NoError(t, err)
	_, err = img.ConfigFile()
	require.NoError(t, err)
	_, err = img.MediaType()
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 1)
	diffID, err := ls[0].DiffID()
	require.NoError(t, err)
	byDiff, err := img.LayerByDiffID(diffID)
	require.NoError(t, err)
	assert.Same(t, l, byDiff)
	rc, err := ls[0].Uncompressed()
	require.NoError(t, err)
	tarBytes, err := io.ReadAll(rc)
	require.NoError(t, err)
	size, err := l.UncompressedSize()
	require.NoError(t, err)
	assert.Equal(t, int64(len(tarBytes)), size)
	assert.Nil(t, l.gz, "nothing an engine load reads compresses the layer")

	// Many callers at once: one compression, one answer.
	var wg sync.WaitGroup
	digests := make([]v1.Hash, 8)
	for i := range digests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := img.Digest()
			assert.NoError(t, err)
			digests[i] = d
		}()
	}
	wg.Wait()
	require.NotNil(t, l.gz, "the manifest digest needs the compressed layer")
	for _, d := range digests {
		assert.Equal(t, digests[0], d)
	}
	gz := l.gz
	_, err = img.RawManifest()
	require.NoError(t, err)
	_, err = l.Compressed()
	require.NoError(t, err)
	assert.Same(t, &gz[0], &l.gz[0], "compressed once")
}

// TestAssembledMatchesMutate checks every fast answer against the image
// go-containerregistry's mutate makes of the same parts (what Build
// returned before it answered anything itself), on scratch and on a base.
func TestAssembledMatchesMutate(t *testing.T) {
	base := alpineLikeBase(t, "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:\n")
	for name, spec := range map[string]Spec{
		"scratch": scratchSpec(t),
		"on a base": func() Spec {
			s := scratchSpec(t)
			s.Base = base
			return s
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			img := mustBuild(t, spec)
			full, err := img.(*assembled).manifestImage()
			require.NoError(t, err)

			raw, err := img.RawConfigFile()
			require.NoError(t, err)
			fullRaw, err := full.RawConfigFile()
			require.NoError(t, err)
			assert.Equal(t, string(fullRaw), string(raw))
			name, err := img.ConfigName()
			require.NoError(t, err)
			fullName, err := full.ConfigName()
			require.NoError(t, err)
			assert.Equal(t, fullName, name)
			mt, err := img.MediaType()
			require.NoError(t, err)
			fullMT, err := full.MediaType()
			require.NoError(t, err)
			assert.Equal(t, fullMT, mt)

			ls, err := img.Layers()
			require.NoError(t, err)
			fullLs, err := full.Layers()
			require.NoError(t, err)
			require.Len(t, ls, len(fullLs))
			for i := range ls {
				a, err := ls[i].DiffID()
				require.NoError(t, err)
				b, err := fullLs[i].DiffID()
				require.NoError(t, err)
				assert.Equal(t, b, a, "layer %d", i)
			}
		})
	}
}

// annotatedSpec is scratchSpec with OCI annotations on the manifest.
func annotatedSpec(t *testing.T) Spec {
	s := scratchSpec(t)
	s.Annotations = map[string]string{"org.opencontainers.image.title": "app", "org.opencontainers.image.version": "1.2.3"}
	return s
}

// TestAnnotationsOnlyInManifest checks that an annotated image is the
// unannotated one with go-containerregistry's mutate.Annotations on it:
// the same config and image ID, and the manifest (so its digest) that
// mutate gives.
func TestAnnotationsOnlyInManifest(t *testing.T) {
	spec := annotatedSpec(t)
	img := mustBuild(t, spec)
	plainSpec := spec
	plainSpec.Annotations = nil
	plain := mustBuild(t, plainSpec)
	want := mutate.Annotations(plain, spec.Annotations).(v1.Image)

	name, err := img.ConfigName()
	require.NoError(t, err)
	wantName, err := want.ConfigName()
	require.NoError(t, err)
	assert.Equal(t, wantName, name, "annotations leave the config alone")
	raw, err := img.RawManifest()
	require.NoError(t, err)
	wantRaw, err := want.RawManifest()
	require.NoError(t, err)
	assert.JSONEq(t, string(wantRaw), string(raw))
	d, err := img.Digest()
	require.NoError(t, err)
	wantD, err := want.Digest()
	require.NoError(t, err)
	assert.Equal(t, wantD, d)
	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, spec.Annotations, m.Annotations)
}
