package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/report"
	"github.com/magepack/magepack/tasks/sbom"
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
	from    *rebased // the index a rebase swaps the base of; nil for a build from source
}

// planPublish is the plan's publish (plan.Publish), with the services
// as the run has them.
func planPublish(p *project) (publishPlan, error) {
	pub, err := p.Plan.Publish()
	if err != nil {
		return publishPlan{}, err
	}
	pp := publishPlan{platforms: pub.Platforms, skipped: pub.Skipped, push: pub.Push, why: pub.Why}
	for _, ix := range pub.Indexes {
		ip := indexPlan{svc: p.service(ix.Service.Name), variant: ix.Variant, tags: ix.Tags}
		for _, im := range ix.Images {
			ip.images = append(ip.images, p.imagePlan(im))
		}
		pp.indexes = append(pp.indexes, ip)
	}
	return pp, nil
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
	_, err := r.once.publish.do(func() (struct{}, error) {
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
	vexes int // how many of its images have their OpenVEX attached
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
	return r.deliver(ctx, pp, built, built)
}

// deliver pushes the indexes made (when pp pushes), then writes the OCI
// layout of every index in layout (made ones and those kept as they
// were), records them in artifacts.json and hands the digests to CI.
func (r *run) deliver(ctx context.Context, pp publishPlan, made, layout []published) error {
	p := r.p
	// Push before the layout is swapped in: a push that fails leaves dist/
	// as the last good run left it (layout and artifacts.json).
	var pushed []dist.Pushed
	if pp.push {
		var err error
		if pushed, err = r.pushIndexes(ctx, made); err != nil {
			return err
		}
	}

	unlock, err := r.lockDist(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	dir := filepath.Join(p.Dist, "oci")
	start := time.Now()
	if err := r.writeLayout(dir, layout); err != nil {
		return err
	}
	r.log.printf("oci", "wrote %s (%d index(es)) in %s", p.rel(dir), len(layout), secs(time.Since(start)))
	if !pp.push {
		r.log.printf("publish", "not pushing: %s; the images are in %s", pp.why, p.rel(dir))
	}
	if err := r.recordPublish(layout, pushed); err != nil {
		return err
	}
	if err := r.ciOutputs(made, pushed); err != nil {
		return err
	}
	for _, ref := range pushed {
		fmt.Fprintf(r.log, "%s@%s\n", ref.Reference, ref.Digest)
	}
	return nil
}

// pushIndexes pushes every built index to its repository under its tags,
// then what refers to its images (SBOMs, VEX documents and, with a
// signing key, Sigstore bundles), and returns the references pushed.
func (r *run) pushIndexes(ctx context.Context, built []published) (_ []dist.Pushed, err error) {
	defer pushing.claim(&err)
	p := r.p
	defer r.phase("push")()
	var pushed []dist.Pushed
	for _, b := range built {
		subject := p.imageSubject(b.plan.svc, b.plan.variant)
		res, err := r.registry.Push(ctx, b.plan.svc.image, b.named.Index, b.named.Tags)
		if err != nil {
			return nil, err // it names the reference and, for a refused login, how to log in
		}
		for _, ref := range res {
			r.log.printf(subject, "pushed %s %s %s in %s", ref.Reference, short(ref.Digest), mb(ref.Bytes), secs(ref.Duration))
			pushed = append(pushed, dist.Pushed{Service: b.plan.svc.name, Reference: ref.Reference, Digest: ref.Digest})
		}
		// The SBOMs go after the images they refer to; a registry that
		// refuses one fails the push, never drops it.
		refs, err := r.registry.PushReferrers(ctx, b.plan.svc.image, b.named.Referrers)
		if err != nil {
			return nil, err
		}
		what := "SBOM(s)"
		if b.vexes > 0 {
			what = "SBOM(s) and VEX document(s)"
		}
		if p.opts.signer == nil {
			r.log.printf(subject, "attached %d %s to the platform images as OCI referrers", len(refs), what)
		} else {
			r.log.printf(subject, "attached %d OCI referrers: %s, signatures and attestations", len(refs), what)
		}
	}
	return pushed, nil
}

// writeLayout replaces the OCI layout at layout with the built indexes,
// each tagged as layoutTag names it.
func (r *run) writeLayout(layout string, built []published) (err error) {
	defer imaging.claim(&err)
	named := make([]image.Named, len(built))
	for i, b := range built {
		named[i] = b.named
		named[i].Tags = make([]string, len(b.named.Tags))
		for j, t := range b.named.Tags {
			named[i].Tags[j] = r.p.layoutTag(b.plan.svc, t)
		}
	}
	if err := image.WriteLayout(layout, named); err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", r.p.rel(layout), err)
	}
	return nil
}

// buildIndexes assembles every planned image, in parallel, with its SBOM
// as a referrer, and gathers each service's variant into an annotated
// index. The Alpine base is read from its registry once for all services.
func (r *run) buildIndexes(ctx context.Context, pp publishPlan) (_ []published, err error) {
	defer imaging.claim(&err)
	bases, err := r.remoteAlpineBases(ctx, pp)
	if err != nil {
		return nil, err
	}
	binVEX, err := r.binaryVEXes(pp)
	if err != nil {
		return nil, err
	}
	made := make([][]platformImage, len(pp.indexes))
	var g errgroup.Group
	g.SetLimit(max(2, r.p.opts.Parallel))
	for i, ip := range pp.indexes {
		made[i] = make([]platformImage, len(ip.images))
		for j, im := range ip.images {
			g.Go(func() error {
				var base v1.Image
				var baseDigest string
				if ip.variant == variantAlpine {
					base, baseDigest = bases.images[j], bases.digests[j]
				}
				var err error
				made[i][j], err = r.makeImage(ctx, im, base, baseDigest, binVEX[im.spec.Binary])
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]published, len(pp.indexes))
	for i, ip := range pp.indexes {
		if out[i], err = r.makeIndex(ctx, ip, pp.platforms, made[i], bases.index); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// alpineBases is the Alpine base under every platform's image, read from
// its registry: each platform's image and digest, in the plan's platform
// order, and the digest of the base's own index.
type alpineBases struct {
	images  []v1.Image
	digests []string
	index   string
}

// remoteAlpineBases reads the Alpine base of every platform pp builds
// for, when pp makes Alpine images; none otherwise.
func (r *run) remoteAlpineBases(ctx context.Context, pp publishPlan) (alpineBases, error) {
	var b alpineBases
	if !slices.ContainsFunc(pp.indexes, func(ip indexPlan) bool { return ip.variant == variantAlpine }) {
		return b, nil
	}
	ref := r.p.opts.AlpineBase
	want := make([]v1.Platform, len(pp.platforms))
	for i, pl := range pp.platforms {
		want[i] = v1.Platform{OS: pl.OS, Architecture: pl.Arch, Variant: pl.ImageVariant()}
	}
	var err error
	if b.images, err = r.registry.Base(ctx, ref, want); err != nil {
		return b, fmt.Errorf("alpine base (MAGEPACK_ALPINE_BASE): %w", err)
	}
	for _, img := range b.images {
		d, err := img.Digest()
		if err != nil {
			return b, fmt.Errorf("alpine base %s: %w", ref, err)
		}
		b.digests = append(b.digests, d.String())
	}
	if b.index, err = r.registry.Digest(ctx, ref); err != nil {
		return b, fmt.Errorf("alpine base (MAGEPACK_ALPINE_BASE): %w", err)
	}
	return b, nil
}

// platformImage is one platform's image, made, with what is attached to
// it: its SBOM, its OpenVEX (nil when its binary has none) and, with a
// signing key, its Sigstore bundles (signature, provenance, SBOM and VEX
// attestations).
type platformImage struct {
	img, sbom, vex v1.Image
	signed         []v1.Image
}

// makeImage assembles the planned image im on base (nil for scratch) and
// makes what is attached to it.
func (r *run) makeImage(ctx context.Context, im imagePlan, base v1.Image, baseDigest string, bv binaryVEX) (platformImage, error) {
	var m platformImage
	img, err := assemble(im, base, baseDigest)
	if err != nil {
		return m, err
	}
	m.img = img
	var bom []byte
	if m.sbom, bom, err = r.imageSBOM(im, img, base, baseDigest); err != nil {
		return m, err
	}
	var vex []byte
	if vex, m.vex, err = r.imageVEX(im, img, bv); err != nil || r.p.opts.signer == nil {
		return m, err
	}
	if m.signed, err = r.attestImage(ctx, im, img, bom, vex, baseDigest); err != nil {
		return m, fmt.Errorf("sign the %s image of %s for %s: %w", im.variant, im.svc.name, im.pl, err)
	}
	return m, nil
}

// makeIndex puts the images of one service and variant into its index,
// with their referrers (and, with a signing key, the index's own
// bundles), and says so.
func (r *run) makeIndex(ctx context.Context, ip indexPlan, platforms []platform.Platform, made []platformImage, baseIndexDigest string) (published, error) {
	p := r.p
	meta := p.meta(ip.svc)
	if ip.variant == variantAlpine {
		meta.BaseName, meta.BaseDigest = p.opts.AlpineBase, baseIndexDigest
	}
	imgs := make([]v1.Image, len(made))
	var referrers, vexes, signed []v1.Image
	for k, m := range made {
		imgs[k] = m.img
		referrers = append(referrers, m.sbom)
		if m.vex != nil {
			vexes = append(vexes, m.vex)
		}
		signed = append(signed, m.signed...)
	}
	referrers = append(referrers, vexes...)
	idx, err := image.Index(imgs, image.WithIndexAnnotations(image.Annotations(meta)))
	if err != nil {
		return published{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return published{}, err
	}
	names := make([]string, len(platforms))
	for k, pl := range platforms {
		names[k] = pl.String()
	}
	withVEX, attestations := "", "SBOM attestation"
	if len(vexes) > 0 {
		withVEX = fmt.Sprintf(", its OpenVEX for %d", len(vexes))
		attestations += fmt.Sprintf(", VEX attestation for %d", len(vexes))
	}
	subject := p.imageSubject(ip.svc, ip.variant)
	r.log.printf(subject, "index %s for %s, with an SBOM for each%s", short(d.String()), strings.Join(names, ", "), withVEX)
	if p.opts.signer != nil {
		referrers = append(referrers, signed...)
		s, err := r.attestIndex(ctx, ip, idx, baseIndexDigest)
		if err != nil {
			return published{}, fmt.Errorf("sign the %s index of %s: %w", ip.variant, ip.svc.name, err)
		}
		referrers = append(referrers, s...)
		r.log.printf(subject, "signed the index and each image: signature, SLSA provenance, %s (Sigstore bundles)", attestations)
	}
	return published{plan: ip, named: image.Named{Variant: ip.variant, Index: idx, Tags: ip.tags, Referrers: referrers}, vexes: len(vexes)}, nil
}

// imageSBOM describes the planned image img, built on base (nil for
// scratch), as a CycloneDX SBOM and returns it as an OCI 1.1 referrer of
// img: its binary's modules read from the binary itself, plus the CA
// bundle, the time-zone data and the base (with its APK packages) the
// image adds. It returns the SBOM's bytes too.
func (r *run) imageSBOM(ip imagePlan, img, base v1.Image, baseDigest string) (v1.Image, []byte, error) {
	p := r.p
	fail := func(err error) (v1.Image, []byte, error) {
		return nil, nil, fmt.Errorf("SBOM of the %s image of %s for %s: %w", ip.variant, ip.svc.name, ip.pl, err)
	}
	opts, err := p.sbomOptions(ip.svc)
	if err != nil {
		return fail(err)
	}
	bin, err := r.binaryBOM(ip.svc, ip.spec.Binary, "")
	if err != nil {
		return fail(err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fail(err)
	}
	files, err := image.ReadFiles(img, image.CABundlePath, image.ZoneInfoZip)
	if err != nil {
		return fail(err)
	}
	facts := sbom.Image{
		Name: ip.svc.image, Digest: digest.String(), OS: ip.pl.OS, Arch: ip.pl.Arch, Variant: ip.pl.ImageVariant(),
		BinaryPath: path.Join(image.BinDir, ip.svc.name),
	}
	if b, ok := files[image.CABundlePath]; ok {
		facts.CABundle = &sbom.File{Path: image.CABundlePath, SHA256: sha256Hex(b)}
	}
	if b, ok := files[image.ZoneInfoZip]; ok {
		facts.TZData = &sbom.File{Path: image.ZoneInfoZip, SHA256: sha256Hex(b)}
	} else if ip.spec.TZData {
		facts.TZData = &sbom.File{Path: image.ZoneInfoDir}
	}
	if base != nil {
		apk, err := image.ReadFiles(base, sbom.APKInstalledPath)
		if err != nil {
			return fail(err)
		}
		facts.Base = &sbom.Base{Name: ip.base, Digest: baseDigest, APKInstalled: apk[sbom.APKInstalledPath]}
	}
	bom, err := sbom.ForImage(bin, facts, opts)
	if err != nil {
		return fail(err)
	}
	data, err := sbom.Encode(bom)
	if err != nil {
		return fail(err)
	}
	ref, err := image.Referrer(img, image.Attachment{
		ArtifactType: sbom.MediaType, Data: data,
		Title:       sbom.FileName(path.Base(ip.spec.Binary)),
		Annotations: map[string]string{image.AnnotationCreated: p.createdStamp()},
	})
	if err != nil {
		return fail(err)
	}
	return ref, data, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ciOutputs hands the pushed digests to CI: dist/digests.txt lists every
// pushed reference with its digest (the form actions/attest-build-provenance
// reads as subject-checksums), and with GITHUB_OUTPUT set, the version,
// each index's digest and the pushed references become step outputs.
func (r *run) ciOutputs(built []published, pushed []dist.Pushed) error {
	p := r.p
	digestsFile := filepath.Join(p.Dist, "digests.txt")
	if len(pushed) > 0 {
		subjects := make([]report.Subject, len(pushed))
		for i, ps := range pushed {
			subjects[i] = report.Subject{Name: ps.Reference, Digest: ps.Digest}
		}
		data, err := report.Digests(subjects)
		if err != nil {
			return err
		}
		if err := dist.WriteFile(digestsFile, data, 0o644); err != nil {
			return err
		}
	} else if err := os.Remove(digestsFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A list from an earlier push would name images this run did not push.
		return err
	}
	out := r.getenv("GITHUB_OUTPUT")
	if out == "" {
		return nil
	}
	var indexes []report.PublishedIndex
	for _, b := range built {
		d, err := b.named.Index.Digest()
		if err != nil {
			return err
		}
		ix := report.PublishedIndex{Variant: b.plan.variant, Digest: d.String()}
		if len(p.services) > 1 {
			ix.Service = b.plan.svc.name
		}
		for _, ps := range pushed {
			if ps.Service == b.plan.svc.name && ps.Digest == ix.Digest {
				ix.Refs = append(ix.Refs, ps.Reference)
			}
		}
		indexes = append(indexes, ix)
	}
	outs, err := report.PublishOutputs(p.versionString(), indexes)
	if err != nil {
		return err
	}
	data, err := report.GitHubOutput(outs)
	if err != nil {
		return err
	}
	// The runner owns the file: append to it, as every step does.
	f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_OUTPUT=%s: %w", out, err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("GITHUB_OUTPUT=%s: %w", out, err)
	}
	r.log.printf("publish", "wrote the outputs version, digest and refs to GITHUB_OUTPUT")
	return nil
}

// recordPublish puts each index and every pushed reference into
// artifacts.json, in place of what the previous publish recorded: the
// layout was replaced whole, and a CI step reading "pushed" must see this
// run's pushes only.
func (r *run) recordPublish(built []published, pushed []dist.Pushed) error {
	p := r.p
	prefix := "oci:" + filepath.ToSlash(p.rel(filepath.Join(p.Dist, "oci"))) + ":"
	return dist.Update(p.Dist, func(m *dist.Manifest) error {
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
