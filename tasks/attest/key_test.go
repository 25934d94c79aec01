package attest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pkcs8PEM returns key as a PKCS#8 "PRIVATE KEY" PEM block.
func pkcs8PEM(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// cosignPEM encrypts key the way `cosign generate-key-pair` does: PKCS#8,
// go-securesystemslib's encrypted format, an ENCRYPTED SIGSTORE PRIVATE
// KEY block.
func cosignPEM(t testing.TB, key any, password string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	enc, err := encrypted.Encrypt(der, []byte(password))
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc})
}

func publicPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der})
}

func newECDSA(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestLoadSigner(t *testing.T) {
	ec, ed := newECDSA(t), newEd25519(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecPEM := pkcs8PEM(t, ec)
	encPEM := cosignPEM(t, ec, "s3cret")

	tests := []struct {
		name     string
		spec     string
		password []byte
		want     any // the public key, or a KeyProblem
	}{
		{"ECDSA P-256 file", writeFile(t, "ec.key", ecPEM), nil, &ec.PublicKey},
		{"ECDSA P-256 inline PEM", string(ecPEM), nil, &ec.PublicKey},
		{"inline PEM with surrounding blanks", "\n  " + string(ecPEM) + "\n", nil, &ec.PublicKey},
		{"Ed25519", writeFile(t, "ed.key", pkcs8PEM(t, ed)), nil, ed.Public()},
		{"cosign encrypted, right password", writeFile(t, "cosign.key", encPEM), []byte("s3cret"), &ec.PublicKey},
		{"cosign encrypted inline", string(encPEM), []byte("s3cret"), &ec.PublicKey},
		{"cosign encrypted, wrong password", string(encPEM), []byte("guess"), KeyWrongPassword},
		{"cosign encrypted, no password", string(encPEM), nil, KeyNoPassword},
		{"missing file", filepath.Join(t.TempDir(), "nope.key"), nil, KeyMissing},
		{"public key", string(publicPEM(t, &ec.PublicKey)), nil, KeyPublic},
		{"RSA", string(pkcs8PEM(t, rsaKey)), nil, KeyUnsupported},
		{"ECDSA P-384", string(pkcs8PEM(t, p384)), nil, KeyUnsupported},
		{"not PEM", writeFile(t, "junk.key", []byte("hello")), nil, KeyMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSigner(tt.spec, tt.password)
			if problem, ok := tt.want.(KeyProblem); ok {
				var ke *KeyError
				require.ErrorAs(t, err, &ke)
				assert.Equal(t, problem, ke.Problem)
				assert.NotContains(t, err.Error(), "BEGIN", "a key error must never print the key")
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, PublicKey(s))
			hint, err := Hint(tt.want)
			require.NoError(t, err)
			assert.Equal(t, hint, s.Material().PublicKeyHint)
		})
	}
}

func TestKeyErrorNeverShowsKeyMaterial(t *testing.T) {
	// A secret stored base64-encoded (or with its newlines lost) is not a
	// PEM and names no file: the error must not echo it as a path.
	ec := newECDSA(t)
	pemKey := pkcs8PEM(t, ec)
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	for name, spec := range map[string]string{
		"base64 of the PEM":         base64.StdEncoding.EncodeToString(pemKey),
		"base64 of the DER":         base64.StdEncoding.EncodeToString(der),
		"multi-line, no PEM armour": "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\nabcdefghijklmnop\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSigner(spec, nil)
			var ke *KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, KeyMissing, ke.Problem)
			assert.NotContains(t, err.Error(), spec[:20], "the value is not shown")
			assert.Contains(t, err.Error(), "not shown")
		})
	}
	t.Run("a path is shown", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.key")
		_, err := LoadSigner(path, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "private key")
		_, err = LoadPublicKey(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "public key", "a verify key's fix asks for the public key")
		assert.NotContains(t, err.Error(), "private key")
	})
}

func TestLoadPublicKey(t *testing.T) {
	ec := newECDSA(t)
	pub, err := LoadPublicKey(writeFile(t, "cosign.pub", publicPEM(t, &ec.PublicKey)))
	require.NoError(t, err)
	assert.Equal(t, &ec.PublicKey, pub)

	_, err = LoadPublicKey(string(pkcs8PEM(t, ec)))
	var ke *KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, KeyPrivate, ke.Problem)
	assert.NotContains(t, err.Error(), "BEGIN")
}
