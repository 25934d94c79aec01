// Package gobuild plans and runs `go build` for a list of platforms.
//
// It works in two steps, so the decisions can be checked without running
// anything: Plan turns a Config and the platforms into Jobs (the argv and
// environment of every go build), and Run executes them in parallel,
// writing each binary into the dist folder atomically. FindMain and
// ValidateMain locate the main package to build.
package gobuild

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Target is one platform to build for, in Go's GOOS/GOARCH terms.
type Target struct {
	OS   string
	Arch string
}

// String returns "os/arch", the form `go tool dist list` prints.
func (t Target) String() string { return t.OS + "/" + t.Arch }

// Exe returns the file name suffix executables have on the target: ".exe"
// on windows, "" elsewhere.
func (t Target) Exe() string {
	if t.OS == "windows" {
		return ".exe"
	}
	return ""
}

// Vars names the package variables the version, commit and date are
// stamped into with -ldflags -X. An empty field takes its default
// (main.version, main.commit, main.date: the names goreleaser uses).
type Vars struct {
	Version string
	Commit  string
	Date    string
}

// Config is what to build and how. Zero values take the defaults noted on
// each field.
type Config struct {
	// ModuleDir is the module root go build runs in; "" is the current folder.
	ModuleDir string
	// Main is the main package's path relative to the module root, e.g.
	// "." or "./cmd/app" ("cmd/app" is read as "./cmd/app"). Default ".".
	Main string
	// Name is the binary's base name; binaries are <Name>_<os>_<arch>[.exe].
	// Required.
	Name string
	// Dist is the output folder, relative to ModuleDir unless absolute.
	// Default "dist".
	Dist string
	// CGO sets CGO_ENABLED=1. A cgo build for a platform other than Host
	// needs CC (a cross compiler for it).
	CGO bool
	// CC is the C compiler for cgo builds, passed as CC; "" keeps go's choice.
	CC string
	// CCs names the C compiler of some targets, over CC: a cgo build for
	// a target listed here gets its compiler as CC.
	CCs map[Target]string
	// StaticCGO links cgo builds statically: -linkmode external
	// -extldflags -static in the -ldflags, and the netgo and osusergo
	// build tags, so name resolution and user lookup stay in Go instead of
	// calling the C library's (glibc's need its shared libraries at run
	// time even in a static binary). It implies CGO.
	StaticCGO bool
	// Tags are extra build tags, passed with netgo and osusergo (when
	// StaticCGO) and the tags of the user's GOFLAGS as one -tags flag.
	Tags []string
	// KeepSymbols omits -s -w from the -ldflags, keeping the symbol table
	// and DWARF debug information in the binary, and lets the compiler
	// generate DWARF (no -gcflags=all=-dwarf=false). Default false
	// (stripped); a build with it set measures what stripping saves.
	KeepSymbols bool
	// LdflagsExtra is appended to the -ldflags magepack sets, after
	// expanding {{.Version}}, {{.Commit}} and {{.Date}} (text/template).
	LdflagsExtra string
	// VersionVars names the variables Version, Commit and Date go into.
	VersionVars Vars
	// Version, Commit and Date are stamped into the binary; empty values
	// (zero Date) are not stamped. Date is written as RFC 3339 in UTC.
	Version string
	Commit  string
	Date    time.Time
	// GoBin is the go command. Default "go" (from PATH).
	GoBin string
	// Parallel is how many builds run at once. Default runtime.NumCPU(),
	// each go build with go's own -p (GOMAXPROCS). On 2 cores a cold build
	// of five platforms took 144 s so, 141 s one build at a time and 140 s
	// two at a time with -p=1, 157 s all five at once with -p=1 (bench
	// set 7): no schedule is clearly better, so the default stays. A -p in
	// the user's GOFLAGS applies to every build.
	Parallel int
	// ExtraEnv ("KEY=value") is added to every build's environment last,
	// so it overrides both the inherited environment and magepack's own
	// GOOS/GOARCH/CGO_ENABLED/CC.
	ExtraEnv []string
	// Host is the platform builds run on, the one cgo can build for without
	// a cross compiler. Zero means runtime.GOOS/runtime.GOARCH.
	Host Target
	// GoFlags is the GOFLAGS go takes from its env file (go env -w) when
	// the environment sets none: toolchain.Info.GOFLAGS, or "go env
	// GOFLAGS". Plan reads it, or the GOFLAGS of a build's environment when
	// that has one, to leave out a flag of its own the user already sets.
	GoFlags string
}

// withDefaults returns cfg with every zero field that has a default filled.
func (cfg Config) withDefaults() Config {
	if cfg.Main == "" {
		cfg.Main = "."
	}
	cfg.Main = NormalizeMain(cfg.Main)
	if cfg.Dist == "" {
		cfg.Dist = "dist"
	}
	if cfg.VersionVars.Version == "" {
		cfg.VersionVars.Version = "main.version"
	}
	if cfg.VersionVars.Commit == "" {
		cfg.VersionVars.Commit = "main.commit"
	}
	if cfg.VersionVars.Date == "" {
		cfg.VersionVars.Date = "main.date"
	}
	if cfg.GoBin == "" {
		cfg.GoBin = "go"
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.NumCPU()
	}
	if cfg.Host == (Target{}) {
		cfg.Host = Target{OS: runtime.GOOS, Arch: runtime.GOARCH}
	}
	if cfg.StaticCGO {
		cfg.CGO = true
	}
	return cfg
}

// NormalizeMain returns main as a package pattern go build reads as a
// folder of the module: "" and "." give ".", "cmd/app" gives "./cmd/app",
// and paths that already start with "./" or "../" are cleaned.
func NormalizeMain(main string) string {
	m := path.Clean(filepath.ToSlash(main))
	if m == "." || strings.HasPrefix(m, "../") || m == ".." || path.IsAbs(m) {
		return m
	}
	return "./" + m
}

// Job is one planned go build: the platform, the binary it produces and the
// exact argv (without the go command itself) and environment.
type Job struct {
	// Name is the binary's base name (Config.Name): with several services
	// built in one pool, the service a job belongs to.
	Name   string
	Target Target
	// Output is the binary's final path: <Dist>/<name>_<os>_<arch>[.exe],
	// relative to the module root unless Dist is absolute. Run builds to a
	// temporary file next to it and renames it into place on success.
	Output string
	Args   []string
	Env    []string
}

// ConfigError is a Config that Plan cannot build from. Field names the
// Config field at fault ("Name", "CGO"), or "Targets" for the target list,
// so the caller can name its own setting.
type ConfigError struct {
	Field  string
	Reason string
}

// Error says what is wrong and how to fix it.
func (e *ConfigError) Error() string { return e.Reason }

// Plan decides the go build for every target, without running anything.
// The argv is `build -trimpath -buildvcs=auto -gcflags=all=-dwarf=false
// -ldflags "<flags>" -o <Output> <Main>`, where the -ldflags strip symbols
// (-s -w, unless cfg.KeepSymbols), clear the build ID, stamp the version
// variables with -X and end with cfg.LdflagsExtra. -gcflags=all=-dwarf=false
// stops the compiler generating the DWARF that -w makes the linker throw
// away (about a tenth of a cold build); it is left out with
// cfg.KeepSymbols, and when the user's GOFLAGS (the build environment's,
// else cfg.GoFlags) set -gcflags themselves: a command-line -gcflags would
// replace theirs, and the user's choice wins. With cfg.StaticCGO or
// cfg.Tags a -tags flag follows (see BuildTags).
//
// The environment is osEnv, then GOOS, GOARCH, CGO_ENABLED (and CC when
// set: the target's in cfg.CCs, else cfg.CC), then cfg.ExtraEnv; a later entry replaces an earlier one with the
// same key, so each key appears once. Inherited settings such as GOFLAGS
// or GOAMD64 are kept.
//
// A target listed twice is built once. Plan returns an error naming the
// problem and the fix for an empty Name or target list, a malformed target,
// an LdflagsExtra template that does not parse or uses an unknown field, or
// a cgo build for a platform other than Host without CC.
func Plan(cfg Config, targets []Target, osEnv []string) ([]Job, error) {
	cfg = cfg.withDefaults()
	if cfg.Name == "" {
		return nil, &ConfigError{Field: "Name", Reason: "binary name is empty: set Config.Name"}
	}
	if strings.ContainsAny(cfg.Name, `/\`) {
		return nil, &ConfigError{Field: "Name", Reason: fmt.Sprintf("binary name %q contains a path separator: set Config.Name to a plain file name", cfg.Name)}
	}
	if len(targets) == 0 {
		return nil, &ConfigError{Field: "Targets", Reason: "no platforms to build: give at least one, e.g. linux/amd64"}
	}
	ldflags, err := Ldflags(cfg)
	if err != nil {
		return nil, &ConfigError{Field: "LdflagsExtra", Reason: err.Error()}
	}
	seen := map[Target]bool{}
	var jobs []Job
	var errs []error
	for _, t := range targets {
		if t.OS == "" || t.Arch == "" || strings.ContainsAny(t.OS+t.Arch, "/ ") {
			errs = append(errs, &ConfigError{Field: "Targets", Reason: fmt.Sprintf("platform %q is malformed: want os/arch, e.g. linux/amd64", t.String())})
			continue
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		if cfg.CGO && cfg.ccFor(t) == "" && t != cfg.Host {
			errs = append(errs, &ConfigError{Field: "CGO", Reason: fmt.Sprintf("cgo build for %s on %s needs a C cross compiler for %s: set CC to one, or build without cgo", t, cfg.Host, t)})
			continue
		}
		out := filepath.Join(cfg.Dist, BinaryName(cfg.Name, t))
		env := buildEnv(t, cfg, osEnv)
		args := append([]string{"build"}, buildFlags(cfg, env)...)
		jobs = append(jobs, Job{
			Name:   cfg.Name,
			Target: t,
			Output: out,
			Args:   append(args, "-ldflags", ldflags, "-o", out, cfg.Main),
			Env:    env,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return jobs, nil
}

// BinaryName is the file name of name's binary for t:
// <name>_<os>_<arch>, with ".exe" on windows.
func BinaryName(name string, t Target) string {
	return fmt.Sprintf("%s_%s_%s%s", name, t.OS, t.Arch, t.Exe())
}

// buildFlags are the go build flags before -ldflags for a build with
// environment env: each of magepack's own, unless the user's GOFLAGS set
// the same flag.
func buildFlags(cfg Config, env []string) []string {
	goflags, ok := lookupEnv(env, "GOFLAGS")
	if !ok {
		goflags = cfg.GoFlags
	}
	flags := []string{"-trimpath", "-buildvcs=auto"}
	if !cfg.KeepSymbols && !HasFlag(goflags, "gcflags") {
		flags = append(flags, "-gcflags=all=-dwarf=false")
	}
	if tags := BuildTags(cfg, goflags); tags != "" {
		flags = append(flags, "-tags", tags)
	}
	return flags
}

// HasFlag reports whether goflags (a GOFLAGS value: space-separated
// -flag[=value] words, which go also accepts quoted) sets the flag name,
// spelt with one dash or two.
func HasFlag(goflags, name string) bool {
	for _, w := range strings.Fields(goflags) {
		w = strings.TrimLeft(w, `'"`)
		if !strings.HasPrefix(w, "-") {
			continue
		}
		w = strings.TrimPrefix(strings.TrimPrefix(w, "-"), "-")
		if k, _, _ := strings.Cut(w, "="); k == name {
			return true
		}
	}
	return false
}

// lookupEnv returns the last value of key in env and whether env has it.
func lookupEnv(env []string, key string) (string, bool) {
	v, found := "", false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v, found = val, true
		}
	}
	return v, found
}

// buildEnv is osEnv, then magepack's settings for t, then cfg.ExtraEnv,
// with later entries replacing earlier ones of the same key.
func buildEnv(t Target, cfg Config, osEnv []string) []string {
	cgo := "0"
	if cfg.CGO {
		cgo = "1"
	}
	env := make([]string, 0, len(osEnv)+4+len(cfg.ExtraEnv))
	env = append(env, osEnv...)
	env = append(env, "GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED="+cgo)
	if cc := cfg.ccFor(t); cc != "" {
		env = append(env, "CC="+cc)
	}
	env = append(env, cfg.ExtraEnv...)
	return dedupEnv(env)
}

// dedupEnv keeps the last entry of each key, at its position.
func dedupEnv(env []string) []string {
	last := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

// Ldflags returns the -ldflags value Plan passes to every build: "-s -w
// -buildid=" ("-buildid=" alone when cfg.KeepSymbols is set), a "-X <var>=<value>" for each of cfg's non-empty Version,
// Commit and Date, "-linkmode external -extldflags -static" when
// cfg.StaticCGO, and cfg.LdflagsExtra with its template expanded (last, so
// an -extldflags of the user's wins). It
// returns an error naming the template and the bad field when LdflagsExtra
// does not parse or uses a field other than .Version, .Commit and .Date,
// and when a value cannot be quoted for go's flag parser.
func Ldflags(cfg Config) (string, error) {
	cfg = cfg.withDefaults()
	data := templateData{Version: cfg.Version, Commit: cfg.Commit}
	if !cfg.Date.IsZero() {
		data.Date = cfg.Date.UTC().Format(time.RFC3339)
	}
	parts := []string{"-s", "-w", "-buildid="}
	if cfg.KeepSymbols {
		parts = []string{"-buildid="}
	}
	for _, kv := range [][2]string{
		{cfg.VersionVars.Version, data.Version},
		{cfg.VersionVars.Commit, data.Commit},
		{cfg.VersionVars.Date, data.Date},
	} {
		if kv[1] == "" {
			continue
		}
		q, err := quoteFlag(kv[0] + "=" + kv[1])
		if err != nil {
			return "", err
		}
		parts = append(parts, "-X", q)
	}
	if cfg.StaticCGO {
		parts = append(parts, staticLdflags...)
	}
	if extra := strings.TrimSpace(cfg.LdflagsExtra); extra != "" {
		expanded, err := expandLdflags(extra, data)
		if err != nil {
			return "", err
		}
		parts = append(parts, expanded)
	}
	return strings.Join(parts, " "), nil
}

// templateData is what an LdflagsExtra template can use.
type templateData struct {
	Version string
	Commit  string
	Date    string
}

var templateFields = map[string]bool{"Version": true, "Commit": true, "Date": true}

// expandLdflags executes the LdflagsExtra template against data, refusing
// fields data does not have before executing, so the error can name them.
func expandLdflags(text string, data templateData) (string, error) {
	tmpl, err := template.New("ldflags").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("ldflags %q: %v; fix the template (fields: {{.Version}}, {{.Commit}}, {{.Date}})", text, err)
	}
	if bad := unknownFields(tmpl.Root); len(bad) > 0 {
		return "", fmt.Errorf("ldflags %q uses unknown field .%s: only {{.Version}}, {{.Commit}} and {{.Date}} are expanded", text, strings.Join(bad, ", ."))
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("ldflags %q: %v", text, err)
	}
	return b.String(), nil
}

// unknownFields lists the first-level .Field names in the template that
// templateData lacks.
func unknownFields(n parse.Node) []string {
	var bad []string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			if len(n.Ident) > 0 && !templateFields[n.Ident[0]] {
				bad = append(bad, n.Ident[0])
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(&n.BranchNode)
		case *parse.RangeNode:
			walk(&n.BranchNode)
		case *parse.WithNode:
			walk(&n.BranchNode)
		case *parse.BranchNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(n)
	return bad
}

// quoteFlag quotes one -ldflags word the way go's flag splitter
// (cmd/internal/quoted) reads it back.
func quoteFlag(s string) (string, error) {
	if !strings.ContainsAny(s, " \t\n\r'\"") {
		return s, nil
	}
	if !strings.Contains(s, "'") {
		return "'" + s + "'", nil
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`, nil
	}
	return "", fmt.Errorf("ldflags value %q has both quote characters, which go's -ldflags cannot carry: remove one kind", s)
}
