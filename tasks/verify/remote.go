package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// remoteStore reads referrers from a registry: its referrers API, or the
// tag-schema fallback (sha256-<hex>) where it has none.
type remoteStore struct {
	repo name.Repository
	opts func(context.Context) []remote.Option
	// read are the referrers referrers had to read for their artifact
	// type, so artifact does not fetch them again.
	read map[v1.Hash]v1.Image
}

// intact trusts the registry: it serves a manifest by its digest, and
// go-containerregistry checks every blob it reads from one.
func (remoteStore) intact(context.Context, v1.Hash) error { return nil }

func (s remoteStore) referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(s.repo.Digest(d.String()), s.opts(ctx)...)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for i, d := range m.Manifests {
		// Some registries (go-containerregistry's own) give the config's
		// media type where the manifest has an artifactType: read it.
		if d.ArtifactType != "" && d.ArtifactType != string(types.OCIEmptyJSON) {
			continue
		}
		img, err := remote.Image(s.repo.Digest(d.Digest.String()), s.opts(ctx)...)
		if err != nil {
			return nil, err
		}
		am, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		m.Manifests[i].ArtifactType = am.ArtifactType
		s.read[d.Digest] = img
	}
	return m.Manifests, nil
}

func (s remoteStore) artifact(ctx context.Context, d v1.Hash) (*v1.Manifest, []byte, error) {
	img, ok := s.read[d]
	if !ok {
		var err error
		if img, err = remote.Image(s.repo.Digest(d.String()), s.opts(ctx)...); err != nil {
			return nil, nil, err
		}
	}
	return readArtifact(img)
}

// readArtifact reads a one-layer artifact's manifest and layer.
func readArtifact(img v1.Image) (*v1.Manifest, []byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, err
	}
	if len(m.Layers) != 1 {
		return nil, nil, fmt.Errorf("an artifact with %d layers, want 1", len(m.Layers))
	}
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return nil, nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, nil, err
	}
	data, err := readCheck("layer", m.Layers[0].Digest, rc)
	return m, data, err
}

// Image verifies the image or index ref names in its registry (a tag or
// a digest): an index, then each of its platform images. It returns a
// Verdict for each that passed and, for the first check each other one
// failed, a *Failure, joined.
func Image(ctx context.Context, ref string, key any, opts ...Option) ([]Verdict, error) {
	o, err := makeOptions(key, opts)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, failure(ref, CheckRead, "not an image reference (%w): give repo:tag or repo@sha256:…", err)
	}
	ropts := func(ctx context.Context) []remote.Option {
		ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain)}
		if o.transport != nil {
			ro = append(ro, remote.WithTransport(o.transport))
		}
		return ro
	}
	desc, err := remote.Get(r, ropts(ctx)...)
	if err != nil {
		return nil, failure(ref, CheckRead, "%w", err)
	}
	s := remoteStore{repo: r.Context(), opts: ropts, read: map[v1.Hash]v1.Image{}}
	name := func(d v1.Hash) string { return r.Context().String() + "@" + d.String() }
	var children []child
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, failure(ref, CheckRead, "%w", err)
		}
		if children, err = platforms(idx); err != nil {
			return nil, failure(ref, CheckRead, "%w", err)
		}
	}
	vs, errs := tree(ctx, s, o, name, desc.Digest, children)
	return vs, errors.Join(errs...)
}

// child is one platform image of an index.
type child struct {
	digest   v1.Hash
	platform string
}

func platforms(idx v1.ImageIndex) ([]child, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []child
	for _, d := range m.Manifests {
		c := child{digest: d.Digest}
		if d.Platform != nil {
			c.platform = d.Platform.String()
		}
		out = append(out, c)
	}
	return out, nil
}

// tree verifies top, then its children, and returns the verdicts of
// those that passed and the failures of the others.
func tree(ctx context.Context, s store, o *options, name func(v1.Hash) string, top v1.Hash, children []child) ([]Verdict, []error) {
	var out []Verdict
	var errs []error
	v, err := manifest(ctx, s, o, name(top), top)
	if err != nil {
		errs = append(errs, err)
	} else {
		out = append(out, v)
	}
	for _, c := range children {
		v, err := manifest(ctx, s, o, name(c.digest), c.digest)
		v.Platform = c.platform
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	return out, errs
}
