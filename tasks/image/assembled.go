package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// assembled is the image Build returns: a base plus one added layer, with
// its final config. What an engine load reads (the config, its digest, the
// layers) is answered at once; everything that names the compressed layer
// (the manifest, the digest, the size) comes from the image
// go-containerregistry's mutate makes of the same parts, built on first
// use. mutate computes the manifest as soon as it computes the config, so
// asking it for the config alone would gzip the layer.
type assembled struct {
	base    v1.Image
	add     mutate.Addendum
	cfg     *v1.ConfigFile
	raw     []byte  // the config blob
	cfgName v1.Hash // its digest: the engine's image ID
	// annotations go into the manifest only; held here, not wrapped
	// around the image with mutate.Annotations, whose config answers
	// compute the manifest first (and so gzip the layer).
	annotations map[string]string

	once sync.Once
	full v1.Image
	err  error
}

var _ v1.Image = (*assembled)(nil)

func newAssembled(base v1.Image, add mutate.Addendum, cfg *v1.ConfigFile, annotations map[string]string) (*assembled, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	name, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &assembled{base: base, add: add, cfg: cfg, raw: raw, cfgName: name, annotations: annotations}, nil
}

// manifestImage is the mutate image of the same parts, annotated, made
// once. It refuses to serve a config other than the one the fast path
// reported, so an engine's image ID and a registry's config can never
// disagree.
func (a *assembled) manifestImage() (v1.Image, error) {
	a.once.Do(func() {
		img, err := mutate.Append(a.base, a.add)
		if err != nil {
			a.err = err
			return
		}
		if img, err = mutate.ConfigFile(img, a.cfg.DeepCopy()); err != nil {
			a.err = err
			return
		}
		raw, err := img.RawConfigFile()
		if err != nil {
			a.err = err
			return
		}
		if !bytes.Equal(raw, a.raw) {
			a.err = errors.New("the config go-containerregistry made differs from the one computed for the image ID; this is a bug in magepack")
			return
		}
		if len(a.annotations) > 0 {
			img = mutate.Annotations(img, a.annotations).(v1.Image)
		}
		a.full = img
	})
	return a.full, a.err
}

// RawConfigFile returns the config blob.
func (a *assembled) RawConfigFile() ([]byte, error) { return a.raw, nil }

// ConfigName returns the config blob's digest, the engine's image ID.
func (a *assembled) ConfigName() (v1.Hash, error) { return a.cfgName, nil }

// ConfigFile returns a copy of the config.
func (a *assembled) ConfigFile() (*v1.ConfigFile, error) { return a.cfg.DeepCopy(), nil }

// Layers returns the base's layers, then the added one.
func (a *assembled) Layers() ([]v1.Layer, error) {
	ls, err := a.base.Layers()
	if err != nil {
		return nil, err
	}
	return append(ls[:len(ls):len(ls)], a.add.Layer), nil
}

// LayerByDiffID returns the layer with uncompressed digest h.
func (a *assembled) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	if d, err := a.add.Layer.DiffID(); err == nil && d == h {
		return a.add.Layer, nil
	}
	return a.base.LayerByDiffID(h)
}

// MediaType is the manifest's media type: the base's, as mutate keeps it.
func (a *assembled) MediaType() (types.MediaType, error) { return a.base.MediaType() }

// Manifest returns the manifest (compressing the added layer first).
func (a *assembled) Manifest() (*v1.Manifest, error) {
	img, err := a.manifestImage()
	if err != nil {
		return nil, err
	}
	return img.Manifest()
}

// RawManifest returns the manifest's bytes (compressing the added layer first).
func (a *assembled) RawManifest() ([]byte, error) {
	img, err := a.manifestImage()
	if err != nil {
		return nil, err
	}
	return img.RawManifest()
}

// Digest returns the manifest's digest (compressing the added layer first).
func (a *assembled) Digest() (v1.Hash, error) {
	img, err := a.manifestImage()
	if err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// Size returns the manifest's size (compressing the added layer first).
func (a *assembled) Size() (int64, error) {
	img, err := a.manifestImage()
	if err != nil {
		return 0, err
	}
	return img.Size()
}

// LayerByDigest returns the layer with compressed digest h (compressing
// the added layer first).
func (a *assembled) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	img, err := a.manifestImage()
	if err != nil {
		return nil, err
	}
	return img.LayerByDigest(h)
}
