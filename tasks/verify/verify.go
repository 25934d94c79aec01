// Package verify checks what magepack's attest package signed: that an
// image (in a registry or an OCI layout) or a binary carries a signature
// and a SLSA provenance signed by a given key, that every signed statement
// names the digest it is attached to, that the SBOM the provenance names
// is the one attached, and that the provenance names the expected commit.
package verify

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/sbom"
)

// Check names one of the checks an artifact must pass.
type Check string

// The checks, in the order they run.
const (
	// CheckRead is reading the artifact and what is attached to it.
	CheckRead Check = "read"
	// CheckSignature is a signature of the artifact's digest by the key.
	CheckSignature Check = "signature"
	// CheckProvenance is a SLSA provenance signed by the key.
	CheckProvenance Check = "provenance"
	// CheckSubject is every statement signed by the key naming the digest
	// it is attached to.
	CheckSubject Check = "subject"
	// CheckSBOM is the SBOM the provenance names being attached.
	CheckSBOM Check = "sbom"
	// CheckCommit is the provenance naming the expected commit.
	CheckCommit Check = "commit"
)

// Failure is an artifact that failed a check.
type Failure struct {
	// Artifact names it: "repo@sha256:…", a layout path and tag, or a binary.
	Artifact string
	// Check is the check that failed.
	Check Check
	// Detail says what was found.
	Detail string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("verify %s: %s check failed: %s", f.Artifact, f.Check, f.Detail)
}

// Verdict is one artifact that passed.
type Verdict struct {
	// Artifact names it (see Failure.Artifact).
	Artifact string
	// Platform is an image's platform ("" for an index or a binary).
	Platform string
	// Commit is the commit its provenance names.
	Commit string
	// SBOM is the digest of the SBOM its provenance names ("" for none).
	SBOM string
	// Foreign counts the bundles attached that the key did not sign
	// (others' signatures, kept and ignored).
	Foreign int
}

func (v Verdict) String() string {
	s := "verified: signature, provenance of commit " + short(v.Commit)
	if v.SBOM != "" {
		s += ", SBOM sha256:" + short(v.SBOM)
	}
	if v.Foreign > 0 {
		s += fmt.Sprintf(" (%d bundle(s) by other keys ignored)", v.Foreign)
	}
	return s
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// options are what every check takes.
type options struct {
	key       crypto.PublicKey
	commit    string
	keychain  authn.Keychain
	transport http.RoundTripper
}

// Option configures a verification.
type Option func(*options)

// WithCommit requires every provenance to name commit (a full hash).
func WithCommit(commit string) Option { return func(o *options) { o.commit = commit } }

// WithKeychain sets the registry credentials (default: the Docker
// config, as `docker login` leaves it).
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// WithTransport sets the HTTP transport for registries.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

func makeOptions(key crypto.PublicKey, opts []Option) (*options, error) {
	if key == nil {
		return nil, errors.New("verify: no public key")
	}
	o := &options{key: key, keychain: authn.DefaultKeychain}
	for _, opt := range opts {
		opt(o)
	}
	return o, nil
}

// attached is what a store knows of the artifacts that refer to a digest.
type store interface {
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error)
	// artifact reads the one-layer artifact manifest d.
	artifact(ctx context.Context, d v1.Hash) (*v1.Manifest, []byte, error)
}

// manifest checks the image or index with digest d, named artifact.
func manifest(ctx context.Context, s store, o *options, artifact string, d v1.Hash) (Verdict, error) {
	v := Verdict{Artifact: artifact}
	fail := func(c Check, format string, args ...any) (Verdict, error) {
		return v, &Failure{Artifact: artifact, Check: c, Detail: fmt.Sprintf(format, args...)}
	}
	refs, err := s.referrers(ctx, d)
	if err != nil {
		return fail(CheckRead, "list its referrers: %v", err)
	}
	var signed bool
	var provs []attest.Provenance
	sboms := map[string]bool{} // layer digest hex of each SBOM attached
	for _, desc := range refs {
		switch desc.ArtifactType {
		case attest.BundleMediaType, sbom.MediaType:
		default:
			continue
		}
		m, data, err := s.artifact(ctx, desc.Digest)
		if err != nil {
			return fail(CheckRead, "read referrer %s: %v", desc.Digest, err)
		}
		if desc.ArtifactType == sbom.MediaType {
			sboms[m.Layers[0].Digest.Hex] = true
			continue
		}
		st, err := attest.Open(data, o.key)
		if err != nil {
			// Another key's bundle, or one this package cannot read:
			// someone else's, kept and ignored, as cosign does.
			v.Foreign++
			continue
		}
		if !namesDigest(st, d) {
			return fail(CheckSubject, "a %s statement signed by the key is attached to %s but names %s: it was made for another artifact", st.PredicateType, d, subjects(st))
		}
		switch st.PredicateType {
		case attest.PredicateSign:
			signed = true
		case attest.PredicateSLSA:
			prov, err := attest.ReadProvenance(st)
			if err != nil {
				return fail(CheckProvenance, "%v", err)
			}
			provs = append(provs, prov)
		}
	}
	if !signed {
		return fail(CheckSignature, "no signature of %s by the key among %d referrer(s) (%d bundle(s) by other keys): the artifact was not signed with this key, or it was replaced after signing", d, len(refs), v.Foreign)
	}
	if len(provs) == 0 {
		return fail(CheckProvenance, "no SLSA provenance of %s signed by the key", d)
	}
	// One provenance that passes every check is enough (a key's holder
	// may attach more, as cosign attest does); else the first one's
	// failure is reported.
	var first error
	for _, prov := range provs {
		v.Commit, v.SBOM = prov.Commit(), prov.SBOMDigest()
		var err error
		switch {
		case o.commit != "" && v.Commit != o.commit:
			_, err = fail(CheckCommit, "the provenance names commit %q, want %s", v.Commit, o.commit)
		case v.SBOM != "" && !sboms[v.SBOM]:
			_, err = fail(CheckSBOM, "the provenance names SBOM sha256:%s, but the SBOM(s) attached are %s", v.SBOM, keys(sboms))
		}
		if err == nil {
			return v, nil
		}
		if first == nil {
			first = err
		}
	}
	return v, first
}

// namesDigest reports whether st's subjects include d.
func namesDigest(st attest.Statement, d v1.Hash) bool {
	for _, s := range st.Subject {
		if s.Digest[d.Algorithm] == d.Hex {
			return true
		}
	}
	return false
}

func subjects(st attest.Statement) string {
	var out []string
	for _, s := range st.Subject {
		for alg, h := range s.Digest {
			out = append(out, alg+":"+h)
		}
	}
	return fmt.Sprint(out)
}

func keys(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for k := range m {
		out = append(out, "sha256:"+k)
	}
	return fmt.Sprint(out)
}

// layerBytes reads an artifact's one layer.
func layerBytes(l v1.Layer) ([]byte, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
