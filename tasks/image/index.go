package image

import (
	"errors"
	"fmt"
	"runtime"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// IndexOption configures Index.
type IndexOption func(*indexOptions)

type indexOptions struct {
	annotations map[string]string
}

// WithIndexAnnotations puts annotations on the index manifest itself (see
// Annotations for the OCI ones). They change the index digest only.
func WithIndexAnnotations(annotations map[string]string) IndexOption {
	return func(o *indexOptions) { o.annotations = annotations }
}

// Index returns an OCI image index of imgs, one manifest per image, each
// descriptor's platform (os, architecture, variant) taken from the image's
// config, ordered by platform string so the same images give the same
// index digest whatever order they come in; WithIndexAnnotations adds
// annotations to it. It fails on no images, an image whose config names
// no platform, or two images for one platform.
//
// The index names every image by its manifest digest, which needs the
// image's layers compressed: Index computes the images' manifests first,
// one image per CPU at a time, so a multi-platform publish compresses its
// platforms in parallel rather than one after another when the index is
// first used.
func Index(imgs []v1.Image, opts ...IndexOption) (v1.ImageIndex, error) {
	var o indexOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(imgs) == 0 {
		return nil, errors.New("image index of no images: build at least one image first")
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, img := range imgs {
		g.Go(func() error {
			if _, err := img.Digest(); err != nil {
				return fmt.Errorf("image index: image %d: manifest digest: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	type entry struct {
		key string
		img v1.Image
		p   v1.Platform
	}
	entries := make([]entry, 0, len(imgs))
	seen := map[string]bool{}
	for i, img := range imgs {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image index: image %d: read config: %w", i, err)
		}
		if cfg.OS == "" || cfg.Architecture == "" {
			return nil, fmt.Errorf("image index: image %d has no platform in its config: build it with OS and Arch set", i)
		}
		p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
		key := p.String()
		if seen[key] {
			return nil, fmt.Errorf("image index: two images for %s: build one image per platform", key)
		}
		seen[key] = true
		entries = append(entries, entry{key: key, img: img, p: p})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })

	adds := make([]mutate.IndexAddendum, 0, len(entries))
	for _, e := range entries {
		p := e.p
		adds = append(adds, mutate.IndexAddendum{
			Add:        e.img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if len(o.annotations) > 0 {
		idx = mutate.Annotations(idx, o.annotations).(v1.ImageIndex)
	}
	return idx, nil
}
