package tasks

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/version"
)

// project is what every target works from: the plan's decisions (module,
// services, platforms, version), the options and what go env said.
type project struct {
	opts       options
	plan       *plan.Plan
	root       string // module root, absolute
	modulePath string
	services   []*service
	dist       string // absolute
	platforms  []platform.Platform
	goVersion  string
	tc         *toolchain.Info // what go env said, asked once per run
	environ    []string        // every go command's environment
	ver        version.Info
	created    time.Time // SOURCE_DATE_EPOCH, else the commit's time
	// notes are said once when a run starts: defaults derived in a way
	// the user may not expect.
	notes []string
	// cc is the C compiler of each platform of a cgo build (none for a
	// platform that keeps go's own choice).
	cc map[gobuild.Target]string
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
	p := &project{
		opts: o, plan: pl, environ: environ, tc: tc,
		root: pl.Root, modulePath: pl.ModulePath, dist: pl.Dist, platforms: pl.Platforms,
		goVersion: pl.GoVersion, ver: pl.Version, created: pl.Created, notes: pl.Notes, cc: pl.CC,
	}
	for _, u := range pl.Services {
		p.services = append(p.services, &service{name: u.Name, main: u.Main, image: u.Image, smoke: u.Smoke})
	}
	return p, nil
}

// versionString is the version without a leading v, e.g. 1.2.3-dev.4+gabc1234.
func (p *project) versionString() string { return p.ver.Version.String() }

// versionSource says where the version came from, for progress lines:
// "tag services/v3.1.4", "no tag v*", or "set by hand".
func (p *project) versionSource() string {
	switch {
	case p.opts.Version != nil:
		return "set by hand"
	case p.ver.Tag != "":
		return "tag " + p.ver.Tag
	default:
		return "no tag " + p.ver.TagPrefix + "v*"
	}
}

// rel names a path under the module root the way users see it: "dist/app".
func (p *project) rel(abs string) string {
	if r, err := filepath.Rel(p.root, abs); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return abs
}

// binaryPath is where crossCompile puts s's binary for pl.
func (p *project) binaryPath(s *service, pl platform.Platform) string {
	return p.plan.BinaryPath(s.unit(), pl)
}

// labels are the OCI labels every image of s carries.
func (p *project) labels(s *service) map[string]string { return p.plan.Labels(s.unit()) }

// tags are the image tags of a variant, most specific first.
func (p *project) tags(variant string) []string { return p.plan.Tags(variant) }

// refs are the image references s's variant is tagged with, most specific
// first.
func (p *project) refs(s *service, variant string) []string { return p.plan.Refs(s.unit(), variant) }

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
