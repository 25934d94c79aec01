package attest

import (
	"context"
	"encoding/json"
	"fmt"
)

// Bundle media types and the OCI annotations cosign v3 puts on a bundle
// referrer.
const (
	// BundleMediaType is a Sigstore bundle v0.3: the referrer's
	// artifactType and its layer's media type.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// AnnotationContent says what the bundle holds ("dsse-envelope").
	AnnotationContent = "dev.sigstore.bundle.content"
	// AnnotationPredicateType is the predicate type of the statement in it.
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
)

// Bundle is a Sigstore bundle v0.3 holding a DSSE envelope, as cosign v3
// writes for a key: the key's hint as verification material, no
// transparency-log entry.
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *Envelope            `json:"dsseEnvelope,omitempty"`
}

// VerificationMaterial is a bundle's key (or, later, certificate).
type VerificationMaterial struct {
	PublicKey   *PublicKeyID `json:"publicKey,omitempty"`
	TlogEntries []any        `json:"tlogEntries,omitempty"`
}

// PublicKeyID names a key by its hint.
type PublicKeyID struct {
	Hint string `json:"hint"`
}

// Sign encodes st, signs it with s as a DSSE envelope and returns it
// wrapped in a bundle (JSON). Statements carry no time, so the same inputs
// give the same statement; the bundle bytes are the same too for Ed25519,
// not for ECDSA (its signatures are randomised).
func Sign(ctx context.Context, s Signer, st Statement) ([]byte, error) {
	payload, err := st.Encode()
	if err != nil {
		return nil, err
	}
	env, err := SignEnvelope(ctx, s, PayloadType, payload)
	if err != nil {
		return nil, err
	}
	b := Bundle{MediaType: BundleMediaType, DSSEEnvelope: &env}
	if hint := s.Material().PublicKeyHint; hint != "" {
		b.VerificationMaterial.PublicKey = &PublicKeyID{Hint: hint}
	}
	return marshal(b)
}

// Open reads a bundle, checks its envelope's signature with pub and
// returns the statement inside. It fails with ErrBadSignature (wrapped)
// when the key did not sign it.
func Open(data []byte, pub any) (Statement, error) {
	env, err := envelope(data)
	if err != nil {
		return Statement{}, err
	}
	payload, err := env.Open(pub)
	if err != nil {
		return Statement{}, err
	}
	return DecodeStatement(payload)
}

// OpenUnverified reads a bundle's statement without checking any
// signature: for a reader with no key, who must say that what it read is
// unverified.
func OpenUnverified(data []byte) (Statement, error) {
	env, err := envelope(data)
	if err != nil {
		return Statement{}, err
	}
	payload, err := decodeBase64(env.Payload)
	if err != nil {
		return Statement{}, fmt.Errorf("DSSE payload is not base64: %w", err)
	}
	return DecodeStatement(payload)
}

// envelope is the DSSE envelope of a Sigstore bundle of a statement.
func envelope(data []byte) (*Envelope, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("bundle media type %q is not %s", b.MediaType, BundleMediaType)
	}
	if b.DSSEEnvelope == nil {
		return nil, fmt.Errorf("bundle holds no DSSE envelope")
	}
	if b.DSSEEnvelope.PayloadType != PayloadType {
		return nil, fmt.Errorf("envelope payload type %q is not %s", b.DSSEEnvelope.PayloadType, PayloadType)
	}
	return b.DSSEEnvelope, nil
}

// Annotations are the OCI annotations of a bundle referrer holding st.
func Annotations(st Statement, created string) map[string]string {
	a := map[string]string{AnnotationContent: "dsse-envelope", AnnotationPredicateType: st.PredicateType}
	if created != "" {
		a["org.opencontainers.image.created"] = created
	}
	return a
}
