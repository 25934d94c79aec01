package tasks

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/verify"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// writeBinaryVEX writes beside bin the VEX vulncheck would write of it
// for one reached and one unreached finding, naming the binary of SHA-256
// sum, and returns the document.
func writeBinaryVEX(t *testing.T, bin, sum string) []byte {
	t.Helper()
	return writeBinaryVEXOf(t, bin, sum, time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC))
}

// writeBinaryVEXOf is writeBinaryVEX for a database modified at modified.
func writeBinaryVEXOf(t *testing.T, bin, sum string, modified time.Time) []byte {
	t.Helper()
	rep := &vulncheck.Report{
		Binary: bin, Scanner: "govulncheck@v1.9.0", GoVersion: "go1.26.8",
		DBModified: modified,
		Findings: []vulncheck.Finding{
			{ID: "GO-2022-1059", Aliases: []string{"CVE-2022-32149"}, Module: "golang.org/x/text", Found: "v0.3.7", Fixed: "v0.3.8",
				Symbols: []string{"golang.org/x/text/language.ParseAcceptLanguage"}, Packages: []string{"golang.org/x/text/language"}},
			{ID: "GO-2026-6603", Module: "stdlib", Found: "go1.26.8", Fixed: "go1.26.9", Packages: []string{"net/http"}},
		},
	}
	doc, err := vulncheck.VEX(rep, vulncheck.Product{ID: "pkg:golang/example.com/app@v1.2.3", SHA256: sum})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin+".vex.json", doc, 0o644))
	return doc
}

func TestPublishVEXIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	ggcr := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(ggcr.Close)
	registries := []struct {
		name string
		host string
	}{
		{"go-containerregistry, referrers API", strings.TrimPrefix(ggcr.URL, "http://")},
		{"distribution 2.8, referrers tag fallback", fixture.StartRegistry(t).Host},
	}
	key := fixture.CosignKey(t, "pw")
	dir := pubModule(t)
	cfg := Config{Platforms: "linux/amd64,linux/arm64", Variants: "scratch"}
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			repo := reg.host + "/vex-" + randomSuffix(t)
			cfg := cfg
			cfg.Image = repo
			r := pubLinuxRun(t, dir, cfg, signedEnv(t, key))
			amdBin, armBin := r.p.binaryPath(r.p.services[0], r.p.Platforms[0]), r.p.binaryPath(r.p.services[0], r.p.Platforms[1])
			amdSum, err := dist.Sum(amdBin)
			require.NoError(t, err)
			binDoc := writeBinaryVEX(t, amdBin, amdSum)
			writeBinaryVEX(t, armBin, strings.Repeat("0", 64)) // about other bytes

			pubWithoutEngine(t, func() { require.NoError(t, r.publishIndexes(ctx)) })
			out := output(r).String()
			assert.Equal(t, 1, strings.Count(out, "no VEX attached to its images"), "the stale VEX is said once: %s", out)
			assert.Contains(t, out, filepath.ToSlash(r.p.rel(armBin))+".vex.json")

			repoName, err := name.NewRepository(repo)
			require.NoError(t, err)
			idx, err := remote.Index(repoName.Tag("scratch"))
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			require.Len(t, im.Manifests, 2)
			amd, arm := im.Manifests[0], im.Manifests[1]
			require.Equal(t, "amd64", amd.Platform.Architecture)

			refs := referrersOf(t, repoName, amd.Digest)
			require.Len(t, refs[vulncheck.MediaType], 1, "the amd64 image's VEX")
			m, data := layerOf(t, repoName, refs[vulncheck.MediaType][0].Digest)
			assert.Equal(t, vulncheck.MediaType, m.ArtifactType)
			require.NotNil(t, m.Subject)
			assert.Equal(t, amd.Digest, m.Subject.Digest)
			assert.Equal(t, r.p.createdStamp(), m.Annotations[image.AnnotationCreated])

			doc, err := vex.Parse(data)
			require.NoError(t, err)
			bin, err := vex.Parse(binDoc)
			require.NoError(t, err)
			assert.Equal(t, bin.Timestamp, doc.Timestamp, "the binary VEX's time, not the clock")
			require.Len(t, doc.Statements, 2)
			for i, s := range doc.Statements {
				assert.NoError(t, s.Validate())
				assert.Equal(t, bin.Statements[i].Vulnerability, s.Vulnerability)
				assert.Equal(t, bin.Statements[i].Status, s.Status)
				require.Len(t, s.Products, 1)
				assert.Equal(t, sbom.OCIPURL(repo, amd.Digest.String(), "amd64"), s.Products[0].ID)
				assert.Contains(t, s.Products[0].ID, amd.Digest.Hex)
				assert.Equal(t, amd.Digest.Hex, string(s.Products[0].Hashes[vex.SHA256]))
			}

			// Signed: a fourth bundle, an in-toto statement about the
			// image holding the same document.
			var vexBundles int
			for _, b := range refs[attest.BundleMediaType] {
				m, bundle := layerOf(t, repoName, b.Digest)
				if m.Annotations[attest.AnnotationPredicateType] != attest.PredicateOpenVEX {
					continue
				}
				vexBundles++
				st, err := attest.Open(bundle, key.Key)
				require.NoError(t, err)
				assert.Equal(t, amd.Digest.Hex, st.Subject[0].Digest["sha256"])
				var signed, attached any
				require.NoError(t, json.Unmarshal(st.Predicate, &signed))
				require.NoError(t, json.Unmarshal(data, &attached))
				assert.Equal(t, attached, signed)
			}
			assert.Equal(t, 1, vexBundles)
			assert.Len(t, refs[attest.BundleMediaType], 4, "signature, provenance, SBOM and VEX attestations")

			armRefs := referrersOf(t, repoName, arm.Digest)
			assert.Empty(t, armRefs[vulncheck.MediaType], "a stale VEX is not attached")
			assert.Len(t, armRefs[attest.BundleMediaType], 3)

			vs, err := verify.Image(ctx, repo+":scratch", key.Key, verify.WithCommit(r.p.Version.Commit))
			require.NoError(t, err)
			require.Len(t, vs, 3)
			assert.NotEmpty(t, vs[1].VEX, "amd64: the provenance names its VEX")
			assert.Contains(t, vs[1].String(), "VEX sha256:")
			assert.Empty(t, vs[2].VEX)

			lp, err := layout.FromPath(filepath.Join(r.p.Dist, "oci"))
			require.NoError(t, err)
			lidx, err := lp.ImageIndex()
			require.NoError(t, err)
			lm, err := lidx.IndexManifest()
			require.NoError(t, err)
			var inLayout int
			for _, d := range lm.Manifests {
				if d.ArtifactType == vulncheck.MediaType {
					inLayout++
				}
			}
			if inLayout == 0 { // a layout may not copy artifactType up: read each
				for _, d := range lm.Manifests {
					if !d.MediaType.IsImage() {
						continue
					}
					img, err := lidx.Image(d.Digest)
					require.NoError(t, err)
					am, err := img.Manifest()
					require.NoError(t, err)
					if am.ArtifactType == vulncheck.MediaType {
						inLayout++
					}
				}
			}
			assert.Equal(t, 1, inLayout, "dist/oci holds the VEX too")
			_, err = verify.Layout(ctx, filepath.Join(r.p.Dist, "oci"), key.Key)
			require.NoError(t, err)

			t.Run("a VEX swapped for another is refused", func(t *testing.T) {
				plat, err := idx.Image(amd.Digest)
				require.NoError(t, err)
				swapRepo := reg.host + "/vex-swapped-" + randomSuffix(t)
				require.NoError(t, remote.Write(pubRef(t, swapRepo+"@"+amd.Digest.String()), plat))
				copyReferrers(t, repoName, swapRepo, amd.Digest, vulncheck.MediaType)
				other := strings.Replace(string(data), `"affected"`, `"not_affected"`, 1)
				require.NotEqual(t, string(data), other)
				swapped, err := image.Referrer(plat, image.Attachment{ArtifactType: vulncheck.MediaType, Data: []byte(other)})
				require.NoError(t, err)
				_, err = image.PushReferrers(ctx, swapRepo, []v1.Image{swapped})
				require.NoError(t, err)
				_, err = verify.Image(ctx, swapRepo+"@"+amd.Digest.String(), key.Key)
				assertFailure(t, err, verify.CheckVEX, "the VEX referrer swapped for another document")
			})

			t.Run("re-published: the same VEX; unsigned: no bundles; no VEX: not a word", func(t *testing.T) {
				again := mustRun(t, dir, cfg, nil)
				pubWithoutEngine(t, func() { require.NoError(t, again.publishIndexes(ctx)) })
				assert.Equal(t, refs[vulncheck.MediaType], referrersOf(t, repoName, amd.Digest)[vulncheck.MediaType], "reproducible: the same VEX referrer, not a second")

				unsigned := reg.host + "/vex-unsigned-" + randomSuffix(t)
				cfg := cfg
				cfg.Image = unsigned
				r2 := mustRun(t, dir, cfg, nil)
				pubWithoutEngine(t, func() { require.NoError(t, r2.publishIndexes(ctx)) })
				un, err := name.NewRepository(unsigned)
				require.NoError(t, err)
				refs2 := referrersOf(t, un, amd.Digest)
				assert.Len(t, refs2[vulncheck.MediaType], 1)
				assert.Empty(t, refs2[attest.BundleMediaType])

				require.NoError(t, os.Remove(amdBin+".vex.json"))
				require.NoError(t, os.Remove(armBin+".vex.json"))
				none := reg.host + "/vex-none-" + randomSuffix(t)
				cfg.Image = none
				r3 := mustRun(t, dir, cfg, nil)
				pubWithoutEngine(t, func() { require.NoError(t, r3.publishIndexes(ctx)) })
				var lines []string
				for _, l := range strings.Split(output(r3).String(), "\n") {
					if strings.Contains(l, "VEX") {
						lines = append(lines, l)
					}
				}
				assert.Empty(t, lines, "a run that never used vulncheck hears nothing of VEX")
				nn, err := name.NewRepository(none)
				require.NoError(t, err)
				assert.Empty(t, referrersOf(t, nn, amd.Digest)[vulncheck.MediaType])
			})

			t.Run("a newer VEX re-published beside the old one verifies", func(t *testing.T) {
				writeBinaryVEXOf(t, amdBin, amdSum, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
				newer := mustRun(t, dir, cfg, signedEnv(t, key))
				pubWithoutEngine(t, func() { require.NoError(t, newer.publishIndexes(ctx)) })
				refs := referrersOf(t, repoName, amd.Digest)
				assert.Len(t, refs[vulncheck.MediaType], 2, "the old VEX is kept, the new one added")
				_, err := verify.Image(ctx, repo+"@"+amd.Digest.String(), key.Key, verify.WithCommit(r.p.Version.Commit))
				require.NoError(t, err)
			})
		})
	}
}

func TestVulncheckThenPublishIntegration(t *testing.T) {
	slow(t, "builds, govulncheck, the vulnerability database and a registry")
	ctx := context.Background()
	ggcr := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(ggcr.Close)
	repo := strings.TrimPrefix(ggcr.URL, "http://") + "/svc"
	dir := textModule(t, "v0.3.7", `language.Make("de-CH")`)
	r := vulnRun(t, dir, map[string]string{"MAGEPACK_IMAGE": repo, "MAGEPACK_VARIANTS": "scratch"})
	require.NoError(t, r.vulncheck(ctx))
	pubWithoutEngine(t, func() { require.NoError(t, r.publish(ctx)) })

	binDoc, err := vex.Open(filepath.Join(dir, "dist", "svc_linux_amd64.vex.json"))
	require.NoError(t, err)
	repoName, err := name.NewRepository(repo)
	require.NoError(t, err)
	idx, err := remote.Index(repoName.Tag("scratch"))
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	plat := im.Manifests[0].Digest
	refs := referrersOf(t, repoName, plat)
	require.Len(t, refs[vulncheck.MediaType], 1)
	_, data := layerOf(t, repoName, refs[vulncheck.MediaType][0].Digest)
	doc, err := vex.Parse(data)
	require.NoError(t, err)
	assert.Equal(t, binDoc.Timestamp, doc.Timestamp)
	require.Len(t, doc.Statements, len(binDoc.Statements))
	var text *vex.Statement
	for i, s := range doc.Statements {
		assert.Equal(t, binDoc.Statements[i].Vulnerability.Name, s.Vulnerability.Name)
		assert.Equal(t, binDoc.Statements[i].Status, s.Status)
		assert.Equal(t, sbom.OCIPURL(repo, plat.String(), "amd64"), s.Products[0].ID, "the image's package URL, as its SBOM names it")
		assert.True(t, strings.HasPrefix(s.Products[0].ID, "pkg:oci/svc@"+plat.String()+"?"), s.Products[0].ID)
		if s.Vulnerability.Name == "GO-2022-1059" {
			text = &doc.Statements[i]
		}
	}
	require.NotNil(t, text, "GO-2022-1059 in the image's VEX")
	assert.Equal(t, vex.StatusNotAffected, text.Status)
	assert.Equal(t, vex.VulnerableCodeNotInExecutePath, text.Justification)
	assert.Equal(t, "pkg:golang/golang.org/x/text@v0.3.7", text.Products[0].Subcomponents[0].ID)
}
