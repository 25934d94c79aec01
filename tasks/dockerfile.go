package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/plan"
)

// dockerfileImage builds s's variant with the repo's own Dockerfile through
// the engine, so its stages (go build in a builder image included) run
// there and not on the host. A builder image whose Go is older than go.mod
// asks for is refused first: the build would otherwise fail late, inside
// the engine, with go's less direct message.
func (r *run) dockerfileImage(ctx context.Context, eng dockerEngine, s *service, variant string) (dist.Image, error) {
	p := r.p
	df := *p.Plan.Dockerfile
	builder, err := r.dockerfileBases(ctx, eng, df, variant)
	if err != nil {
		return dist.Image{}, err
	}
	refs := p.refs(s, variant)
	subject := p.imageSubject(s, variant)
	r.log.printf(subject, "building %s with %s (%s)", refs[0], df.Path, builder)
	stop := r.phase("build")
	res, err := eng.Build(ctx, engine.BuildOptions{
		ContextDir: p.Root,
		Dockerfile: df.Path,
		Tags:       refs,
		BuildArgs:  p.Plan.BuildArgs(df, s.unit()),
		Labels:     p.labels(s),
		Progress:   func(line string) { r.log.printf(subject, "%s", line) },
	})
	stop()
	if err != nil {
		// The build is in no step family: a failing Dockerfile step has
		// its own row (*engine.BuildStepError, ExitBuild), and an
		// unreadable context or an engine failure during the build is
		// no image failure.
		return dist.Image{}, err
	}
	return r.dockerfileBuilt(ctx, eng, s, variant, res)
}

// dockerfileBases checks the builder image (see checkBuilder) and, for
// Alpine, makes sure the base is in the engine, before a Dockerfile build.
// It returns how the progress line names the builder.
func (r *run) dockerfileBases(ctx context.Context, eng dockerEngine, df plan.Dockerfile, variant string) (_ string, err error) {
	defer imaging.claim(&err)
	have, err := r.checkBuilder(ctx, eng, df)
	if err != nil {
		return "", err
	}
	builder := fmt.Sprintf("builder %s, Go %s", df.BuilderImage(), have)
	if have == nil {
		builder = "builder Go not checked"
	}
	if variant == variantAlpine {
		if err := eng.EnsureImage(ctx, r.p.opts.AlpineBase, r.p.opts.Pull); err != nil {
			return "", err
		}
	}
	return builder, nil
}

// dockerfileBuilt reads the image a Dockerfile build made from the engine,
// says so, and returns its record.
func (r *run) dockerfileBuilt(ctx context.Context, eng dockerEngine, s *service, variant string, res engine.BuildResult) (_ dist.Image, err error) {
	defer imaging.claim(&err)
	p := r.p
	refs := p.refs(s, variant)
	info, err := eng.Inspect(ctx, res.ID)
	if err != nil {
		return dist.Image{}, err
	}
	r.log.printf(p.imageSubject(s, variant), "built %s id %s %s in %s (context: %d files, %s)", refs[0], short(res.ID), mb(info.Size), secs(res.Duration), res.Context.Files, mb(res.Context.Bytes))
	return dist.Image{
		Service: s.name, Reference: refs[0], Variant: variant, Platform: info.Os + "/" + info.Architecture,
		ID: res.ID, ConfigDigest: res.ID, Size: info.Size, Tags: refs,
	}, nil
}

// checkBuilder refuses a builder image whose Go is older than go.mod asks
// for, once per run. The builder is the configured one (pulled per the
// pull policy) when the Dockerfile takes it from GO_IMAGE; else the image
// its build stage names, checked as far as the engine or its tag tells,
// never pulled. It returns nil, having said why, when the Go version
// cannot be told.
func (r *run) checkBuilder(ctx context.Context, eng dockerEngine, df plan.Dockerfile) (*semver.Version, error) {
	return r.once.builder.do(df.Path, func() (_ *semver.Version, err error) {
		defer imaging.claim(&err)
		g := df.GoBuilder
		if !g.UsesArg && g.Image == "" {
			r.log.printf("dockerfile", "builder Go check skipped: %s", g.Unknown)
			return nil, nil
		}
		image := df.BuilderImage()
		if g.UsesArg {
			if err := eng.EnsureImage(ctx, image, r.p.opts.Pull); err != nil {
				return nil, fmt.Errorf("builder image: %w", err)
			}
		}
		have, err := eng.BuilderGoVersion(ctx, image)
		if !g.UsesArg && errors.Is(err, dockerfile.ErrUnknownBuilderVersion) {
			r.log.printf("dockerfile", "builder Go check skipped: %s line %d: %v", df.Path, g.Line, err)
			return nil, nil
		}
		switch {
		case errors.Is(err, dockerfile.ErrUnknownBuilderVersion):
			return nil, plan.Bad("MAGEPACK_BUILDER", err)
		case err != nil:
			return nil, err
		}
		if err := dockerfile.CheckBuilder(have, df.GoMod, image); err != nil {
			var old *dockerfile.BuilderTooOldError
			if errors.As(err, &old) && !g.UsesArg {
				old.Dockerfile, old.Line = df.Path, g.Line
			}
			return nil, err
		}
		return have, nil
	})
}
