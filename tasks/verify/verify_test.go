package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/vulncheck"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

// layoutCase is a one-platform index and what is attached to it, to be
// written as the OCI layout publish writes.
type layoutCase struct {
	key       fixture.KeyPair
	img       v1.Image
	idx       v1.ImageIndex
	referrers []v1.Image
}

func newCase(t *testing.T) *layoutCase {
	t.Helper()
	img, err := random.Image(512, 1)
	require.NoError(t, err)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	return &layoutCase{key: fixture.ECDSAKey(t), img: img, idx: idx}
}

// attach signs preds about subjectDigest and attaches them to target.
func (c *layoutCase) attach(t *testing.T, key fixture.KeyPair, target partial.Describable, subjectDigest string, preds map[string]any) {
	t.Helper()
	s, err := attest.LoadSigner(string(key.Private), nil)
	require.NoError(t, err)
	for typ, body := range preds {
		st, err := attest.NewStatement(typ, body, attest.Subject("app", subjectDigest))
		require.NoError(t, err)
		signed, err := attest.Sign(context.Background(), s, st)
		require.NoError(t, err)
		ref, err := image.Referrer(target, image.Attachment{ArtifactType: attest.BundleMediaType, Data: signed, Annotations: attest.Annotations(st, "")})
		require.NoError(t, err)
		c.referrers = append(c.referrers, ref)
	}
}

// attachIndex signs preds about the index with the case's key and
// attaches them to it.
func (c *layoutCase) attachIndex(t *testing.T, preds map[string]any) {
	t.Helper()
	d, err := c.idx.Digest()
	require.NoError(t, err)
	c.attach(t, c.key, c.idx, d.String(), preds)
}

func provenance(t *testing.T, commit, sbomDigest string) attest.Provenance {
	t.Helper()
	b := attest.Build{BuildType: attest.BuildTypePrefix + "image/v1", BuilderID: "local", Source: attest.Source{Commit: commit}}
	if sbomDigest != "" {
		b.Byproducts = []attest.ResourceDescriptor{{Name: attest.ByproductSBOM, Digest: attest.DigestSet(sbomDigest)}}
	}
	p, err := b.Predicate()
	require.NoError(t, err)
	return p
}

func (c *layoutCase) write(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, image.WriteLayout(dir, []image.Named{{Variant: "scratch", Index: c.idx, Tags: []string{"1.0.0-scratch"}, Referrers: c.referrers}}))
	return dir
}

// good is what publish attaches: an SBOM, and for the image a signature,
// a provenance naming the SBOM and the SBOM attestation; for the index a
// signature and a provenance.
func good(t *testing.T) *layoutCase {
	t.Helper()
	c := newCase(t)
	bom := []byte(`{"bomFormat":"CycloneDX"}`)
	sbomRef, err := image.Referrer(c.img, image.Attachment{ArtifactType: sbom.MediaType, Data: bom})
	require.NoError(t, err)
	c.referrers = append(c.referrers, sbomRef)
	sum := sha256.Sum256(bom)
	d, err := c.img.Digest()
	require.NoError(t, err)
	c.attach(t, c.key, c.img, d.String(), map[string]any{
		attest.PredicateSign: nil, attest.PredicateSLSA: provenance(t, commit, hex.EncodeToString(sum[:])), attest.PredicateCycloneDX: json.RawMessage(bom),
	})
	c.attachIndex(t, map[string]any{attest.PredicateSign: nil, attest.PredicateSLSA: provenance(t, commit, "")})
	return c
}

func TestLayout(t *testing.T) {
	ctx := context.Background()
	c := good(t)
	dir := c.write(t)
	vs, err := Layout(ctx, dir, c.key.Key, WithCommit(commit))
	require.NoError(t, err)
	require.Len(t, vs, 2, "the index and its image")
	assert.Equal(t, "", vs[0].Platform)
	assert.Equal(t, "linux/amd64", vs[1].Platform)
	assert.NotEmpty(t, vs[1].SBOM)
	assert.Contains(t, vs[1].String(), "provenance of commit 0123456789ab")

	fails := func(t *testing.T, err error) []Check {
		t.Helper()
		require.Error(t, err)
		var checks []Check
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var f *Failure
			require.True(t, errors.As(e, &f), "%v", e)
			checks = append(checks, f.Check)
		}
		return checks
	}

	t.Run("another key", func(t *testing.T) {
		_, err := Layout(ctx, dir, fixture.ECDSAKey(t).Key)
		assert.Equal(t, []Check{CheckSignature, CheckSignature}, fails(t, err))
	})
	t.Run("another commit", func(t *testing.T) {
		_, err := Layout(ctx, dir, c.key.Key, WithCommit("ffff"))
		assert.Equal(t, []Check{CheckCommit, CheckCommit}, fails(t, err))
	})
	t.Run("a statement about another digest", func(t *testing.T) {
		c := good(t)
		c.attach(t, c.key, c.img, "sha256:"+hex.EncodeToString(make([]byte, 32)), map[string]any{attest.PredicateSign: nil})
		_, err := Layout(ctx, c.write(t), c.key.Key)
		assert.Equal(t, []Check{CheckSubject}, fails(t, err))
	})
	t.Run("another key's bundles are ignored", func(t *testing.T) {
		c := good(t)
		d, err := c.img.Digest()
		require.NoError(t, err)
		c.attach(t, fixture.ECDSAKey(t), c.img, d.String(), map[string]any{attest.PredicateSign: nil})
		vs, err := Layout(ctx, c.write(t), c.key.Key)
		require.NoError(t, err)
		assert.Equal(t, 1, vs[1].Foreign)
	})
	t.Run("the SBOM is not the one the provenance names", func(t *testing.T) {
		c := good(t)
		c.referrers = c.referrers[1:] // no SBOM
		other, err := image.Referrer(c.img, image.Attachment{ArtifactType: sbom.MediaType, Data: []byte(`{"other":true}`)})
		require.NoError(t, err)
		c.referrers = append(c.referrers, other)
		_, err = Layout(ctx, c.write(t), c.key.Key)
		assert.Equal(t, []Check{CheckSBOM}, fails(t, err))
	})
	t.Run("no provenance", func(t *testing.T) {
		c := newCase(t)
		d, err := c.img.Digest()
		require.NoError(t, err)
		c.attach(t, c.key, c.img, d.String(), map[string]any{attest.PredicateSign: nil})
		c.attachIndex(t, map[string]any{attest.PredicateSign: nil, attest.PredicateSLSA: provenance(t, commit, "")})
		_, err = Layout(ctx, c.write(t), c.key.Key)
		assert.Equal(t, []Check{CheckProvenance}, fails(t, err))
	})
	t.Run("one good provenance among others the key signed is enough", func(t *testing.T) {
		c := good(t)
		d, err := c.img.Digest()
		require.NoError(t, err)
		c.attach(t, c.key, c.img, d.String(), map[string]any{attest.PredicateSLSA: provenance(t, "ffff", "")})
		_, err = Layout(ctx, c.write(t), c.key.Key, WithCommit(commit))
		require.NoError(t, err)
	})
	t.Run("a blob replaced in place", func(t *testing.T) {
		// The layout names blobs by digest but does not check them: verify
		// must, or a file rewritten under its old name passes.
		sbomLayer, err := c.referrers[0].Layers()
		require.NoError(t, err)
		sbomDigest, err := sbomLayer[0].Digest()
		require.NoError(t, err)
		imgDigest, err := c.img.Digest()
		require.NoError(t, err)
		cfgDigest, err := c.img.ConfigName()
		require.NoError(t, err)
		for name, h := range map[string]v1.Hash{"the SBOM": sbomDigest, "the image manifest": imgDigest, "the image config": cfgDigest} {
			t.Run(name, func(t *testing.T) {
				dir := c.write(t)
				blob := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
				data, err := os.ReadFile(blob)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(blob, append(data, ' '), 0o644))
				_, err = Layout(ctx, dir, c.key.Key, WithCommit(commit))
				assert.Equal(t, []Check{CheckDigest}, fails(t, err), "%v", err)
				assert.ErrorContains(t, err, h.Hex[:12])
			})
		}
	})
	t.Run("no layout", func(t *testing.T) {
		_, err := Layout(ctx, t.TempDir(), c.key.Key)
		var f *Failure
		require.ErrorAs(t, err, &f)
		assert.Equal(t, CheckRead, f.Check)
	})
}

func TestBinary(t *testing.T) {
	key := fixture.Ed25519Key(t)
	s, err := attest.LoadSigner(string(key.Private), nil)
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "app_linux_amd64")
	require.NoError(t, os.WriteFile(bin, []byte("a binary"), 0o755))
	sum := sha256.Sum256([]byte("a binary"))
	st, err := attest.NewStatement(attest.PredicateSLSA, provenance(t, commit, ""), attest.Subject("app_linux_amd64", hex.EncodeToString(sum[:])))
	require.NoError(t, err)
	signed, err := attest.Sign(context.Background(), s, st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin+BundleSuffix, signed, 0o644))

	v, err := Binary(bin, key.Key, WithCommit(commit))
	require.NoError(t, err)
	assert.Equal(t, commit, v.Commit)

	check := func(err error) Check {
		var f *Failure
		require.ErrorAs(t, err, &f)
		return f.Check
	}
	_, err = Binary(bin, fixture.Ed25519Key(t).Key)
	assert.Equal(t, CheckSignature, check(err))
	_, err = Binary(bin, key.Key, WithCommit("ffff"))
	assert.Equal(t, CheckCommit, check(err))

	t.Run("its SBOM", func(t *testing.T) {
		bom := []byte(`{"bomFormat":"CycloneDX"}`)
		require.NoError(t, os.WriteFile(sbom.FileName(bin), bom, 0o644))
		sum := sha256.Sum256(bom)
		st, err := attest.NewStatement(attest.PredicateSLSA, provenance(t, commit, hex.EncodeToString(sum[:])), attest.Subject("app_linux_amd64", st.Subject[0].Digest["sha256"]))
		require.NoError(t, err)
		signed, err := attest.Sign(context.Background(), s, st)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(bin+BundleSuffix, signed, 0o644))
		v, err := Binary(bin, key.Key)
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(sum[:]), v.SBOM)

		require.NoError(t, os.WriteFile(sbom.FileName(bin), []byte(`{"bomFormat":"CycloneDX","components":[]}`), 0o644))
		_, err = Binary(bin, key.Key)
		assert.Equal(t, CheckSBOM, check(err), "an SBOM replaced beside the binary")
		require.NoError(t, os.Remove(sbom.FileName(bin)))
		_, err = Binary(bin, key.Key)
		assert.Equal(t, CheckSBOM, check(err), "the SBOM the provenance names is gone")
	})

	require.NoError(t, os.WriteFile(bin, []byte("another binary"), 0o755))
	_, err = Binary(bin, key.Key)
	assert.Equal(t, CheckSubject, check(err))
	require.NoError(t, os.Remove(bin+BundleSuffix))
	_, err = Binary(bin, key.Key)
	assert.Equal(t, CheckProvenance, check(err))
}

// withVEX is what publish attaches to an image whose binary has a VEX:
// good's SBOM and signatures, the VEX as a referrer, a provenance naming
// both, and the VEX signed as signedDoc (the same document, unless a
// test says otherwise) about subject ("": the image's digest).
func withVEX(t *testing.T, signedDoc []byte, subject string, attachVEX bool) *layoutCase {
	t.Helper()
	c := newCase(t)
	bom := []byte(`{"bomFormat":"CycloneDX"}`)
	doc := []byte("{\n  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n  \"statements\": []\n}\n")
	if signedDoc == nil {
		signedDoc = doc
	}
	sbomRef, err := image.Referrer(c.img, image.Attachment{ArtifactType: sbom.MediaType, Data: bom})
	require.NoError(t, err)
	c.referrers = append(c.referrers, sbomRef)
	if attachVEX {
		vexRef, err := image.Referrer(c.img, image.Attachment{ArtifactType: vulncheck.MediaType, Data: doc})
		require.NoError(t, err)
		c.referrers = append(c.referrers, vexRef)
	}
	d, err := c.img.Digest()
	require.NoError(t, err)
	hash := func(b []byte) map[string]string {
		sum := sha256.Sum256(b)
		return attest.DigestSet(hex.EncodeToString(sum[:]))
	}
	b := attest.Build{BuildType: attest.BuildTypePrefix + "image/v1", BuilderID: "local", Source: attest.Source{Commit: commit},
		Byproducts: []attest.ResourceDescriptor{{Name: attest.ByproductSBOM, Digest: hash(bom)}, {Name: attest.ByproductVEX, Digest: hash(doc)}}}
	prov, err := b.Predicate()
	require.NoError(t, err)
	c.attach(t, c.key, c.img, d.String(), map[string]any{
		attest.PredicateSign: nil, attest.PredicateSLSA: prov, attest.PredicateCycloneDX: json.RawMessage(bom),
	})
	if subject == "" {
		subject = d.String()
	}
	c.attach(t, c.key, c.img, subject, map[string]any{attest.PredicateOpenVEX: json.RawMessage(signedDoc)})
	c.attachIndex(t, map[string]any{attest.PredicateSign: nil, attest.PredicateSLSA: provenance(t, commit, "")})
	return c
}

func TestLayoutVEX(t *testing.T) {
	ctx := context.Background()
	c := withVEX(t, nil, "", true)
	vs, err := Layout(ctx, c.write(t), c.key.Key, WithCommit(commit))
	require.NoError(t, err)
	require.Len(t, vs, 2)
	assert.NotEmpty(t, vs[1].VEX)
	assert.Contains(t, vs[1].String(), "VEX sha256:"+vs[1].VEX[:12])

	for _, tc := range []struct {
		name string
		c    func(t *testing.T) *layoutCase
		want Check
	}{
		{"the signed VEX is another document", func(t *testing.T) *layoutCase {
			return withVEX(t, []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"status":"affected"}]}`), "", true)
		}, CheckVEX},
		{"the VEX the provenance names is not attached", func(t *testing.T) *layoutCase { return withVEX(t, nil, "", false) }, CheckVEX},
		{"the signed VEX is about another digest", func(t *testing.T) *layoutCase {
			return withVEX(t, nil, "sha256:"+hex.EncodeToString(make([]byte, 32)), true)
		}, CheckSubject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c(t)
			_, err := Layout(ctx, c.write(t), c.key.Key)
			var f *Failure
			require.ErrorAs(t, err, &f)
			assert.Equal(t, tc.want, f.Check, "%v", err)
		})
	}
}

func TestInterruptedIsNotAVerdict(t *testing.T) {
	// Ctrl-C while reading is an interrupted run, not a failed check:
	// the failure wraps the context's error so the caller can tell.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	key := fixture.ECDSAKey(t).Key
	_, err := Image(ctx, "127.0.0.1:1/app@sha256:"+hex.EncodeToString(make([]byte, 32)), key)
	var f *Failure
	require.ErrorAs(t, err, &f)
	assert.Equal(t, CheckRead, f.Check)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestUnverified(t *testing.T) {
	ctx := context.Background()
	c := good(t)
	dir := c.write(t)

	vs, err := Layout(ctx, dir, nil, Unverified())
	require.NoError(t, err)
	require.Len(t, vs, 2)
	for _, v := range vs {
		assert.True(t, v.Unverified)
		assert.Equal(t, commit, v.Provenance.Commit(), "the provenance is returned")
		assert.Contains(t, v.String(), "unverified")
	}

	_, err = Layout(ctx, dir, nil)
	assert.ErrorContains(t, err, "no public key", "a key is needed unless asked to read unverified")

	// Without the signature a key would want, an unverified read still
	// finds the provenance; a verified one fails.
	bare := newCase(t)
	bare.attachIndex(t, map[string]any{attest.PredicateSLSA: provenance(t, commit, "")})
	d, err := bare.img.Digest()
	require.NoError(t, err)
	bare.attach(t, bare.key, bare.img, d.String(), map[string]any{attest.PredicateSLSA: provenance(t, commit, "")})
	bareDir := bare.write(t)
	vs, err = Layout(ctx, bareDir, nil, Unverified())
	require.NoError(t, err)
	assert.Equal(t, commit, vs[0].Provenance.Commit())
	_, err = Layout(ctx, bareDir, bare.key.Key)
	var f *Failure
	require.ErrorAs(t, err, &f)
	assert.Equal(t, CheckSignature, f.Check)
}
