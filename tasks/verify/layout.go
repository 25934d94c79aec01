package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refName is the annotation that tags an index in an OCI layout.
const refName = "org.opencontainers.image.ref.name"

// layoutStore reads referrers from an OCI image layout: the manifests
// index.json lists whose subject is the digest.
type layoutStore struct {
	path    layout.Path
	index   v1.ImageIndex // index.json
	subject map[v1.Hash][]v1.Descriptor
}

func newLayoutStore(dir string) (*layoutStore, []v1.Descriptor, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	s := &layoutStore{path: p, index: idx, subject: map[v1.Hash][]v1.Descriptor{}}
	var tagged []v1.Descriptor
	for _, d := range m.Manifests {
		if d.Annotations[refName] != "" {
			tagged = append(tagged, d)
			continue
		}
		if !d.MediaType.IsImage() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		am, err := img.Manifest()
		if err != nil {
			return nil, nil, err
		}
		if am.Subject == nil {
			continue
		}
		d.ArtifactType = am.ArtifactType
		s.subject[am.Subject.Digest] = append(s.subject[am.Subject.Digest], d)
	}
	return s, tagged, nil
}

// intact reads the manifest d and, for an image, its config and layers,
// and checks each against its digest: a layout names blobs by digest but
// go-containerregistry reads them unchecked.
func (s *layoutStore) intact(_ context.Context, d v1.Hash) error {
	rc, err := s.path.Blob(d)
	if err != nil {
		return err
	}
	raw, err := readCheck("manifest", d, rc)
	if err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	if m.MediaType.IsIndex() || m.Config.Digest == (v1.Hash{}) {
		return nil // an index: its images are checked one by one
	}
	if err := s.hashes("config", m.Config.Digest); err != nil {
		return err
	}
	for _, l := range m.Layers {
		if err := s.hashes("layer", l.Digest); err != nil {
			return err
		}
	}
	return nil
}

// hashes checks that the blob named d hashes to d, without holding it.
func (s *layoutStore) hashes(what string, d v1.Hash) error {
	rc, err := s.path.Blob(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, _, err := v1.SHA256(rc)
	if err != nil {
		return err
	}
	if got != d {
		return &DigestError{What: what, Want: d, Got: got}
	}
	return nil
}

func (s *layoutStore) referrers(_ context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	return s.subject[d], nil
}

func (s *layoutStore) artifact(_ context.Context, d v1.Hash) (*v1.Manifest, []byte, error) {
	img, err := s.path.Image(d)
	if err != nil {
		return nil, nil, err
	}
	return readArtifact(img)
}

// Layout verifies every tagged index in the OCI image layout at dir (what
// publish writes to dist/oci) and each of its platform images, once per
// digest. It returns a Verdict for each that passed and the failures,
// joined; a layout with no tagged index fails the read check.
func Layout(ctx context.Context, dir string, key any, opts ...Option) ([]Verdict, error) {
	o, err := makeOptions(key, opts)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, failure(dir, CheckRead, "no OCI layout (%w): run publish first", err)
	}
	s, tagged, err := newLayoutStore(dir)
	if err != nil {
		return nil, failure(dir, CheckRead, "%w", err)
	}
	if len(tagged) == 0 {
		return nil, failure(dir, CheckRead, "no tagged image in the layout: run publish first")
	}
	// One tag per digest names it: the first, in index.json's order.
	tags := map[v1.Hash]string{}
	var order []v1.Hash
	for _, d := range tagged {
		if _, ok := tags[d.Digest]; !ok {
			tags[d.Digest] = d.Annotations[refName]
			order = append(order, d.Digest)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return tags[order[i]] < tags[order[j]] })
	var out []Verdict
	var errs []error
	for _, top := range order {
		var children []child
		ii, err := s.index.ImageIndex(top)
		if err == nil {
			children, err = platforms(ii)
		}
		if err != nil {
			errs = append(errs, failure(dir+":"+tags[top], CheckRead, "%w", err))
			continue
		}
		tag := tags[top]
		name := func(d v1.Hash) string { return fmt.Sprintf("%s:%s@%s", filepath.ToSlash(dir), tag, d) }
		v, failed := tree(ctx, s, o, name, top, children)
		out = append(out, v...)
		errs = append(errs, failed...)
	}
	return out, errors.Join(errs...)
}
