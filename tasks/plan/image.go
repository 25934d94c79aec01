package plan

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/platform"
)

// Image is one service's image of one variant for one platform: what
// image.Build gets (but the base image itself), the references it goes
// by and the base to put under it.
type Image struct {
	Service  Unit
	Variant  string
	Platform platform.Platform
	Spec     image.Spec
	Refs     []string
	Base     string // the Alpine base reference; "" for scratch
}

// Index is one service's variant: one image per Linux platform, gathered
// into an index with these tags.
type Index struct {
	Service Unit
	Variant string
	Images  []Image
	Tags    []string
}

// Publish is what publish makes: the Linux platforms (others skipped),
// an index per service and variant, and whether it pushes (and why not).
type Publish struct {
	Platforms []platform.Platform
	Skipped   []platform.Platform
	Indexes   []Index
	Push      bool
	Why       string // why not pushing
}

// BinaryPath is where crossCompile puts u's binary for pl.
func (p *Plan) BinaryPath(u Unit, pl platform.Platform) string {
	return filepath.Join(p.Dist, gobuild.BinaryName(u.Name, gobuild.Target{OS: pl.OS, Arch: pl.Arch}))
}

// Meta is what the OCI annotations say of u's images.
func (p *Plan) Meta(u Unit) image.Meta {
	return image.Meta{Title: u.Name, Version: p.Version.Version.String(), Revision: p.Version.Commit, Source: SourceURL(p.ModulePath), Created: p.Created}
}

// Image decides u's variant image for pl from the binary at binary.
func (p *Plan) Image(u Unit, variant string, pl platform.Platform, binary string) Image {
	o := p.Options
	im := Image{
		Service: u, Variant: variant, Platform: pl, Refs: p.Refs(u, variant),
		Spec: image.Spec{
			Name:     u.Name,
			Binary:   binary,
			OS:       pl.OS,
			Arch:     pl.Arch,
			Variant:  pl.ImageVariant(),
			CABundle: o.CABundle,
			TZData:   o.TZData && variant == VariantScratch,
			Port:     u.Smoke.Port,
			Labels:   p.Labels(u),
			Created:  p.Created,
		},
	}
	meta := p.Meta(u)
	if variant == VariantAlpine {
		im.Base = o.AlpineBase
		meta.BaseName = o.AlpineBase
	}
	im.Spec.Annotations = image.Annotations(meta)
	return im
}

// Publish decides what publish makes. No Linux platform is a mistake in
// MAGEPACK_PLATFORMS: container images are Linux images.
func (p *Plan) Publish() (Publish, error) {
	var pp Publish
	for _, pl := range p.Platforms {
		if pl.OS == "linux" {
			pp.Platforms = append(pp.Platforms, pl)
		} else {
			pp.Skipped = append(pp.Skipped, pl)
		}
	}
	if len(pp.Platforms) == 0 {
		return pp, Bad("MAGEPACK_PLATFORMS", fmt.Errorf("no Linux platform in MAGEPACK_PLATFORMS=%q: container images are Linux images; add one, e.g. linux/amd64", p.Options.Platforms))
	}
	for _, u := range p.Services {
		for _, variant := range p.Options.Variants {
			ix := Index{Service: u, Variant: variant, Tags: p.Tags(variant)}
			for _, pl := range pp.Platforms {
				ix.Images = append(ix.Images, p.Image(u, variant, pl, p.BinaryPath(u, pl)))
			}
			pp.Indexes = append(pp.Indexes, ix)
		}
	}
	pp.Push, pp.Why = p.pushes()
	return pp, nil
}

// pushes says whether publish pushes, and why not: MAGEPACK_PUSH=never,
// or an image that names no registry host.
func (p *Plan) pushes() (bool, string) {
	var noHost []string
	for _, u := range p.Services {
		if _, ok := RegistryHost(u.Image); !ok {
			noHost = append(noHost, u.Image)
		}
	}
	switch {
	case !p.Options.Push:
		return false, "MAGEPACK_PUSH=never"
	case len(noHost) > 0 && p.Options.Image == "":
		return false, fmt.Sprintf("MAGEPACK_IMAGE is not set, so the image %s names no registry host (e.g. ghcr.io/team/%s)", noHost[0], p.Services[0].Name)
	case len(noHost) > 0:
		return false, fmt.Sprintf("MAGEPACK_IMAGE=%s names no registry host (e.g. ghcr.io/team/%s)", p.Options.Image, p.Services[0].Name)
	}
	return true, ""
}

// RegistryHost returns the registry a repository names, the way the docker
// CLI reads it: a first path element with a '.' or ':', or "localhost".
func RegistryHost(repo string) (string, bool) {
	first, _, found := strings.Cut(repo, "/")
	if !found {
		return "", false
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return first, true
	}
	return "", false
}
