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

// dockerfileImage builds variant with the repo's own Dockerfile through the
// engine (the notes' multi-stage way), after refusing a builder image whose
// Go is older than go.mod asks for.
func dockerfileImage(ctx context.Context, p *project, eng *engine.Engine, variant string) (dist.Image, error) {
	plan, err := planDockerfile(p)
	if err != nil {
		return dist.Image{}, err
	}
	if err := eng.EnsureImage(ctx, plan.builder, engine.PullPolicy(p.cfg.Pull)); err != nil {
		return dist.Image{}, &imageError{fmt.Errorf("builder image: %w", err)}
	}
	have, err := engine.BuilderGoVersion(ctx, eng, plan.builder)
	if err != nil {
		return dist.Image{}, &configError{err}
	}
	if err := engine.CheckBuilder(have, plan.goMod, plan.builder); err != nil {
		return dist.Image{}, err
	}
	if variant == "alpine" {
		if err := eng.EnsureImage(ctx, p.cfg.AlpineBase, engine.PullPolicy(p.cfg.Pull)); err != nil {
			return dist.Image{}, &imageError{err}
		}
	}
	refs := p.refs(variant)
	out.printf(variant, "building %s with %s (builder %s, Go %s)", refs[0], plan.dockerfile, plan.builder, have)
	res, err := eng.Build(ctx, engine.BuildOptions{
		ContextDir: p.root,
		Dockerfile: plan.dockerfile,
		Tags:       refs,
		BuildArgs:  plan.args(p),
		Labels:     p.labels(),
		Progress:   func(line string) { out.printf(variant, "%s", line) },
	})
	if err != nil {
		return dist.Image{}, err
	}
	info, err := eng.Inspect(ctx, res.ID)
	if err != nil {
		return dist.Image{}, &imageError{err}
	}
	out.printf(variant, "built %s id %s %s in %s (context: %d files, %s)", refs[0], short(res.ID), mb(info.Size), secs(res.Duration), res.Context.Files, mb(res.Context.Bytes))
	return dist.Image{
		Reference: refs[0], Variant: variant, Platform: info.Os + "/" + info.Architecture,
		ID: res.ID, ConfigDigest: res.ID, Size: info.Size, Tags: refs,
	}, nil
}

// dockerfilePlan is what an own-Dockerfile build will do, decided before
// anything runs.
type dockerfilePlan struct {
	dockerfile string // relative to the module root
	builder    string
	goMod      *semver.Version
}

func planDockerfile(p *project) (dockerfilePlan, error) {
	df := p.cfg.Dockerfile
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
	builder := p.cfg.Builder
	if builder == "" {
		builder = engine.DefaultBuilder(req)
	}
	return dockerfilePlan{dockerfile: filepath.ToSlash(df), builder: builder, goMod: req}, nil
}

// args are the build arguments every magepack Dockerfile build gets.
func (d dockerfilePlan) args(p *project) map[string]*string {
	s := func(v string) *string { return &v }
	return map[string]*string{
		"GO_IMAGE":     s(d.builder),
		"ALPINE_IMAGE": s(p.cfg.AlpineBase),
		"VERSION":      s(p.versionString()),
		"COMMIT":       s(p.ver.Commit),
		"DATE":         s(p.ver.Date.UTC().Format(time.RFC3339)),
	}
}
