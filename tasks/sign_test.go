package tasks

import (
	"context"
	"crypto"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/verify"
)

func TestSignKeyIsCheckedBeforeAnyBuild(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, "")
	enc := fixture.CosignKey(t, "pw")
	missing := filepath.Join(t.TempDir(), "cosign.key")
	tests := []struct {
		name string
		env  map[string]string
		want []string // in the message
	}{
		{"missing file", map[string]string{"MAGEPACK_SIGN_KEY": missing}, []string{missing, "MAGEPACK_SIGN_KEY"}},
		{"wrong password", map[string]string{"MAGEPACK_SIGN_KEY": string(enc.Private), "COSIGN_PASSWORD": "nope"}, []string{"password", "MAGEPACK_SIGN_KEY", "COSIGN_PASSWORD"}},
		{"no password", map[string]string{"MAGEPACK_SIGN_KEY": string(enc.Private)}, []string{"MAGEPACK_SIGN_KEY", "COSIGN_PASSWORD"}},
		{"public key", map[string]string{"MAGEPACK_SIGN_KEY": string(enc.Public)}, []string{"public key", "MAGEPACK_SIGN_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testRun(t, dir, Config{}, tt.env)
			require.Error(t, err)
			err = fail(err)
			assert.Equal(t, ExitConfig, exitCode(err))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "BEGIN", "the key is never printed")
		})
	}
	r := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_SIGN_KEY": string(enc.Private), "COSIGN_PASSWORD": "pw"})
	require.NotNil(t, r.p.opts.signer)
}

// signedEnv is the environment of a run that signs with k (a cosign
// key with password "pw") and verifies with its public half.
func signedEnv(t *testing.T, k fixture.KeyPair) map[string]string {
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	require.NoError(t, os.WriteFile(pub, k.Public, 0o644))
	return map[string]string{"MAGEPACK_SIGN_KEY": string(k.Private), "COSIGN_PASSWORD": "pw", "MAGEPACK_VERIFY_KEY": pub}
}

// referrersOf lists what refers to d in repo, by artifact type.
func referrersOf(t *testing.T, repo name.Repository, d v1.Hash) map[string][]v1.Descriptor {
	t.Helper()
	idx, err := remote.Referrers(repo.Digest(d.String()))
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	out := map[string][]v1.Descriptor{}
	for _, desc := range m.Manifests {
		// go-containerregistry's registry lists the config's media type
		// as the artifact type; the manifest says what it is.
		img, err := remote.Image(repo.Digest(desc.Digest.String()))
		require.NoError(t, err)
		am, err := img.Manifest()
		require.NoError(t, err)
		out[am.ArtifactType] = append(out[am.ArtifactType], desc)
	}
	return out
}

func TestPublishSignedIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	ggcr := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(ggcr.Close)
	registries := []struct {
		name string
		host string
	}{
		{"distribution 2.8, referrers tag fallback", fixture.StartRegistry(t).Host},
		{"go-containerregistry, referrers API", strings.TrimPrefix(ggcr.URL, "http://")},
	}
	key := fixture.CosignKey(t, "pw")
	dir := pubModule(t)
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			repo := reg.host + "/signed"
			env := signedEnv(t, key)
			r := pubLinuxRun(t, dir, Config{Platforms: "linux/amd64,linux/arm64", Image: repo, Variants: "scratch"}, env)
			head := r.p.Version.Commit
			pubWithoutEngine(t, func() { require.NoError(t, r.publishIndexes(ctx)) })
			repoName, err := name.NewRepository(repo)
			require.NoError(t, err)
			idx, err := remote.Index(repoName.Tag("scratch"))
			require.NoError(t, err)
			idxDigest, err := idx.Digest()
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)

			t.Run("cosign v3's shape: one bundle per statement, SBOM kept", func(t *testing.T) {
				for _, d := range im.Manifests {
					refs := referrersOf(t, repoName, d.Digest)
					require.Len(t, refs[sbom.MediaType], 1, "the SBOM")
					bundles := refs[attest.BundleMediaType]
					require.Len(t, bundles, 3, "signature, provenance, SBOM attestation")
					var types_ []string
					for _, b := range bundles {
						a, err := remote.Image(repoName.Digest(b.Digest.String()))
						require.NoError(t, err)
						m, err := a.Manifest()
						require.NoError(t, err)
						assert.Equal(t, attest.BundleMediaType, m.ArtifactType)
						assert.Equal(t, types.OCIEmptyJSON, m.Config.MediaType)
						require.Len(t, m.Layers, 1)
						assert.Equal(t, types.MediaType(attest.BundleMediaType), m.Layers[0].MediaType)
						require.NotNil(t, m.Subject)
						assert.Equal(t, d.Digest, m.Subject.Digest)
						assert.Equal(t, "dsse-envelope", m.Annotations[attest.AnnotationContent])
						types_ = append(types_, m.Annotations[attest.AnnotationPredicateType])
					}
					assert.ElementsMatch(t, []string{attest.PredicateSign, attest.PredicateSLSA, attest.PredicateCycloneDX}, types_)
				}
				assert.Len(t, referrersOf(t, repoName, idxDigest)[attest.BundleMediaType], 2, "the index: signature and provenance")
			})

			t.Run("the index's provenance claims no one platform's build settings", func(t *testing.T) {
				prov := provenanceOf(t, repoName, idxDigest, key.Key)
				assert.NotContains(t, prov.BuildDefinition.InternalParameters, "GOARCH", "the index holds amd64 and arm64")
				assert.Equal(t, "linux/amd64,linux/arm64", prov.BuildDefinition.ExternalParameters["platforms"])
				for _, d := range im.Manifests {
					plat := provenanceOf(t, repoName, d.Digest, key.Key)
					assert.Equal(t, d.Platform.Architecture, plat.BuildDefinition.InternalParameters["GOARCH"], "each image's provenance has its binary's")
				}
			})

			t.Run("verify passes, registry and layout", func(t *testing.T) {
				vs, err := verify.Image(ctx, repo+":scratch", key.Key, verify.WithCommit(head))
				require.NoError(t, err)
				require.Len(t, vs, 3, "the index and two platform images")
				for _, v := range vs[1:] {
					assert.Equal(t, head, v.Commit)
					assert.NotEmpty(t, v.SBOM)
				}
				vs, err = verify.Layout(ctx, filepath.Join(r.p.Dist, "oci"), key.Key, verify.WithCommit(head))
				require.NoError(t, err)
				assert.Len(t, vs, 3)

				output(r).Reset()
				require.NoError(t, r.verify(ctx), "the verify target: layout and pushed images")
				out := output(r).String()
				assert.Equal(t, 8, strings.Count(out, "[verify] "), "2 binaries, the layout's index and 2 images, the registry's: %s", out)
				assert.NotContains(t, out, "FAILED")
			})

			t.Run("binaries: signed provenance beside each, in SHA256SUMS and artifacts.json", func(t *testing.T) {
				sums, err := os.ReadFile(filepath.Join(r.p.Dist, "SHA256SUMS"))
				require.NoError(t, err)
				m, err := dist.ReadManifest(r.p.Dist)
				require.NoError(t, err)
				require.Len(t, m.Binaries, 2)
				for _, b := range m.Binaries {
					assert.Equal(t, b.Path+verify.BundleSuffix, b.Provenance)
					assert.Contains(t, string(sums), filepath.Base(b.Provenance))
					v, err := verify.Binary(filepath.Join(dir, b.Path), key.Key, verify.WithCommit(head))
					require.NoError(t, err)
					assert.Equal(t, head, v.Commit)
				}

				// A binary replaced after signing, and another binary's
				// provenance, are refused.
				bin := filepath.Join(dir, m.Binaries[0].Path)
				other := filepath.Join(t.TempDir(), filepath.Base(bin))
				data, err := os.ReadFile(bin)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(other, append(data, 0), 0o755))
				prov, err := os.ReadFile(bin + verify.BundleSuffix)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(other+verify.BundleSuffix, prov, 0o644))
				_, err = verify.Binary(other, key.Key)
				assertFailure(t, err, verify.CheckSubject, "a binary changed after signing")
				_, err = verify.Binary(bin, fixture.CosignKey(t, "pw").Key)
				assertFailure(t, err, verify.CheckSignature, "another key")
			})

			t.Run("others' referrers survive a re-publish", func(t *testing.T) {
				plat, err := idx.Image(im.Manifests[0].Digest)
				require.NoError(t, err)
				theirs, err := image.Referrer(plat, image.Attachment{ArtifactType: "application/vnd.example.theirs+json", Data: []byte(`{"by":"someone else"}`)})
				require.NoError(t, err)
				_, err = image.PushReferrers(ctx, repo, []v1.Image{theirs})
				require.NoError(t, err)
				r2 := mustRun(t, dir, Config{Platforms: "linux/amd64,linux/arm64", Image: repo, Variants: "scratch"}, env)
				pubWithoutEngine(t, func() { require.NoError(t, r2.publishIndexes(ctx)) })
				refs := referrersOf(t, repoName, im.Manifests[0].Digest)
				assert.Len(t, refs["application/vnd.example.theirs+json"], 1)
				assert.Len(t, refs[sbom.MediaType], 1, "the same SBOM, not a second")
				assert.GreaterOrEqual(t, len(refs[attest.BundleMediaType]), 3)
				_, err = verify.Image(ctx, repo+":scratch", key.Key, verify.WithCommit(head))
				require.NoError(t, err)
			})

			t.Run("tampering is refused, naming the check", func(t *testing.T) {
				amd64 := im.Manifests[0].Digest
				plat, err := idx.Image(amd64)
				require.NoError(t, err)
				other := fixture.CosignKey(t, "pw")

				_, err = verify.Image(ctx, repo+"@"+amd64.String(), other.Key)
				assertFailure(t, err, verify.CheckSignature, "another key")

				_, err = verify.Image(ctx, repo+"@"+amd64.String(), key.Key, verify.WithCommit(strings.Repeat("0", 40)))
				assertFailure(t, err, verify.CheckCommit, "a provenance naming another commit")

				// A statement signed with the key about another digest,
				// attached to this one.
				signer, err := attest.LoadSigner(string(key.Private), []byte("pw"))
				require.NoError(t, err)
				st, err := attest.NewStatement(attest.PredicateSign, nil, attest.Subject(repo, im.Manifests[1].Digest.String()))
				require.NoError(t, err)
				signed, err := attest.Sign(context.Background(), signer, st)
				require.NoError(t, err)
				replay, err := image.Referrer(plat, image.Attachment{ArtifactType: attest.BundleMediaType, Data: signed, Annotations: attest.Annotations(st, "")})
				require.NoError(t, err)
				tamperRepo := reg.host + "/tampered-" + randomSuffix(t)
				require.NoError(t, remote.Write(pubRef(t, tamperRepo+"@"+amd64.String()), plat))
				copyReferrers(t, repoName, tamperRepo, amd64, "")
				_, err = image.PushReferrers(ctx, tamperRepo, []v1.Image{replay})
				require.NoError(t, err)
				_, err = verify.Image(ctx, tamperRepo+"@"+amd64.String(), key.Key)
				assertFailure(t, err, verify.CheckSubject, "a statement whose subject is another digest")

				// The SBOM referrer swapped for another image's.
				swapRepo := reg.host + "/swapped-" + randomSuffix(t)
				require.NoError(t, remote.Write(pubRef(t, swapRepo+"@"+amd64.String()), plat))
				copyReferrers(t, repoName, swapRepo, amd64, sbom.MediaType)
				arm64SBOM := referrersOf(t, repoName, im.Manifests[1].Digest)[sbom.MediaType][0]
				_, data := layerOf(t, repoName, arm64SBOM.Digest)
				swapped, err := image.Referrer(plat, image.Attachment{ArtifactType: sbom.MediaType, Data: data})
				require.NoError(t, err)
				_, err = image.PushReferrers(ctx, swapRepo, []v1.Image{swapped})
				require.NoError(t, err)
				_, err = verify.Image(ctx, swapRepo+"@"+amd64.String(), key.Key)
				assertFailure(t, err, verify.CheckSBOM, "the SBOM referrer swapped for another image's")

				// The manifest re-pushed under the tag with a changed config.
				changed, err := mutate.Config(plat, v1.Config{Env: []string{"EVIL=1"}})
				require.NoError(t, err)
				changedIdx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: changed, Descriptor: v1.Descriptor{Platform: im.Manifests[0].Platform}})
				require.NoError(t, remote.WriteIndex(pubRef(t, tamperRepo+":scratch"), changedIdx))
				_, err = verify.Image(ctx, tamperRepo+":scratch", key.Key)
				assertFailure(t, err, verify.CheckSignature, "a manifest changed after signing")
			})
		})
	}
}

// copyReferrers pushes every referrer of d in from, but those of
// artifact type skip, to the repository to, each by digest (the tag
// fallback or the API indexes it).
func copyReferrers(t *testing.T, from name.Repository, to string, d v1.Hash, skip string) {
	t.Helper()
	var imgs []v1.Image
	for typ, descs := range referrersOf(t, from, d) {
		if typ == skip {
			continue
		}
		for _, desc := range descs {
			img, err := remote.Image(from.Digest(desc.Digest.String()))
			require.NoError(t, err)
			imgs = append(imgs, img)
		}
	}
	_, err := image.PushReferrers(context.Background(), to, imgs)
	require.NoError(t, err)
}

// assertFailure checks that err holds a *verify.Failure of check, and
// that the verify table gives it exit 9.
func assertFailure(t *testing.T, err error, check verify.Check, what string) {
	t.Helper()
	var f *verify.Failure
	if assert.True(t, errors.As(err, &f), "%s: want a verify failure, got %v", what, err) {
		assert.Equal(t, check, f.Check, "%s: %v", what, err)
		assert.Equal(t, ExitVerify, exitCode(err), what)
	}
}

func TestProvenanceSameFromTwoClones(t *testing.T) {
	slow(t, "two builds")
	origin := pubModule(t)
	key := fixture.Ed25519Key(t)
	var bundles [][]byte
	for _, clone := range []string{filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two", "deeper")} {
		git(t, origin, "clone", "-q", origin, clone)
		r := pubLinuxRun(t, clone, Config{Platforms: "linux/amd64"}, map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)})
		data, err := os.ReadFile(filepath.Join(r.p.Dist, pubAppName+"_linux_amd64"+verify.BundleSuffix))
		require.NoError(t, err)
		st, err := attest.Open(data, key.Key)
		require.NoError(t, err)
		prov, err := attest.ReadProvenance(st)
		require.NoError(t, err)
		assert.Equal(t, r.p.Version.Commit, prov.Commit())
		assert.NotEmpty(t, prov.SBOMDigest())
		bundles = append(bundles, data)
	}
	// Ed25519 signs deterministically: the same statement gives the same
	// bundle, byte for byte.
	assert.Equal(t, string(bundles[0]), string(bundles[1]), "the same provenance, signed the same, from both clones")
}

func TestSignedShardsMergeIntegration(t *testing.T) {
	slow(t, "three checkouts and builds")
	ctx := context.Background()
	origin := pubModule(t)
	key := fixture.CosignKey(t, "pw")
	env := signedEnv(t, key)
	cfg := Config{Platforms: "linux/amd64,linux/arm64"}
	merger := filepath.Join(t.TempDir(), "merger")
	git(t, origin, "clone", "-q", origin, merger)
	for k := 1; k <= 2; k++ {
		clone := filepath.Join(t.TempDir(), "shard")
		git(t, origin, "clone", "-q", origin, clone)
		shardEnv := map[string]string{"MAGEPACK_SHARD": []string{"", "1/2", "2/2"}[k]}
		for name, v := range env {
			shardEnv[name] = v
		}
		r := mustRun(t, clone, cfg, shardEnv)
		require.NoError(t, r.crossCompile(ctx))
		require.NoError(t, os.Rename(r.p.Dist, filepath.Join(merger, []string{"", "dist-1", "dist-2"}[k])))
	}
	r := mustRun(t, merger, cfg, env)
	require.NoError(t, r.merge(ctx))
	m, err := dist.ReadManifest(r.p.Dist)
	require.NoError(t, err)
	require.Len(t, m.Binaries, 2)
	for _, b := range m.Binaries {
		assert.Equal(t, b.Path+verify.BundleSuffix, b.Provenance, "each shard's signed provenance comes along")
	}
	output(r).Reset()
	require.NoError(t, r.verify(ctx))
	assert.Equal(t, 2, strings.Count(output(r).String(), "verified"), output(r).String())
}

func TestBuilderFromCI(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, "")
	tests := []struct {
		name       string
		env        map[string]string
		id, invoke string
	}{
		{"local", nil, builderDefault, ""},
		{"GitHub Actions", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
			"GITHUB_REPOSITORY": "acme/app", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2",
		}, "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3", "https://github.com/acme/app/actions/runs/42/attempts/2"},
		{"GitHub variables outside Actions", map[string]string{"GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/x.yml@refs/heads/main"}, builderDefault, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, invocation, version := mustRun(t, dir, Config{}, tt.env).builder()
			assert.Equal(t, tt.id, id)
			assert.Equal(t, tt.invoke, invocation)
			assert.NotEmpty(t, version["magepack"])
		})
	}
}

func TestVerifyKey(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, "")
	k := fixture.Ed25519Key(t)
	pub, err := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_SIGN_KEY": string(k.Private)}).verifyKey()
	require.NoError(t, err)
	assert.Equal(t, k.Key, pub, "the signing key's public half")

	pub, err = mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_VERIFY_KEY": string(k.Public)}).verifyKey()
	require.NoError(t, err)
	assert.Equal(t, k.Key, pub)

	for name, env := range map[string]map[string]string{
		"none":        nil,
		"private key": {"MAGEPACK_VERIFY_KEY": string(k.Private)},
	} {
		_, err := mustRun(t, dir, Config{}, env).verifyKey()
		assert.Equal(t, ExitConfig, exitCode(err), name)
		assert.Contains(t, fail(err).Error(), "MAGEPACK_VERIFY_KEY", name)
		assert.NotContains(t, err.Error(), "BEGIN", name)
	}
}

func TestPublishSignedAlpineIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	alpine := fixture.PushAlpineIndex(t, reg)
	key := fixture.Ed25519Key(t)
	repo := reg.Host + "/signed-alpine"
	r := pubLinuxRun(t, pubModule(t), Config{Platforms: "linux/amd64", Image: repo, Variants: "alpine", AlpineBase: alpine},
		map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)})
	pubWithoutEngine(t, func() { require.NoError(t, r.publishIndexes(ctx)) })

	vs, err := verify.Image(ctx, repo+":alpine", key.Key, verify.WithCommit(r.p.Version.Commit))
	require.NoError(t, err)
	require.Len(t, vs, 2)

	// The provenance names the base image of the platform by digest.
	baseImg, err := remote.Image(pubRef(t, alpine), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	require.NoError(t, err)
	baseDigest, err := baseImg.Digest()
	require.NoError(t, err)
	repoName, err := name.NewRepository(repo)
	require.NoError(t, err)
	idx, err := remote.Index(repoName.Tag("alpine"))
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var found bool
	prov := provenanceOf(t, repoName, im.Manifests[0].Digest, key.Key)
	for _, d := range prov.BuildDefinition.ResolvedDependencies {
		if d.Name == attest.DependencyBase {
			found = true
			assert.Equal(t, baseDigest.Hex, d.Digest["sha256"])
			assert.Equal(t, "oci://"+alpine, d.URI)
		}
	}
	assert.Equal(t, "alpine", prov.BuildDefinition.ExternalParameters["variant"])
	assert.Equal(t, alpine, prov.BuildDefinition.ExternalParameters["base"])
	assert.True(t, found, "the provenance names the base")
}

// provenanceOf is the SLSA provenance key signed about d in repo (the
// only one there).
func provenanceOf(t *testing.T, repo name.Repository, d v1.Hash, key crypto.PublicKey) attest.Provenance {
	t.Helper()
	var provs []attest.Provenance
	for _, desc := range referrersOf(t, repo, d)[attest.BundleMediaType] {
		_, data := layerOf(t, repo, desc.Digest)
		st, err := attest.Open(data, key)
		require.NoError(t, err)
		if st.PredicateType != attest.PredicateSLSA {
			continue
		}
		prov, err := attest.ReadProvenance(st)
		require.NoError(t, err)
		provs = append(provs, prov)
	}
	require.Len(t, provs, 1, "one provenance of %s", d)
	return provs[0]
}
