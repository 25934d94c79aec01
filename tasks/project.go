package tasks

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/toolchain"
)

// project is what every target works from: the plan's decisions (module,
// services, platforms, version), the options and what go env said.
type project struct {
	// Plan is every decision: module, services, platforms, version, C
	// compilers, images.
	*plan.Plan
	opts     options
	services []*service
	tc       *toolchain.Info // what go env said, asked once per run
	environ  []string        // every go command's environment
}

// service is one main package: its binaries, its image and its smoke run.
type service struct {
	name  string // binary base name: dist/<name>_<os>_<arch>[.exe]
	main  string // "./cmd/api" style, relative to the module root
	image string // repository, e.g. "api" or "ghcr.io/team/api"
	smoke engine.SmokeOptions
}

// resolve gathers the facts of the module that contains dir (gather),
// decides the plan from them and o (plan.Make), and returns the project
// the targets work from: the plan's decisions, with what go env said. A
// bad setting fails here, before any work starts, all mistakes together.
// environ is the environment of every go command (run.environ).
func resolve(ctx context.Context, o options, dir string, getenv func(string) string, environ []string) (*project, error) {
	facts, tc, err := gather(ctx, o, dir, getenv, environ)
	if err != nil {
		return nil, err
	}
	pl, err := plan.Make(o.Options, facts)
	if err != nil {
		return nil, err
	}
	p := &project{Plan: pl, opts: o, environ: environ, tc: tc}
	for _, u := range pl.Services {
		p.services = append(p.services, &service{name: u.Name, main: u.Main, image: u.Image, smoke: u.Smoke})
	}
	return p, nil
}

// versionString is the version without a leading v, e.g. 1.2.3-dev.4+gabc1234.
func (p *project) versionString() string { return p.Version.Version.String() }

// versionSource says where the version came from, for progress lines:
// "tag services/v3.1.4", "no tag v*", or "set by hand".
func (p *project) versionSource() string {
	switch {
	case p.opts.Version != nil:
		return "set by hand"
	case p.Version.Tag != "":
		return "tag " + p.Version.Tag
	default:
		return "no tag " + p.Version.TagPrefix + "v*"
	}
}

// rel names a path under the module root the way users see it: "dist/app".
func (p *project) rel(abs string) string {
	if r, err := filepath.Rel(p.Root, abs); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return abs
}

// binaryPath is where crossCompile puts s's binary for pl.
func (p *project) binaryPath(s *service, pl platform.Platform) string {
	return p.Plan.BinaryPath(s.unit(), pl)
}

// labels are the OCI labels every image of s carries.
func (p *project) labels(s *service) map[string]string { return p.Plan.Labels(s.unit()) }

// tags are the image tags of a variant, most specific first.
func (p *project) tags(variant string) []string { return p.Plan.Tags(variant) }

// refs are the image references s's variant is tagged with, most specific
// first.
func (p *project) refs(s *service, variant string) []string { return p.Plan.Refs(s.unit(), variant) }

// unit is s as the plan has it.
func (s *service) unit() plan.Unit {
	return plan.Unit{Name: s.name, Main: s.main, Image: s.image, Smoke: s.smoke}
}

// service returns the service called name, or nil.
func (p *project) service(name string) *service {
	for _, s := range p.services {
		if s.name == name {
			return s
		}
	}
	return nil
}
