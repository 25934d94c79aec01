// Package verify checks what magepack's attest package signed: that an
// image (in a registry or an OCI layout) or a binary carries a signature
// and a SLSA provenance signed by a given key, that every signed statement
// names the digest it is attached to, that the SBOM (and the OpenVEX
// document) the provenance names is the one attached, and that the
// provenance names the expected commit.
package verify

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// Check names one of the checks an artifact must pass.
type Check string

// The checks, in the order they run.
const (
	// CheckRead is reading the artifact and what is attached to it.
	CheckRead Check = "read"
	// CheckDigest is every blob read matching the digest it is named by
	// (an OCI layout's files are named by digest, never checked by it).
	CheckDigest Check = "digest"
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
	// CheckVEX is the OpenVEX document the provenance names being
	// attached, and signed by the key as a VEX attestation.
	CheckVEX Check = "vex"
)

// Failure is an artifact that failed a check.
type Failure struct {
	// Artifact names it: "repo@sha256:…", a layout path and tag, or a binary.
	Artifact string
	// Check is the check that failed.
	Check Check
	// Detail says what was found.
	Detail string
	// Err is the error behind a failed read, if any (a cancelled context
	// among them: an interrupted run, not a verdict).
	Err error
}

func (f *Failure) Error() string {
	return fmt.Sprintf("verify %s: %s check failed: %s", f.Artifact, f.Check, f.Detail)
}

func (f *Failure) Unwrap() error { return f.Err }

// failure is a *Failure of artifact at check c, its detail formatted as
// fmt.Errorf does (%w keeps the error behind it).
func failure(artifact string, c Check, format string, args ...any) *Failure {
	err := fmt.Errorf(format, args...)
	f := &Failure{Artifact: artifact, Check: c, Detail: err.Error()}
	if errors.Unwrap(err) != nil {
		f.Err = err
	}
	return f
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
	// VEX is the digest of the OpenVEX document its provenance names
	// ("" for none).
	VEX string
	// Foreign counts the bundles attached that the key did not sign
	// (others' signatures, kept and ignored).
	Foreign int
	// Provenance is the SLSA provenance that passed.
	Provenance attest.Provenance
	// Unverified is a verdict read without a key (Unverified): no
	// signature was checked.
	Unverified bool
}

func (v Verdict) String() string {
	s := "verified: signature, provenance of commit " + short(v.Commit)
	if v.Unverified {
		s = "read without a key (unverified): provenance of commit " + short(v.Commit)
	}
	if v.SBOM != "" {
		s += ", SBOM sha256:" + short(v.SBOM)
	}
	if v.VEX != "" {
		s += ", VEX sha256:" + short(v.VEX)
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
	key        crypto.PublicKey
	unverified bool
	commit     string
	keychain   authn.Keychain
	transport  http.RoundTripper
}

// Option configures a verification.
type Option func(*options)

// WithCommit requires every provenance to name commit (a full hash).
func WithCommit(commit string) Option { return func(o *options) { o.commit = commit } }

// WithKeychain sets the registry credentials (default: the Docker
// config, as `docker login` leaves it).
func WithKeychain(kc authn.Keychain) Option { return func(o *options) { o.keychain = kc } }

// Unverified reads what is attached without a key: no signature is
// checked (every bundle counts as the key's), every other check runs,
// and each Verdict says it is unverified. The key argument may be nil.
func Unverified() Option { return func(o *options) { o.unverified = true } }

// WithTransport sets the HTTP transport for registries.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

func makeOptions(key crypto.PublicKey, opts []Option) (*options, error) {
	o := &options{key: key, keychain: authn.DefaultKeychain}
	for _, opt := range opts {
		opt(o)
	}
	if key == nil && !o.unverified {
		return nil, errors.New("verify: no public key")
	}
	return o, nil
}

// open reads a bundle's statement: checked against the key, or, for an
// unverified read, as it is.
func (o *options) open(data []byte) (attest.Statement, error) {
	if o.unverified {
		return attest.OpenUnverified(data)
	}
	return attest.Open(data, o.key)
}

// store is where manifests and the artifacts that refer to them are read.
type store interface {
	// intact checks that the manifest d and, for an image, its config and
	// layers match their digests; a *DigestError when one does not.
	intact(ctx context.Context, d v1.Hash) error
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error)
	// artifact reads the one-layer artifact manifest d.
	artifact(ctx context.Context, d v1.Hash) (*v1.Manifest, []byte, error)
}

// DigestError is a blob whose content does not match the digest that
// names it: it was changed after it was written.
type DigestError struct {
	// What names the blob: "manifest", "config", "layer".
	What string
	// Want is the digest it is named by, Got the one of its content.
	Want, Got v1.Hash
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("the %s named %s holds content of digest %s: it was changed after it was written", e.What, e.Want, e.Got)
}

// readCheck is the content of a blob named by want, read from rc (which
// it closes); a *DigestError when it does not hash to want.
func readCheck(what string, want v1.Hash, rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	got, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, &DigestError{What: what, Want: want, Got: got}
	}
	return data, nil
}

// readFailure is the check a failure to read an artifact fails: digest
// for content that does not match its digest, read otherwise.
func readFailure(err error) Check {
	var de *DigestError
	if errors.As(err, &de) {
		return CheckDigest
	}
	return CheckRead
}

// manifest checks the image or index with digest d, named artifact.
func manifest(ctx context.Context, s store, o *options, artifact string, d v1.Hash) (Verdict, error) {
	v := Verdict{Artifact: artifact, Unverified: o.unverified}
	fail := func(c Check, format string, args ...any) (Verdict, error) {
		return v, failure(artifact, c, format, args...)
	}
	if err := s.intact(ctx, d); err != nil {
		return fail(readFailure(err), "%w", err)
	}
	refs, err := s.referrers(ctx, d)
	if err != nil {
		return fail(CheckRead, "list its referrers: %w", err)
	}
	var signed bool
	var provs []attest.Provenance
	sboms := map[string]bool{}      // layer digest hex of each SBOM attached
	vexes := map[string][]byte{}    // layer digest hex of each VEX attached: its bytes
	var signedVEX []json.RawMessage // the VEX attestations' predicates
	for _, desc := range refs {
		switch desc.ArtifactType {
		case attest.BundleMediaType, sbom.MediaType, vulncheck.MediaType:
		default:
			continue
		}
		m, data, err := s.artifact(ctx, desc.Digest)
		if err != nil {
			return fail(readFailure(err), "read referrer %s: %w", desc.Digest, err)
		}
		switch desc.ArtifactType {
		case sbom.MediaType:
			sboms[m.Layers[0].Digest.Hex] = true
			continue
		case vulncheck.MediaType:
			vexes[m.Layers[0].Digest.Hex] = data
			continue
		}
		st, err := o.open(data)
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
		case attest.PredicateOpenVEX:
			signedVEX = append(signedVEX, st.Predicate)
		}
	}
	if !signed && !o.unverified {
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
		v.Commit, v.SBOM, v.VEX = prov.Commit(), prov.SBOMDigest(), prov.VEXDigest()
		var err error
		switch {
		case o.commit != "" && v.Commit != o.commit:
			err = failure(artifact, CheckCommit, "the provenance names commit %q, want %s", v.Commit, o.commit)
		case v.SBOM != "" && !sboms[v.SBOM]:
			err = failure(artifact, CheckSBOM, "the provenance names SBOM sha256:%s, but the SBOM(s) attached are %s", v.SBOM, keys(sboms))
		case v.VEX != "":
			err = checkVEX(artifact, v.VEX, vexes, signedVEX)
		}
		if err == nil {
			v.Provenance = prov
			return v, nil
		}
		if first == nil {
			first = err
		}
	}
	return v, first
}

// checkVEX checks that the VEX the provenance names (digest hex want) is
// attached and that a VEX attestation the key signed holds it (compared
// as compact JSON: a statement's predicate is re-encoded). Others the key
// signed may be attached beside it: an image re-published with a newer
// VEX keeps the old one.
func checkVEX(artifact, want string, attached map[string][]byte, signed []json.RawMessage) error {
	doc, ok := attached[want]
	if !ok {
		return failure(artifact, CheckVEX, "the provenance names VEX sha256:%s, but the VEX document(s) attached are %s", want, keys(attached))
	}
	var plain bytes.Buffer
	if err := json.Compact(&plain, doc); err != nil {
		return failure(artifact, CheckVEX, "the VEX sha256:%s attached is not JSON: %v", want, err)
	}
	for _, pred := range signed {
		var got bytes.Buffer
		if json.Compact(&got, pred) == nil && bytes.Equal(got.Bytes(), plain.Bytes()) {
			return nil
		}
	}
	return failure(artifact, CheckVEX, "none of the %d VEX attestation(s) signed by the key holds the VEX sha256:%s the provenance names", len(signed), want)
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

func keys[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	var out []string
	for k := range m {
		out = append(out, "sha256:"+k)
	}
	return fmt.Sprint(out)
}
