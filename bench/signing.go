package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/sbom"
)

// signingSet is figure set 13: what signing costs. The bar is
// the in-process cost of signing one image as publish does (tasks/sign.go's
// attestImage): the SLSA provenance built from example-app's real build
// information and its predicate, then three statements (signature,
// provenance, the SBOM attestation with example-app's real CycloneDX SBOM),
// each signed into a Sigstore bundle with attest.Sign and made an OCI
// referrer of the image with image.Referrer, its manifest digested. Each
// image is one sample, with ECDSA P-256 and with Ed25519 keys read by
// attest.LoadSigner. Beside it, `publish` of example-app (scratch, two
// platforms; one in tiny mode) to dist/oci only (MAGEPACK_PUSH=never)
// with MAGEPACK_SIGN_KEY against without, by the magefile compiled once,
// nothing changed between runs (the builds are cache hits, so the
// difference is the signing, the binaries' provenance included, against
// the image work rather than against a compile).
var signingSet = figureSet{
	id: "13", name: "signing",
	run: (*harness).signing,
	targets: []target{
		limitBar("13", "signing one image in-process (signature + SLSA provenance + SBOM attestation, as publish makes them), ECDSA P-256", "13 sign image, ECDSA P-256", 50*time.Millisecond),
		limitBar("13", "the same, Ed25519", "13 sign image, Ed25519", 50*time.Millisecond),
	},
	extras: []target{
		ratioInfo("13", "publish with MAGEPACK_SIGN_KEY (ECDSA P-256) vs without, dist/oci only, nothing changed", "13 publish, signed", "13 publish, unsigned"),
	},
}

// signing measures publish with and without a key (alternating, h.n
// times each, after one unmeasured run of each), then the in-process
// signing of images from what that publish built.
func (h *harness) signing() error {
	if err := h.compileMagefile(); err != nil {
		return err
	}
	keys := map[string]string{}
	for _, k := range []struct{ name, file string }{{"ECDSA P-256", "ecdsa.pem"}, {"Ed25519", "ed25519.pem"}} {
		path := filepath.Join(h.work, "keys", k.file)
		if err := writeKey(path, k.name); err != nil {
			return err
		}
		keys[k.name] = path
	}
	plats := "linux/amd64,linux/arm64"
	if h.tiny {
		plats = "linux/amd64"
	}
	dist := filepath.Join(h.work, "signing-dist")
	env := []string{"MAGEPACK_VARIANTS=scratch", "MAGEPACK_PLATFORMS=" + plats, "MAGEPACK_PUSH=never", "MAGEPACK_DIST=" + dist, "MAGEPACK_IMAGE=registry.example/magepack/example-app"}
	steps := []struct {
		key, label string
		env        []string
	}{
		{"13 publish, unsigned", "publish, scratch, " + plats + ", MAGEPACK_PUSH=never, nothing changed, no key", []string{"-MAGEPACK_SIGN_KEY"}},
		{"13 publish, signed", "the same with MAGEPACK_SIGN_KEY (ECDSA P-256)", []string{"MAGEPACK_SIGN_KEY=" + keys["ECDSA P-256"]}},
	}
	for i := 0; i <= h.n; i++ {
		for _, s := range steps {
			c := cmd{dir: h.repo, env: append(append([]string(nil), env...), s.env...), name: h.mageBin, args: []string{"publish"}}
			if i == 0 {
				if _, _, err := h.run("prime "+s.key, c); err != nil {
					return err
				}
				continue
			}
			out, err := h.measure(s.key, s.label, c)
			if err != nil {
				return err
			}
			if signed := strings.Contains(out, "signed the index"); signed != strings.HasSuffix(s.key, ", signed") {
				return fmt.Errorf("%s: publish said %q of signing, want %v:\n%s", s.key, "signed the index", !signed, tail(out, 10))
			}
		}
	}

	in, err := newSignInput(filepath.Join(dist, "example-app_linux_amd64"))
	if err != nil {
		return err
	}
	images := 50
	if h.tiny {
		images = 20
	}
	for _, name := range []string{"ECDSA P-256", "Ed25519"} {
		s, err := attest.LoadSigner(keys[name], nil)
		if err != nil {
			return err
		}
		f := h.fig("13 sign image, "+name, fmt.Sprintf("in-process: provenance, signature, provenance and SBOM attestations of one image, as referrers (attest, image), %s key; one sample per image", name))
		for range images {
			d, err := signImage(h.ctx, s, in)
			if err != nil {
				return fmt.Errorf("sign with %s: %w", name, err)
			}
			f.samples = append(f.samples, d)
		}
		med, _, _, _ := f.stats()
		h.progress("%-34s %7.2fms  median of %d images", f.key, ms(med), images)
	}
	return nil
}

// writeKey writes a new PKCS#8 private key of the named type to path.
func writeKey(path, name string) error {
	var key any
	var err error
	switch name {
	case "ECDSA P-256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "Ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return fmt.Errorf("no key type %q", name)
	}
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// signInput is what publish has in hand when it signs an image: the
// image, its binary's build information and its SBOM.
type signInput struct {
	img    v1.Image
	digest v1.Hash
	info   *debug.BuildInfo
	bom    []byte
}

// newSignInput reads the binary at bin and makes its SBOM; the image is a
// small random one (only its digest is signed).
func newSignInput(bin string) (signInput, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return signInput{}, err
	}
	bom, err := sbom.Binary(bin, sbom.Options{})
	if err != nil {
		return signInput{}, err
	}
	data, err := sbom.Encode(bom)
	if err != nil {
		return signInput{}, err
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		return signInput{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return signInput{}, err
	}
	return signInput{img: img, digest: digest, info: info, bom: data}, nil
}

// signImage does what publish does to sign one image (tasks/sign.go
// attestImage and signReferrers) and returns how long it took.
func signImage(ctx context.Context, s attest.Signer, in signInput) (time.Duration, error) {
	created := time.Now().UTC().Format(time.RFC3339)
	start := time.Now()
	b := attest.Build{
		BuildType: attest.BuildTypePrefix + "image/v1",
		External:  map[string]any{"service": "example-app", "main": "./example-app", "platform": "linux/amd64", "variant": "scratch", "tzdata": false},
		Source:    attest.Source{URL: "https://github.com/magepack/magepack", Commit: strings.Repeat("a", 40)},
	}
	b.FromBuildInfo(in.info)
	b.BuilderID, b.BuilderVersion = "https://github.com/magepack/magepack/builders/local", map[string]string{"magepack": "bench"}
	sum := sha256.Sum256(in.bom)
	b.Byproducts = []attest.ResourceDescriptor{{Name: attest.ByproductSBOM, MediaType: sbom.MediaType, Digest: attest.DigestSet(hex.EncodeToString(sum[:]))}}
	pred, err := b.Predicate()
	if err != nil {
		return 0, err
	}
	subject := attest.Subject("registry.example/magepack/example-app", in.digest.String())
	for _, p := range []struct {
		typ  string
		body any
	}{{attest.PredicateSign, nil}, {attest.PredicateSLSA, pred}, {attest.PredicateCycloneDX, json.RawMessage(in.bom)}} {
		st, err := attest.NewStatement(p.typ, p.body, subject)
		if err != nil {
			return 0, err
		}
		signed, err := attest.Sign(ctx, s, st)
		if err != nil {
			return 0, err
		}
		ref, err := image.Referrer(in.img, image.Attachment{ArtifactType: attest.BundleMediaType, Data: signed, Annotations: attest.Annotations(st, created)})
		if err != nil {
			return 0, err
		}
		if _, err := ref.Digest(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
