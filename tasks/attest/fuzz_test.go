package attest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// FuzzOpen feeds Open bundles it did not make: it must return an error or
// a statement, never panic, and never accept a bundle the key did not
// sign.
func FuzzOpen(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	s, err := newSigner(key, "")
	if err != nil {
		f.Fatal(err)
	}
	st, err := NewStatement(PredicateSign, nil, Subject("", "sha256:"+hex.EncodeToString(make([]byte, 32))))
	if err != nil {
		f.Fatal(err)
	}
	signed, err := Sign(context.Background(), s, st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{}`))
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Open(data, &other.PublicKey); err == nil {
			t.Fatalf("a bundle the key did not sign was accepted: %q", data)
		}
		_, _ = Open(data, &key.PublicKey)
	})
}

// FuzzLoadSigner feeds the key reader PEM-ish input: an error or a
// signer, never a panic.
func FuzzLoadSigner(f *testing.F) {
	f.Add("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n", "")
	f.Add("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6OCwicCI6MX0sInNhbHQiOiIifSwiY2lwaGVyIjp7Im5hbWUiOiJuYWNsL3NlY3JldGJveCIsIm5vbmNlIjoiIn0sImNpcGhlcnRleHQiOiIifQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "pw")
	f.Add("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n", "")
	f.Fuzz(func(t *testing.T, pemText, password string) {
		if len(pemText) == 0 || pemText[0] != '-' {
			return // a path: not this fuzz target's business
		}
		_, _ = LoadSigner(pemText, []byte(password))
	})
}
