package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
)

// dockerfileImage builds s's variant with the repo's own Dockerfile through
// the engine (the notes' multi-stage way), after refusing a builder image
// whose Go is older than go.mod asks for.
func (r *run) dockerfileImage(ctx context.Context, eng *engine.Engine, s *service, variant string) (dist.Image, error) {
	p := r.p
	plan, err := planDockerfile(p)
	if err != nil {
		return dist.Image{}, err
	}
	have, err := r.checkBuilder(ctx, eng, plan)
	if err != nil {
		return dist.Image{}, err
	}
	if variant == variantAlpine {
		if err := eng.EnsureImage(ctx, p.opts.alpineBase, p.opts.pull); err != nil {
			return dist.Image{}, &imageError{err}
		}
	}
	refs := p.refs(s, variant)
	subject := p.imageSubject(s, variant)
	r.log.printf(subject, "building %s with %s (builder %s, Go %s)", refs[0], plan.dockerfile, plan.builder, have)
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
		return dist.Image{}, err
	}
	info, err := eng.Inspect(ctx, res.ID)
	if err != nil {
		return dist.Image{}, &imageError{err}
	}
	r.log.printf(subject, "built %s id %s %s in %s (context: %d files, %s)", refs[0], short(res.ID), mb(info.Size), secs(res.Duration), res.Context.Files, mb(res.Context.Bytes))
	return dist.Image{
		Service: s.name, Reference: refs[0], Variant: variant, Platform: info.Os + "/" + info.Architecture,
		ID: res.ID, ConfigDigest: res.ID, Size: info.Size, Tags: refs,
	}, nil
}

// checkBuilder pulls the builder image (per the pull policy) and refuses
// one whose Go is older than go.mod asks for, once per run.
func (r *run) checkBuilder(ctx context.Context, eng *engine.Engine, plan dockerfilePlan) (*semver.Version, error) {
	return do(r, "builder "+plan.builder, func() (*semver.Version, error) {
		if err := eng.EnsureImage(ctx, plan.builder, r.p.opts.pull); err != nil {
			return nil, &imageError{fmt.Errorf("builder image: %w", err)}
		}
		have, err := engine.BuilderGoVersion(ctx, eng, plan.builder)
		if err != nil {
			return nil, &configError{err}
		}
		if err := engine.CheckBuilder(have, plan.goMod, plan.builder); err != nil {
			return nil, err
		}
		return have, nil
	})
}

// dockerfilePlan is what an own-Dockerfile build will do, decided before
// anything runs.
type dockerfilePlan struct {
	dockerfile string // relative to the module root
	builder    string
	goMod      *semver.Version
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
	req, err := engine.GoModVersion(filepath.Join(p.root, "go.mod"))
	if err != nil {
		return dockerfilePlan{}, &configError{err}
	}
	builder := p.opts.builder
	if builder == "" {
		builder = engine.DefaultBuilder(req)
	}
	return dockerfilePlan{dockerfile: filepath.ToSlash(df), builder: builder, goMod: req}, nil
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
