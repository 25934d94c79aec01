package attest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// In-toto and predicate type URIs.
const (
	// StatementType is an in-toto Statement v1's _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateSLSA is SLSA Provenance v1 (cosign's --type slsaprovenance1).
	PredicateSLSA = "https://slsa.dev/provenance/v1"
	// PredicateCycloneDX is a CycloneDX SBOM (cosign's --type cyclonedx).
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	// PredicateSign is what cosign v3's `sign` attests: "this digest is
	// signed", with an empty predicate.
	PredicateSign = "https://sigstore.dev/cosign/sign/v1"
)

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     json.RawMessage      `json:"predicate"`
}

// ResourceDescriptor is in-toto's ResourceDescriptor: a subject, a
// dependency or a byproduct.
type ResourceDescriptor struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	MediaType   string            `json:"mediaType,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Subject is the resource descriptor of an artifact named name with
// digest "sha256:<hex>" (an OCI digest) or a bare hex SHA-256.
func Subject(name, digest string) ResourceDescriptor {
	return ResourceDescriptor{Name: name, Digest: DigestSet(digest)}
}

// DigestSet turns "alg:hex" (or bare hex, taken as sha256) into an in-toto
// digest set.
func DigestSet(digest string) map[string]string {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		alg, hex = "sha256", digest
	}
	return map[string]string{alg: hex}
}

// NewStatement returns a statement of predicateType about subjects, with
// predicate marshalled as JSON (nil: an empty object).
func NewStatement(predicateType string, predicate any, subjects ...ResourceDescriptor) (Statement, error) {
	raw := json.RawMessage("{}")
	switch p := predicate.(type) {
	case nil:
	case json.RawMessage:
		raw = p
	default:
		b, err := marshal(predicate)
		if err != nil {
			return Statement{}, fmt.Errorf("statement %s: %w", predicateType, err)
		}
		raw = b
	}
	return Statement{Type: StatementType, Subject: subjects, PredicateType: predicateType, Predicate: raw}, nil
}

// Encode returns the statement's canonical bytes: the DSSE payload.
func (s Statement) Encode() ([]byte, error) {
	if len(s.Subject) == 0 {
		return nil, fmt.Errorf("statement %s has no subject", s.PredicateType)
	}
	return marshal(s)
}

// DecodeStatement reads a statement and checks its type.
func DecodeStatement(payload []byte) (Statement, error) {
	var s Statement
	if err := json.Unmarshal(payload, &s); err != nil {
		return s, fmt.Errorf("not an in-toto statement: %w", err)
	}
	if s.Type != StatementType {
		return s, fmt.Errorf("statement type %q is not %s", s.Type, StatementType)
	}
	return s, nil
}
