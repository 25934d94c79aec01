package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Split is an image Build made on a base, cut where the base ends: the
// base its manifest records, the layers under magepack's, and magepack's
// own (the service layer). Build's spec, with the binary and CA bundle
// read back from Added (ReadAdded), rebuilds the image on another base:
// that is how magepack rebases without compiling.
type Split struct {
	// Digest is the image's manifest digest ("sha256:…").
	Digest string
	// BaseName and BaseDigest are the base the manifest's annotations
	// record (org.opencontainers.image.base.name and .base.digest).
	BaseName, BaseDigest string
	// Base are the layers under magepack's, bottom first.
	Base []v1.Layer
	// Added are the layers Build added (history created_by CreatedBy),
	// bottom first.
	Added []v1.Layer
}

// NoBaseError is returned by SplitBase for an image with no base to swap:
// a scratch image, or one whose manifest does not record its base by
// name and digest.
type NoBaseError struct {
	// Digest is the image's manifest digest.
	Digest string
	// Why says what is missing.
	Why string
}

func (e *NoBaseError) Error() string {
	return fmt.Sprintf("image %s has no base to swap (%s): only an image published on a base (the alpine variant, whose manifest records %s and %s) can be rebased; publish a scratch image again instead",
		e.Digest, e.Why, AnnotationBaseName, AnnotationBaseDigest)
}

// BaseMismatchError is returned by Split.CheckBase when the image's layers
// under magepack's are not the layers of the base its manifest records:
// swapping that base would drop or keep the wrong layers.
type BaseMismatchError struct {
	// Digest is the image's manifest digest.
	Digest string
	// Recorded is the base the manifest names, "<name>@<digest>".
	Recorded string
	// Layer is the first layer (0 at the bottom) that differs; Want is
	// the recorded base's digest of it and Got the image's ("" for a
	// layer one side does not have).
	Layer     int
	Want, Got string
}

func (e *BaseMismatchError) Error() string {
	show := func(s string) string {
		if s == "" {
			return "nothing"
		}
		return s
	}
	return fmt.Sprintf("image %s records its base as %s, but its layer %d is %s where that base has %s: the image is not on the base it names, so rebasing it would keep or drop the wrong layers; publish it again from source",
		e.Digest, e.Recorded, e.Layer, show(e.Got), show(e.Want))
}

// SplitBase cuts img where its base ends. magepack's layers are the top
// layers whose history entry is created by CreatedBy (layers without a
// history entry count as the base's). It fails with a *NoBaseError when
// the manifest does not record the base's name and digest or no layer
// lies under magepack's (a scratch image), and with an error saying so
// when no layer is magepack's.
func SplitBase(img v1.Image) (Split, error) {
	d, err := img.Digest()
	if err != nil {
		return Split{}, fmt.Errorf("digest of the image: %w", err)
	}
	s := Split{Digest: d.String()}
	m, err := img.Manifest()
	if err != nil {
		return s, fmt.Errorf("image %s: manifest: %w", s.Digest, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return s, fmt.Errorf("image %s: config: %w", s.Digest, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return s, fmt.Errorf("image %s: layers: %w", s.Digest, err)
	}
	added := addedLayers(cfg.History, len(layers))
	if added == 0 {
		return s, fmt.Errorf("image %s has no layer magepack added (no history entry created by %q): rebase only images magepack published", s.Digest, CreatedBy)
	}
	s.Base, s.Added = layers[:len(layers)-added], layers[len(layers)-added:]
	s.BaseName, s.BaseDigest = m.Annotations[AnnotationBaseName], m.Annotations[AnnotationBaseDigest]
	switch {
	case len(s.Base) == 0:
		return s, &NoBaseError{Digest: s.Digest, Why: "every layer is magepack's: a scratch image"}
	case s.BaseName == "":
		return s, &NoBaseError{Digest: s.Digest, Why: "its manifest has no " + AnnotationBaseName}
	case s.BaseDigest == "":
		return s, &NoBaseError{Digest: s.Digest, Why: "its manifest has no " + AnnotationBaseDigest}
	}
	return s, nil
}

// addedLayers counts the top layers of an image of n layers whose history
// entries (empty-layer entries skipped) are Build's.
func addedLayers(history []v1.History, n int) int {
	count := 0
	for i := len(history) - 1; i >= 0 && count < n; i-- {
		h := history[i]
		if h.EmptyLayer {
			continue
		}
		if h.CreatedBy != CreatedBy {
			break
		}
		count++
	}
	return count
}

// Recorded is the reference of the base the image records:
// "<name>@<digest>" with the name's tag, if any, dropped.
func (s Split) Recorded() (name.Digest, error) {
	ref, err := name.ParseReference(s.BaseName)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image %s: recorded base %q is not a reference (%v)", s.Digest, s.BaseName, err)
	}
	d, err := name.NewDigest(ref.Context().String() + "@" + s.BaseDigest)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image %s: recorded base digest %q is not a digest (%v)", s.Digest, s.BaseDigest, err)
	}
	return d, nil
}

// CheckBase compares the image's layers under magepack's with base's,
// the base the image records: the same layers, in the same order, or a
// *BaseMismatchError naming the first that differs.
func (s Split) CheckBase(base v1.Image) error {
	want, err := base.Layers()
	if err != nil {
		return fmt.Errorf("layers of the recorded base %s: %w", s.BaseName, err)
	}
	mismatch := func(i int, w, g string) error {
		return &BaseMismatchError{Digest: s.Digest, Recorded: s.BaseName + "@" + s.BaseDigest, Layer: i, Want: w, Got: g}
	}
	for i := 0; i < max(len(want), len(s.Base)); i++ {
		var w, g string
		if i < len(want) {
			if w, err = layerDigest(want[i]); err != nil {
				return fmt.Errorf("recorded base %s: layer %d: %w", s.BaseName, i, err)
			}
		}
		if i < len(s.Base) {
			if g, err = layerDigest(s.Base[i]); err != nil {
				return fmt.Errorf("image %s: layer %d: %w", s.Digest, i, err)
			}
		}
		if w != g {
			return mismatch(i, w, g)
		}
	}
	return nil
}

func layerDigest(l v1.Layer) (string, error) {
	d, err := l.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// ReadAdded returns the regular files at paths (absolute) as magepack's
// layers hold them, keyed by path, the way ReadFiles reads an image; a
// path those layers do not hold is missing from the map.
func (s Split) ReadAdded(paths ...string) (map[string][]byte, error) {
	found, err := readLayerFiles(s.Added, paths...)
	if err != nil {
		return nil, fmt.Errorf("image %s: read magepack's layer: %w", s.Digest, err)
	}
	return found, nil
}

// RemoteImage fetches the image ref (a tag or a digest) from its
// registry; its layers are fetched when read. It fails with an
// *AuthError when the registry refuses the credentials, otherwise with an
// error naming ref.
func RemoteImage(ctx context.Context, ref string, opts ...Option) (v1.Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q is not a valid reference (%v): use e.g. registry.example.com/app@sha256:…", ref, err)
	}
	img, err := remote.Image(r, o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetch image %s: %w", ref, classify(r.Context().RegistryStr(), err))
	}
	return img, nil
}

// RemoteIndex fetches the image index ref (e.g.
// "ghcr.io/me/app:1.2.3-alpine") from its registry; its images are
// fetched when read. It fails with an *AuthError when the registry
// refuses the credentials, otherwise with an error naming ref.
func RemoteIndex(ctx context.Context, ref string, opts ...Option) (v1.ImageIndex, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", ref, err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image index %q is not a valid reference (%v): use e.g. registry.example.com/app:1.2.3-alpine", ref, err)
	}
	idx, err := remote.Index(r, o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetch image index %s: %w", ref, classify(r.Context().RegistryStr(), err))
	}
	return idx, nil
}

// PlatformImage returns idx's image for p (the rules RemoteBase picks a
// base's image by), or an error naming ref, p and the platforms idx has.
func PlatformImage(idx v1.ImageIndex, ref string, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", ref, err)
	}
	d, ok := pickPlatform(im.Manifests, p)
	if !ok {
		return nil, fmt.Errorf("image index %s has no %s image (it has %s)", ref, p.String(), strings.Join(availablePlatforms(im.Manifests), ", "))
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("image index %s: %s image: %w", ref, p.String(), err)
	}
	return img, nil
}
