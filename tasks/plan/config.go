package plan

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/magepack/magepack/tasks/internal/edit"
	"github.com/magepack/magepack/tasks/platform"
)

// Config is magepack's configuration. A magefile sets fields of Settings in
// its init(); MAGEPACK_* environment variables override them (env > Go >
// defaults); fields left empty take their defaults from the repo itself.
// Every field names the environment variable that overrides it; a variable
// set to the empty string counts as unset (MAGEPACK_TAG_PREFIX excepted).
type Config struct {
	// Main is the main package, relative to the module root
	// (MAGEPACK_MAIN): one ("./cmd/api"), a comma-separated list
	// ("./cmd/api,./cmd/worker"), or a pattern ("./cmd/..."); each main
	// package is a service with its own binaries and image. Default: "."
	// when the module root is package main, else the only cmd/* main
	// package.
	Main string
	// Name is the binary and image base name (MAGEPACK_NAME), for a single
	// service only. Default: the last element of the main package's path.
	Name string
	// Platforms is a comma-separated os/arch list or "all"
	// (MAGEPACK_PLATFORMS). Default: linux/amd64, linux/arm64, darwin/amd64,
	// darwin/arm64, windows/amd64.
	Platforms string
	// Dist is the output folder (MAGEPACK_DIST). Default: "dist".
	Dist string
	// Image is the image repository (MAGEPACK_IMAGE); with several
	// services, the prefix each service's name is appended to
	// ("ghcr.io/team" gives ghcr.io/team/api). Default: the service's name.
	Image string
	// Version overrides the version derived from git (MAGEPACK_VERSION);
	// semver with an optional leading v.
	Version string
	// TagPrefix is the prefix of the git tags that version this module
	// (MAGEPACK_TAG_PREFIX; set to the empty string it means plain vX.Y.Z
	// tags). Default (nil): the module's folder in its repository plus "/",
	// as Go versions nested modules ("services/v1.2.3"); none at the root.
	TagPrefix *string
	// CGO turns cgo on (MAGEPACK_CGO=1). Default: off, for static binaries.
	CGO bool
	// StaticCGO builds static cgo binaries, for scratch (MAGEPACK_CGO=static):
	// cgo on, linked statically (-linkmode external -extldflags -static),
	// with the netgo and osusergo build tags so name resolution and user
	// lookup stay in Go. It implies CGO. Darwin cannot link statically and
	// is refused.
	StaticCGO bool
	// CC is the C compiler of cgo builds (MAGEPACK_CC): one for all
	// ("musl-gcc"), or one per platform
	// ("linux/amd64=musl-gcc,linux/arm64=aarch64-linux-gnu-gcc"). Default:
	// found on PATH: musl-gcc, else gcc, for the build machine's platform
	// in a static build (go's own choice in a dynamic one);
	// <arch>-linux-musl-gcc, else <gnu triple>-gcc (aarch64-linux-gnu-gcc)
	// for other Linux platforms; MinGW-w64's gcc for windows.
	CC string
	// Tags are extra build tags, comma-separated (MAGEPACK_TAGS), e.g.
	// sqlite_omit_load_extension.
	Tags string
	// Ldflags are extra -ldflags, appended (MAGEPACK_LDFLAGS); {{.Version}},
	// {{.Commit}} and {{.Date}} are expanded.
	Ldflags string
	// VersionVar, CommitVar and DateVar are the variables stamped with -X
	// (MAGEPACK_VERSION_VAR, MAGEPACK_COMMIT_VAR, MAGEPACK_DATE_VAR).
	// Defaults: main.version, main.commit, main.date.
	VersionVar, CommitVar, DateVar string
	// Parallel bounds how many builds run at once (MAGEPACK_PARALLEL).
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
	// Smoke is the smoke run: off, start, an HTTP path that must answer
	// 200, or run:<args> for a command-line tool that must exit 0
	// (MAGEPACK_SMOKE). Default: start.
	Smoke string
	// Port is the port the image exposes and the smoke run probes
	// (MAGEPACK_PORT). Default: 8080.
	Port int
	// Args are the entrypoint's arguments in every smoke run (start, HTTP
	// path, run:, whose own arguments follow them) of a single service
	// (MAGEPACK_ARGS, split on whitespace), e.g. the flags it needs to
	// start. With several services, Services[name].Args instead.
	Args []string
	// Env is the smoke container's environment for a single service
	// (MAGEPACK_ENV: comma-separated KEY=value pairs), e.g.
	// {"DATA_DIR": "/tmp/data"}: the container's root is read-only, /tmp
	// is writable. With several services, Services[name].Env instead.
	Env map[string]string
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
	// Shard is "k/n": crossCompile builds only the k-th of n shares of the
	// build jobs (MAGEPACK_SHARD), one CI machine's part. Default: all.
	Shard string
	// Merge lists the parts merge reads: comma-separated folders or globs
	// (MAGEPACK_MERGE). Default: dist-*.
	Merge string
	// Timings prints how long each phase took (MAGEPACK_TIMINGS=1).
	Timings bool
	// SignKey is the private key that signs images, provenance and SBOMs
	// (MAGEPACK_SIGN_KEY): a file path, or the PEM itself (as CI secrets
	// arrive); PKCS#8 ECDSA P-256 or Ed25519, or a key `cosign
	// generate-key-pair` wrote, whose password comes from COSIGN_PASSWORD.
	// Default: none, nothing is signed.
	SignKey string
	// VerifyKey is the public key the verify target checks signatures
	// with (MAGEPACK_VERIFY_KEY): a path or the PEM itself, e.g. cosign.pub.
	VerifyKey string
	// VulnDB is the Go vulnerability database vulncheck reads
	// (MAGEPACK_VULNDB): a file:// folder (a mirror, for air-gapped CI) or
	// an https:// URL. Default: https://vuln.go.dev.
	VulnDB string
	// VulnWaivers accepts vulnerabilities by ID, each with its reason
	// ("GO-2022-1059": "only parses our own headers"): vulncheck does
	// not fail on them, prints them on every run and records them in
	// artifacts.json and the VEX documents (MAGEPACK_VULN_WAIVERS,
	// "ID=reason;ID=reason", replaces these).
	VulnWaivers map[string]string
	// Toolchain is the Go toolchain every go command of magepack runs
	// with (MAGEPACK_TOOLCHAIN), e.g. "go1.26.10": the go command's own
	// GOTOOLCHAIN mechanism fetches it from the module proxy. Default: the
	// go on PATH.
	Toolchain string
	// RebuildRef is the image the rebuild target rebuilds from its
	// provenance (MAGEPACK_REBUILD_REF): a tag or a digest in a registry,
	// e.g. ghcr.io/team/api:1.2.3-alpine. Default: the images in
	// <dist>/oci, else the binaries in <dist>.
	RebuildRef string
	// Services holds settings that differ between services, by service
	// name (the binary's name, e.g. "api"). MAGEPACK_SMOKE and
	// MAGEPACK_PORT, when set, apply to every service instead;
	// MAGEPACK_ARGS and MAGEPACK_ENV replace a single service's Args and
	// Env.
	Services map[string]Service
}

// Service is the per-service part of the configuration (Config.Services):
// zero fields take the project-wide values.
type Service struct {
	// Smoke is this service's smoke run (see Config.Smoke), e.g. "off"
	// or "run:--version" for a command-line tool.
	Smoke string
	// Port is the port this service's image exposes and its smoke run probes.
	Port int
	// Args are the entrypoint's arguments in this service's smoke runs,
	// every mode (run:'s own arguments follow them), e.g.
	// {"--peer", "127.0.0.1:9000"} for a service that will not start
	// without its peer's address. Nil takes Config.Args.
	Args []string
	// Env is this service's smoke container environment, e.g.
	// {"DATA_DIR": "/tmp/data"} for a service that writes its state: the
	// container stays hardened (read-only root, non-root, no
	// capabilities), and only /tmp is writable. Nil takes Config.Env.
	Env map[string]string
}

// Defaults that are not derived from the repo; DefaultAlpineBase is the
// Alpine base image when MAGEPACK_ALPINE_BASE is unset.
const (
	defaultDist       = "dist"
	DefaultAlpineBase = "alpine:3.22"
	defaultPull       = "missing"
	defaultSmoke      = "start"
	defaultPort       = 8080
	defaultVariants   = "scratch,alpine"
	defaultPush       = "auto"
	defaultMerge      = "dist-*"
)

// envVar is one MAGEPACK_* variable and the Config field it sets.
type envVar struct {
	name string
	set  func(c *Config, v string) error
	// keepEmpty makes an empty value count (it means something), instead
	// of counting as unset.
	keepEmpty bool
}

// envVars maps each environment variable to the Config field it sets.
// Booleans accept 0/1 (and true/false); numbers are decimal.
var envVars = []envVar{
	{name: "MAGEPACK_MAIN", set: func(c *Config, v string) error { c.Main = v; return nil }},
	{name: "MAGEPACK_NAME", set: func(c *Config, v string) error { c.Name = v; return nil }},
	{name: "MAGEPACK_PLATFORMS", set: func(c *Config, v string) error { c.Platforms = v; return nil }},
	{name: "MAGEPACK_DIST", set: func(c *Config, v string) error { c.Dist = v; return nil }},
	{name: "MAGEPACK_IMAGE", set: func(c *Config, v string) error { c.Image = v; return nil }},
	{name: "MAGEPACK_VERSION", set: func(c *Config, v string) error { c.Version = v; return nil }},
	{name: "MAGEPACK_TAG_PREFIX", set: func(c *Config, v string) error { c.TagPrefix = &v; return nil }, keepEmpty: true},
	{name: "MAGEPACK_CGO", set: parseCGO},
	{name: "MAGEPACK_CC", set: func(c *Config, v string) error { c.CC = v; return nil }},
	{name: "MAGEPACK_TAGS", set: func(c *Config, v string) error { c.Tags = v; return nil }},
	{name: "MAGEPACK_LDFLAGS", set: func(c *Config, v string) error { c.Ldflags = v; return nil }},
	{name: "MAGEPACK_VERSION_VAR", set: func(c *Config, v string) error { c.VersionVar = v; return nil }},
	{name: "MAGEPACK_COMMIT_VAR", set: func(c *Config, v string) error { c.CommitVar = v; return nil }},
	{name: "MAGEPACK_DATE_VAR", set: func(c *Config, v string) error { c.DateVar = v; return nil }},
	{name: "MAGEPACK_PARALLEL", set: func(c *Config, v string) error { return parsePositive(&c.Parallel, v) }},
	{name: "MAGEPACK_ALPINE_BASE", set: func(c *Config, v string) error { c.AlpineBase = v; return nil }},
	{name: "MAGEPACK_DOCKERFILE", set: func(c *Config, v string) error { c.Dockerfile = v; return nil }},
	{name: "MAGEPACK_BUILDER", set: func(c *Config, v string) error { c.Builder = v; return nil }},
	{name: "MAGEPACK_PULL", set: func(c *Config, v string) error { c.Pull = v; return nil }},
	{name: "MAGEPACK_SMOKE", set: func(c *Config, v string) error {
		c.Smoke = v
		clearServices(c, func(s *Service) { s.Smoke = "" })
		return nil
	}},
	{name: "MAGEPACK_PORT", set: func(c *Config, v string) error {
		clearServices(c, func(s *Service) { s.Port = 0 })
		return parsePort(&c.Port, v)
	}},
	{name: "MAGEPACK_ARGS", set: func(c *Config, v string) error {
		if strings.ContainsAny(v, `"'`) {
			return errors.New("is split on whitespace and takes no quotes: give an argument that holds spaces or quotes in Go (Settings.Args, or Settings.Services[name].Args)")
		}
		c.Args = strings.Fields(v)
		clearServices(c, func(s *Service) { s.Args = nil })
		return nil
	}},
	{name: "MAGEPACK_ENV", set: func(c *Config, v string) error {
		env, err := parseEnvList(v)
		if err != nil {
			return err
		}
		c.Env = env
		clearServices(c, func(s *Service) { s.Env = nil })
		return nil
	}},
	{name: "MAGEPACK_TZDATA", set: func(c *Config, v string) error { return parseBool(&c.TZData, v) }},
	{name: "MAGEPACK_CA_BUNDLE", set: func(c *Config, v string) error { c.CABundle = v; return nil }},
	{name: "MAGEPACK_VARIANTS", set: func(c *Config, v string) error { c.Variants = v; return nil }},
	{name: "MAGEPACK_PUSH", set: func(c *Config, v string) error { c.Push = v; return nil }},
	{name: "MAGEPACK_SHARD", set: func(c *Config, v string) error { c.Shard = v; return nil }},
	{name: "MAGEPACK_MERGE", set: func(c *Config, v string) error { c.Merge = v; return nil }},
	{name: "MAGEPACK_TIMINGS", set: func(c *Config, v string) error { return parseBool(&c.Timings, v) }},
	{name: "MAGEPACK_SIGN_KEY", set: func(c *Config, v string) error { c.SignKey = v; return nil }},
	{name: "MAGEPACK_VERIFY_KEY", set: func(c *Config, v string) error { c.VerifyKey = v; return nil }},
	{name: "MAGEPACK_VULNDB", set: func(c *Config, v string) error { c.VulnDB = v; return nil }},
	{name: "MAGEPACK_VULN_WAIVERS", set: func(c *Config, v string) (err error) { c.VulnWaivers, err = parseWaivers(v); return err }},
	{name: "MAGEPACK_TOOLCHAIN", set: func(c *Config, v string) error { c.Toolchain = v; return nil }},
	{name: "MAGEPACK_REBUILD_REF", set: func(c *Config, v string) error { c.RebuildRef = v; return nil }},
}

// clearServices applies fn to every per-service setting: an environment
// variable applies to all services, over what Go set for each.
func clearServices(c *Config, fn func(*Service)) {
	for name, s := range c.Services {
		fn(&s)
		c.Services[name] = s
	}
}

// Merge returns base overridden by every set variable that lookup finds,
// with the defaults that do not depend on the repo filled in. base is not
// modified. Every bad value is reported, each naming its variable, in one
// *Error.
func Merge(base Config, lookup func(string) (string, bool)) (Config, error) {
	c := base
	c.Services = maps.Clone(base.Services)
	c.VulnWaivers = maps.Clone(base.VulnWaivers)
	var errs []error
	for _, ev := range envVars {
		// An empty variable counts as unset, as CI templates pass
		// unset inputs as empty strings: it neither clears a Go-level
		// value nor fails to parse.
		v, ok := lookup(ev.name)
		v = strings.TrimSpace(v)
		if !ok || v == "" && !ev.keepEmpty {
			continue
		}
		if err := ev.set(&c, v); err != nil {
			errs = append(errs, Bad(ev.name, fmt.Errorf("%s=%q: %w", ev.name, v, err)))
		}
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Platforms, platform.Default)
	def(&c.Dist, defaultDist)
	def(&c.AlpineBase, DefaultAlpineBase)
	def(&c.Pull, defaultPull)
	def(&c.Smoke, defaultSmoke)
	def(&c.Variants, defaultVariants)
	def(&c.Push, defaultPush)
	def(&c.Merge, defaultMerge)
	if c.Port == 0 {
		c.Port = defaultPort
	}
	return c, Join(errs...)
}

// parseEnvList reads comma-separated KEY=value pairs; empty entries are
// ignored, a value may hold "=" but not ",".
func parseEnvList(v string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("entry %q is not KEY=value; want comma-separated KEY=value pairs, a KEY without spaces, e.g. DATA_DIR=/tmp/data,LOG_LEVEL=debug", kv)
		}
		if _, dup := env[k]; dup {
			return nil, fmt.Errorf("%s is given twice", k)
		}
		env[k] = val
	}
	return env, nil
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

// parseCGO reads MAGEPACK_CGO: 0, 1 (and the other booleans) or static.
func parseCGO(c *Config, v string) error {
	if strings.EqualFold(v, "static") {
		c.CGO, c.StaticCGO = true, true
		return nil
	}
	if err := parseBool(&c.CGO, v); err != nil {
		return errors.New("want 0, 1 or static")
	}
	c.StaticCGO = false
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

// checkDockerfilePath rejects a relative Dockerfile path that leaves the
// module: the build context is the module root.
func checkDockerfilePath(df string) error {
	if df != "" && !filepath.IsAbs(df) && strings.HasPrefix(filepath.Clean(df), "..") {
		return fmt.Errorf("dockerfile %q is outside the module: the build context is the module root (MAGEPACK_DOCKERFILE)", df)
	}
	return nil
}

// settingPrefix starts the name of every environment variable magepack
// reads as a setting.
const settingPrefix = "MAGEPACK_"

// UnknownSettings returns a warning for each variable in environ (the
// KEY=value list of os.Environ) that has magepack's prefix but is no
// setting, naming the closest known one when a typo is likely:
// MAGEPACK_PLATFROMS=linux/arm64 would otherwise build the default
// platforms without a word. It warns instead of failing: CI systems share
// variables between repositories pinned to different magepack versions,
// and a setting a newer magepack reads changes nothing here.
func UnknownSettings(environ []string) []string {
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, settingPrefix) || slices.ContainsFunc(envVars, func(ev envVar) bool { return ev.name == name }) {
			continue
		}
		w := name + " is not a magepack setting and is ignored"
		if near := closestSetting(name); near != "" {
			w += "; did you mean " + near + "?"
		}
		warnings = append(warnings, w)
	}
	slices.Sort(warnings)
	return warnings
}

// closestSetting returns the known setting nearest to name, or "" when
// none is within a third of its length (a typo, not another word).
func closestSetting(name string) string {
	best, bestDist := "", len(name)/3+1
	for _, ev := range envVars {
		if d := edit.Distance(name, ev.name); d < bestDist {
			best, bestDist = ev.name, d
		}
	}
	return best
}

// Names are the environment variables Merge reads, in the order it reads
// them.
func Names() []string {
	names := make([]string, len(envVars))
	for i, ev := range envVars {
		names[i] = ev.name
	}
	return names
}
