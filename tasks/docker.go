package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
)

// DockerScratch builds each service's scratch image from its checked Linux binary, loads it into the Docker engine, tags it and smoke-runs it.
//
// The image holds only the static binary at /usr/local/bin/<name>, a CA
// bundle, and /etc/passwd and /etc/group with the non-root user 65532. It is
// assembled in-process and reproducible: the same commit gives the same
// image ID. With MAGEPACK_DOCKERFILE set, the engine builds that Dockerfile
// instead.
func DockerScratch(ctx context.Context) error {
	return target(ctx, func(r *run, ctx context.Context) error {
		_, err := r.dockerImages(ctx, variantScratch)
		return err
	})
}

// DockerAlpine builds each service's Alpine image (MAGEPACK_ALPINE_BASE plus the checked binary and a non-root user), loads it into the Docker engine, tags it and smoke-runs it.
//
// The base is pulled through the engine per MAGEPACK_PULL. A binary that
// needs glibc is refused before anything is built. With MAGEPACK_DOCKERFILE
// set, the engine builds that Dockerfile instead.
func DockerAlpine(ctx context.Context) error {
	return target(ctx, func(r *run, ctx context.Context) error {
		_, err := r.dockerImages(ctx, variantAlpine)
		return err
	})
}

// imageSubject prefixes an image's progress lines: the variant alone for a
// single service ("[scratch]"), else "[api scratch]".
func (p *project) imageSubject(s *service, variant string) string {
	if len(p.services) == 1 {
		return variant
	}
	return s.name + " " + variant
}

// dockerImages makes variant's image of every service in the engine, the
// assembled way or the Dockerfile way, smoke-runs each and records them,
// once per run. Every service is tried; all failures are reported. It
// returns the images made, in the order of the services.
func (r *run) dockerImages(ctx context.Context, variant string) ([]dist.Image, error) {
	return r.once.docker.do(variant, func() ([]dist.Image, error) {
		p := r.p
		if df := p.Plan.Dockerfile; df != nil && df.Syntax != "" {
			r.log.printf("dockerfile", "%s line %d: # syntax=%s is ignored: this engine builds with its legacy builder", df.Path, df.SyntaxAt, df.Syntax)
		}
		eng, err := r.engine(ctx)
		if err != nil {
			return nil, err
		}
		var reports map[string]linkage.Report
		if p.opts.Dockerfile == "" {
			var prefetch sync.WaitGroup
			if variant == variantAlpine {
				// Looked up beside the build and waited for below. Its
				// result, an error included, is memoised: each image
				// asks for the base again, so an error counts only for
				// binaries that pass the Alpine check.
				prefetch.Go(func() {
					if pl, err := r.enginePlatform(ctx); err == nil {
						_, _ = r.engineBase(ctx, eng, p.opts.AlpineBase, pl)
					}
				})
			}
			reports, err = r.engineBinaries(ctx)
			prefetch.Wait()
			if err != nil {
				return nil, err
			}
		}
		// Every service is tried, two at a time, and every failure kept.
		imgs := make([]dist.Image, len(p.services))
		errs := make([]error, len(p.services))
		var wg sync.WaitGroup
		slots := make(chan struct{}, 2)
		for i, s := range p.services {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				imgs[i], errs[i] = r.dockerImage(ctx, eng, s, variant, reports[s.name])
			})
		}
		wg.Wait()
		if !slices.Contains(errs, nil) {
			// Nothing to record: a run that made no image writes nothing.
			return nil, errors.Join(errs...)
		}
		// Under the lock, which also creates dist/: a Dockerfile build
		// writes nothing else there, and another run may be updating
		// artifacts.json.
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		defer unlock()
		rerr := dist.Update(p.Dist, func(m *dist.Manifest) error {
			for i, img := range imgs {
				if errs[i] == nil {
					m.PutImage(img)
				}
			}
			return nil
		})
		return imgs, errors.Join(append(errs, rerr)...)
	})
}

// dockerImage makes one service's image in the engine and smoke-runs it.
func (r *run) dockerImage(ctx context.Context, eng dockerEngine, s *service, variant string, bin linkage.Report) (dist.Image, error) {
	var img dist.Image
	var err error
	if r.p.opts.Dockerfile != "" {
		img, err = r.dockerfileImage(ctx, eng, s, variant)
	} else {
		img, err = r.assembledImage(ctx, eng, s, variant, bin)
	}
	if err != nil {
		return img, err
	}
	return img, r.smoke(ctx, eng, s, variant, img.Reference)
}

// imagePlan is one service's image of one variant for one platform,
// decided before any work: what image.Build gets (but the base), the
// references it goes by and the base to put under it.
type imagePlan struct {
	svc     *service
	variant string
	pl      platform.Platform
	spec    image.Spec
	refs    []string
	base    string   // the Alpine base reference; "" for scratch
	from    *rebased // the image a rebase swaps the base of; nil for a build from source
}

// meta is what the OCI annotations say of s's images.
func (p *project) meta(s *service) image.Meta { return p.Plan.Meta(s.unit()) }

// planImage is the plan's image of s's variant for pl from the binary at
// binary (plan.Image), with s itself.
func (p *project) planImage(s *service, variant string, pl platform.Platform, binary string) imagePlan {
	return p.imagePlan(p.Plan.Image(s.unit(), variant, pl, binary))
}

// imagePlan is the executor's view of a planned image: its service as the
// run has it.
func (p *project) imagePlan(im plan.Image) imagePlan {
	return imagePlan{svc: p.service(im.Service.Name), variant: im.Variant, pl: im.Platform, spec: im.Spec, refs: im.Refs, base: im.Base}
}

// assemble builds the planned image on base (nil for scratch), whose
// digest, when known, the manifest's annotations name: the one way
// magepack makes an image, shared by the engine targets and publish.
func assemble(ip imagePlan, base v1.Image, baseDigest string) (_ v1.Image, err error) {
	defer imaging.claim(&err)
	spec := ip.spec
	spec.Base = base
	if baseDigest != "" {
		spec.Annotations = maps.Clone(spec.Annotations)
		spec.Annotations[image.AnnotationBaseDigest] = baseDigest
	}
	img, err := image.Build(spec)
	if err != nil {
		return nil, fmt.Errorf("assemble the %s image of %s for %s: %w", ip.variant, ip.svc.name, ip.pl, err)
	}
	return img, nil
}

// variantCheck is the linkage check a variant's binary must pass.
func variantCheck(variant string) func(linkage.Report) error {
	if variant == variantAlpine {
		return linkage.CheckAlpine
	}
	return linkage.CheckScratch
}

// assembledImage builds s's image in-process from its binary for the
// engine's platform and loads it.
func (r *run) assembledImage(ctx context.Context, eng dockerEngine, s *service, variant string, bin linkage.Report) (_ dist.Image, err error) {
	defer imaging.claim(&err)
	p := r.p
	if err := variantCheck(variant)(bin); err != nil {
		return dist.Image{}, err
	}
	pl, err := r.enginePlatform(ctx)
	if err != nil {
		return dist.Image{}, err
	}
	ip := p.planImage(s, variant, pl, bin.Path)
	subject := p.imageSubject(s, variant)
	var base engineBase
	if ip.base != "" {
		if base, err = r.engineBase(ctx, eng, ip.base, pl); err != nil {
			return dist.Image{}, err
		}
	}
	stop := r.phase("assemble")
	img, err := assemble(ip, base.img, base.digest)
	stop()
	if err != nil {
		return dist.Image{}, err
	}
	stop = r.phase("load")
	res, err := eng.Load(ctx, img, ip.refs, func(line string) { r.log.printf(subject, "%s", line) })
	stop()
	if err != nil {
		return dist.Image{}, err // engine's errors name the tag and the engine
	}
	verb := "loaded"
	if res.Skipped {
		verb = "unchanged, not sent:"
	}
	r.log.printf(subject, "%s %s id %s %s in %s", verb, ip.refs[0], short(res.ID), mb(res.Size), secs(res.Duration))
	r.log.printf(subject, "id %s = config digest; a registry would show the manifest digest %s", short(res.ConfigDigest), short(res.ManifestDigest))
	for _, ref := range ip.refs[1:] {
		r.log.printf(subject, "tagged %s", ref)
	}
	return dist.Image{
		Service: s.name, Reference: ip.refs[0], Variant: variant, Platform: pl.String(),
		ID: res.ID, ConfigDigest: res.ConfigDigest, ManifestDigest: res.ManifestDigest,
		Size: res.Size, Tags: ip.refs,
	}, nil
}

// engineBase is a base image read from the engine and the registry digest
// it was pulled by ("" for one that was never pulled).
type engineBase struct {
	img    v1.Image
	digest string
}

// engineBase makes sure the Alpine base is in the engine (per the pull
// policy) and reads it from there, once per run.
func (r *run) engineBase(ctx context.Context, eng dockerEngine, ref string, pl platform.Platform) (engineBase, error) {
	return r.once.engineBase.do(ref, func() (_ engineBase, err error) {
		defer imaging.claim(&err)
		if err := eng.EnsureImage(ctx, ref, r.p.opts.Pull); err != nil {
			return engineBase{}, err
		}
		info, err := eng.Inspect(ctx, ref)
		if err != nil {
			return engineBase{}, err
		}
		if info.Os != pl.OS || info.Architecture != pl.Arch {
			return engineBase{}, fmt.Errorf("base %s is %s/%s, but the engine runs %s: use a base for %s (MAGEPACK_ALPINE_BASE)", ref, info.Os, info.Architecture, pl, pl)
		}
		img, err := eng.Image(ctx, ref)
		if err != nil {
			return engineBase{}, err
		}
		b := engineBase{img: img}
		if len(info.RepoDigests) > 0 {
			_, b.digest, _ = strings.Cut(info.RepoDigests[0], "@")
		}
		return b, nil
	})
}

// smoke runs s's image once, as its smoke setting says.
func (r *run) smoke(ctx context.Context, eng dockerEngine, s *service, variant, ref string) (err error) {
	defer imaging.claim(&err)
	subject := r.p.imageSubject(s, variant)
	opts := s.smoke
	if opts.Mode == engine.SmokeOff {
		r.log.printf(subject, "smoke run off")
		return nil
	}
	stop := r.phase("smoke")
	res, err := eng.Smoke(ctx, ref, opts)
	stop()
	if err != nil {
		return &serviceError{name: s.name, err: err}
	}
	switch opts.Mode {
	case engine.SmokeHTTP:
		r.log.printf(subject, "smoke run ok: %s answered %d in %s", opts.Path, res.Status, secs(res.Duration))
	case engine.SmokeRun:
		first, _, _ := strings.Cut(strings.TrimSpace(res.Logs), "\n")
		r.log.printf(subject, "smoke run ok: %s exited 0 in %s: %s", opts, secs(res.Duration), first)
	default:
		r.log.printf(subject, "smoke run ok: still running after %s", secs(res.Duration))
	}
	return nil
}

// enginePlatform is the engine's platform, asked once per run. An engine
// that runs other than Linux containers cannot run magepack's images.
func (r *run) enginePlatform(ctx context.Context) (platform.Platform, error) {
	return r.once.enginePlatform.do(func() (_ platform.Platform, err error) {
		defer imaging.claim(&err)
		eng, err := r.engine(ctx)
		if err != nil {
			return platform.Platform{}, err
		}
		goos, arch, variant, err := eng.Platform(ctx)
		if err != nil {
			return platform.Platform{}, err
		}
		if goos != "linux" {
			return platform.Platform{}, fmt.Errorf("the engine at %s runs %s containers; magepack builds Linux images: switch the engine to Linux containers", eng.Where(), goos)
		}
		return platform.Platform{OS: goos, Arch: arch, Variant: variant}, nil
	})
}

// engineBinaries builds every service for the engine's platform (only
// that one: an image needs nothing else), unless this run built it
// already or dist holds it merged from CI shards, and reads the binaries'
// headers, once per run. The reports are keyed by service name.
//
// The engine's platform (an API round trip) is asked while the binaries
// for the likeliest answer, Linux on this machine's architecture, build;
// only an engine of another architecture costs a second build.
func (r *run) engineBinaries(ctx context.Context) (map[string]linkage.Report, error) {
	return r.once.engineBinaries.do(func() (map[string]linkage.Report, error) {
		p := r.p
		type answer struct {
			pl  platform.Platform
			err error
		}
		asked := make(chan answer, 1)
		go func() {
			pl, err := r.enginePlatform(ctx)
			asked <- answer{pl, err}
		}()
		jobsFor := func(pl platform.Platform) []job {
			jobs := make([]job, len(p.services))
			for i, s := range p.services {
				jobs[i] = job{svc: s, pl: pl}
			}
			return jobs
		}
		guess := platform.Platform{OS: "linux", Arch: p.tc.GOHOSTARCH}
		buildErr := r.binaries(ctx, jobsFor(guess))
		ans := <-asked
		if ans.err != nil {
			return nil, ans.err
		}
		pl := ans.pl
		if pl.OS != guess.OS || pl.Arch != guess.Arch {
			buildErr = r.binaries(ctx, jobsFor(pl))
		}
		if buildErr != nil {
			return nil, buildErr
		}
		reports := map[string]linkage.Report{}
		for _, j := range jobsFor(pl) {
			path := p.binaryPath(j.svc, pl)
			rep, err := linkage.Inspect(path)
			if err != nil {
				return nil, err
			}
			reports[j.svc.name] = rep
			r.log.printf(p.subject(j), "%s: %s", filepath.Base(path), rep.Summary())
		}
		return reports, nil
	})
}
