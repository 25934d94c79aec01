package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyJSON is the OCI "empty descriptor" content an artifact without a
// config points at.
var emptyJSON = []byte("{}")

// Attachment is a file to attach to an image as an OCI 1.1 referrer (an
// SBOM, a signature, …).
type Attachment struct {
	// ArtifactType is the artifact's type and its one layer's media type,
	// e.g. "application/vnd.cyclonedx+json". Required.
	ArtifactType string
	// Data is the file's content. Required.
	Data []byte
	// Title names the file (the layer's org.opencontainers.image.title,
	// which `oras pull` uses as file name); "" sets none.
	Title string
	// Annotations go on the artifact's manifest, e.g.
	// org.opencontainers.image.created (give the image's time, so the
	// artifact is reproducible too).
	Annotations map[string]string
}

// Referrer returns the OCI 1.1 artifact that attaches a to subject (an
// image or index): an image manifest with artifactType a.ArtifactType, the
// empty config (application/vnd.oci.empty.v1+json, "{}"), one layer
// holding a.Data, and subject set to subject's descriptor (media type,
// digest and size), as the image spec's guidance for artifacts asks. The
// same subject and attachment give the same digest. It fails on a missing
// type or data, or a subject whose descriptor cannot be computed.
func Referrer(subject partial.Describable, a Attachment) (v1.Image, error) {
	if a.ArtifactType == "" {
		return nil, errors.New("referrer: no artifact type: set Attachment.ArtifactType, e.g. application/vnd.cyclonedx+json")
	}
	if len(a.Data) == 0 {
		return nil, fmt.Errorf("referrer %s: no data", a.ArtifactType)
	}
	if subject == nil {
		return nil, fmt.Errorf("referrer %s: no subject", a.ArtifactType)
	}
	sub, err := subjectDescriptor(subject)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: subject: %w", a.ArtifactType, err)
	}
	layer := static.NewLayer(a.Data, types.MediaType(a.ArtifactType))
	ld, err := partial.Descriptor(layer)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", a.ArtifactType, err)
	}
	if a.Title != "" {
		ld.Annotations = map[string]string{AnnotationTitle: a.Title}
	}
	config := static.NewLayer(emptyJSON, types.OCIEmptyJSON)
	cd, err := partial.Descriptor(config)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", a.ArtifactType, err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  a.ArtifactType,
		Config:        *cd,
		Layers:        []v1.Descriptor{*ld},
		Subject:       &sub,
	}
	if len(a.Annotations) > 0 {
		m.Annotations = a.Annotations
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("referrer %s: %w", a.ArtifactType, err)
	}
	return partial.CompressedToImage(&artifact{manifest: raw, layer: layer, layerDigest: ld.Digest, configDigest: cd.Digest, config: config})
}

// subjectDescriptor is the descriptor a referrer names its subject by.
func subjectDescriptor(d partial.Describable) (v1.Descriptor, error) {
	mt, err := d.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	dig, err := d.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := d.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: dig, Size: size}, nil
}

// artifact is the partial.CompressedImageCore of an OCI artifact: a
// manifest, the empty config and one layer.
type artifact struct {
	manifest     []byte
	layer        v1.Layer
	layerDigest  v1.Hash
	config       v1.Layer
	configDigest v1.Hash
}

func (a *artifact) RawConfigFile() ([]byte, error) { return emptyJSON, nil }

func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (a *artifact) RawManifest() ([]byte, error) { return a.manifest, nil }

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	switch h {
	case a.layerDigest:
		return a.layer, nil
	case a.configDigest:
		return a.config, nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// ReferrerError is returned by PushReferrers when a registry does not
// take an artifact (or the referrers tag that lists it): the image is in
// the registry, its attachment is not.
type ReferrerError struct {
	// Repo is the repository, e.g. "ghcr.io/team/app".
	Repo string
	// ArtifactType is the artifact's type, e.g. "application/vnd.cyclonedx+json".
	ArtifactType string
	// Subject is the digest of the image the artifact refers to.
	Subject string
	// Digest is the artifact manifest's digest.
	Digest string
	// Err is the registry's answer (an *AuthError for refused credentials).
	Err error
}

func (e *ReferrerError) Error() string {
	return fmt.Sprintf("attach %s to %s@%s: the registry did not take the artifact %s (%v): the image is pushed but has no %s attached; the registry must accept OCI 1.1 artifacts (image manifests with an artifactType, a subject and an empty config) or, without the referrers API, the referrers tag %s",
		e.ArtifactType, e.Repo, e.Subject, e.Digest, e.Err, e.ArtifactType, fallbackTagName(e.Subject))
}

func (e *ReferrerError) Unwrap() error { return e.Err }

// fallbackTagName is the OCI distribution spec's referrers tag for a
// digest ("sha256:abc" → "sha256-abc").
func fallbackTagName(digest string) string {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return digest
	}
	return alg + "-" + hex
}

// PushedReferrer is one artifact PushReferrers wrote.
type PushedReferrer struct {
	// Reference is "<repo>@<artifact digest>".
	Reference string
	// Digest is the artifact manifest's digest.
	Digest string
	// Subject is the digest of the image it refers to.
	Subject string
	// ArtifactType is the artifact's type.
	ArtifactType string
}

// PushReferrers uploads each artifact (made by Referrer) to repo, by
// digest. A registry with the OCI 1.1 referrers API indexes it by its
// subject itself; for one without (e.g. distribution 2.8) it also adds the
// artifact to the referrers tag "<alg>-<subject hex>" (the distribution
// spec's tag schema), so remote.Referrers and `oras discover` find it from
// the subject's digest either way. Push the subjects first.
//
// It returns what was pushed so far and, when the registry refuses an
// artifact or the referrers tag, a *ReferrerError naming the artifact and
// its subject: an attachment is never dropped silently.
func PushReferrers(ctx context.Context, repo string, artifacts []v1.Image, opts ...Option) ([]PushedReferrer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("push referrers to %s: %w", repo, err)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("push referrers: repository %q is not valid (%v): give host/path without a tag, e.g. ghcr.io/me/app", repo, err)
	}
	var pushed []PushedReferrer
	for i, a := range artifacts {
		if a == nil {
			return pushed, fmt.Errorf("push referrers to %s: artifact %d is nil", repo, i)
		}
		m, err := a.Manifest()
		if err != nil {
			return pushed, fmt.Errorf("push referrers to %s: artifact %d: %w", repo, i, err)
		}
		if m.Subject == nil {
			return pushed, fmt.Errorf("push referrers to %s: artifact %d has no subject: make it with Referrer", repo, i)
		}
		d, err := a.Digest()
		if err != nil {
			return pushed, fmt.Errorf("push referrers to %s: artifact %d: %w", repo, i, err)
		}
		start := time.Now()
		ref := r.Digest(d.String())
		if err := remote.Write(ref, a, append(o.remote(ctx), remote.WithReferrersTagFallback(true))...); err != nil {
			return pushed, &ReferrerError{Repo: r.String(), ArtifactType: m.ArtifactType, Subject: m.Subject.Digest.String(), Digest: d.String(), Err: classify(r.RegistryStr(), err)}
		}
		p := PushedReferrer{Reference: ref.String(), Digest: d.String(), Subject: m.Subject.Digest.String(), ArtifactType: m.ArtifactType}
		pushed = append(pushed, p)
		o.log(fmt.Sprintf("[push] %s (%s for %s) in %s", p.Reference, p.ArtifactType, p.Subject, time.Since(start).Round(time.Millisecond)))
	}
	return pushed, nil
}
