package tasks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/verify"
)

// layoutIndexes reads the OCI layout at dir: each tag's index digest, and
// each index's SBOM referrers' digests.
func layoutIndexes(t *testing.T, dir string) (tags map[string]string, sboms map[string][]string) {
	t.Helper()
	named, err := image.ReadLayout(dir)
	require.NoError(t, err)
	tags, sboms = map[string]string{}, map[string][]string{}
	for _, n := range named {
		d, err := n.Index.Digest()
		require.NoError(t, err)
		for _, tag := range n.Tags {
			tags[tag] = d.String()
		}
		for _, ref := range n.Referrers {
			m, err := ref.Manifest()
			require.NoError(t, err)
			if m.ArtifactType == sbom.MediaType {
				rd, err := ref.Digest()
				require.NoError(t, err)
				sboms[d.String()] = append(sboms[d.String()], rd.String())
			}
		}
	}
	return tags, sboms
}

// platformDigest is the digest of idx's image for linux/arch.
func platformDigest(t *testing.T, idx v1.ImageIndex, arch string) v1.Hash {
	t.Helper()
	return pubPlatformDigest(t, idx, v1.Platform{OS: "linux", Architecture: arch})
}

func TestRebaseIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	baseA := fixture.PushAlpineIndex(t, reg)
	baseB := fixture.PushPatchedAlpine(t, reg, "3-patched", "fix-1", "amd64", "arm64")
	key := fixture.Ed25519Key(t)
	dir := pubModule(t)
	repo := reg.Host + "/rebase-app"
	signed := map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)}
	cfgA := Config{Platforms: "linux/amd64,linux/arm64", Image: repo, AlpineBase: baseA, Smoke: "/healthz"}
	cfgB := cfgA
	cfgB.AlpineBase = baseB

	rA := pubLinuxRun(t, dir, cfgA, signed)
	var publishTook, rebaseTook time.Duration
	pubWithoutEngine(t, func() {
		start := time.Now()
		require.NoError(t, rA.publishIndexes(ctx), "publish on base A")
		publishTook = time.Since(start)
	})
	layout := filepath.Join(rA.p.Dist, "oci")
	before, _ := layoutIndexes(t, layout)
	oldIdx, err := remote.Index(pubRef(t, repo+":1.2.3-alpine"))
	require.NoError(t, err)

	// What a full publish on base B makes, elsewhere, never pushed.
	cfgFull := cfgB
	cfgFull.Dist, cfgFull.Push = t.TempDir(), "never"
	rFull := pubLinuxRun(t, dir, cfgFull)
	pubWithoutEngine(t, func() { require.NoError(t, rFull.publishIndexes(ctx), "full publish on base B") })
	full, fullSBOMs := layoutIndexes(t, filepath.Join(rFull.p.Dist, "oci"))
	require.NotEqual(t, before["1.2.3-alpine"], full["1.2.3-alpine"], "the bases differ, so do the images")

	// From the registry alone: an empty dist, unsigned.
	cfgReg := cfgB
	cfgReg.Dist = t.TempDir()
	rReg := mustRun(t, dir, cfgReg, nil)
	pubWithoutEngine(t, func() { require.NoError(t, rReg.rebase(ctx), "rebase from the registry") })
	fromRegistry, _ := layoutIndexes(t, filepath.Join(cfgReg.Dist, "oci"))

	// No binary to compile from, no engine: the rebase reads the images.
	bins, err := filepath.Glob(filepath.Join(rA.p.Dist, pubAppName+"_linux_*"))
	require.NoError(t, err)
	require.NotEmpty(t, bins)
	for _, b := range bins {
		require.NoError(t, os.Remove(b))
	}
	rB := mustRun(t, dir, cfgB, signed)
	pubWithoutEngine(t, func() {
		start := time.Now()
		require.NoError(t, rB.rebase(ctx))
		rebaseTook = time.Since(start)
	})
	after, afterSBOMs := layoutIndexes(t, layout)
	out := output(rB).String()
	t.Logf("rebase:\n%s", out)
	t.Logf("2 platforms x 2 variants, signed and pushed: publish %s (binaries built), rebase of the alpine index %s",
		publishTook.Round(time.Millisecond), rebaseTook.Round(time.Millisecond))

	t.Run("from the registry, when dist/oci does not hold the images", func(t *testing.T) {
		for _, tag := range pubTags("alpine") {
			assert.Equal(t, full[tag], fromRegistry[tag], tag)
		}
		assert.Len(t, fromRegistry, len(pubTags("alpine")), "only the rebased index: no scratch index was there to keep")
		assert.Contains(t, output(rReg).String(), "[alpine linux/amd64] rebased: base ")
	})

	t.Run("exactly the full publish on the new base", func(t *testing.T) {
		for _, tag := range pubTags("alpine") {
			assert.Equal(t, full[tag], after[tag], "dist/oci %s", tag)
			desc, err := remote.Head(pubRef(t, repo+":"+tag))
			require.NoError(t, err)
			assert.Equal(t, full[tag], desc.Digest.String(), "pushed %s", tag)
		}
		assert.Equal(t, fullSBOMs[full["alpine"]], afterSBOMs[after["alpine"]], "the SBOMs are the full publish's")
	})

	t.Run("the scratch index is kept", func(t *testing.T) {
		for _, tag := range pubTags("scratch") {
			assert.Equal(t, before[tag], after[tag], tag)
			assert.Equal(t, full[tag], after[tag], tag)
		}
	})

	newIdx, err := remote.Index(pubRef(t, repo+":alpine"))
	require.NoError(t, err)
	baseIdxA, err := remote.Index(pubRef(t, baseA))
	require.NoError(t, err)
	baseIdxB, err := remote.Index(pubRef(t, baseB))
	require.NoError(t, err)

	t.Run("new base's layers under the same binary", func(t *testing.T) {
		for _, arch := range []string{"amd64", "arm64"} {
			img, err := newIdx.Image(platformDigest(t, newIdx, arch))
			require.NoError(t, err)
			base, err := baseIdxB.Image(platformDigest(t, baseIdxB, arch))
			require.NoError(t, err)
			split, err := image.SplitBase(img)
			require.NoError(t, err)
			assert.NoError(t, split.CheckBase(base), arch)
			assert.Equal(t, baseB, split.BaseName)
			assert.Equal(t, pubMachines[arch], pubBinaryMachine(t, img, pubAppName), arch)
		}
	})

	t.Run("one progress line per image", func(t *testing.T) {
		for _, arch := range []string{"amd64", "arm64"} {
			line := "[alpine linux/" + arch + "] rebased: base " + short(platformDigest(t, baseIdxA, arch).String()) + " -> " + short(platformDigest(t, baseIdxB, arch).String()) +
				", image " + short(platformDigest(t, oldIdx, arch).String()) + " -> " + short(platformDigest(t, newIdx, arch).String())
			assert.Contains(t, out, line)
		}
		assert.NotContains(t, out, "built dist/", "nothing compiled")
	})

	t.Run("signed provenance records the rebase", func(t *testing.T) {
		repoName, err := name.NewRepository(repo)
		require.NoError(t, err)
		newAmd64, oldAmd64 := platformDigest(t, newIdx, "amd64"), platformDigest(t, oldIdx, "amd64")
		prov := provenanceOf(t, repoName, newAmd64, key.Key)
		deps := map[string]attest.ResourceDescriptor{}
		for _, d := range prov.BuildDefinition.ResolvedDependencies {
			deps[d.Name] = d
		}
		assert.Equal(t, "oci://"+baseB, deps[attest.DependencyBase].URI)
		assert.Equal(t, platformDigest(t, baseIdxB, "amd64").Hex, deps[attest.DependencyBase].Digest["sha256"])
		assert.Equal(t, "oci://"+repo, deps[attest.DependencyRebasedFrom].URI)
		assert.Equal(t, oldAmd64.Hex, deps[attest.DependencyRebasedFrom].Digest["sha256"])
		assert.Equal(t, map[string]any{"image": repo + "@" + oldAmd64.String(), "base": baseA + "@" + platformDigest(t, baseIdxA, "amd64").String()},
			prov.BuildDefinition.ExternalParameters["rebasedFrom"])
		assert.Equal(t, rA.p.Version.Commit, prov.Commit())

		oldIdxDigest, err := oldIdx.Digest()
		require.NoError(t, err)
		newIdxDigest, err := newIdx.Digest()
		require.NoError(t, err)
		baseIdxADigest, err := baseIdxA.Digest()
		require.NoError(t, err)
		iprov := provenanceOf(t, repoName, newIdxDigest, key.Key)
		assert.Equal(t, map[string]any{"image": repo + "@" + oldIdxDigest.String(), "base": baseA + "@" + baseIdxADigest.String()},
			iprov.BuildDefinition.ExternalParameters["rebasedFrom"])

		vs, err := verify.Image(ctx, repo+":alpine", key.Key, verify.WithCommit(rA.p.Version.Commit))
		require.NoError(t, err, "verify passes on the rebased images")
		assert.Len(t, vs, 3, "the index and its two images")
	})

	t.Run("rebuild of the rebased image is identical", func(t *testing.T) {
		pub := filepath.Join(t.TempDir(), "cosign.pub")
		require.NoError(t, os.WriteFile(pub, key.Public, 0o644))
		r, err := rebuildIn(t, rebuildClone(t, dir), map[string]string{"MAGEPACK_REBUILD_REF": repo + ":1.2.3-alpine", "MAGEPACK_VERIFY_KEY": pub})
		require.NoError(t, err, output(r).String())
		assert.Contains(t, output(r).String(), "["+repo+":1.2.3-alpine] identical (sha256:")
	})
}

// copyLayout copies the OCI layout at src into a new dist folder and
// returns the folder.
func copyLayout(t *testing.T, src string) string {
	t.Helper()
	dist := t.TempDir()
	named, err := image.ReadLayout(src)
	require.NoError(t, err)
	require.NoError(t, image.WriteLayout(filepath.Join(dist, "oci"), named))
	return dist
}

// rewriteLayout writes the layout at dist/oci again as fn changes its
// indexes.
func rewriteLayout(t *testing.T, dist string, fn func([]image.Named) []image.Named) {
	t.Helper()
	dir := filepath.Join(dist, "oci")
	named, err := image.ReadLayout(dir)
	require.NoError(t, err)
	require.NoError(t, image.WriteLayout(dir, fn(named)))
}

// misannotated is idx with each image's base digest annotation set to
// digest, and the index made again as publish makes it.
func misannotated(t *testing.T, idx v1.ImageIndex, digest string) v1.ImageIndex {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var imgs []v1.Image
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		imgs = append(imgs, mutate.Annotations(img, map[string]string{image.AnnotationBaseDigest: digest}).(v1.Image))
	}
	out, err := image.Index(imgs, image.WithIndexAnnotations(im.Annotations))
	require.NoError(t, err)
	return out
}

func TestRebaseRefusesIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	baseA := fixture.PushAlpineIndex(t, reg)
	baseB := fixture.PushPatchedAlpine(t, reg, "3-patched", "fix-1", "amd64")
	arm64Only := fixture.PushAlpine(t, reg, "arm64only", "arm64")
	baseIdxB, err := remote.Index(pubRef(t, baseB))
	require.NoError(t, err)
	dir := pubModule(t)
	repo := reg.Host + "/refused"
	cfgA := Config{Platforms: "linux/amd64", Image: repo, AlpineBase: baseA}
	rA := pubLinuxRun(t, dir, cfgA)
	pubWithoutEngine(t, func() { require.NoError(t, rA.publishIndexes(ctx)) })
	published := filepath.Join(rA.p.Dist, "oci")
	pushed, err := remote.Head(pubRef(t, repo+":alpine"))
	require.NoError(t, err)

	tests := []struct {
		name   string
		cfg    func(c *Config)
		layout func([]image.Named) []image.Named
		code   int
		want   []string
		check  func(t *testing.T, err error)
	}{
		{
			name: "new base for another architecture",
			cfg:  func(c *Config) { c.AlpineBase = arm64Only },
			code: ExitImage, want: []string{arm64Only, "has no linux/amd64 image", "it has linux/arm64", "MAGEPACK_ALPINE_BASE"},
			check: func(t *testing.T, err error) {
				var mp *image.MissingPlatformError
				require.ErrorAs(t, err, &mp)
				assert.Equal(t, "linux/amd64", mp.Platform)
			},
		},
		{
			name: "image not on the base it records",
			layout: func(named []image.Named) []image.Named {
				for i, n := range named {
					if slices.Contains(n.Tags, "alpine") {
						named[i].Index = misannotated(t, n.Index, platformDigest(t, baseIdxB, "amd64").String())
					}
				}
				return named
			},
			code: ExitImage, want: []string{"records its base as " + baseA + "@" + platformDigest(t, baseIdxB, "amd64").String(), "layer 0", "publish it again from source"},
			check: func(t *testing.T, err error) {
				var bm *image.BaseMismatchError
				require.ErrorAs(t, err, &bm)
				assert.Equal(t, 0, bm.Layer)
			},
		},
		{
			name: "scratch image",
			layout: func(named []image.Named) []image.Named {
				// Only the scratch index, under the alpine tags.
				named = slices.DeleteFunc(named, func(n image.Named) bool { return !slices.Contains(n.Tags, "scratch") })
				for i, tag := range named[0].Tags {
					named[0].Tags[i] = strings.ReplaceAll(tag, "scratch", "alpine")
				}
				return named
			},
			code: ExitImage, want: []string{"has no base to swap", "a scratch image", "rebase the alpine image of " + pubAppName + " for linux/amd64"},
			check: func(t *testing.T, err error) {
				var nb *image.NoBaseError
				require.ErrorAs(t, err, &nb)
			},
		},
		{
			name: "another configuration than the one that published",
			cfg:  func(c *Config) { c.Port = 9090 },
			code: ExitConfig, want: []string{"is not what this checkout makes on its base", "exposed ports", "9090/tcp"},
			check: func(t *testing.T, err error) {
				var ce *plan.Error
				require.ErrorAs(t, err, &ce)
			},
		},
		{
			name: "no Alpine variant",
			cfg:  func(c *Config) { c.Variants = "scratch" },
			code: ExitConfig, want: []string{"MAGEPACK_VARIANTS=scratch", "add alpine"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfgA
			cfg.AlpineBase = baseB
			cfg.Dist = copyLayout(t, published)
			if tt.layout != nil {
				rewriteLayout(t, cfg.Dist, tt.layout)
			}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			before, _ := layoutIndexes(t, filepath.Join(cfg.Dist, "oci"))
			r := mustRun(t, dir, cfg, nil)
			var err error
			pubWithoutEngine(t, func() { err = r.rebase(ctx) })
			require.Error(t, err)
			t.Logf("error: %v", fail(err))
			assert.Equal(t, tt.code, exitCode(err))
			for _, s := range tt.want {
				assert.Contains(t, fail(err).Error(), s)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			after, _ := layoutIndexes(t, filepath.Join(cfg.Dist, "oci"))
			assert.Equal(t, before, after, "dist/oci untouched")
			desc, err := remote.Head(pubRef(t, repo+":alpine"))
			require.NoError(t, err)
			assert.Equal(t, pushed.Digest, desc.Digest, "nothing pushed")
		})
	}
}

func TestAnnotationDiff(t *testing.T) {
	base := map[string]string{image.AnnotationRevision: "abc", image.AnnotationVersion: "1.2.3"}
	for _, tt := range []struct {
		name       string
		have, want map[string]string
		diff       string
	}{
		{"same", base, map[string]string{image.AnnotationVersion: "1.2.3", image.AnnotationRevision: "abc"}, ""},
		{"another commit", base, map[string]string{image.AnnotationRevision: "def", image.AnnotationVersion: "1.2.3"},
			`annotation org.opencontainers.image.revision is "abc" in the image and "def" here`},
		{"one only here", base, map[string]string{image.AnnotationRevision: "abc", image.AnnotationVersion: "1.2.3", image.AnnotationTitle: "app"},
			`annotation org.opencontainers.image.title is "" in the image and "app" here`},
		{"one only in the image", base, map[string]string{image.AnnotationRevision: "abc"},
			`annotation org.opencontainers.image.version is "1.2.3" in the image and "" here`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.diff, annotationDiff(tt.have, tt.want))
		})
	}
}
