package image

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnnotations(t *testing.T) {
	tests := []struct {
		name string
		meta Meta
		want map[string]string
	}{
		{name: "nothing", meta: Meta{}, want: map[string]string{}},
		{
			name: "scratch",
			meta: Meta{Title: "app", Version: "1.2.3", Revision: "abc123", Source: "https://github.com/team/app", Created: time.Date(2024, 5, 6, 9, 8, 9, 999, time.FixedZone("CEST", 2*3600))},
			want: map[string]string{
				AnnotationTitle: "app", AnnotationVersion: "1.2.3", AnnotationRevision: "abc123",
				AnnotationSource: "https://github.com/team/app", AnnotationCreated: "2024-05-06T07:08:09Z",
			},
		},
		{
			name: "alpine",
			meta: Meta{Title: "app", BaseName: "alpine:3.20", BaseDigest: "sha256:abc"},
			want: map[string]string{AnnotationTitle: "app", AnnotationBaseName: "alpine:3.20", AnnotationBaseDigest: "sha256:abc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Annotations(tt.meta))
		})
	}
}

func testAnnotations() map[string]string {
	return Annotations(Meta{Title: "hello", Version: "1.2.3", Revision: "abc123", Source: "https://example.com/hello", Created: testCreated})
}

func TestBuildAnnotations(t *testing.T) {
	plain := mustBuild(t, scratchSpec(t))
	s := scratchSpec(t)
	s.Annotations = testAnnotations()
	annotated := mustBuild(t, s)

	m, err := annotated.Manifest()
	require.NoError(t, err)
	assert.Equal(t, testAnnotations(), m.Annotations)
	raw, err := plain.RawManifest()
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "annotations", "no annotations asked, none written")

	p, a := digestsOf(t, plain), digestsOf(t, annotated)
	assert.Equal(t, p.config, a.config, "annotations leave the config (image ID) alone")
	assert.Equal(t, p.layer, a.layer)
	assert.NotEqual(t, p.manifest, a.manifest)

	// Reproducible: the same annotations in another map give the same digest.
	again := scratchSpec(t)
	again.Annotations = map[string]string{}
	for k, v := range testAnnotations() {
		again.Annotations[k] = v
	}
	assert.Equal(t, a, digestsOf(t, mustBuild(t, again)))

	other := scratchSpec(t)
	other.Annotations = testAnnotations()
	other.Annotations[AnnotationRevision] = "def456"
	assert.NotEqual(t, a.manifest, digestsOf(t, mustBuild(t, other)).manifest)
}

func TestIndexAnnotations(t *testing.T) {
	imgs := platformImages(t)
	plain, err := Index(imgs)
	require.NoError(t, err)
	raw, err := plain.RawManifest()
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "annotations", "no annotations asked, none written")

	a, err := Index(imgs, WithIndexAnnotations(testAnnotations()))
	require.NoError(t, err)
	im, err := a.IndexManifest()
	require.NoError(t, err)
	assert.Equal(t, testAnnotations(), im.Annotations)

	b, err := Index([]v1.Image{imgs[2], imgs[0], imgs[1]}, WithIndexAnnotations(testAnnotations()))
	require.NoError(t, err)
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	dp, err := plain.Digest()
	require.NoError(t, err)
	assert.Equal(t, da, db, "same images and annotations, same digest")
	assert.NotEqual(t, dp, da)

	pm, err := plain.IndexManifest()
	require.NoError(t, err)
	assert.Equal(t, pm.Manifests, im.Manifests, "the manifests listed are the same")
}
