package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
)

// dockerfileImage builds s's variant with the repo's own Dockerfile through
// the engine (the notes' multi-stage way), after refusing a builder image
// whose Go is older than go.mod asks for.
func (r *run) dockerfileImage(ctx context.Context, eng dockerEngine, s *service, variant string) (dist.Image, error) {
	p := r.p
	plan, err := planDockerfile(p)
	if err != nil {
		return dist.Image{}, err
	}
	builder, err := r.dockerfileBases(ctx, eng, plan, variant)
	if err != nil {
		return dist.Image{}, err
	}
	refs := p.refs(s, variant)
	subject := p.imageSubject(s, variant)
	r.log.printf(subject, "building %s with %s (%s)", refs[0], plan.dockerfile, builder)
	stop := r.phase("build")
	res, err := eng.Build(ctx, engine.BuildOptions{
		ContextDir: p.root,
		Dockerfile: plan.dockerfile,
		Tags:       refs,
		BuildArgs:  plan.args(p, s),
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
func (r *run) dockerfileBases(ctx context.Context, eng dockerEngine, plan dockerfilePlan, variant string) (_ string, err error) {
	defer imaging.claim(&err)
	have, err := r.checkBuilder(ctx, eng, plan)
	if err != nil {
		return "", err
	}
	builder := fmt.Sprintf("builder %s, Go %s", plan.builderImage(), have)
	if have == nil {
		builder = "builder Go not checked"
	}
	if variant == variantAlpine {
		if err := eng.EnsureImage(ctx, r.p.opts.alpineBase, r.p.opts.pull); err != nil {
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
func (r *run) checkBuilder(ctx context.Context, eng dockerEngine, plan dockerfilePlan) (*semver.Version, error) {
	return r.once.builder.do(plan.dockerfile, func() (_ *semver.Version, err error) {
		defer imaging.claim(&err)
		g := plan.goBuilder
		if !g.UsesArg && g.Image == "" {
			r.log.printf("dockerfile", "builder Go check skipped: %s", g.Unknown)
			return nil, nil
		}
		image := plan.builderImage()
		if g.UsesArg {
			if err := eng.EnsureImage(ctx, image, r.p.opts.pull); err != nil {
				return nil, fmt.Errorf("builder image: %w", err)
			}
		}
		have, err := eng.BuilderGoVersion(ctx, image)
		if !g.UsesArg && errors.Is(err, dockerfile.ErrUnknownBuilderVersion) {
			r.log.printf("dockerfile", "builder Go check skipped: %s line %d: %v", plan.dockerfile, g.Line, err)
			return nil, nil
		}
		switch {
		case errors.Is(err, dockerfile.ErrUnknownBuilderVersion):
			return nil, &configError{err}
		case err != nil:
			return nil, err
		}
		if err := dockerfile.CheckBuilder(have, plan.goMod, image); err != nil {
			var old *dockerfile.BuilderTooOldError
			if errors.As(err, &old) && !g.UsesArg {
				old.Dockerfile, old.Line = plan.dockerfile, g.Line
			}
			return nil, err
		}
		return have, nil
	})
}

// dockerfilePlan is what an own-Dockerfile build will do, decided before
// anything runs.
type dockerfilePlan struct {
	dockerfile string // relative to the module root
	builder    string // the GO_IMAGE build argument
	goMod      *semver.Version
	// goBuilder says whose Go version to check: the GO_IMAGE argument's,
	// or the image the build stage names.
	goBuilder dockerfile.GoBuilder
	syntax    string // a "# syntax=" directive, which the legacy builder ignores
	syntaxAt  int
}

// builderImage is the image whose Go builds the binary.
func (d dockerfilePlan) builderImage() string {
	if d.goBuilder.UsesArg {
		return d.builder
	}
	return d.goBuilder.Image
}

func planDockerfile(p *project) (dockerfilePlan, error) {
	df := p.opts.dockerfile
	if filepath.IsAbs(df) {
		rel, err := filepath.Rel(p.root, df)
		if err != nil || !filepath.IsLocal(rel) {
			return dockerfilePlan{}, &configError{fmt.Errorf("dockerfile %s is outside the module %s: the build context is the module root (MAGEPACK_DOCKERFILE)", df, p.root)}
		}
		df = rel
	}
	if _, err := os.Stat(filepath.Join(p.root, df)); err != nil {
		return dockerfilePlan{}, &configError{fmt.Errorf("dockerfile %s does not exist in %s: fix MAGEPACK_DOCKERFILE (a path relative to the module root)", df, p.root)}
	}
	parsed, err := dockerfile.Read(filepath.Join(p.root, df))
	if err != nil {
		return dockerfilePlan{}, &configError{err}
	}
	if len(parsed.BuildKit) > 0 {
		// Said before the context is sent or any image is pulled.
		return dockerfilePlan{}, &engine.BuildKitError{Dockerfile: filepath.ToSlash(df), BuildKitLine: parsed.BuildKit[0], More: len(parsed.BuildKit) - 1}
	}
	req, err := dockerfile.GoModVersion(filepath.Join(p.root, "go.mod"))
	if err != nil {
		return dockerfilePlan{}, &configError{err}
	}
	builder := p.opts.builder
	if builder == "" {
		builder = dockerfile.DefaultBuilder(req)
	}
	plan := dockerfilePlan{dockerfile: filepath.ToSlash(df), builder: builder, goMod: req, syntax: parsed.Syntax, syntaxAt: parsed.SyntaxLine}
	args := map[string]string{}
	for k, v := range plan.args(p, p.services[0]) {
		if k != "GO_IMAGE" {
			args[k] = *v
		}
	}
	plan.goBuilder = parsed.GoBuilder("GO_IMAGE", args)
	return plan, nil
}

// args are the build arguments every magepack Dockerfile build gets; a
// Dockerfile shared by several services tells them apart by SERVICE and
// MAIN.
func (d dockerfilePlan) args(p *project, s *service) map[string]*string {
	str := func(v string) *string { return &v }
	args := map[string]*string{
		"GO_IMAGE":     str(d.builder),
		"ALPINE_IMAGE": str(p.opts.alpineBase),
		"VERSION":      str(p.versionString()),
		"COMMIT":       str(p.ver.Commit),
		"DATE":         str(p.ver.Date.UTC().Format(time.RFC3339)),
	}
	if len(p.services) > 1 {
		args["SERVICE"] = str(s.name)
		args["MAIN"] = str(s.main)
	}
	return args
}
