package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/version"
)

// project is the plan every target works from: the options with the repo's
// own defaults filled in (module, services, platforms, version), as plain
// values.
type project struct {
	opts       options
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
	// platform that keeps go's own choice), chosen in resolve.
	cc map[gobuild.Target]string
}

// service is one main package: its binaries, its image and its smoke run.
type service struct {
	name  string // binary base name: dist/<name>_<os>_<arch>[.exe]
	main  string // "./cmd/api" style, relative to the module root
	image string // repository, e.g. "api" or "ghcr.io/team/api"
	smoke engine.SmokeOptions
}

// resolve fills in the repo-derived defaults of o for the module that
// contains dir, and checks everything a target will need, so a bad setting
// fails before any work starts.
// environ is the environment of every go command (run.environ).
func resolve(ctx context.Context, o options, dir string, getenv func(string) string, environ []string) (*project, error) {
	p := &project{opts: o, environ: environ}
	tc, err := toolchain.Probe(ctx, dir, toolchain.WithEnv(environ))
	if err != nil {
		return nil, toolchainError(err, o.toolchain)
	}
	p.tc, p.goVersion = tc, tc.GOVERSION
	p.notes = append(p.notes, toolchainNotes(o.toolchain, tc)...)
	root, err := tc.ModuleRoot()
	if err != nil {
		return nil, &configError{err}
	}
	p.root = root
	if p.modulePath, err = tc.ModulePath(); err != nil {
		return nil, &configError{err}
	}
	if p.services, err = p.resolveServices(ctx); err != nil {
		return nil, err
	}

	p.dist = o.dist
	if !filepath.IsAbs(p.dist) {
		p.dist = filepath.Join(root, p.dist)
	}
	if fi, err := os.Stat(p.dist); err == nil && !fi.IsDir() {
		return nil, &configError{fmt.Errorf("dist %q is a file, not a folder: remove it or set MAGEPACK_DIST", o.dist)}
	}
	if o.caBundle != "" {
		if err := checkCABundle(o.caBundle); err != nil {
			return nil, &configError{err}
		}
	}

	ports, err := tc.Ports(ctx)
	if err != nil {
		return nil, err
	}
	if p.platforms, err = platform.Parse(o.platforms, ports, p.goVersion); err != nil {
		return nil, &configError{setting(err, "MAGEPACK_PLATFORMS")}
	}
	if err := p.chooseCompilers(); err != nil {
		return nil, err
	}

	if p.ver, err = versionInfo(ctx, root, o.version, o.tagPrefix); err != nil {
		return nil, err
	}
	for _, w := range p.ver.Warnings() {
		if p.ver.PlainTag != "" && strings.Contains(w, p.ver.PlainTag) {
			w += " (MAGEPACK_TAG_PREFIX=)"
		}
		p.notes = append(p.notes, "version "+p.versionString()+": "+w)
	}
	p.created = p.ver.Date
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 {
			return nil, &configError{fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds (e.g. 1700000000)", s)}
		}
		p.created = time.Unix(secs, 0).UTC()
	}
	return p, nil
}

// resolveServices finds the main packages and gives each its name, image
// and smoke run.
func (p *project) resolveServices(ctx context.Context) ([]*service, error) {
	o := p.opts
	mains, err := gobuild.ResolveMainsEnv(ctx, p.environ, p.root, o.mainSpec)
	if err != nil {
		return nil, &configError{err}
	}
	if o.name != "" && len(mains) > 1 {
		pkgs := make([]string, len(mains))
		for i, m := range mains {
			pkgs[i] = m.Package
		}
		return nil, &configError{fmt.Errorf("MAGEPACK_NAME=%s names one service, but there are %d (%s): unset MAGEPACK_NAME; each service is named after its folder", o.name, len(mains), strings.Join(pkgs, ", "))}
	}
	if err := checkSingleServiceSmoke(o.smoke, mains); err != nil {
		return nil, err
	}
	var svcs []*service
	byName := map[string]string{}
	for _, m := range mains {
		s := &service{main: m.Package, name: o.name}
		if s.name == "" {
			s.name = m.Name
		}
		if err := checkName(s.name); err != nil {
			return nil, &configError{err}
		}
		if other, ok := byName[s.name]; ok {
			return nil, &configError{fmt.Errorf("main packages %s and %s would both make binaries named %s: build them separately (MAGEPACK_MAIN), or rename one folder", other, m.Package, s.name)}
		}
		byName[s.name] = m.Package
		if s.image, err = p.imageRepo(s.name, len(mains) > 1); err != nil {
			return nil, err
		}
		s.smoke = o.smoke
		if opts, ok := o.services[s.name]; ok {
			s.smoke = opts
		}
		svcs = append(svcs, s)
	}
	if err := p.checkServiceSettings(ctx, byName); err != nil {
		return nil, err
	}
	return svcs, nil
}

// checkServiceSettings refuses per-service settings for a name that no
// main package of the module has (a typo would otherwise go unnoticed).
// Settings for a service this run leaves out are fine: a CI matrix builds
// one service per job with the same magefile.
func (p *project) checkServiceSettings(ctx context.Context, selected map[string]string) error {
	var unknown []string
	for n := range p.opts.services {
		if _, ok := selected[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	all, err := gobuild.ResolveMainsEnv(ctx, p.environ, p.root, "./...")
	if err != nil {
		return &configError{err}
	}
	names := map[string]bool{}
	for _, m := range all {
		names[m.Name] = true
	}
	for _, n := range slices.Sorted(slices.Values(unknown)) {
		if !names[n] {
			return &configError{fmt.Errorf("Settings.Services has settings for %q, which no main package of the module is named: the services are %s", n, strings.Join(slices.Sorted(maps.Keys(names)), ", "))}
		}
	}
	return nil
}

// imageRepo is a service's image repository: the configured one (a prefix
// with several services), else one derived from its name, made valid when
// the name is not a valid repository (and said once).
func (p *project) imageRepo(svcName string, several bool) (string, error) {
	repo := p.opts.image
	switch {
	case repo == "":
		derived, changed := gobuild.ImageName(svcName)
		if changed && derived != "" {
			p.notes = append(p.notes, fmt.Sprintf("image %s for service %s: %q is not a valid image name (set MAGEPACK_IMAGE to choose another)", derived, svcName, svcName))
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
		return "", &configError{fmt.Errorf("image %q is not a valid repository name (lowercase letters, digits, '.', '_', '-' and '/', optionally behind a registry host such as ghcr.io/team/app): set MAGEPACK_IMAGE", repo)}
	}
	return repo, nil
}

// versionInfo derives the version from git, or takes the configured one
// (with git's commit and date when there is a repository).
func versionInfo(ctx context.Context, root string, configured *semver.Version, tagPrefix *string) (version.Info, error) {
	var opts []version.Option
	if tagPrefix != nil {
		opts = append(opts, version.WithTagPrefix(*tagPrefix))
	}
	info, gitErr := version.FromGit(ctx, root, opts...)
	if configured == nil {
		if gitErr != nil {
			return info, &configError{gitErr}
		}
		return info, nil
	}
	if gitErr != nil {
		if !errors.Is(gitErr, version.ErrNoGit) {
			return info, gitErr
		}
		info = version.Info{}
	}
	info.Version = configured
	return info, nil
}

// checkCABundle rejects a configured CA bundle that is not a non-empty
// regular file, before any build: images would fail late without it.
func checkCABundle(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("CA bundle %q cannot be read (%v): set MAGEPACK_CA_BUNDLE to a PEM file such as /etc/ssl/certs/ca-certificates.crt, or unset it to use the system's", path, err)
	case !fi.Mode().IsRegular() || fi.Size() == 0:
		return fmt.Errorf("CA bundle %q is not a non-empty file: set MAGEPACK_CA_BUNDLE to a PEM file such as /etc/ssl/certs/ca-certificates.crt, or unset it to use the system's", path)
	}
	return nil
}

// checkName rejects names that cannot be a file name and an image name.
func checkName(n string) error {
	if n == "" || n == "." || n == "/" || strings.ContainsAny(n, `/\ :`) {
		return fmt.Errorf("name %q cannot name a binary: set MAGEPACK_NAME", n)
	}
	return nil
}

// versionString is the version without a leading v, e.g. 1.2.3-dev.4+gabc1234.
func (p *project) versionString() string { return p.ver.Version.String() }

// versionSource says where the version came from, for progress lines:
// "tag services/v3.1.4", "no tag v*", or "set by hand".
func (p *project) versionSource() string {
	switch {
	case p.opts.version != nil:
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
	return filepath.Join(p.dist, gobuild.BinaryName(s.name, gobuild.Target{OS: pl.OS, Arch: pl.Arch}))
}

// labels are the OCI labels every image of s carries.
func (p *project) labels(s *service) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":   s.name,
		"org.opencontainers.image.version": p.versionString(),
		"org.opencontainers.image.created": p.created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":  sourceURL(p.modulePath),
	}
	if p.ver.Commit != "" {
		l["org.opencontainers.image.revision"] = p.ver.Commit
	}
	return l
}

// sourceURL turns a module path that names a host into its https URL; the
// module path is the same in every clone, unlike a git remote.
func sourceURL(modulePath string) string {
	if host, _, _ := strings.Cut(modulePath, "/"); strings.Contains(host, ".") {
		return "https://" + modulePath
	}
	return modulePath
}

// tags are the image tags of a variant, most specific first.
func (p *project) tags(variant string) []string { return version.Tags(p.ver.Version, variant) }

// refs are the image references s's variant is tagged with, most specific
// first.
func (p *project) refs(s *service, variant string) []string {
	tags := p.tags(variant)
	refs := make([]string, len(tags))
	for i, t := range tags {
		refs[i] = s.image + ":" + t
	}
	return refs
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
