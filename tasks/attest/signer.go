package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// Signer signs DSSE envelopes. A key pair is the one Signer today; keyless
// signing (a Fulcio certificate for a CI OIDC token) fits behind the same
// two methods, with the certificate as its Material.
type Signer interface {
	// Sign returns the signature of message (a DSSE pre-authentication
	// encoding), as the DSSE envelope carries it.
	Sign(ctx context.Context, message []byte) ([]byte, error)
	// Material is what a bundle carries so a verifier finds the key.
	Material() Material
}

// Material identifies the key a bundle was signed with.
type Material struct {
	// PublicKeyHint is the base64 SHA-256 of the public key's PKIX DER, as
	// cosign writes it into verificationMaterial.publicKey.hint.
	PublicKeyHint string
}

// keySigner signs with a private key: ECDSA P-256 (SHA-256, ASN.1 DER
// signature, randomised) or Ed25519 (pure, deterministic).
type keySigner struct {
	key  crypto.Signer
	hint string
}

func newKeySigner(key crypto.Signer, pub crypto.PublicKey) (*keySigner, error) {
	hint, err := Hint(pub)
	if err != nil {
		return nil, err
	}
	return &keySigner{key: key, hint: hint}, nil
}

func (s *keySigner) Sign(_ context.Context, message []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(message)
		return ecdsa.SignASN1(rand.Reader, k, sum[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, message), nil
	}
	return nil, fmt.Errorf("sign: unsupported key %T", s.key)
}

func (s *keySigner) Material() Material { return Material{PublicKeyHint: s.hint} }

// PublicKey returns the public half of a Signer made by LoadSigner, or nil
// for a Signer without one.
func PublicKey(s Signer) crypto.PublicKey {
	if k, ok := s.(*keySigner); ok {
		return k.key.Public()
	}
	return nil
}

// Hint is the key hint cosign writes for pub: the base64 SHA-256 of its
// PKIX DER encoding.
func Hint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key hint: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// ErrBadSignature is a signature that the key does not verify.
var ErrBadSignature = errors.New("the signature does not verify with the key")

// verifySig checks sig over message with pub.
func verifySig(pub crypto.PublicKey, message, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(message)
		if ecdsa.VerifyASN1(k, sum[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, message, sig) {
			return nil
		}
	default:
		return fmt.Errorf("unsupported public key %T", pub)
	}
	return ErrBadSignature
}
