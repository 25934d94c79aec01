package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/shard"
	"github.com/magepack/magepack/tasks/version"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// Image variants.
const (
	VariantScratch = "scratch"
	VariantAlpine  = "alpine"
)

// Options is the merged configuration parsed once into the types the
// concern packages take, each value by the one parser its package owns, so
// every bad value fails before any work starts and nothing is parsed again
// later. What needs the repo (main packages, names, platforms, the version
// from git) is decided from it and the Facts by Make.
type Options struct {
	MainSpec  string // as given: one package, a list or a pattern
	Name      string
	Platforms string // the spec; checked against the toolchain's ports in resolve
	Dist      string
	Image     string
	Version   *semver.Version // nil: from git
	TagPrefix *string         // nil: Go's rule for nested modules

	CGO      bool
	CC       cgo.Spec
	Ldflags  string
	Vars     gobuild.Vars
	Parallel int

	CGOStatic bool     // MAGEPACK_CGO=static
	Tags      []string // MAGEPACK_TAGS

	AlpineBase string
	Dockerfile string
	Builder    string
	Pull       engine.PullPolicy
	Smoke      engine.SmokeOptions // the project-wide smoke run, Port set
	Services   map[string]engine.SmokeOptions
	TZData     bool
	CABundle   string
	Variants   []string
	Push       bool // push when the image names a registry host ("auto")

	VulnDB      string            // file:// or https://, checked
	VulnWaivers map[string]string // vulnerability ID: reason
	Toolchain   string            // GOTOOLCHAIN for every go command; "" the go on PATH

	Shard   shard.Spec // zero: all jobs
	Merge   string     // the parts merge reads: folders or globs, comma-separated
	Timings bool

	RebuildRef string // the image rebuild reads; "" dist/oci, else dist/'s binaries
}

// Parse checks and types every value of c (merged, defaults filled). All
// mistakes are reported together in one *Error, each naming its setting.
func Parse(c Config) (Options, error) {
	o := Options{
		MainSpec: c.Main, Name: c.Name, Platforms: c.Platforms, Dist: c.Dist, Image: c.Image,
		TagPrefix: c.TagPrefix,
		CGO:       c.CGO || c.StaticCGO, Ldflags: c.Ldflags, Parallel: c.Parallel,
		CGOStatic:  c.StaticCGO,
		Vars:       gobuild.Vars{Version: c.VersionVar, Commit: c.CommitVar, Date: c.DateVar},
		AlpineBase: c.AlpineBase, Dockerfile: c.Dockerfile, Builder: c.Builder,
		TZData: c.TZData, CABundle: c.CABundle, Timings: c.Timings,
		RebuildRef: c.RebuildRef,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	o.CC, err = cgo.ParseCC(c.CC)
	add(Bad("MAGEPACK_CC", err))
	o.Tags, err = parseTags(c.Tags)
	add(err)
	if c.Version != "" {
		o.Version, err = version.Parse(c.Version)
		add(Bad("MAGEPACK_VERSION", err))
	}
	if c.Port < 1 || c.Port > 65535 {
		add(fmt.Errorf("port %d is out of range: want 1-65535 (MAGEPACK_PORT)", c.Port))
	}
	o.Pull, err = engine.ParsePullPolicy(c.Pull)
	add(Bad("MAGEPACK_PULL", err))
	o.Smoke, err = parseSmoke(c.Smoke, c.Port, "MAGEPACK_SMOKE")
	add(err)
	o.Smoke.Args = c.Args
	o.Smoke.Env, err = smokeEnv(c.Env, "Settings.Env")
	add(err)
	var svcErrs []error
	o.Services, svcErrs = parseServices(c, o.Smoke)
	errs = append(errs, svcErrs...)
	o.Variants, err = parseVariants(c.Variants)
	add(err)
	switch c.Push {
	case "auto":
		o.Push = true
	case "never":
	default:
		add(fmt.Errorf("push mode %q is not valid: want auto or never (MAGEPACK_PUSH)", c.Push))
	}
	add(checkDockerfilePath(c.Dockerfile))
	if c.Shard != "" {
		o.Shard, err = shard.Parse(c.Shard)
		add(Bad("MAGEPACK_SHARD", err))
	}
	o.Merge = c.Merge
	o.VulnDB, err = vulncheck.ParseDB(c.VulnDB)
	add(Bad("MAGEPACK_VULNDB", err))
	o.VulnWaivers, err = checkWaivers(c.VulnWaivers)
	add(err)
	o.Toolchain, err = parseToolchain(c.Toolchain)
	add(err)
	return o, Join(errs...)
}

// parseServices is each service's smoke run (Config.Services): its own
// mode, port, arguments and environment, the project's where it sets
// none. base is the project's smoke run.
func parseServices(c Config, base engine.SmokeOptions) (map[string]engine.SmokeOptions, []error) {
	var errs []error
	var out map[string]engine.SmokeOptions
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		s := c.Services[name]
		smoke, port := c.Smoke, c.Port
		if s.Smoke != "" {
			smoke = s.Smoke
		}
		if s.Port != 0 {
			port = s.Port
		}
		if port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("port %d of service %s is out of range: want 1-65535 (Settings.Services[%q].Port)", port, name, name))
			continue
		}
		opts, err := parseSmoke(smoke, port, fmt.Sprintf("Settings.Services[%q].Smoke", name))
		if err != nil {
			errs = append(errs, err)
		}
		opts.Args, opts.Env = base.Args, base.Env
		if s.Args != nil {
			opts.Args = s.Args
		}
		if s.Env != nil {
			if opts.Env, err = smokeEnv(s.Env, fmt.Sprintf("Settings.Services[%q].Env", name)); err != nil {
				errs = append(errs, err)
			}
		}
		if out == nil {
			out = map[string]engine.SmokeOptions{}
		}
		out[name] = opts
	}
	return out, errs
}

// parseSmoke parses a smoke setting with the engine's own rule and gives
// it the port.
func parseSmoke(s string, port int, where string) (engine.SmokeOptions, error) {
	opts, err := engine.ParseSmoke(s)
	if err != nil {
		return opts, Bad(where, err)
	}
	opts.Port = port
	return opts, nil
}

// smokeEnv is env as the smoke container's KEY=value list, sorted by key;
// a key that is empty or holds "=" or a space is an error naming where.
func smokeEnv(env map[string]string, where string) ([]string, error) {
	var list []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00 \t\n") {
			return nil, fmt.Errorf("smoke environment key %q is not valid: want a variable name without = or spaces (%s)", k, where)
		}
		list = append(list, k+"="+env[k])
	}
	return list, nil
}

// parseVariants splits a comma-separated variant list and rejects unknown
// variants.
func parseVariants(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		switch v {
		case VariantScratch, VariantAlpine:
		default:
			return nil, fmt.Errorf("variant %q is not valid: want a comma-separated list of scratch and alpine (MAGEPACK_VARIANTS)", v)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}
