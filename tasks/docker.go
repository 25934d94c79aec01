package tasks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/magefile/mage/mg"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
)

// DockerScratch builds the scratch image from the checked Linux binary, loads it into the Docker engine, tags it and smoke-runs it.
//
// The image holds only the static binary at /usr/local/bin/<name>, a CA
// bundle, and /etc/passwd and /etc/group with the non-root user 65532. It is
// assembled in-process and reproducible: the same commit gives the same
// image ID. With MAGEPACK_DOCKERFILE set, the engine builds that Dockerfile
// instead.
func DockerScratch(ctx context.Context) error {
	return fail(dockerImage(ctx, "scratch"))
}

// DockerAlpine builds the Alpine image (MAGEPACK_ALPINE_BASE plus the checked binary and a non-root user), loads it into the Docker engine, tags it and smoke-runs it.
//
// The base is pulled through the engine per MAGEPACK_PULL. A binary that
// needs glibc is refused before anything is built. With MAGEPACK_DOCKERFILE
// set, the engine builds that Dockerfile instead.
func DockerAlpine(ctx context.Context) error {
	return fail(dockerImage(ctx, "alpine"))
}

// dockerImage makes one variant's image in the engine, the assembled way or
// the Dockerfile way, smoke-runs it and records it.
func dockerImage(ctx context.Context, variant string) error {
	p, err := setup(ctx)
	if err != nil {
		return err
	}
	if p.cfg.Dockerfile != "" {
		// A missing Dockerfile is a configuration mistake, whether or not
		// an engine answers.
		if _, err := planDockerfile(p); err != nil {
			return err
		}
	}
	eng, err := connect(ctx)
	if err != nil {
		return err
	}
	var img dist.Image
	if p.cfg.Dockerfile != "" {
		img, err = dockerfileImage(ctx, p, eng, variant)
	} else {
		mg.CtxDeps(ctx, engineBinary)
		img, err = assembledImage(ctx, p, eng, variant)
	}
	if err != nil {
		return err
	}
	if err := smoke(ctx, p, eng, variant, img.Reference); err != nil {
		return err
	}
	// Under the lock, which also creates dist/: a Dockerfile build writes
	// nothing else there, and another run may be updating artifacts.json.
	unlock, err := lockDist(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	return dist.Update(p.dist, func(m *dist.Manifest) error {
		m.PutImage(img)
		return nil
	})
}

// assembledImage builds the image in-process from the engine platform's
// binary and loads it.
func assembledImage(ctx context.Context, p *project, eng *engine.Engine, variant string) (dist.Image, error) {
	bin := engineBin.report
	check := linkage.CheckScratch
	var base v1.Image
	if variant == "alpine" {
		check = linkage.CheckAlpine
	}
	if err := check(bin); err != nil {
		return dist.Image{}, err
	}
	if variant == "alpine" {
		var err error
		if base, err = alpineBase(ctx, p, eng, engineBin.platform); err != nil {
			return dist.Image{}, err
		}
	}
	img, err := assemble(p, variant, engineBin.platform, bin.Path, base)
	if err != nil {
		return dist.Image{}, err
	}
	refs := p.refs(variant)
	res, err := eng.Load(ctx, img, refs, func(line string) { out.printf(variant, "%s", line) })
	if err != nil {
		return dist.Image{}, &imageError{err} // engine's errors name the tag and the engine
	}
	verb := "loaded"
	if res.Skipped {
		verb = "unchanged, not sent:"
	}
	out.printf(variant, "%s %s id %s %s in %s", verb, refs[0], short(res.ID), mb(res.Size), secs(res.Duration))
	out.printf(variant, "id %s = config digest; a registry would show the manifest digest %s", short(res.ConfigDigest), short(res.ManifestDigest))
	for _, r := range refs[1:] {
		out.printf(variant, "tagged %s", r)
	}
	return dist.Image{
		Reference: refs[0], Variant: variant, Platform: engineBin.platform.String(),
		ID: res.ID, ConfigDigest: res.ConfigDigest, ManifestDigest: res.ManifestDigest,
		Size: res.Size, Tags: refs,
	}, nil
}

// assemble builds one variant's image for one platform: the one way magepack
// makes an image, shared by the engine targets and publish.
func assemble(p *project, variant string, pl platform.Platform, binary string, base v1.Image) (v1.Image, error) {
	img, err := image.Build(image.Spec{
		Name:     p.name,
		Binary:   binary,
		OS:       pl.OS,
		Arch:     pl.Arch,
		Variant:  pl.ImageVariant(),
		CABundle: p.cfg.CABundle,
		TZData:   p.cfg.TZData && variant == "scratch",
		Port:     p.cfg.Port,
		Labels:   p.labels(),
		Created:  p.created,
		Base:     base,
	})
	if errors.Is(err, image.ErrNoCABundle) {
		return nil, &configError{fmt.Errorf("assemble the %s image for %s: %w; or set MAGEPACK_CA_BUNDLE to a PEM bundle", variant, pl, err)}
	}
	if err != nil {
		return nil, &imageError{fmt.Errorf("assemble the %s image for %s: %w", variant, pl, err)}
	}
	return img, nil
}

// alpineBase makes sure the Alpine base is in the engine (per MAGEPACK_PULL)
// and reads it from there.
func alpineBase(ctx context.Context, p *project, eng *engine.Engine, pl platform.Platform) (v1.Image, error) {
	ref := p.cfg.AlpineBase
	if err := eng.EnsureImage(ctx, ref, engine.PullPolicy(p.cfg.Pull)); err != nil {
		return nil, &imageError{err}
	}
	info, err := eng.Inspect(ctx, ref)
	if err != nil {
		return nil, &imageError{err}
	}
	if info.Os != pl.OS || info.Architecture != pl.Arch {
		return nil, &imageError{fmt.Errorf("base %s is %s/%s, but the engine runs %s: use a base for %s (MAGEPACK_ALPINE_BASE)", ref, info.Os, info.Architecture, pl, pl)}
	}
	base, err := eng.Image(ctx, ref)
	if err != nil {
		return nil, &imageError{err}
	}
	return base, nil
}

// smoke runs the image once, as MAGEPACK_SMOKE says.
func smoke(ctx context.Context, p *project, eng *engine.Engine, variant, ref string) error {
	opts, err := engine.ParseSmoke(p.cfg.Smoke)
	if err != nil {
		return &configError{err}
	}
	if opts.Mode == engine.SmokeOff {
		out.printf(variant, "smoke run off (MAGEPACK_SMOKE=off)")
		return nil
	}
	opts.Port = p.cfg.Port
	res, err := eng.Smoke(ctx, ref, opts)
	if err != nil {
		return &imageError{err}
	}
	if opts.Mode == engine.SmokeHTTP {
		out.printf(variant, "smoke run ok: %s answered %d in %s", opts.Path, res.Status, secs(res.Duration))
	} else {
		out.printf(variant, "smoke run ok: still running after %s", secs(res.Duration))
	}
	return nil
}

// engineBin is the binary for the engine's own platform, built and
// inspected once per run by engineBinary.
var engineBin struct {
	platform platform.Platform
	report   linkage.Report
}

// engineBinary builds the main package for the engine's platform (only
// that one: an image needs nothing else) and reads its headers.
func engineBinary(ctx context.Context) error {
	p, err := setup(ctx)
	if err != nil {
		return fail(err)
	}
	eng, err := connect(ctx)
	if err != nil {
		return fail(err)
	}
	goos, arch, variant, err := eng.Platform(ctx)
	if err != nil {
		return fail(&imageError{err})
	}
	pl := platform.Platform{OS: goos, Arch: arch, Variant: variant}
	if goos != "linux" {
		return fail(&imageError{fmt.Errorf("the engine at %s runs %s containers; magepack builds Linux images: switch the engine to Linux containers", eng.Where(), goos)})
	}
	if err := compile(ctx, p, []platform.Platform{pl}); err != nil {
		return fail(err)
	}
	path := p.binaryPath(pl)
	rep, err := linkage.Inspect(path)
	if err != nil {
		return fail(err)
	}
	engineBin.platform, engineBin.report = pl, rep
	out.printf(pl.String(), "%s: %s", filepath.Base(path), rep.Summary())
	return nil
}

// session engine: one connection per run.
var eng struct {
	once sync.Once
	e    *engine.Engine
	err  error
}

// connect finds the Docker engine once per run.
func connect(ctx context.Context) (*engine.Engine, error) {
	eng.once.Do(func() { eng.e, eng.err = engine.Connect(ctx) })
	return eng.e, eng.err
}

// short abbreviates a digest for progress lines: sha256:0123456789ab.
func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
