package attest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
)

// dsseVerifier is go-securesystemslib's dsse.Verifier for a public key,
// by this package's verifySig (ECDSA P-256 SHA-256, pure Ed25519), the
// algorithms cosign's default verifiers use.
type dsseVerifier struct{ pub crypto.PublicKey }

func (v dsseVerifier) Verify(_ context.Context, data, sig []byte) error {
	return verifySig(v.pub, data, sig)
}
func (v dsseVerifier) KeyID() (string, error)   { return "", nil }
func (v dsseVerifier) Public() crypto.PublicKey { return v.pub }

func testBuild() Build {
	return Build{
		BuildType: BuildTypePrefix + "publish/v1",
		External:  map[string]any{"platform": "linux/amd64", "variant": "scratch", "cgo": "0", "version": "1.2.3"},
		Internal:  map[string]any{"GOAMD64": "v1"},
		Source:    Source{URL: "https://github.com/acme/app", Commit: "0123456789abcdef0123456789abcdef01234567"},
		Toolchain: "go1.26.8",
		Base:      &ResourceDescriptor{URI: "oci://magepack-test/alpine:3", Digest: DigestSet("sha256:" + hex.EncodeToString(make([]byte, 32)))},
		Modules: []Module{
			{Path: "golang.org/x/sync", Version: "v0.22.0", Sum: "h1:47cDapZdjRGBa5xLNHZ3lMPnnWsR5XyE0Z0I/XRXHQk="},
			{Path: "example.com/nosum", Version: "v1.0.0"},
		},
		Byproducts:     []ResourceDescriptor{{Name: ByproductSBOM, MediaType: "application/vnd.cyclonedx+json", Digest: DigestSet(hex.EncodeToString(make([]byte, 32)))}},
		BuilderID:      "https://github.com/magepack/magepack/builders/local",
		BuilderVersion: map[string]string{"magepack": "v0.1.0"},
	}
}

// readBack parses a bundle with the official libraries: protobuf-specs'
// Bundle by protojson, go-securesystemslib's DSSE verifier, in-toto's
// Statement. It returns the statement and checks what they check.
func readBack(t *testing.T, data []byte, pub crypto.PublicKey) *intoto.Statement {
	t.Helper()
	var b protobundle.Bundle
	require.NoError(t, protojson.Unmarshal(data, &b), "protobuf-specs reads the bundle")
	assert.Equal(t, BundleMediaType, b.GetMediaType())
	hint, err := Hint(pub)
	require.NoError(t, err)
	assert.Equal(t, hint, b.GetVerificationMaterial().GetPublicKey().GetHint())
	env := b.GetDsseEnvelope()
	require.NotNil(t, env)
	require.Len(t, env.GetSignatures(), 1)

	// The envelope as DSSE's reference library reads and verifies it.
	var raw struct {
		DSSE dsse.Envelope `json:"dsseEnvelope"`
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	ev, err := dsse.NewEnvelopeVerifier(dsseVerifier{pub})
	require.NoError(t, err)
	_, err = ev.Verify(context.Background(), &raw.DSSE)
	require.NoError(t, err, "go-securesystemslib's dsse verifies the envelope")
	payload, err := raw.DSSE.DecodeB64Payload()
	require.NoError(t, err)
	assert.Equal(t, env.GetPayload(), payload)

	var st intoto.Statement
	require.NoError(t, protojson.Unmarshal(payload, &st), "in-toto reads the statement")
	require.NoError(t, st.Validate())
	return &st
}

func TestSignReadBackByOfficialLibraries(t *testing.T) {
	for name, key := range map[string]crypto.Signer{"ECDSA P-256": newECDSA(t), "Ed25519": newEd25519(t)} {
		t.Run(name, func(t *testing.T) {
			s, err := newSigner(key, "")
			require.NoError(t, err)
			imageDigest := "sha256:" + hex.EncodeToString(make([]byte, 32))
			pred, err := testBuild().Predicate()
			require.NoError(t, err)
			st, err := NewStatement(PredicateSLSA, pred, Subject("127.0.0.1:5000/app", imageDigest))
			require.NoError(t, err)
			signed, err := Sign(context.Background(), s, st)
			require.NoError(t, err)

			got := readBack(t, signed, key.Public())
			assert.Equal(t, PredicateSLSA, got.GetPredicateType())
			require.Len(t, got.GetSubject(), 1)
			assert.Equal(t, map[string]string{"sha256": imageDigest[len("sha256:"):]}, got.GetSubject()[0].GetDigest())

			predJSON, err := protojson.Marshal(got.GetPredicate())
			require.NoError(t, err)
			var prov slsa.Provenance
			require.NoError(t, protojson.Unmarshal(predJSON, &prov), "in-toto's SLSA v1 type reads the predicate")
			require.NoError(t, prov.Validate())
			bd := prov.GetBuildDefinition()
			assert.Equal(t, BuildTypePrefix+"publish/v1", bd.GetBuildType())
			assert.Equal(t, "linux/amd64", bd.GetExternalParameters().GetFields()["platform"].GetStringValue())
			deps := bd.GetResolvedDependencies()
			require.Len(t, deps, 5)
			assert.Equal(t, "git+https://github.com/acme/app", deps[0].GetUri())
			assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", deps[0].GetDigest()["gitCommit"])
			assert.Equal(t, "https://go.dev/dl/go1.26.8", deps[1].GetUri())
			assert.Equal(t, DependencyBase, deps[2].GetName())
			assert.Equal(t, "pkg:golang/golang.org/x/sync@v0.22.0", deps[3].GetUri())
			assert.Equal(t, "h1:47cDapZdjRGBa5xLNHZ3lMPnnWsR5XyE0Z0I/XRXHQk=", deps[3].GetAnnotations().GetFields()["go.sum"].GetStringValue())
			assert.Len(t, deps[3].GetDigest()["dirHash"], 64)
			assert.Equal(t, "https://github.com/magepack/magepack/builders/local", prov.GetRunDetails().GetBuilder().GetId())
			assert.Nil(t, prov.GetRunDetails().GetMetadata().GetStartedOn(), "no wall clock")

			// And this package reads its own bundle back.
			st2, err := Open(signed, key.Public())
			require.NoError(t, err)
			p2, err := ReadProvenance(st2)
			require.NoError(t, err)
			assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", p2.Commit())
			assert.Equal(t, hex.EncodeToString(make([]byte, 32)), p2.SBOMDigest())
		})
	}
}

func TestStatementsAreReproducible(t *testing.T) {
	statement := func() []byte {
		pred, err := testBuild().Predicate()
		require.NoError(t, err)
		st, err := NewStatement(PredicateSLSA, pred, Subject("app", "sha256:"+hex.EncodeToString(make([]byte, 32))))
		require.NoError(t, err)
		b, err := st.Encode()
		require.NoError(t, err)
		return b
	}
	assert.Equal(t, statement(), statement())

	// Ed25519 signatures are deterministic, so its bundles are too;
	// ECDSA's are randomised.
	ed, err := newSigner(newEd25519(t), "")
	require.NoError(t, err)
	st, err := NewStatement(PredicateSign, nil, Subject("", "sha256:"+hex.EncodeToString(make([]byte, 32))))
	require.NoError(t, err)
	a, err := Sign(context.Background(), ed, st)
	require.NoError(t, err)
	b, err := Sign(context.Background(), ed, st)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestOpenRefusesTampering(t *testing.T) {
	key := newECDSA(t)
	s, err := newSigner(key, "")
	require.NoError(t, err)
	st, err := NewStatement(PredicateSign, nil, Subject("", "sha256:"+hex.EncodeToString(make([]byte, 32))))
	require.NoError(t, err)
	signed, err := Sign(context.Background(), s, st)
	require.NoError(t, err)

	_, err = Open(signed, &newECDSA(t).PublicKey)
	assert.ErrorIs(t, err, ErrBadSignature, "another key")
	_, err = Open(signed, newEd25519(t).Public())
	assert.ErrorIs(t, err, ErrBadSignature, "another key type")

	var b Bundle
	require.NoError(t, json.Unmarshal(signed, &b))
	other := sha256.Sum256([]byte("other"))
	st.Subject[0].Digest["sha256"] = hex.EncodeToString(other[:])
	forged, err := st.Encode()
	require.NoError(t, err)
	b.DSSEEnvelope.Payload = base64.StdEncoding.EncodeToString(forged)
	data, err := json.Marshal(b)
	require.NoError(t, err)
	_, err = Open(data, &key.PublicKey)
	assert.ErrorIs(t, err, ErrBadSignature, "a payload changed after signing")

	// Read without a key, the forged statement is what comes out: the
	// reader must say it is unverified.
	got, err := OpenUnverified(data)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(other[:]), got.Subject[0].Digest["sha256"])
	_, err = OpenUnverified([]byte(`{"mediaType":"other"}`))
	assert.ErrorContains(t, err, "bundle media type")
}

func TestOpenReadsURLSafeBase64(t *testing.T) {
	// DSSE allows either standard or URL-safe base64 for payload and sig.
	key := newECDSA(t)
	s, err := newSigner(key, "")
	require.NoError(t, err)
	st, err := NewStatement(PredicateSLSA, map[string]any{"buildDefinition": map[string]any{"buildType": "https://example.com/?x=~~~>>>"}}, Subject("app", "sha256:"+hex.EncodeToString(make([]byte, 32))))
	require.NoError(t, err)
	signed, err := Sign(context.Background(), s, st)
	require.NoError(t, err)
	var b Bundle
	require.NoError(t, json.Unmarshal(signed, &b))
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	require.NoError(t, err)
	urlSafe := base64.URLEncoding.EncodeToString(payload)
	require.NotEqual(t, b.DSSEEnvelope.Payload, urlSafe, "the payload's encodings must differ for this test to mean anything")
	b.DSSEEnvelope.Payload = urlSafe
	sig, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Signatures[0].Sig)
	require.NoError(t, err)
	b.DSSEEnvelope.Signatures[0].Sig = base64.URLEncoding.EncodeToString(sig)
	data, err := json.Marshal(b)
	require.NoError(t, err)
	got, err := Open(data, &key.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, st.Subject, got.Subject)
}
