package tasks

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/magefile/mage/mg"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

// Publish builds multi-platform images for every configured Linux platform without a Docker engine, writes them to dist/oci/ and pushes them when MAGEPACK_IMAGE names a registry.
//
// It depends on StaticCheck (and so on CrossCompile). Each variant in
// MAGEPACK_VARIANTS becomes one OCI image index; Alpine's base comes from
// its registry as a multi-platform index. Credentials come from the Docker
// config, as `docker login` leaves them. The pushed references and digests
// are printed last, one per line, and recorded in dist/artifacts.json.
func Publish(ctx context.Context) error {
	mg.CtxDeps(ctx, StaticCheck)
	p, err := setup(ctx)
	if err != nil {
		return fail(err)
	}
	return fail(publish(ctx, p))
}

// publishPlan is what publish will make, decided before any work.
type publishPlan struct {
	platforms []platform.Platform // Linux only
	skipped   []platform.Platform
	variants  []string
	push      bool
	why       string // why not pushing
}

func planPublish(p *project) (publishPlan, error) {
	var pp publishPlan
	for _, pl := range p.platforms {
		if pl.OS == "linux" {
			pp.platforms = append(pp.platforms, pl)
		} else {
			pp.skipped = append(pp.skipped, pl)
		}
	}
	if len(pp.platforms) == 0 {
		return pp, &configError{fmt.Errorf("no Linux platform in MAGEPACK_PLATFORMS=%q: container images are Linux images; add one, e.g. linux/amd64", p.cfg.Platforms)}
	}
	pp.variants, _ = parseVariants(p.cfg.Variants)
	_, ok := registryHost(p.image)
	switch {
	case p.cfg.Push == "never":
		pp.why = "MAGEPACK_PUSH=never"
	case !ok:
		pp.why = fmt.Sprintf("MAGEPACK_IMAGE=%s names no registry host (e.g. ghcr.io/team/%s)", p.image, p.name)
	default:
		pp.push = true
	}
	return pp, nil
}

// registryHost returns the registry a repository names, the way the docker
// CLI reads it: a first path element with a '.' or ':', or "localhost".
func registryHost(repo string) (string, bool) {
	first, _, found := strings.Cut(repo, "/")
	if !found {
		return "", false
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return first, true
	}
	return "", false
}

func publish(ctx context.Context, p *project) error {
	pp, err := planPublish(p)
	if err != nil {
		return err
	}
	for _, pl := range pp.skipped {
		out.printf(pl.String(), "skipped: images are Linux only")
	}
	var named []image.Named
	for _, variant := range pp.variants {
		n, err := publishIndex(ctx, p, pp, variant)
		if err != nil {
			return err
		}
		named = append(named, n)
	}

	// Push before the layout is swapped in: a push that fails leaves dist/
	// as the last good run left it (layout and artifacts.json).
	layout := filepath.Join(p.dist, "oci")
	var pushed []image.Pushed
	if pp.push {
		for _, n := range named {
			// image.Push names the reference and, for a refused login,
			// says how to log in.
			res, err := image.Push(ctx, p.image, n.Index, n.Tags)
			if err != nil {
				return &pushError{err}
			}
			for _, r := range res {
				out.printf(n.Variant, "pushed %s %s %s in %s", r.Reference, short(r.Digest), mb(r.Bytes), secs(r.Duration))
			}
			pushed = append(pushed, res...)
		}
	}

	unlock, err := lockDist(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	if err := image.WriteLayout(layout, named); err != nil {
		return &imageError{fmt.Errorf("write the OCI layout %s: %w", p.rel(layout), err)}
	}
	out.printf("oci", "wrote %s (%d index(es)) in %s", p.rel(layout), len(named), secs(time.Since(start)))
	if !pp.push {
		out.printf("publish", "not pushing: %s; the images are in %s", pp.why, p.rel(layout))
	}
	if err := recordPublish(p, named, pushed); err != nil {
		return err
	}
	for _, r := range pushed {
		fmt.Fprintf(out, "%s@%s\n", r.Reference, r.Digest)
	}
	return nil
}

// publishIndex assembles one variant for every Linux platform and gathers
// the images into an index.
func publishIndex(ctx context.Context, p *project, pp publishPlan, variant string) (image.Named, error) {
	bases := make([]v1.Image, len(pp.platforms))
	if variant == "alpine" {
		want := make([]v1.Platform, len(pp.platforms))
		for i, pl := range pp.platforms {
			want[i] = v1.Platform{OS: pl.OS, Architecture: pl.Arch, Variant: pl.ImageVariant()}
		}
		var err error
		if bases, err = image.RemoteBase(ctx, p.cfg.AlpineBase, want); err != nil {
			return image.Named{}, &imageError{fmt.Errorf("alpine base (MAGEPACK_ALPINE_BASE): %w", err)}
		}
	}
	imgs := make([]v1.Image, len(pp.platforms))
	for i, pl := range pp.platforms {
		img, err := assemble(p, variant, pl, p.binaryPath(pl), bases[i])
		if err != nil {
			return image.Named{}, err
		}
		imgs[i] = img
	}
	idx, err := image.Index(imgs)
	if err != nil {
		return image.Named{}, &imageError{err}
	}
	d, err := idx.Digest()
	if err != nil {
		return image.Named{}, &imageError{err}
	}
	names := make([]string, len(pp.platforms))
	for i, pl := range pp.platforms {
		names[i] = pl.String()
	}
	out.printf(variant, "index %s for %s", short(d.String()), strings.Join(names, ", "))
	return image.Named{Variant: variant, Index: idx, Tags: version.Tags(p.ver.Version, variant)}, nil
}

// recordPublish puts each index and every pushed reference into
// artifacts.json, in place of what the previous publish recorded: the
// layout was replaced whole, and a CI step reading "pushed" must see this
// run's pushes only.
func recordPublish(p *project, named []image.Named, pushed []image.Pushed) error {
	prefix := "oci:" + filepath.ToSlash(p.rel(filepath.Join(p.dist, "oci"))) + ":"
	return dist.Update(p.dist, func(m *dist.Manifest) error {
		m.Images = slices.DeleteFunc(m.Images, func(im dist.Image) bool { return strings.HasPrefix(im.Reference, prefix) })
		m.Pushed = nil
		for _, n := range named {
			d, err := n.Index.Digest()
			if err != nil {
				return err
			}
			im, err := n.Index.IndexManifest()
			if err != nil {
				return err
			}
			var plats []string
			for _, desc := range im.Manifests {
				if desc.Platform != nil {
					plats = append(plats, desc.Platform.String())
				}
			}
			refs := make([]string, len(n.Tags))
			for i, t := range n.Tags {
				refs[i] = p.image + ":" + t
			}
			m.PutImage(dist.Image{
				Reference: prefix + n.Tags[0],
				Variant:   n.Variant, Platform: strings.Join(plats, ","),
				ManifestDigest: d.String(), Tags: refs,
			})
		}
		for _, r := range pushed {
			m.PutPushed(dist.Pushed{Reference: r.Reference, Digest: r.Digest})
		}
		return nil
	})
}
