package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/verify"
)

// cosignCmd runs cosign in dir, with the password "pw" for its keys and
// a home and TUF cache of its own.
type cosignCmd struct {
	bin, dir string
}

func (c cosignCmd) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=pw", "HOME="+c.dir, "TUF_ROOT="+filepath.Join(c.dir, "tuf"), "SIGSTORE_NO_CACHE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("cosign %v:\n%s", args, out.String())
	return out.String(), err
}

// keyPair runs `cosign generate-key-pair` into a folder of its own and
// returns the paths of the private and public key.
func (c cosignCmd) keyPair(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	_, err := cosignCmd{bin: c.bin, dir: dir}.run(t, "generate-key-pair")
	require.NoError(t, err)
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

// bundleReferrers returns the bundle referrers of d: each manifest and its
// bundle, by predicate type.
func bundleReferrers(t *testing.T, repo name.Repository, d v1.Hash) map[string][]referrer {
	t.Helper()
	out := map[string][]referrer{}
	for _, desc := range referrersOf(t, repo, d)[attest.BundleMediaType] {
		m, data := layerOf(t, repo, desc.Digest)
		pt := m.Annotations[attest.AnnotationPredicateType]
		out[pt] = append(out[pt], referrer{manifest: m, bundle: data})
	}
	return out
}

type referrer struct {
	manifest *v1.Manifest
	bundle   []byte
}

// shape is a referrer's structure with the values that differ between
// two signings (digests, sizes, signatures, payloads, times) left out.
func shape(t *testing.T, r referrer) map[string]any {
	t.Helper()
	m := r.manifest
	var annotations []string
	for k := range m.Annotations {
		annotations = append(annotations, k)
	}
	sort.Strings(annotations)
	var b map[string]any
	require.NoError(t, json.Unmarshal(r.bundle, &b))
	vm, _ := b["verificationMaterial"].(map[string]any)
	env, _ := b["dsseEnvelope"].(map[string]any)
	sigs, _ := env["signatures"].([]any)
	var sigKeys []string
	for _, s := range sigs {
		for k := range s.(map[string]any) {
			sigKeys = append(sigKeys, k)
		}
	}
	sort.Strings(sigKeys)
	return map[string]any{
		"mediaType": m.MediaType, "artifactType": m.ArtifactType,
		"config": []any{m.Config.MediaType, m.Config.Size}, "layers": len(m.Layers), "layer": m.Layers[0].MediaType,
		"subject": m.Subject != nil, "annotations": annotations,
		"bundle.mediaType": b["mediaType"], "bundle.keys": keysOf(b), "verificationMaterial": vm,
		"dsse.payloadType": env["payloadType"], "dsse.keys": keysOf(env), "dsse.signature keys": sigKeys,
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestCosignInteropIntegration(t *testing.T) {
	slow(t, "cosign and a registry")
	cosign := cosignCmd{bin: fixture.NeedTool(t, "cosign"), dir: t.TempDir()}
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	key, pub := cosign.keyPair(t)
	_, otherPub := cosign.keyPair(t)

	dir := pubModule(t)
	repo := reg.Host + "/cosigned"
	env := map[string]string{"MAGEPACK_SIGN_KEY": key, "COSIGN_PASSWORD": "pw", "MAGEPACK_VERIFY_KEY": pub}
	r := pubLinuxRun(t, dir, Config{Platforms: "linux/amd64", Image: repo, Variants: "scratch"}, env)
	bin := r.p.binaryPath(r.p.services[0], r.p.Platforms[0])
	sum, err := dist.Sum(bin)
	require.NoError(t, err)
	writeBinaryVEX(t, bin, sum)
	pubWithoutEngine(t, func() { require.NoError(t, r.publishIndexes(ctx)) })
	repoName, err := name.NewRepository(repo)
	require.NoError(t, err)
	idx, err := remote.Index(repoName.Tag("scratch"))
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	platDigest := im.Manifests[0].Digest
	ours := bundleReferrers(t, repoName, platDigest)
	require.Len(t, ours[attest.PredicateSLSA], 1)

	offline := []string{"--insecure-ignore-tlog", "--allow-http-registry"}
	t.Run("a cosign policy on the provenance's commit accepts HEAD, refuses another", func(t *testing.T) {
		policy := func(commit string) string {
			p := filepath.Join(t.TempDir(), "commit.rego")
			require.NoError(t, os.WriteFile(p, []byte(`package signature

import rego.v1

default allow := false

allow if {
	some dep in input.predicate.buildDefinition.resolvedDependencies
	dep.name == "source"
	dep.digest.gitCommit == "`+commit+`"
}
`), 0o644))
			return p
		}
		ref := repo + "@" + platDigest.String()
		_, err := cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1", "--policy", policy(r.p.Version.Commit)}, append(offline, ref)...)...)
		assert.NoError(t, err, "the commit built")
		_, err = cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1", "--policy", policy(strings.Repeat("0", 40))}, append(offline, ref)...)...)
		assert.Error(t, err, "another commit")
	})
	t.Run("cosign attest writes the shape magepack writes, into the same fallback index", func(t *testing.T) {
		pred := filepath.Join(t.TempDir(), "provenance.json")
		require.NoError(t, os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/cosign-reference","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/cosign"}}}`), 0o644))
		_, err := cosign.run(t, "attest", "--key", key, "--type", "slsaprovenance1", "--predicate", pred,
			"--use-signing-config=false", "--tlog-upload=false", "--allow-http-registry", "--yes", repo+"@"+platDigest.String())
		require.NoError(t, err)
		after := bundleReferrers(t, repoName, platDigest)
		require.Len(t, after[attest.PredicateSLSA], 2, "cosign's provenance beside magepack's")
		var theirs referrer
		for _, rf := range after[attest.PredicateSLSA] {
			if !bytes.Equal(rf.bundle, ours[attest.PredicateSLSA][0].bundle) {
				theirs = rf
			}
		}
		require.NotNil(t, theirs.manifest)
		assert.Equal(t, shape(t, theirs), shape(t, ours[attest.PredicateSLSA][0]), "cosign's referrer and bundle (left) against magepack's (right)")
		refs := referrersOf(t, repoName, platDigest)
		assert.Len(t, refs["application/vnd.cyclonedx+json"], 1, "magepack's SBOM is still listed")

		// magepack's verify still passes with cosign's attestation beside.
		pubKey, err := attest.LoadPublicKey(pub)
		require.NoError(t, err)
		_, err = verify.Image(ctx, repo+":scratch", pubKey, verify.WithCommit(r.p.Version.Commit))
		require.NoError(t, err)
	})

	t.Run("cosign verify and verify-attestation accept magepack's, refuse another key", func(t *testing.T) {
		for _, ref := range []string{repo + ":scratch", repo + "@" + platDigest.String()} {
			_, err := cosign.run(t, append([]string{"verify", "--key", pub}, append(offline, ref)...)...)
			assert.NoError(t, err, "cosign verify %s", ref)
			_, err = cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1"}, append(offline, ref)...)...)
			assert.NoError(t, err, "cosign verify-attestation %s", ref)
			_, err = cosign.run(t, append([]string{"verify", "--key", otherPub}, append(offline, ref)...)...)
			assert.Error(t, err, "cosign verify %s with another key", ref)
			_, err = cosign.run(t, append([]string{"verify-attestation", "--key", otherPub, "--type", "slsaprovenance1"}, append(offline, ref)...)...)
			assert.Error(t, err, "cosign verify-attestation %s with another key", ref)
		}
		_, err := cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "cyclonedx"}, append(offline, repo+"@"+platDigest.String())...)...)
		assert.NoError(t, err, "the signed SBOM")
		_, err = cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "openvex"}, append(offline, repo+"@"+platDigest.String())...)...)
		assert.NoError(t, err, "the signed VEX")
		_, err = cosign.run(t, append([]string{"verify-attestation", "--key", otherPub, "--type", "openvex"}, append(offline, repo+"@"+platDigest.String())...)...)
		assert.Error(t, err, "the signed VEX, another key")
	})

	t.Run("cosign refuses what verify refuses: a changed manifest, a statement about another digest", func(t *testing.T) {
		plat, err := idx.Image(platDigest)
		require.NoError(t, err)

		// The manifest re-pushed under the tag with a changed config.
		changedRepo := reg.Host + "/changed"
		changed, err := mutate.Config(plat, v1.Config{Env: []string{"EVIL=1"}})
		require.NoError(t, err)
		require.NoError(t, remote.Write(pubRef(t, changedRepo+":scratch"), changed))
		d, err := changed.Digest()
		require.NoError(t, err)
		copyReferrers(t, repoName, changedRepo, platDigest, "")
		_, err = cosign.run(t, append([]string{"verify", "--key", pub}, append(offline, changedRepo+":scratch")...)...)
		assert.Error(t, err, "cosign verify of a changed manifest")
		_, err = cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1"}, append(offline, changedRepo+":scratch")...)...)
		assert.Error(t, err, "cosign verify-attestation of a changed manifest")
		pubKey, err := attest.LoadPublicKey(pub)
		require.NoError(t, err)
		_, err = verify.Image(ctx, changedRepo+":scratch", pubKey)
		assertFailure(t, err, verify.CheckSignature, "verify of a changed manifest")

		// A provenance signed with the key, naming another digest.
		replayRepo := reg.Host + "/replayed"
		require.NoError(t, remote.Write(pubRef(t, replayRepo+"@"+platDigest.String()), plat))
		signer, err := attest.LoadSigner(key, []byte("pw"))
		require.NoError(t, err)
		for _, pt := range []string{attest.PredicateSign, attest.PredicateSLSA} {
			st, err := attest.NewStatement(pt, nil, attest.Subject(replayRepo, d.String()))
			require.NoError(t, err)
			signed, err := attest.Sign(context.Background(), signer, st)
			require.NoError(t, err)
			ref, err := image.Referrer(plat, image.Attachment{ArtifactType: attest.BundleMediaType, Data: signed, Annotations: attest.Annotations(st, "")})
			require.NoError(t, err)
			_, err = image.PushReferrers(ctx, replayRepo, []v1.Image{ref})
			require.NoError(t, err)
		}
		_, err = cosign.run(t, append([]string{"verify", "--key", pub}, append(offline, replayRepo+"@"+platDigest.String())...)...)
		assert.Error(t, err, "cosign verify of statements about another digest")
		_, err = cosign.run(t, append([]string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1"}, append(offline, replayRepo+"@"+platDigest.String())...)...)
		assert.Error(t, err, "cosign verify-attestation of a provenance about another digest")
		_, err = verify.Image(ctx, replayRepo+"@"+platDigest.String(), pubKey)
		assertFailure(t, err, verify.CheckSubject, "verify of statements about another digest")
	})

	t.Run("cosign verify-blob-attestation accepts a binary's provenance", func(t *testing.T) {
		bin := filepath.Join(r.p.Dist, pubAppName+"_linux_amd64")
		args := []string{"verify-blob-attestation", "--type", "slsaprovenance1", "--insecure-ignore-tlog", "--bundle", bin + verify.BundleSuffix}
		_, err := cosign.run(t, append(args, "--key", pub, bin)...)
		assert.NoError(t, err)
		_, err = cosign.run(t, append(args, "--key", otherPub, bin)...)
		assert.Error(t, err, "another key")
		other := filepath.Join(t.TempDir(), "other")
		require.NoError(t, os.WriteFile(other, []byte("not the binary"), 0o755))
		_, err = cosign.run(t, append(args, "--key", pub, other)...)
		assert.Error(t, err, "another binary")
	})

	t.Run("cosign reads Ed25519 signatures (pure Ed25519 over DSSE's PAE)", func(t *testing.T) {
		ed := fixture.Ed25519Key(t)
		dir := t.TempDir()
		edPub := filepath.Join(dir, "ed.pub")
		require.NoError(t, os.WriteFile(edPub, ed.Public, 0o644))
		blob := filepath.Join(dir, "blob")
		require.NoError(t, os.WriteFile(blob, []byte("a binary"), 0o644))
		signer, err := attest.LoadSigner(string(ed.Private), nil)
		require.NoError(t, err)
		st, err := attest.NewStatement(attest.PredicateSLSA, nil, attest.Subject("blob", sha256Hex([]byte("a binary"))))
		require.NoError(t, err)
		signed, err := attest.Sign(context.Background(), signer, st)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(blob+verify.BundleSuffix, signed, 0o644))
		_, err = cosign.run(t, "verify-blob-attestation", "--type", "slsaprovenance1", "--insecure-ignore-tlog", "--bundle", blob+verify.BundleSuffix, "--key", edPub, blob)
		assert.NoError(t, err)
	})
}
