package plan

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/shard"
	"github.com/magepack/magepack/tasks/version"
)

// Plan is every decision a run makes before it does any work, as plain
// values: the services with their names, images and smoke runs, the
// platforms, the C compilers, the version and the time every artifact
// carries, the build jobs and this run's share of them.
type Plan struct {
	Options    Options
	Root       string // module root, absolute
	ModulePath string
	Services   []Unit
	Dist       string // absolute
	Platforms  []platform.Platform
	GoVersion  string
	GoFlags    string
	Host       gobuild.Target
	Version    version.Info
	// Created is the time every image and attestation carries:
	// SOURCE_DATE_EPOCH, else the commit's time.
	Created time.Time
	// CC is the C compiler of each platform of a cgo build (none for a
	// platform that keeps go's own choice).
	CC map[gobuild.Target]string
	// Notes are said once when the run starts: defaults derived in a way
	// the user may not expect.
	Notes []string
	// Dockerfile is the own-Dockerfile build (MAGEPACK_DOCKERFILE); nil
	// when magepack assembles the images itself.
	Dockerfile *Dockerfile
}

// Unit is one service: a main package, its binaries, its image and its
// smoke run.
type Unit struct {
	Name  string // binary base name: dist/<name>_<os>_<arch>[.exe]
	Main  string // "./cmd/api" style, relative to the module root
	Image string // repository, e.g. "api" or "ghcr.io/team/api"
	Smoke engine.SmokeOptions
}

// Make decides the run from the parsed options and the facts. Every
// configuration mistake it finds is returned together in one *Error,
// each naming its setting; the plan is nil then.
func Make(o Options, f Facts) (*Plan, error) {
	p := &Plan{
		Options: o, Root: f.ModuleRoot, ModulePath: f.ModulePath,
		GoVersion: f.GoVersion, GoFlags: f.GoFlags, Host: f.Host,
	}
	p.Notes = append(p.Notes, f.ToolchainNotes...)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(p.decideServices(f))
	p.Dist = o.Dist
	if !filepath.IsAbs(p.Dist) {
		p.Dist = filepath.Join(f.ModuleRoot, p.Dist)
	}
	if f.DistIsFile {
		add(&Error{Err: fmt.Errorf("dist %q is a file, not a folder: remove it or set MAGEPACK_DIST", o.Dist)})
	}
	if o.CABundle != "" {
		add(Bad("MAGEPACK_CA_BUNDLE", f.CABundleErr))
	}
	var err error
	if p.Platforms, err = platform.Parse(o.Platforms, f.Ports, f.GoVersion); err != nil {
		add(Bad("MAGEPACK_PLATFORMS", err))
	} else {
		add(p.chooseCompilers(f.Compilers))
	}
	add(p.decideVersion(f))
	if _, err := gobuild.Ldflags(gobuild.Config{LdflagsExtra: o.Ldflags, StaticCGO: o.CGOStatic, VersionVars: o.Vars}); err != nil {
		add(Bad("MAGEPACK_LDFLAGS", err))
	}
	if len(errs) == 0 {
		add(p.decideDockerfile(f.Dockerfile))
	}
	if err := Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// decideServices gives each main package its name, image and smoke run.
func (p *Plan) decideServices(f Facts) error {
	o := p.Options
	if f.MainsErr != nil {
		return &Error{Err: f.MainsErr}
	}
	mains := f.Mains
	if o.Name != "" && len(mains) > 1 {
		return &Error{Err: fmt.Errorf("MAGEPACK_NAME=%s names one service, but there are %d (%s): unset MAGEPACK_NAME; each service is named after its folder", o.Name, len(mains), packages(mains))}
	}
	if err := checkSingleServiceSmoke(o.Smoke, mains); err != nil {
		return err
	}
	var errs []error
	byName := map[string]string{}
	for _, m := range mains {
		u := Unit{Main: m.Package, Name: o.Name, Smoke: o.Smoke}
		if u.Name == "" {
			u.Name = m.Name
		}
		if err := checkName(u.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := byName[u.Name]; ok {
			errs = append(errs, &Error{Err: fmt.Errorf("main packages %s and %s would both make binaries named %s: build them separately (MAGEPACK_MAIN), or rename one folder", other, m.Package, u.Name)})
			continue
		}
		byName[u.Name] = m.Package
		var err error
		if u.Image, err = p.imageRepo(u.Name, len(mains) > 1); err != nil {
			errs = append(errs, err)
		}
		if s, ok := o.Services[u.Name]; ok {
			u.Smoke = s
		}
		p.Services = append(p.Services, u)
	}
	errs = append(errs, checkServiceSettings(o.Services, byName, f.ModuleMains))
	return Join(errs...)
}

func packages(mains []gobuild.Main) string {
	pkgs := make([]string, len(mains))
	for i, m := range mains {
		pkgs[i] = m.Package
	}
	return strings.Join(pkgs, ", ")
}

// checkServiceSettings refuses per-service settings for a name that no
// main package of the module has (a typo would otherwise go unnoticed).
// Settings for a service this run leaves out are fine: a CI matrix builds
// one service per job with the same magefile.
func checkServiceSettings(services map[string]engine.SmokeOptions, selected map[string]string, moduleMains []string) error {
	for _, n := range slices.Sorted(maps.Keys(services)) {
		if _, ok := selected[n]; ok || slices.Contains(moduleMains, n) {
			continue
		}
		return &Error{Err: fmt.Errorf("Settings.Services has settings for %q, which no main package of the module is named: the services are %s", n, strings.Join(slices.Sorted(slices.Values(moduleMains)), ", "))}
	}
	return nil
}

// imageRepo is a service's image repository: the configured one (a prefix
// with several services), else one derived from its name, made valid when
// the name is not a valid repository (and said once).
func (p *Plan) imageRepo(svcName string, several bool) (string, error) {
	repo := p.Options.Image
	switch {
	case repo == "":
		derived, changed := gobuild.ImageName(svcName)
		if changed && derived != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("image %s for service %s: %q is not a valid image name (set MAGEPACK_IMAGE to choose another)", derived, svcName, svcName))
		}
		if derived != "" {
			repo = derived
		} else {
			repo = svcName
		}
	case several:
		repo = strings.TrimSuffix(repo, "/") + "/" + svcName
	}
	if _, err := name.NewRepository(repo); err != nil {
		return "", &Error{Err: fmt.Errorf("image %q is not a valid repository name (lowercase letters, digits, '.', '_', '-' and '/', optionally behind a registry host such as ghcr.io/team/app): set MAGEPACK_IMAGE", repo)}
	}
	return repo, nil
}

// checkName rejects names that cannot be a file name and an image name.
func checkName(n string) error {
	if n == "" || n == "." || n == "/" || strings.ContainsAny(n, `/\ :`) {
		return &Error{Err: fmt.Errorf("name %q cannot name a binary: set MAGEPACK_NAME", n)}
	}
	return nil
}

// chooseCompilers picks the C compiler of every platform of a cgo build
// (cgo.Choose, over the compilers the facts found), and says which for a
// static build.
func (p *Plan) chooseCompilers(found map[string]string) error {
	o := p.Options
	if !o.CGO {
		return nil
	}
	targets := p.Targets()
	cc, err := cgo.Choose(o.CC, targets, p.Host, o.CGOStatic, Look(found))
	if err != nil {
		return &Error{Err: err}
	}
	p.CC = cc
	if o.CGOStatic {
		var each []string
		for _, t := range targets {
			each = append(each, t.String()+" with "+cc[t])
		}
		tags := gobuild.BuildTags(gobuild.Config{StaticCGO: true, Tags: o.Tags}, p.GoFlags)
		p.Notes = append(p.Notes, "static cgo binaries (tags "+tags+"): "+strings.Join(each, ", "))
	}
	return nil
}

// Look is exec.LookPath over the compilers found: the path, or an error
// for a name that is not there.
func Look(found map[string]string) func(string) (string, error) {
	return func(name string) (string, error) {
		if path := found[name]; path != "" {
			return path, nil
		}
		return "", fmt.Errorf("%s: executable file not found in $PATH", name)
	}
}

// Targets are the plan's platforms as go build's targets.
func (p *Plan) Targets() []gobuild.Target {
	targets := make([]gobuild.Target, len(p.Platforms))
	for i, pl := range p.Platforms {
		targets[i] = gobuild.Target{OS: pl.OS, Arch: pl.Arch}
	}
	return targets
}

// decideVersion takes the version from git, or the configured one (with
// git's commit and date when there is a repository), and the time every
// artifact carries.
func (p *Plan) decideVersion(f Facts) error {
	o := p.Options
	info, gitErr := f.Git, f.GitErr
	switch {
	case o.Version == nil && gitErr != nil:
		return &Error{Err: gitErr}
	case o.Version != nil && gitErr != nil:
		info = version.Info{}
	}
	if o.Version != nil {
		info.Version = o.Version
	}
	p.Version = info
	for _, w := range info.Warnings() {
		if info.PlainTag != "" && strings.Contains(w, info.PlainTag) {
			w += " (MAGEPACK_TAG_PREFIX=)"
		}
		p.Notes = append(p.Notes, "version "+info.Version.String()+": "+w)
	}
	p.Created = info.Date
	if s := f.SourceDateEpoch; s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 {
			return &Error{Err: fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds (e.g. 1700000000)", s)}
		}
		p.Created = time.Unix(secs, 0).UTC()
	}
	return nil
}

// Jobs are every service for every platform, in that order: the whole
// run's builds, named as go build's targets name them (no variant).
func (p *Plan) Jobs() []shard.Job {
	var js []shard.Job
	for _, u := range p.Services {
		for _, pl := range p.Platforms {
			js = append(js, shard.Job{Service: u.Name, Platform: gobuild.Target{OS: pl.OS, Arch: pl.Arch}.String()})
		}
	}
	return js
}

// Shard is this run's share of the jobs (MAGEPACK_SHARD): all of them
// when the run is not sharded.
func (p *Plan) Shard() shard.Selection { return shard.Select(p.Options.Shard, p.Jobs()) }

// Tags are the image tags of a variant, most specific first.
func (p *Plan) Tags(variant string) []string { return version.Tags(p.Version.Version, variant) }

// Refs are the image references u's variant is tagged with, most specific
// first.
func (p *Plan) Refs(u Unit, variant string) []string {
	tags := p.Tags(variant)
	refs := make([]string, len(tags))
	for i, t := range tags {
		refs[i] = u.Image + ":" + t
	}
	return refs
}

// Labels are the OCI labels every image of u carries.
func (p *Plan) Labels(u Unit) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":   u.Name,
		"org.opencontainers.image.version": p.Version.Version.String(),
		"org.opencontainers.image.created": p.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":  SourceURL(p.ModulePath),
	}
	if p.Version.Commit != "" {
		l["org.opencontainers.image.revision"] = p.Version.Commit
	}
	return l
}

// SourceURL turns a module path that names a host into its https URL; the
// module path is the same in every clone, unlike a git remote.
func SourceURL(modulePath string) string {
	if host, _, _ := strings.Cut(modulePath, "/"); strings.Contains(host, ".") {
		return "https://" + modulePath
	}
	return modulePath
}

// checkSingleServiceSmoke refuses the project-wide smoke arguments and
// environment (MAGEPACK_ARGS, MAGEPACK_ENV, Settings.Args, Settings.Env)
// when there are several services: flags one service needs would make
// another fail to start.
func checkSingleServiceSmoke(smoke engine.SmokeOptions, mains []gobuild.Main) error {
	if len(mains) < 2 {
		return nil
	}
	var set, per []string
	if len(smoke.Args) > 0 {
		set, per = append(set, "MAGEPACK_ARGS (Settings.Args)"), append(per, "Args")
	}
	if len(smoke.Env) > 0 {
		set, per = append(set, "MAGEPACK_ENV (Settings.Env)"), append(per, "Env")
	}
	if len(set) == 0 {
		return nil
	}
	pkgs := make([]string, len(mains))
	for i, m := range mains {
		pkgs[i] = m.Package
	}
	return &Error{Err: fmt.Errorf("%s apply to a single service, but there are %d (%s): set Settings.Services[name].%s for each service instead",
		strings.Join(set, " and "), len(mains), strings.Join(pkgs, ", "), strings.Join(per, " and ."))}
}
