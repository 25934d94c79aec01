package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

// project is the plan every target works from: the configuration with the
// repo's own defaults filled in, as plain values.
type project struct {
	cfg        Config
	root       string // module root, absolute
	modulePath string
	main       string // "./cmd/app" style, relative to root
	name       string
	dist       string // absolute
	image      string // repository, e.g. "example-app" or "127.0.0.1:5000/team/app"
	platforms  []platform.Platform
	goVersion  string
	ver        version.Info
	created    time.Time // SOURCE_DATE_EPOCH, else the commit's time
}

// resolve fills in the repo-derived defaults of cfg for the module that
// contains dir, and checks everything a target will need, so a bad setting
// fails before any work starts.
func resolve(ctx context.Context, cfg Config, dir string, getenv func(string) string) (*project, error) {
	p := &project{cfg: cfg}
	root, err := gobuild.ModuleRoot(ctx, dir)
	if err != nil {
		return nil, &configError{err}
	}
	p.root = root
	if p.modulePath, err = gobuild.ModulePath(ctx, root); err != nil {
		return nil, &configError{err}
	}

	if cfg.Main == "" {
		if p.main, err = gobuild.FindMain(ctx, root); err != nil {
			return nil, &configError{err}
		}
	} else {
		p.main = gobuild.NormalizeMain(cfg.Main)
		if err := gobuild.ValidateMain(ctx, root, p.main); err != nil {
			return nil, &configError{fmt.Errorf("MAGEPACK_MAIN: %w", err)}
		}
	}
	p.name = cfg.Name
	if p.name == "" {
		p.name = path.Base(path.Join(p.modulePath, filepath.ToSlash(p.main)))
	}
	if err := checkName(p.name); err != nil {
		return nil, &configError{err}
	}

	p.dist = cfg.Dist
	if !filepath.IsAbs(p.dist) {
		p.dist = filepath.Join(root, p.dist)
	}
	if fi, err := os.Stat(p.dist); err == nil && !fi.IsDir() {
		return nil, &configError{fmt.Errorf("dist %q is a file, not a folder: remove it or set MAGEPACK_DIST", cfg.Dist)}
	}

	if cfg.CABundle != "" {
		if err := checkCABundle(cfg.CABundle); err != nil {
			return nil, &configError{err}
		}
	}

	p.image = cfg.Image
	if p.image == "" {
		p.image = p.name
	}
	if _, err := name.NewRepository(p.image); err != nil {
		return nil, &configError{fmt.Errorf("image %q is not a valid repository name (lowercase letters, digits, '.', '_', '-' and '/', optionally behind a registry host such as ghcr.io/team/app): set MAGEPACK_IMAGE", p.image)}
	}

	if p.goVersion, err = platform.GoVersion(ctx, ""); err != nil {
		return nil, err
	}
	ports, err := platform.List(ctx, "")
	if err != nil {
		return nil, err
	}
	if p.platforms, err = platform.Parse(cfg.Platforms, ports, p.goVersion); err != nil {
		return nil, &configError{fmt.Errorf("MAGEPACK_PLATFORMS: %w", err)}
	}

	if p.ver, err = versionInfo(ctx, root, cfg.Version); err != nil {
		return nil, err
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

// versionInfo derives the version from git, or takes the configured one
// (with git's commit and date when there is a repository).
func versionInfo(ctx context.Context, root, configured string) (version.Info, error) {
	info, gitErr := version.FromGit(ctx, root)
	if configured == "" {
		if gitErr != nil {
			return info, &configError{gitErr}
		}
		return info, nil
	}
	v, err := version.Parse(configured)
	if err != nil {
		return info, &configError{fmt.Errorf("MAGEPACK_VERSION: %w", err)}
	}
	if gitErr != nil {
		if !errors.Is(gitErr, version.ErrNoGit) {
			return info, gitErr
		}
		info = version.Info{}
	}
	info.Version = v
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

// rel names a path under the module root the way users see it: "dist/app".
func (p *project) rel(abs string) string {
	if r, err := filepath.Rel(p.root, abs); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return abs
}

// binaryPath is where crossCompile puts the binary for pl.
func (p *project) binaryPath(pl platform.Platform) string {
	return filepath.Join(p.dist, fmt.Sprintf("%s_%s_%s%s", p.name, pl.OS, pl.Arch, pl.Exe()))
}

// labels are the OCI labels every image carries.
func (p *project) labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":   p.name,
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

// refs are the image references a variant is tagged with, most specific first.
func (p *project) refs(variant string) []string {
	tags := version.Tags(p.ver.Version, variant)
	refs := make([]string, len(tags))
	for i, t := range tags {
		refs[i] = p.image + ":" + t
	}
	return refs
}

// session holds what one mage run resolves once and shares between targets.
var session struct {
	once sync.Once
	p    *project
	err  error
}

// setup resolves the project for this run, once.
func setup(ctx context.Context) (*project, error) {
	session.once.Do(func() {
		cfg, err := merge(Settings, os.LookupEnv)
		if err != nil {
			session.err = err
			return
		}
		session.p, session.err = resolve(ctx, cfg, ".", os.Getenv)
	})
	return session.p, session.err
}
