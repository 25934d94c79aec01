package tasks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/plan"
)

// Rebase puts each service's published Alpine image onto the base MAGEPACK_ALPINE_BASE names, without compiling, and publishes the result the way publish does.
//
// The images come from dist/oci (what publish wrote) or, when it does not
// hold them and MAGEPACK_IMAGE names a registry, from the registry. Each
// platform's image keeps its binary and CA bundle (read from magepack's
// layer) and is assembled again on the new base with publish's own code,
// so the result is exactly what a full publish on that base gives: same
// layers, config, manifest and index digests, SBOM, annotations and,
// with MAGEPACK_SIGN_KEY, a new signed provenance that records what the
// image was rebased from. It refuses, with exit 6, an image that is not
// on the base its manifest records and a scratch image, and a new base
// without the image's platform; with exit 2, an image this checkout's
// configuration does not make (another commit, or other settings).
func Rebase(ctx context.Context) error { return target(ctx, (*run).rebase) }

// rebased is what a rebased image or index was made from: its digest
// before the rebase and the base it was on, "<name>@<digest>".
type rebased struct {
	digest string
	base   string
}

// record puts the rebase into the provenance b of an image or index of
// repo: the previous image as a resolved dependency, and both it and its
// base as the external parameter "rebasedFrom". A build from source (nil)
// records nothing.
func (f *rebased) record(b *attest.Build, repo string) {
	if f == nil {
		return
	}
	b.External["rebasedFrom"] = map[string]any{"image": repo + "@" + f.digest, "base": f.base}
	b.RebasedFrom = &attest.ResourceDescriptor{URI: "oci://" + repo, Digest: attest.DigestSet(f.digest)}
}

// rebase swaps the base of every service's Alpine index, once per run.
func (r *run) rebase(ctx context.Context) error {
	_, err := r.once.rebase.do(func() (struct{}, error) {
		pp, err := planRebase(r.p)
		if err != nil {
			return struct{}{}, err
		}
		in, err := r.rebaseInputs(ctx, pp)
		if err != nil {
			return struct{}{}, err
		}
		stop := r.phase("rebase")
		made, err := r.rebaseIndexes(ctx, pp, in)
		stop()
		if err != nil {
			return struct{}{}, err
		}
		// The layout keeps the other variants' indexes as they were, in
		// the plan's order, as publish writes them.
		var layout []published
		k := 0
		for i, ip := range pp.indexes {
			if ip.variant == variantAlpine {
				layout = append(layout, made[k])
				k++
			} else if in.kept[i] != nil {
				layout = append(layout, *in.kept[i])
			}
		}
		return struct{}{}, r.deliver(ctx, pp, made, layout)
	})
	return err
}

// planRebase is publish's plan, which rebase follows to the letter, for
// a configuration that has Alpine images.
func planRebase(p *project) (publishPlan, error) {
	pp, err := planPublish(p)
	if err != nil {
		return pp, err
	}
	if !slices.ContainsFunc(pp.indexes, func(ip indexPlan) bool { return ip.variant == variantAlpine }) {
		return pp, plan.Bad("MAGEPACK_VARIANTS", fmt.Errorf("rebase swaps the base of Alpine images, and MAGEPACK_VARIANTS=%s makes none: add alpine", strings.Join(p.opts.Variants, ",")))
	}
	return pp, nil
}

// rebaseInput is what rebase starts from, per index of the plan: the
// published Alpine index and where it was read ("dist/oci:<tag>" or the
// registry reference), and the other variants' indexes dist/oci holds.
type rebaseInput struct {
	old   []v1.ImageIndex
	where []string
	kept  []*published
}

// rebaseInputs reads the published indexes: dist/oci first; for an
// Alpine index it does not hold, the registry when the plan pushes.
func (r *run) rebaseInputs(ctx context.Context, pp publishPlan) (_ rebaseInput, err error) {
	defer imaging.claim(&err)
	p := r.p
	in := rebaseInput{old: make([]v1.ImageIndex, len(pp.indexes)), where: make([]string, len(pp.indexes)), kept: make([]*published, len(pp.indexes))}
	dir := filepath.Join(p.Dist, "oci")
	layout, err := image.ReadLayout(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return in, err
	}
	byTag := map[string]image.Named{}
	for _, n := range layout {
		for _, t := range n.Tags {
			byTag[t] = n
		}
	}
	for i, ip := range pp.indexes {
		tag := p.layoutTag(ip.svc, ip.tags[0])
		n, ok := byTag[tag]
		switch {
		case ok && ip.variant != variantAlpine:
			in.kept[i] = &published{plan: ip, named: image.Named{Variant: ip.variant, Index: n.Index, Tags: ip.tags, Referrers: n.Referrers}}
		case ok:
			in.old[i], in.where[i] = n.Index, "oci:"+filepath.ToSlash(p.rel(dir))+":"+tag
		case ip.variant != variantAlpine:
		case pp.push:
			ref := ip.svc.image + ":" + ip.tags[0]
			if in.old[i], err = image.RemoteIndex(ctx, ref); err != nil {
				return in, fmt.Errorf("the published Alpine image of %s: %w: publish it first", ip.svc.name, err)
			}
			in.where[i] = ref
		default:
			return in, plan.Bad("", fmt.Errorf("no Alpine image of %s to rebase: %s has no tag %s and %s: run publish first", ip.svc.name, p.rel(dir), tag, pp.why))
		}
	}
	return in, nil
}

// rebaseIndexes puts every planned Alpine index onto the new base, each
// platform's image in parallel, and gathers them as publish does.
func (r *run) rebaseIndexes(ctx context.Context, pp publishPlan, in rebaseInput) (_ []published, err error) {
	defer imaging.claim(&err)
	alpine := pp
	alpine.indexes = slices.DeleteFunc(slices.Clone(pp.indexes), func(ip indexPlan) bool { return ip.variant != variantAlpine })
	bases, err := r.remoteAlpineBases(ctx, alpine)
	if err != nil {
		return nil, err
	}
	vexes, err := r.binaryVEXes(withBinaries(alpine))
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "magepack-rebase-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var out []published
	for i, ip := range pp.indexes {
		if ip.variant != variantAlpine {
			continue
		}
		made := make([]platformImage, len(ip.images))
		ip.images = slices.Clone(ip.images)
		var g errgroup.Group
		g.SetLimit(max(2, r.p.opts.Parallel))
		for j := range ip.images {
			g.Go(func() error {
				work := filepath.Join(tmp, fmt.Sprintf("%d-%d", i, j))
				var err error
				made[j], err = r.rebaseImage(ctx, &ip.images[j], in.old[i], in.where[i], bases.images[j], bases.digests[j], work, vexes)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		if ip.from, err = indexOrigin(in.old[i]); err != nil {
			return nil, fmt.Errorf("the Alpine index of %s at %s: %w", ip.svc.name, in.where[i], err)
		}
		b, err := r.makeIndex(ctx, ip, pp.platforms, made, bases.index)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// withBinaries is pp with only the images whose binary is in dist/: a
// rebase needs none, and a VEX is attached only about the binary there.
func withBinaries(pp publishPlan) publishPlan {
	pp.indexes = slices.Clone(pp.indexes)
	for i, ip := range pp.indexes {
		pp.indexes[i].images = slices.DeleteFunc(slices.Clone(ip.images), func(im imagePlan) bool {
			_, err := os.Stat(im.spec.Binary)
			return err != nil
		})
	}
	return pp
}

// indexOrigin is where a published index stood: its digest and the base
// index its annotations record.
func indexOrigin(idx v1.ImageIndex) (*rebased, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return &rebased{digest: d.String(), base: m.Annotations[image.AnnotationBaseName] + "@" + m.Annotations[image.AnnotationBaseDigest]}, nil
}

// rebaseImage makes the planned image im on base from the image old
// publish made of it: it checks old is on the base it records, reads its
// binary and CA bundle from magepack's layer into work, checks that this
// configuration makes old again on that recorded base, and assembles im
// on base from those files with publish's makeImage. im is left naming
// those files, as the index's provenance reads them.
func (r *run) rebaseImage(ctx context.Context, im *imagePlan, oldIdx v1.ImageIndex, where string, base v1.Image, baseDigest, work string, vexes map[string]binaryVEX) (_ platformImage, err error) {
	defer imaging.claim(&err)
	var m platformImage
	p := r.p
	old, err := image.PlatformImage(oldIdx, where, v1.Platform{OS: im.pl.OS, Architecture: im.pl.Arch, Variant: im.pl.ImageVariant()})
	if err != nil {
		return m, plan.Bad("MAGEPACK_PLATFORMS", fmt.Errorf("%w: rebase with the platforms it was published for", err))
	}
	split, err := image.SplitBase(old)
	if err != nil {
		return m, rebaseFailure(im, where, err)
	}
	recorded, err := split.Recorded()
	if err != nil {
		return m, rebaseFailure(im, where, err)
	}
	oldBase, err := image.RemoteImage(ctx, recorded.String())
	if err != nil {
		return m, rebaseFailure(im, where, fmt.Errorf("its recorded base: %w", err))
	}
	if err := split.CheckBase(oldBase); err != nil {
		return m, rebaseFailure(im, where, err)
	}
	orig := im.spec.Binary
	if im.spec.Binary, im.spec.CABundle, err = extractService(split, im.svc.name, orig, work); err != nil {
		return m, rebaseFailure(im, where, err)
	}
	if err := r.sameImage(*im, old, oldBase, split); err != nil {
		return m, err
	}
	bv := vexes[orig]
	if bv.doc != nil {
		// A VEX is about the binary in dist/, which need not be the one
		// the image carries.
		if sum, err := dist.Sum(im.spec.Binary); err != nil || sum != bv.sha256 {
			bv = binaryVEX{}
		}
	}
	im.from = &rebased{digest: split.Digest, base: split.BaseName + "@" + split.BaseDigest}
	if m, err = r.makeImage(ctx, *im, base, baseDigest, bv); err != nil {
		return m, err
	}
	d, err := m.img.Digest()
	if err != nil {
		return m, err
	}
	r.log.printf(p.imageSubject(im.svc, im.variant)+" "+im.pl.String(), "rebased: base %s -> %s, image %s -> %s",
		short(split.BaseDigest), short(baseDigest), short(split.Digest), short(d.String()))
	return m, nil
}

// rebaseFailure names the image a rebase step failed on.
func rebaseFailure(im *imagePlan, where string, err error) error {
	err = fmt.Errorf("rebase the %s image of %s for %s (%s): %w", im.variant, im.svc.name, im.pl, where, err)
	return err
}

// extractService writes the binary and the CA bundle of magepack's layer
// of split into work, the binary under the name of the one in dist/ (the
// SBOM is titled by it), and returns their paths.
func extractService(split image.Split, name, distBinary, work string) (bin, ca string, err error) {
	binPath := filepath.ToSlash(filepath.Join(image.BinDir, name))
	files, err := split.ReadAdded(binPath, image.CABundlePath)
	if err != nil {
		return "", "", err
	}
	for _, f := range []string{binPath, image.CABundlePath} {
		if _, ok := files[f]; !ok {
			return "", "", fmt.Errorf("image %s: magepack's layer has no %s: rebase only images publish made of this service", split.Digest, f)
		}
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return "", "", err
	}
	bin, ca = filepath.Join(work, filepath.Base(distBinary)), filepath.Join(work, "ca-certificates.crt")
	if err := os.WriteFile(bin, files[binPath], 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(ca, files[image.CABundlePath], 0o644); err != nil {
		return "", "", err
	}
	return bin, ca, nil
}

// sameImage checks that im, with old's binary and CA bundle, assembled on
// the base old records, is old itself (its config and manifest
// annotations): then the image on the new base is what a full publish
// gives. Otherwise old was made by another commit or other settings, and
// the error (a configuration error) names the first difference.
func (r *run) sameImage(im imagePlan, old, oldBase v1.Image, split image.Split) (err error) {
	defer imaging.claim(&err)
	again := im
	again.spec.Annotations = maps.Clone(im.spec.Annotations)
	again.spec.Annotations[image.AnnotationBaseName] = split.BaseName
	img, err := assemble(again, oldBase, split.BaseDigest)
	if err != nil {
		return err
	}
	m, err := old.Manifest()
	if err != nil {
		return err
	}
	again.spec.Annotations[image.AnnotationBaseDigest] = split.BaseDigest
	diff := annotationDiff(m.Annotations, again.spec.Annotations)
	if diff == "" {
		if diff, err = configDiff(old, img); err != nil {
			return err
		}
	}
	if diff == "" {
		return nil
	}
	hint := ""
	if rev := m.Annotations[image.AnnotationRevision]; rev != "" && rev != r.p.Version.Commit {
		hint = fmt.Sprintf(" (git checkout %s)", rev)
	}
	return plan.Bad("", fmt.Errorf("the %s image of %s for %s (%s) is not what this checkout makes on its base: %s; rebase changes nothing but the base, so run it at the commit and with the settings that published the image%s",
		im.variant, im.svc.name, im.pl, split.Digest, diff, hint))
}

// annotationDiff names the first annotation (in key order) on which the
// image (have) and this configuration (want) differ, or "".
func annotationDiff(have, want map[string]string) string {
	keys := slices.Sorted(maps.Keys(have))
	for k := range want {
		if _, ok := have[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if have[k] != want[k] {
			return fmt.Sprintf("annotation %s is %q in the image and %q here", k, have[k], want[k])
		}
	}
	return ""
}

// configDiff names the first part of the config of the image (have)
// that this configuration's (want) does not match, or "" for the same
// config digest.
func configDiff(have, want v1.Image) (string, error) {
	hd, err := have.ConfigName()
	if err != nil {
		return "", err
	}
	wd, err := want.ConfigName()
	if err != nil || hd == wd {
		return "", err
	}
	h, err := have.ConfigFile()
	if err != nil {
		return "", err
	}
	w, err := want.ConfigFile()
	if err != nil {
		return "", err
	}
	parts := []struct {
		name string
		h, w any
	}{
		{"labels", h.Config.Labels, w.Config.Labels},
		{"created", h.Created.UTC(), w.Created.UTC()},
		{"user", h.Config.User, w.Config.User},
		{"entrypoint", h.Config.Entrypoint, w.Config.Entrypoint},
		{"exposed ports", h.Config.ExposedPorts, w.Config.ExposedPorts},
		{"environment", h.Config.Env, w.Config.Env},
		{"layers (diff IDs)", h.RootFS.DiffIDs, w.RootFS.DiffIDs},
	}
	for _, pt := range parts {
		if !reflect.DeepEqual(pt.h, pt.w) {
			return fmt.Sprintf("its config's %s differ: %v in the image, %v here", pt.name, pt.h, pt.w), nil
		}
	}
	return fmt.Sprintf("its config is %s, here %s", hd, wd), nil
}
