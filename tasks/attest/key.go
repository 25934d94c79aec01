// Package attest proves what was shipped: it loads signing and
// verification keys, writes in-toto statements (SLSA provenance, signed
// SBOMs, signatures of a digest), signs them as DSSE envelopes and wraps
// them in the Sigstore bundle format (v0.3) that cosign v3 reads. It uses
// the standard library's crypto and encoding/json only, so a magefile
// compiles none of sigstore's libraries; tests read everything back through
// the official ones.
package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// KeyProblem says what is wrong with a key.
type KeyProblem int

// What a KeyError can be.
const (
	// KeyMissing is a path that names no readable file.
	KeyMissing KeyProblem = iota + 1
	// KeyMalformed is content that is not a PEM key.
	KeyMalformed
	// KeyNoPassword is an encrypted cosign key given without a password.
	KeyNoPassword
	// KeyWrongPassword is an encrypted cosign key the password does not open.
	KeyWrongPassword
	// KeyPublic is a public key where a private one is needed.
	KeyPublic
	// KeyPrivate is a private key where a public one is needed.
	KeyPrivate
	// KeyUnsupported is a key of a type or curve magepack does not sign
	// with (RSA, ECDSA P-384, …).
	KeyUnsupported
)

// KeyError is a key that cannot be used. Its message names where the key
// came from (a path, or "the PEM given inline") and never its content.
type KeyError struct {
	// Source is the file path, or "" for PEM given inline and for a value
	// that names no file and may be key material (not shown).
	Source string
	// Public is a public key's error (a verify key), not a signing key's.
	Public bool
	// hidden is a value that names no file and is not shown: it may be
	// key material in another encoding (base64, or PEM without armour).
	hidden bool
	// Problem says what is wrong.
	Problem KeyProblem
	// Detail adds what was found, e.g. the key type.
	Detail string
	// Err is the underlying error, if any.
	Err error
}

func (e *KeyError) Error() string {
	src := "the PEM key given inline"
	switch {
	case e.hidden:
		src = "the key setting (its value is not shown: it may be key material)"
	case e.Source != "":
		src = "key file " + e.Source
	}
	switch e.Problem {
	case KeyMissing:
		kind := "private"
		if e.Public {
			kind = "public"
		}
		return fmt.Sprintf("%s names no readable file (%v): give the path of a PEM %s key, or the whole PEM itself, header and footer lines included", src, e.Err, kind)
	case KeyMalformed:
		return fmt.Sprintf("%s is not a PEM key (%s): give a PKCS#8 ECDSA P-256 or Ed25519 key, or one `cosign generate-key-pair` wrote", src, e.Detail)
	case KeyNoPassword:
		return fmt.Sprintf("%s is encrypted (cosign generate-key-pair) and no password was given: give its password", src)
	case KeyWrongPassword:
		return fmt.Sprintf("%s is encrypted (cosign generate-key-pair) and the password given does not open it: give the password it was made with", src)
	case KeyPublic:
		return fmt.Sprintf("%s is a public key; signing needs the private key (cosign.key, not cosign.pub)", src)
	case KeyPrivate:
		return fmt.Sprintf("%s is a private key; verifying needs only the public key (cosign.pub): never hand the private key to a verifier", src)
	case KeyUnsupported:
		return fmt.Sprintf("%s is %s, which magepack does not sign with: use ECDSA P-256 (cosign generate-key-pair, or openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256) or Ed25519", src, e.Detail)
	}
	return fmt.Sprintf("%s: %v", src, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// PEM block types of the keys magepack reads.
const (
	pemPrivate         = "PRIVATE KEY"
	pemECPrivate       = "EC PRIVATE KEY"
	pemPublic          = "PUBLIC KEY"
	pemCosignEncrypted = "ENCRYPTED COSIGN PRIVATE KEY"
	pemSigstoreEncrypt = "ENCRYPTED SIGSTORE PRIVATE KEY"
)

// readKey returns the PEM spec names: spec itself when it holds a PEM
// block (how CI secrets arrive), else the file at that path. source is ""
// for inline PEM. public says which kind of key the caller wants, for the
// error's fix.
func readKey(spec string, public bool) (data []byte, source string, err error) {
	if strings.Contains(spec, "-----BEGIN ") {
		return []byte(spec), "", nil
	}
	data, err = os.ReadFile(spec)
	if err != nil {
		// The path, which the value may not be, is never in the error.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		e := &KeyError{Source: spec, Public: public, Problem: KeyMissing, Err: err}
		if !showable(spec) {
			e.Source, e.hidden = "", true
		}
		return nil, e.Source, e
	}
	return data, spec, nil
}

// showable reports whether spec, a value that names no readable file, may
// be printed as a path: one line, and short or in a folder that exists
// (named: a long bare name is not shown). A
// key pasted in another encoding (base64 of the PEM or of its DER, or PEM
// without its armour) is none of these.
func showable(spec string) bool {
	if strings.ContainsAny(spec, "\r\n") {
		return false
	}
	if len(spec) <= 128 {
		return true
	}
	dir := filepath.Dir(spec)
	if dir == "." {
		return false
	}
	_, err := os.Stat(dir)
	return err == nil
}

// LoadSigner reads the private key spec names (a path, or the PEM itself)
// and returns a Signer for it. password opens an encrypted cosign key
// (nil: none given). It returns a *KeyError for a missing file, content
// that is not a key, a wrong or missing password, a public key, or a key
// type other than ECDSA P-256 and Ed25519.
func LoadSigner(spec string, password []byte) (Signer, error) {
	data, source, err := readKey(spec, false)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "no PEM block found"}
	}
	var key any
	switch block.Type {
	case pemPublic:
		return nil, &KeyError{Source: source, Problem: KeyPublic}
	case pemCosignEncrypted, pemSigstoreEncrypt:
		if password == nil {
			return nil, &KeyError{Source: source, Problem: KeyNoPassword}
		}
		der, err := decrypt(block.Bytes, password)
		if err != nil {
			return nil, &KeyError{Source: source, Problem: KeyWrongPassword, Err: err}
		}
		if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "the decrypted key is not PKCS#8", Err: err}
		}
	case pemPrivate:
		if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "a PRIVATE KEY block that is not PKCS#8", Err: err}
		}
	case pemECPrivate:
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "an EC PRIVATE KEY block that does not parse", Err: err}
		}
	default:
		return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: fmt.Sprintf("a %q PEM block", block.Type)}
	}
	return newSigner(key, source)
}

// newSigner wraps a parsed private key.
func newSigner(key any, source string) (Signer, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: "ECDSA on " + k.Curve.Params().Name}
		}
		return newKeySigner(k, k.Public())
	case ed25519.PrivateKey:
		return newKeySigner(k, k.Public())
	default:
		return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: fmt.Sprintf("a %s key", keyType(key))}
	}
}

func keyType(key any) string {
	s := fmt.Sprintf("%T", key)
	s = strings.TrimPrefix(s, "*")
	s, _, _ = strings.Cut(s, ".")
	return strings.ToUpper(s)
}

// LoadPublicKey reads the public key spec names (a path, or the PEM
// itself; cosign.pub works). It returns a *KeyError for a missing file,
// content that is not a key, a private key, or an unsupported type.
func LoadPublicKey(spec string) (crypto.PublicKey, error) {
	data, source, err := readKey(spec, true)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "no PEM block found"}
	}
	if block.Type != pemPublic {
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, &KeyError{Source: source, Problem: KeyPrivate}
		}
		return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: fmt.Sprintf("a %q PEM block", block.Type)}
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, &KeyError{Source: source, Problem: KeyMalformed, Detail: "a PUBLIC KEY block that does not parse", Err: err}
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: "ECDSA on " + k.Curve.Params().Name}
		}
	case ed25519.PublicKey:
	default:
		return nil, &KeyError{Source: source, Problem: KeyUnsupported, Detail: fmt.Sprintf("a %s key", keyType(pub))}
	}
	return pub, nil
}

// encryptedKey is the JSON inside an encrypted cosign key's PEM block
// (go-securesystemslib's encrypted format: scrypt, then nacl/secretbox).
type encryptedKey struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// decrypt opens an encrypted cosign key with password.
func decrypt(data, password []byte) ([]byte, error) {
	var k encryptedKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("not an encrypted cosign key: %w", err)
	}
	if k.KDF.Name != "scrypt" || k.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("unknown key encryption %s + %s: want scrypt + nacl/secretbox", k.KDF.Name, k.Cipher.Name)
	}
	// The parameters cosign and go-securesystemslib write (2^15 to 2^17,
	// r 8, p 1); anything else could be made to cost unbounded memory.
	p := k.KDF.Params
	if (p.N != 1<<15 && p.N != 1<<16 && p.N != 1<<17) || p.R != 8 || p.P != 1 {
		return nil, fmt.Errorf("unsupported scrypt parameters N=%d r=%d p=%d", p.N, p.R, p.P)
	}
	if len(k.Cipher.Nonce) != 24 {
		return nil, errors.New("the nonce is not 24 bytes")
	}
	key, err := scrypt.Key(password, k.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, err
	}
	var kb [32]byte
	var nb [24]byte
	copy(kb[:], key)
	copy(nb[:], k.Cipher.Nonce)
	out, ok := secretbox.Open(nil, k.Ciphertext, &nb, &kb)
	if !ok {
		return nil, errors.New("decryption failed")
	}
	return out, nil
}
