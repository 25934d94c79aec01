package image

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onBase builds spec on base, recording base as name (and its digest) in
// the manifest's annotations, the way publish does.
func onBase(t *testing.T, spec Spec, base v1.Image, name string) v1.Image {
	t.Helper()
	d, err := base.Digest()
	require.NoError(t, err)
	spec.Base = base
	spec.Annotations = maps.Clone(spec.Annotations)
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	spec.Annotations[AnnotationBaseName] = name
	spec.Annotations[AnnotationBaseDigest] = d.String()
	return mustBuild(t, spec)
}

// randomBase is a random base of n layers for linux/amd64.
func randomBase(t *testing.T, n int64) v1.Image {
	t.Helper()
	img, err := random.Image(512, n)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	return img
}

func layerDigests(t *testing.T, ls []v1.Layer) []string {
	t.Helper()
	out := make([]string, len(ls))
	for i, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		out[i] = d.String()
	}
	return out
}

func imageLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	return ls
}

func TestSplitBase(t *testing.T) {
	base := randomBase(t, 3)
	img := onBase(t, scratchSpec(t), base, "registry.example.com/alpine:3")
	s, err := SplitBase(img)
	require.NoError(t, err)
	bd, err := base.Digest()
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, d.String(), s.Digest)
	assert.Equal(t, "registry.example.com/alpine:3", s.BaseName)
	assert.Equal(t, bd.String(), s.BaseDigest)
	assert.Equal(t, layerDigests(t, imageLayers(t, base)), layerDigests(t, s.Base))
	assert.Equal(t, layerDigests(t, []v1.Layer{topLayer(t, img)}), layerDigests(t, s.Added))
	rec, err := s.Recorded()
	require.NoError(t, err)
	assert.Equal(t, "registry.example.com/alpine@"+bd.String(), rec.String(), "the tag gives way to the digest")
	require.NoError(t, s.CheckBase(base))
}

func TestSplitBaseRefuses(t *testing.T) {
	base := randomBase(t, 2)
	bd, err := base.Digest()
	require.NoError(t, err)
	noName := scratchSpec(t)
	noName.Base = base
	noName.Annotations = map[string]string{AnnotationBaseDigest: bd.String()}
	noDigest := scratchSpec(t)
	noDigest.Base = base
	noDigest.Annotations = map[string]string{AnnotationBaseName: "alpine:3"}
	scratch := scratchSpec(t)
	scratch.Annotations = map[string]string{AnnotationBaseName: "alpine:3", AnnotationBaseDigest: bd.String()}

	for _, tt := range []struct {
		name string
		img  v1.Image
		why  string
	}{
		{"scratch", mustBuild(t, scratch), "a scratch image"},
		{"no base name", mustBuild(t, noName), "no " + AnnotationBaseName},
		{"no base digest", mustBuild(t, noDigest), "no " + AnnotationBaseDigest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SplitBase(tt.img)
			var nb *NoBaseError
			require.ErrorAs(t, err, &nb)
			assert.Contains(t, nb.Why, tt.why)
			assert.Contains(t, err.Error(), "publish a scratch image again")
		})
	}

	t.Run("not magepack's", func(t *testing.T) {
		_, err := SplitBase(base)
		require.Error(t, err)
		var nb *NoBaseError
		assert.False(t, errors.As(err, &nb), "an image magepack did not make is not called scratch: %v", err)
		assert.Contains(t, err.Error(), "no layer magepack added")
	})
}

func TestCheckBaseMismatch(t *testing.T) {
	a := randomBase(t, 2)
	img := onBase(t, scratchSpec(t), a, "alpine:3")
	s, err := SplitBase(img)
	require.NoError(t, err)
	aLayers := layerDigests(t, imageLayers(t, a))

	other := randomBase(t, 2)
	longer, err := mutate.AppendLayers(a, imageLayers(t, randomBase(t, 1))...)
	require.NoError(t, err)
	shorter, err := mutate.AppendLayers(randomBase(t, 0), imageLayers(t, a)[0])
	require.NoError(t, err)

	for _, tt := range []struct {
		name  string
		base  v1.Image
		layer int
		got   string
	}{
		{"other base", other, 0, aLayers[0]},
		{"the base has one more layer", longer, 2, ""},
		{"the base has one layer less", shorter, 1, aLayers[1]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckBase(tt.base)
			var bm *BaseMismatchError
			require.ErrorAs(t, err, &bm)
			assert.Equal(t, tt.layer, bm.Layer)
			assert.Equal(t, tt.got, bm.Got)
			assert.Equal(t, s.Digest, bm.Digest)
			assert.Contains(t, err.Error(), "alpine:3@"+s.BaseDigest)
			assert.Contains(t, err.Error(), "publish it again from source")
		})
	}
}

// TestSwapBase reassembles an image on a new base from the files of its
// own layer, as rebase does, and compares it with the image built from
// the original files on that base.
func TestSwapBase(t *testing.T) {
	const passwd, group = "root:x:0:0:root:/root:/bin/sh\n", "root:x:0:root\n"
	a := alpineLikeBase(t, passwd, group)
	sameAccounts, err := mutate.AppendLayers(a, tarLayer(t, [2]string{"etc/", ""}, [2]string{"etc/patched", "yes"}))
	require.NoError(t, err)
	otherAccounts := alpineLikeBase(t, passwd+"patch:x:1001:1001::/:/sbin/nologin\n", group)

	spec := scratchSpec(t)
	img := onBase(t, spec, a, "alpine:3")
	s, err := SplitBase(img)
	require.NoError(t, err)
	require.NoError(t, s.CheckBase(a))
	files, err := s.ReadAdded(BinDir+"/hello", CABundlePath, "/nowhere")
	require.NoError(t, err)
	require.Len(t, files, 2, "the binary and the CA bundle; a path the layer lacks is left out")

	dir := t.TempDir()
	kept := spec
	kept.Binary, kept.CABundle = filepath.Join(dir, "hello"), filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(kept.Binary, files[BinDir+"/hello"], 0o755))
	require.NoError(t, os.WriteFile(kept.CABundle, files[CABundlePath], 0o644))

	again := onBase(t, kept, a, "alpine:3")
	assert.Equal(t, digestsOf(t, img), digestsOf(t, again), "the files read back make the image again on its own base")

	for _, tt := range []struct {
		name      string
		base      v1.Image
		sameLayer bool
	}{
		{"accounts unchanged: the service layer is kept byte for byte", sameAccounts, true},
		{"accounts changed: the service layer takes the new base's accounts", otherAccounts, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			swapped := onBase(t, kept, tt.base, "alpine:3")
			fresh := onBase(t, spec, tt.base, "alpine:3")
			assert.Equal(t, digestsOf(t, fresh), digestsOf(t, swapped), "the swap is the image built from source on the new base")
			want := append(layerDigests(t, imageLayers(t, tt.base)), layerDigests(t, s.Added)...)
			got := layerDigests(t, imageLayers(t, swapped))
			assert.Equal(t, want[:len(want)-1], got[:len(got)-1], "the new base's layers, then one of magepack's")
			if tt.sameLayer {
				assert.Equal(t, want, got)
			} else {
				assert.NotEqual(t, want[len(want)-1], got[len(got)-1])
			}
			ns, err := SplitBase(swapped)
			require.NoError(t, err)
			require.NoError(t, ns.CheckBase(tt.base))
			var bm *BaseMismatchError
			assert.ErrorAs(t, ns.CheckBase(a), &bm, "the old base is not under the swapped image")
		})
	}
}

func TestReadLayout(t *testing.T) {
	scratch, alpine := variantIndexes(t)
	refs := sbomReferrers(t, alpine)
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, WriteLayout(dir, []Named{
		{Variant: "scratch", Index: scratch, Tags: []string{"1.0.0-scratch", "scratch"}},
		{Variant: "alpine", Index: alpine, Tags: []string{"1.0.0-alpine", "alpine"}, Referrers: refs},
	}))
	got, err := ReadLayout(dir)
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i, want := range []struct {
		idx  v1.ImageIndex
		tags []string
		refs []v1.Image
	}{{scratch, []string{"1.0.0-scratch", "scratch"}, nil}, {alpine, []string{"1.0.0-alpine", "alpine"}, refs}} {
		wd, err := want.idx.Digest()
		require.NoError(t, err)
		gd, err := got[i].Index.Digest()
		require.NoError(t, err)
		assert.Equal(t, wd, gd)
		assert.Equal(t, want.tags, got[i].Tags)
		var wr, gr []string
		for _, r := range want.refs {
			d, err := r.Digest()
			require.NoError(t, err)
			wr = append(wr, d.String())
		}
		for _, r := range got[i].Referrers {
			d, err := r.Digest()
			require.NoError(t, err)
			gr = append(gr, d.String())
		}
		assert.ElementsMatch(t, wr, gr, "index %d's referrers", i)
	}

	_, err = ReadLayout(filepath.Join(t.TempDir(), "none"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestPlatformImage(t *testing.T) {
	_, alpine := variantIndexes(t)
	im, err := alpine.IndexManifest()
	require.NoError(t, err)
	for _, d := range im.Manifests {
		img, err := PlatformImage(alpine, "dist/oci:alpine", *d.Platform)
		require.NoError(t, err)
		got, err := img.Digest()
		require.NoError(t, err)
		assert.Equal(t, d.Digest, got, "%s", d.Platform)
	}
	_, err = PlatformImage(alpine, "dist/oci:alpine", v1.Platform{OS: "linux", Architecture: "s390x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dist/oci:alpine has no linux/s390x image (it has ")
}
