package tasks

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/platform"
)

// Publish builds multi-platform images of every service for every configured Linux platform without a Docker engine, writes them to dist/oci/ and pushes them when MAGEPACK_IMAGE names a registry.
//
// It depends on StaticCheck (and so on CrossCompile). Each variant in
// MAGEPACK_VARIANTS becomes one OCI image index per service; Alpine's base
// comes from its registry as a multi-platform index. Credentials come from
// the Docker config, as `docker login` leaves them. The pushed references
// and digests are printed last, one per line, and recorded in
// dist/artifacts.json.
func Publish(ctx context.Context) error { return target(ctx, (*run).publish) }

// publishPlan is what publish will make, decided before any work.
type publishPlan struct {
	platforms []platform.Platform // Linux only
	skipped   []platform.Platform
	indexes   []indexPlan
	push      bool
	why       string // why not pushing
}

// indexPlan is one service's variant: one image per platform, gathered
// into an index.
type indexPlan struct {
	svc     *service
	variant string
	images  []imagePlan // one per Linux platform
	tags    []string
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
		return pp, &configError{fmt.Errorf("no Linux platform in MAGEPACK_PLATFORMS=%q: container images are Linux images; add one, e.g. linux/amd64", p.opts.platforms)}
	}
	for _, s := range p.services {
		for _, variant := range p.opts.variants {
			ip := indexPlan{svc: s, variant: variant, tags: p.tags(variant)}
			for _, pl := range pp.platforms {
				ip.images = append(ip.images, p.planImage(s, variant, pl, p.binaryPath(s, pl)))
			}
			pp.indexes = append(pp.indexes, ip)
		}
	}
	var noHost []string
	for _, s := range p.services {
		if _, ok := registryHost(s.image); !ok {
			noHost = append(noHost, s.image)
		}
	}
	switch {
	case !p.opts.push:
		pp.why = "MAGEPACK_PUSH=never"
	case len(noHost) > 0:
		pp.why = fmt.Sprintf("MAGEPACK_IMAGE=%s names no registry host (e.g. ghcr.io/team/%s)", p.opts.image, p.services[0].name)
		if p.opts.image == "" {
			pp.why = fmt.Sprintf("MAGEPACK_IMAGE is not set, so the image %s names no registry host (e.g. ghcr.io/team/%s)", noHost[0], p.services[0].name)
		}
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

// layoutTag is how an index's tag is named in dist/oci: the tag itself for
// a single service, "<service>:<tag>" when several share the layout.
func (p *project) layoutTag(s *service, tag string) string {
	if len(p.services) == 1 {
		return tag
	}
	return s.name + ":" + tag
}

// publish builds, checks and publishes every service's images, once per run.
func (r *run) publish(ctx context.Context) error {
	_, err := do(r, "publish", func() (struct{}, error) {
		if err := r.staticCheck(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, r.publishIndexes(ctx)
	})
	return err
}

// published is one index publish made, and the service it belongs to.
type published struct {
	plan  indexPlan
	named image.Named
}

func (r *run) publishIndexes(ctx context.Context) error {
	p := r.p
	pp, err := planPublish(p)
	if err != nil {
		return err
	}
	for _, pl := range pp.skipped {
		r.log.printf(pl.String(), "skipped: images are Linux only")
	}
	stop := r.phase("assemble")
	built, err := r.buildIndexes(ctx, pp)
	stop()
	if err != nil {
		return err
	}

	// Push before the layout is swapped in: a push that fails leaves dist/
	// as the last good run left it (layout and artifacts.json).
	var pushed []dist.Pushed
	if pp.push {
		stop := r.phase("push")
		for _, b := range built {
			// image.Push names the reference and, for a refused login,
			// says how to log in.
			res, err := image.Push(ctx, b.plan.svc.image, b.named.Index, b.named.Tags)
			if err != nil {
				stop()
				return &pushError{err}
			}
			for _, ref := range res {
				r.log.printf(p.imageSubject(b.plan.svc, b.plan.variant), "pushed %s %s %s in %s", ref.Reference, short(ref.Digest), mb(ref.Bytes), secs(ref.Duration))
				pushed = append(pushed, dist.Pushed{Service: b.plan.svc.name, Reference: ref.Reference, Digest: ref.Digest})
			}
		}
		stop()
	}

	unlock, err := r.lockDist(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	layout := filepath.Join(p.dist, "oci")
	start := time.Now()
	named := make([]image.Named, len(built))
	for i, b := range built {
		named[i] = b.named
		named[i].Tags = make([]string, len(b.named.Tags))
		for j, t := range b.named.Tags {
			named[i].Tags[j] = p.layoutTag(b.plan.svc, t)
		}
	}
	if err := image.WriteLayout(layout, named); err != nil {
		return &imageError{fmt.Errorf("write the OCI layout %s: %w", p.rel(layout), err)}
	}
	r.log.printf("oci", "wrote %s (%d index(es)) in %s", p.rel(layout), len(named), secs(time.Since(start)))
	if !pp.push {
		r.log.printf("publish", "not pushing: %s; the images are in %s", pp.why, p.rel(layout))
	}
	if err := r.recordPublish(built, pushed); err != nil {
		return err
	}
	for _, ref := range pushed {
		fmt.Fprintf(r.log, "%s@%s\n", ref.Reference, ref.Digest)
	}
	return nil
}

// buildIndexes assembles every planned image, in parallel, and gathers
// each service's variant into an index. The Alpine base is read from its
// registry once for all services.
func (r *run) buildIndexes(ctx context.Context, pp publishPlan) ([]published, error) {
	p := r.p
	var bases []v1.Image
	if slices.ContainsFunc(pp.indexes, func(ip indexPlan) bool { return ip.variant == variantAlpine }) {
		want := make([]v1.Platform, len(pp.platforms))
		for i, pl := range pp.platforms {
			want[i] = v1.Platform{OS: pl.OS, Architecture: pl.Arch, Variant: pl.ImageVariant()}
		}
		var err error
		if bases, err = image.RemoteBase(ctx, p.opts.alpineBase, want); err != nil {
			return nil, &imageError{fmt.Errorf("alpine base (MAGEPACK_ALPINE_BASE): %w", err)}
		}
	}
	imgs := make([][]v1.Image, len(pp.indexes))
	var g errgroup.Group
	g.SetLimit(max(2, p.opts.parallel))
	for i, ip := range pp.indexes {
		imgs[i] = make([]v1.Image, len(ip.images))
		for j, im := range ip.images {
			g.Go(func() error {
				var base v1.Image
				if ip.variant == variantAlpine {
					base = bases[j]
				}
				img, err := assemble(im, base)
				imgs[i][j] = img
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]published, len(pp.indexes))
	for i, ip := range pp.indexes {
		idx, err := image.Index(imgs[i])
		if err != nil {
			return nil, &imageError{err}
		}
		d, err := idx.Digest()
		if err != nil {
			return nil, &imageError{err}
		}
		names := make([]string, len(pp.platforms))
		for k, pl := range pp.platforms {
			names[k] = pl.String()
		}
		r.log.printf(p.imageSubject(ip.svc, ip.variant), "index %s for %s", short(d.String()), strings.Join(names, ", "))
		out[i] = published{plan: ip, named: image.Named{Variant: ip.variant, Index: idx, Tags: ip.tags}}
	}
	return out, nil
}

// recordPublish puts each index and every pushed reference into
// artifacts.json, in place of what the previous publish recorded: the
// layout was replaced whole, and a CI step reading "pushed" must see this
// run's pushes only.
func (r *run) recordPublish(built []published, pushed []dist.Pushed) error {
	p := r.p
	prefix := "oci:" + filepath.ToSlash(p.rel(filepath.Join(p.dist, "oci"))) + ":"
	return dist.Update(p.dist, func(m *dist.Manifest) error {
		m.Images = slices.DeleteFunc(m.Images, func(im dist.Image) bool { return strings.HasPrefix(im.Reference, prefix) })
		m.Pushed = nil
		for _, b := range built {
			d, err := b.named.Index.Digest()
			if err != nil {
				return err
			}
			im, err := b.named.Index.IndexManifest()
			if err != nil {
				return err
			}
			var plats []string
			for _, desc := range im.Manifests {
				if desc.Platform != nil {
					plats = append(plats, desc.Platform.String())
				}
			}
			refs := make([]string, len(b.named.Tags))
			for i, t := range b.named.Tags {
				refs[i] = b.plan.svc.image + ":" + t
			}
			m.PutImage(dist.Image{
				Service:   b.plan.svc.name,
				Reference: prefix + p.layoutTag(b.plan.svc, b.named.Tags[0]),
				Variant:   b.plan.variant, Platform: strings.Join(plats, ","),
				ManifestDigest: d.String(), Tags: refs,
			})
		}
		for _, ref := range pushed {
			m.PutPushed(ref)
		}
		return nil
	})
}
