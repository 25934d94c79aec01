package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// RefNameAnnotation is the OCI annotation that names a descriptor in an
// image layout's index.json (what `skopeo copy oci:DIR:TAG` selects).
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Named is one variant's multi-platform image index and the tags it goes
// by (e.g. "1.2.3-scratch", "scratch").
type Named struct {
	Variant string
	Index   v1.ImageIndex
	Tags    []string
	// Referrers are artifacts attached to the index's images (Referrer),
	// e.g. each platform image's SBOM; none is fine.
	Referrers []v1.Image
}

// WriteLayout writes an OCI image layout at dir holding every index in
// indexes. index.json gets one descriptor per (variant, tag), in the order
// given, each pointing at its variant's index and annotated with
// org.opencontainers.image.ref.name = tag; after them one descriptor per
// referrer (with its artifactType and no ref name, so tag lookups ignore
// it, while tools that follow subjects, like `oras discover --oci-layout`,
// find it); blobs are stored once.
//
// The layout is built in a temporary sibling directory and swapped in with
// renames, so readers see the old layout or the new one, and a failure
// leaves the previous layout at dir untouched. It fails on an empty list, a
// variant without tags or index, a tag used twice, or a filesystem error
// (naming the path).
func WriteLayout(dir string, indexes []Named) (err error) {
	if len(indexes) == 0 {
		return fmt.Errorf("write OCI layout %s: no image indexes: build at least one variant first", dir)
	}
	seen := map[string]string{}
	for _, n := range indexes {
		if n.Index == nil {
			return fmt.Errorf("write OCI layout %s: variant %q has no image index: build it first", dir, n.Variant)
		}
		if len(n.Tags) == 0 {
			return fmt.Errorf("write OCI layout %s: variant %q has no tags: give it at least one", dir, n.Variant)
		}
		for _, tag := range n.Tags {
			if tag == "" {
				return fmt.Errorf("write OCI layout %s: variant %q has an empty tag", dir, n.Variant)
			}
			if prev, ok := seen[tag]; ok {
				return fmt.Errorf("write OCI layout %s: tag %q is given to variants %q and %q: give each variant its own tags", dir, tag, prev, n.Variant)
			}
			seen[tag] = n.Variant
		}
	}

	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("write OCI layout %s: it exists and is not a directory: remove it or choose another path", dir)
	}
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}

	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	for _, n := range indexes {
		for _, tag := range n.Tags {
			if err := p.AppendIndex(n.Index, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag})); err != nil {
				return fmt.Errorf("write OCI layout %s: variant %q tag %q: %w", dir, n.Variant, tag, err)
			}
		}
	}
	for _, n := range indexes {
		for i, r := range n.Referrers {
			if r == nil {
				return fmt.Errorf("write OCI layout %s: variant %q: referrer %d is nil", dir, n.Variant, i)
			}
			if err := p.AppendImage(r); err != nil {
				return fmt.Errorf("write OCI layout %s: variant %q: referrer %d: %w", dir, n.Variant, i, err)
			}
		}
	}
	return swapDir(tmp, dir)
}

// swapDir replaces dir with the directory next, keeping dir as it was if
// the swap fails.
func swapDir(next, dir string) error {
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	trash, err := os.MkdirTemp(parent, "."+base+".old-")
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	// The previous layout moves into trash (os.Rename refuses to replace a
	// directory), the new one takes its place, and trash goes.
	old := filepath.Join(trash, base)
	moved := true
	if err := os.Rename(dir, old); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(trash)
			return fmt.Errorf("write OCI layout %s: move the previous layout aside: %w", dir, err)
		}
		moved = false
	}
	if err := os.Rename(next, dir); err != nil {
		if moved {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("write OCI layout %s: %w; the previous layout is kept at %s", dir, err, old)
			}
		}
		os.RemoveAll(trash)
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("write OCI layout %s: remove the previous layout at %s: %w", dir, trash, err)
	}
	return nil
}

// ReadLayout reads the OCI image layout at dir the way WriteLayout writes
// it: one Named per image index (Variant left empty), in the order of
// index.json, with every tag that names it and the referrers whose
// subject is the index or one of its images. Other descriptors are left
// out. A missing layout is an error wrapping fs.ErrNotExist.
func ReadLayout(dir string) ([]Named, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	var out []Named
	owner := map[v1.Hash]int{} // an index's or its images' digest -> its place in out
	var referrers []v1.Descriptor
	for _, d := range im.Manifests {
		tag := d.Annotations[RefNameAnnotation]
		switch {
		case tag != "" && d.MediaType.IsIndex():
			if i, ok := owner[d.Digest]; ok {
				out[i].Tags = append(out[i].Tags, tag)
				continue
			}
			idx, err := root.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("read OCI layout %s: tag %s: %w", dir, tag, err)
			}
			children, err := idx.IndexManifest()
			if err != nil {
				return nil, fmt.Errorf("read OCI layout %s: tag %s: %w", dir, tag, err)
			}
			owner[d.Digest] = len(out)
			for _, c := range children.Manifests {
				owner[c.Digest] = len(out)
			}
			out = append(out, Named{Index: idx, Tags: []string{tag}})
		case tag == "" && d.MediaType.IsImage():
			referrers = append(referrers, d)
		}
	}
	for _, d := range referrers {
		img, err := root.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("read OCI layout %s: referrer %s: %w", dir, d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("read OCI layout %s: referrer %s: %w", dir, d.Digest, err)
		}
		if m.Subject == nil {
			continue
		}
		if i, ok := owner[m.Subject.Digest]; ok {
			out[i].Referrers = append(out[i].Referrers, img)
		}
	}
	return out, nil
}
