package tasks

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/shard"
	"github.com/magepack/magepack/tasks/version"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// Image variants.
const (
	variantScratch = "scratch"
	variantAlpine  = "alpine"
)

// options is the merged configuration parsed once into the types the
// concern packages take, each value by the one parser its package owns, so
// every bad value fails before any work starts and nothing is parsed again
// later. What needs the repo (main packages, names, platforms, the version
// from git) is resolved from it into a project.
type options struct {
	mainSpec  string // as given: one package, a list or a pattern
	name      string
	platforms string // the spec; checked against the toolchain's ports in resolve
	dist      string
	image     string
	version   *semver.Version // nil: from git
	tagPrefix *string         // nil: Go's rule for nested modules

	cgo      bool
	cc       cgo.Spec
	ldflags  string
	vars     gobuild.Vars
	parallel int

	cgoStatic bool     // MAGEPACK_CGO=static
	tags      []string // MAGEPACK_TAGS

	alpineBase string
	dockerfile string
	builder    string
	pull       engine.PullPolicy
	smoke      engine.SmokeOptions // the project-wide smoke run, Port set
	services   map[string]engine.SmokeOptions
	tzdata     bool
	caBundle   string
	variants   []string
	push       bool // push when the image names a registry host ("auto")

	vulnDB      string            // file:// or https://, checked
	vulnWaivers map[string]string // vulnerability ID: reason
	toolchain   string            // GOTOOLCHAIN for every go command; "" the go on PATH

	shard   shard.Spec // zero: all jobs
	merge   string     // the parts merge reads: folders or globs, comma-separated
	timings bool

	signer    attest.Signer // nil: nothing is signed
	verifyKey string        // as given; read by verify

	rebuildRef string // the image rebuild reads; "" dist/oci, else dist/'s binaries
}

// configure merges settings with the environment lookup reads and parses
// the result: every mistake of either step is reported in one
// *configError, each naming its setting.
func configure(settings Config, lookup func(string) (string, bool)) (options, error) {
	c, mergeErr := mergeEnv(settings, lookup)
	opts, parseErr := parseOptions(c)
	var keyErr error
	opts.signer, keyErr = loadSignKey(c.SignKey, lookup)
	opts.verifyKey = c.VerifyKey
	var errs []error
	for _, err := range []error{mergeErr, parseErr, keyErr} {
		var ce *configError
		if errors.As(err, &ce) {
			err = ce.err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return opts, &configError{errors.Join(errs...)}
	}
	return opts, nil
}

// parseOptions checks and types every value of c (merged, defaults
// filled). All mistakes are reported together in one *configError, each
// naming its variable.
func parseOptions(c Config) (options, error) {
	o := options{
		mainSpec: c.Main, name: c.Name, platforms: c.Platforms, dist: c.Dist, image: c.Image,
		tagPrefix: c.TagPrefix,
		cgo:       c.CGO || c.StaticCGO, ldflags: c.Ldflags, parallel: c.Parallel,
		cgoStatic:  c.StaticCGO,
		vars:       gobuild.Vars{Version: c.VersionVar, Commit: c.CommitVar, Date: c.DateVar},
		alpineBase: c.AlpineBase, dockerfile: c.Dockerfile, builder: c.Builder,
		tzdata: c.TZData, caBundle: c.CABundle, timings: c.Timings,
		rebuildRef: c.RebuildRef,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	o.cc, err = cgo.ParseCC(c.CC)
	add(setting(err, "MAGEPACK_CC"))
	o.tags, err = parseTags(c.Tags)
	add(err)
	if c.Version != "" {
		o.version, err = version.Parse(c.Version)
		add(setting(err, "MAGEPACK_VERSION"))
	}
	if c.Port < 1 || c.Port > 65535 {
		add(fmt.Errorf("port %d is out of range: want 1-65535 (MAGEPACK_PORT)", c.Port))
	}
	o.pull, err = engine.ParsePullPolicy(c.Pull)
	add(setting(err, "MAGEPACK_PULL"))
	o.smoke, err = parseSmoke(c.Smoke, c.Port, "MAGEPACK_SMOKE")
	add(err)
	o.smoke.Args = c.Args
	o.smoke.Env, err = smokeEnv(c.Env, "Settings.Env")
	add(err)
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Services[name]
		smoke, port := c.Smoke, c.Port
		if s.Smoke != "" {
			smoke = s.Smoke
		}
		if s.Port != 0 {
			port = s.Port
		}
		if port < 1 || port > 65535 {
			add(fmt.Errorf("port %d of service %s is out of range: want 1-65535 (Settings.Services[%q].Port)", port, name, name))
			continue
		}
		opts, err := parseSmoke(smoke, port, fmt.Sprintf("Settings.Services[%q].Smoke", name))
		add(err)
		opts.Args, opts.Env = o.smoke.Args, o.smoke.Env
		if s.Args != nil {
			opts.Args = s.Args
		}
		if s.Env != nil {
			opts.Env, err = smokeEnv(s.Env, fmt.Sprintf("Settings.Services[%q].Env", name))
			add(err)
		}
		if o.services == nil {
			o.services = map[string]engine.SmokeOptions{}
		}
		o.services[name] = opts
	}
	o.variants, err = parseVariants(c.Variants)
	add(err)
	switch c.Push {
	case "auto":
		o.push = true
	case "never":
	default:
		add(fmt.Errorf("push mode %q is not valid: want auto or never (MAGEPACK_PUSH)", c.Push))
	}
	add(checkDockerfilePath(c.Dockerfile))
	if c.Shard != "" {
		o.shard, err = shard.Parse(c.Shard)
		add(setting(err, "MAGEPACK_SHARD"))
	}
	o.merge = c.Merge
	o.vulnDB, err = vulncheck.ParseDB(c.VulnDB)
	add(setting(err, "MAGEPACK_VULNDB"))
	o.vulnWaivers, err = checkWaivers(c.VulnWaivers)
	add(err)
	o.toolchain, err = parseToolchain(c.Toolchain)
	add(err)
	if err := errors.Join(errs...); err != nil {
		return o, &configError{err}
	}
	return o, nil
}

// parseSmoke parses a smoke setting with the engine's own rule and gives
// it the port.
func parseSmoke(s string, port int, where string) (engine.SmokeOptions, error) {
	opts, err := engine.ParseSmoke(s)
	if err != nil {
		return opts, setting(err, where)
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
		case variantScratch, variantAlpine:
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

// setting appends the name of the setting at fault to err's message,
// unless it names it already: "...; use missing, always or never
// (MAGEPACK_PULL)". It returns nil for nil.
func setting(err error, name string) error {
	if err == nil || strings.Contains(err.Error(), name) {
		return err
	}
	return &settingError{err: err, name: name}
}

// settingError is a concern package's error about a value the user set,
// named by its setting.
type settingError struct {
	err  error
	name string
}

func (e *settingError) Error() string { return e.err.Error() + " (" + e.name + ")" }
func (e *settingError) Unwrap() error { return e.err }
