package tasks

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is magepack's configuration. A magefile sets fields of Settings in
// its init(); MAGEPACK_* environment variables override them (env > Go >
// defaults); fields left empty take their defaults from the repo itself.
// Every field names the environment variable that overrides it; a variable
// set to the empty string counts as unset.
type Config struct {
	// Main is the main package relative to the module root (MAGEPACK_MAIN).
	// Default: "." when the module root is package main, else the only
	// cmd/* main package.
	Main string
	// Name is the binary and image base name (MAGEPACK_NAME). Default: the
	// last element of the main package's path.
	Name string
	// Platforms is a comma-separated os/arch list or "all"
	// (MAGEPACK_PLATFORMS). Default: linux/amd64, linux/arm64, darwin/amd64,
	// darwin/arm64, windows/amd64.
	Platforms string
	// Dist is the output folder (MAGEPACK_DIST). Default: "dist".
	Dist string
	// Image is the image repository (MAGEPACK_IMAGE). Default: the name.
	Image string
	// Version overrides the version derived from git (MAGEPACK_VERSION);
	// semver with an optional leading v.
	Version string
	// CGO turns cgo on (MAGEPACK_CGO=1). Default: off, for static binaries.
	CGO bool
	// CC is the C compiler used when CGO is on (MAGEPACK_CC), e.g. musl-gcc.
	CC string
	// Ldflags are extra -ldflags, appended (MAGEPACK_LDFLAGS); {{.Version}},
	// {{.Commit}} and {{.Date}} are expanded.
	Ldflags string
	// VersionVar, CommitVar and DateVar are the variables stamped with -X
	// (MAGEPACK_VERSION_VAR, MAGEPACK_COMMIT_VAR, MAGEPACK_DATE_VAR).
	// Defaults: main.version, main.commit, main.date.
	VersionVar, CommitVar, DateVar string
	// Parallel bounds how many platforms build at once (MAGEPACK_PARALLEL).
	// Default: the number of CPUs.
	Parallel int
	// AlpineBase is the Alpine base image reference (MAGEPACK_ALPINE_BASE).
	AlpineBase string
	// Dockerfile builds with the repo's own Dockerfile through the engine
	// instead of assembling the image (MAGEPACK_DOCKERFILE).
	Dockerfile string
	// Builder is the Go builder image passed to a Dockerfile as the GO_IMAGE
	// build argument (MAGEPACK_BUILDER). Default: golang:<go.mod's X.Y>-alpine.
	Builder string
	// Pull is the base image pull policy: missing, always or never
	// (MAGEPACK_PULL). Default: missing.
	Pull string
	// Smoke is the smoke run: off, start, or an HTTP path that must answer
	// 200 (MAGEPACK_SMOKE). Default: start.
	Smoke string
	// Port is the port the image exposes and the smoke run probes
	// (MAGEPACK_PORT). Default: 8080.
	Port int
	// TZData puts time-zone data into scratch images (MAGEPACK_TZDATA=1).
	TZData bool
	// CABundle is the CA certificate bundle copied into images
	// (MAGEPACK_CA_BUNDLE). Default: the build machine's system bundle.
	CABundle string
	// Variants are the image variants publish makes (MAGEPACK_VARIANTS).
	// Default: scratch,alpine.
	Variants string
	// Push is auto (push when Image names a registry host) or never
	// (MAGEPACK_PUSH). Default: auto.
	Push string
}

// Settings holds the Go-level configuration a magefile sets in init().
// Environment variables override it.
var Settings Config

// Defaults that are not derived from the repo.
const (
	defaultPlatforms  = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64"
	defaultDist       = "dist"
	defaultAlpineBase = "alpine:3.22"
	defaultPull       = "missing"
	defaultSmoke      = "start"
	defaultPort       = 8080
	defaultVariants   = "scratch,alpine"
	defaultPush       = "auto"
)

// envVars maps each environment variable to the Config field it sets.
// Booleans accept 0/1 (and true/false); numbers are decimal.
var envVars = []struct {
	name string
	set  func(c *Config, v string) error
}{
	{"MAGEPACK_MAIN", func(c *Config, v string) error { c.Main = v; return nil }},
	{"MAGEPACK_NAME", func(c *Config, v string) error { c.Name = v; return nil }},
	{"MAGEPACK_PLATFORMS", func(c *Config, v string) error { c.Platforms = v; return nil }},
	{"MAGEPACK_DIST", func(c *Config, v string) error { c.Dist = v; return nil }},
	{"MAGEPACK_IMAGE", func(c *Config, v string) error { c.Image = v; return nil }},
	{"MAGEPACK_VERSION", func(c *Config, v string) error { c.Version = v; return nil }},
	{"MAGEPACK_CGO", func(c *Config, v string) error { return parseBool(&c.CGO, v) }},
	{"MAGEPACK_CC", func(c *Config, v string) error { c.CC = v; return nil }},
	{"MAGEPACK_LDFLAGS", func(c *Config, v string) error { c.Ldflags = v; return nil }},
	{"MAGEPACK_VERSION_VAR", func(c *Config, v string) error { c.VersionVar = v; return nil }},
	{"MAGEPACK_COMMIT_VAR", func(c *Config, v string) error { c.CommitVar = v; return nil }},
	{"MAGEPACK_DATE_VAR", func(c *Config, v string) error { c.DateVar = v; return nil }},
	{"MAGEPACK_PARALLEL", func(c *Config, v string) error { return parsePositive(&c.Parallel, v) }},
	{"MAGEPACK_ALPINE_BASE", func(c *Config, v string) error { c.AlpineBase = v; return nil }},
	{"MAGEPACK_DOCKERFILE", func(c *Config, v string) error { c.Dockerfile = v; return nil }},
	{"MAGEPACK_BUILDER", func(c *Config, v string) error { c.Builder = v; return nil }},
	{"MAGEPACK_PULL", func(c *Config, v string) error { c.Pull = v; return nil }},
	{"MAGEPACK_SMOKE", func(c *Config, v string) error { c.Smoke = v; return nil }},
	{"MAGEPACK_PORT", func(c *Config, v string) error { return parsePort(&c.Port, v) }},
	{"MAGEPACK_TZDATA", func(c *Config, v string) error { return parseBool(&c.TZData, v) }},
	{"MAGEPACK_CA_BUNDLE", func(c *Config, v string) error { c.CABundle = v; return nil }},
	{"MAGEPACK_VARIANTS", func(c *Config, v string) error { c.Variants = v; return nil }},
	{"MAGEPACK_PUSH", func(c *Config, v string) error { c.Push = v; return nil }},
}

// merge returns base overridden by every set variable that lookup finds,
// and the defaults that do not depend on the repo. All bad values are
// reported together, each naming its variable.
func merge(base Config, lookup func(string) (string, bool)) (Config, error) {
	c := base
	var errs []error
	for _, ev := range envVars {
		// An empty variable counts as unset, as CI templates pass
		// unset inputs as empty strings: it neither clears a Go-level
		// value nor fails to parse.
		v, ok := lookup(ev.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if err := ev.set(&c, strings.TrimSpace(v)); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", ev.name, v, err))
		}
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Platforms, defaultPlatforms)
	def(&c.Dist, defaultDist)
	def(&c.AlpineBase, defaultAlpineBase)
	def(&c.Pull, defaultPull)
	def(&c.Smoke, defaultSmoke)
	def(&c.Variants, defaultVariants)
	def(&c.Push, defaultPush)
	def(&c.VersionVar, "main.version")
	def(&c.CommitVar, "main.commit")
	def(&c.DateVar, "main.date")
	if c.Port == 0 {
		c.Port = defaultPort
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is out of range: want 1-65535 (MAGEPACK_PORT)", c.Port))
	}
	switch c.Pull {
	case "missing", "always", "never":
	default:
		errs = append(errs, fmt.Errorf("pull policy %q is not valid: want missing, always or never (MAGEPACK_PULL)", c.Pull))
	}
	if c.Smoke != "off" && c.Smoke != "start" && !strings.HasPrefix(c.Smoke, "/") {
		errs = append(errs, fmt.Errorf("smoke mode %q is not valid: want off, start, or an HTTP path such as /healthz (MAGEPACK_SMOKE)", c.Smoke))
	}
	switch c.Push {
	case "auto", "never":
	default:
		errs = append(errs, fmt.Errorf("push mode %q is not valid: want auto or never (MAGEPACK_PUSH)", c.Push))
	}
	if _, err := parseVariants(c.Variants); err != nil {
		errs = append(errs, err)
	}
	if c.Dockerfile != "" && !filepath.IsAbs(c.Dockerfile) && strings.HasPrefix(filepath.Clean(c.Dockerfile), "..") {
		errs = append(errs, fmt.Errorf("dockerfile %q is outside the module: the build context is the module root (MAGEPACK_DOCKERFILE)", c.Dockerfile))
	}
	if err := errors.Join(errs...); err != nil {
		return c, &configError{err}
	}
	return c, nil
}

// parseVariants splits a comma-separated variant list and rejects unknown
// variants.
func parseVariants(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		switch v {
		case "scratch", "alpine":
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

func parseBool(p *bool, v string) error {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		*p = true
	case "0", "false", "no", "off", "":
		*p = false
	default:
		return errors.New("want 0 or 1")
	}
	return nil
}

func parsePositive(p *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("want a whole number of at least 1")
	}
	*p = n
	return nil
}

func parsePort(p *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("want a port number from 1 to 65535")
	}
	*p = n
	return nil
}

// configError marks a configuration mistake (exit code ExitConfig).
type configError struct{ err error }

func (e *configError) Error() string { return "configuration: " + e.err.Error() }
func (e *configError) Unwrap() error { return e.err }
