package gobuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoMain is what a *NoMainError matches with errors.Is: the main package
// could not be found, or a configured one is not a main package.
var ErrNoMain = errors.New("no main package")

// NoMainError says why the main packages could not be resolved in
// ModuleDir. Exactly one of three cases holds:
//
//   - Pattern is set: a "/..." pattern matched no main package; Reason says
//     what it matched instead.
//   - Main is set: a listed path is not a main package; Reason says why
//     (does not exist, outside the module, not package main, ...).
//   - neither: nothing was configured and the default rule (the root, else
//     the only cmd/* main) found no single main. Candidates lists every
//     main package of the module ("./cmd/a"), and Suggestion is the setting
//     that builds them all: a pattern such as "./cmd/..." when they share
//     one folder, else the comma-separated list ("" when there is none).
//
// The message names no setting: the caller knows how main packages are
// configured and adds that hint.
type NoMainError struct {
	ModuleDir  string
	Main       string
	Pattern    string
	Reason     string
	Candidates []string
	Suggestion string
}

// Error says what was looked for and what was found.
func (e *NoMainError) Error() string {
	switch {
	case e.Pattern != "":
		return fmt.Sprintf("pattern %q in module %q matches no main package: %s", e.Pattern, e.ModuleDir, e.Reason)
	case e.Main != "":
		return fmt.Sprintf("main package %q in module %q %s", e.Main, e.ModuleDir, e.Reason)
	case len(e.Candidates) == 0:
		return fmt.Sprintf("no main package in module %q: neither the root nor any folder below it is package main", e.ModuleDir)
	case len(e.Candidates) == 1:
		return fmt.Sprintf("no main package at the root or in cmd/* of module %q, but %s is one: choose it as the main package", e.ModuleDir, e.Candidates[0])
	default:
		return fmt.Sprintf("module %q has several main packages (%s): choose %s to build them all, or the one to build", e.ModuleDir, strings.Join(e.Candidates, ", "), e.Suggestion)
	}
}

// Is reports whether target is ErrNoMain.
func (e *NoMainError) Is(target error) bool { return target == ErrNoMain }

// Main is one main package of the module: a service to build.
type Main struct {
	// Package is the folder relative to the module root as go build takes
	// it: "." or "./cmd/api".
	Package string
	// ImportPath is the package's import path, e.g. example.com/app/cmd/api.
	ImportPath string
	// Name is the last element of ImportPath ("api"; the module path's last
	// element for the root): the binary's base name and the service's name.
	// It may not be a valid image name; see ImageName.
	Name string
}

// listedPackage is the part of `go list -json` output the helpers read.
type listedPackage struct {
	Name       string
	ImportPath string
	Dir        string
	Match      []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// SplitMainSpec splits a main-package setting into its entries: one path,
// a comma-separated list, or "/..." patterns, each normalised as
// NormalizeMain does ("cmd/app" gives "./cmd/app"), in order, without
// duplicates. Spaces around entries and empty entries are dropped, so ""
// gives no entries (the default rule applies). It returns an error when s
// holds commas but no entry.
func SplitMainSpec(s string) ([]string, error) {
	var entries []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n := NormalizeMain(f)
		if !seen[n] {
			seen[n] = true
			entries = append(entries, n)
		}
	}
	if len(entries) == 0 && strings.TrimSpace(s) != "" {
		return nil, fmt.Errorf("main package setting %q names no package: give a path such as ./cmd/api, a comma-separated list, or a pattern such as ./cmd/...", s)
	}
	return entries, nil
}

// isPattern reports whether a main entry is a "..." pattern.
func isPattern(entry string) bool { return strings.Contains(entry, "...") }

// ResolveMains returns the main packages to build in the module at
// moduleDir, sorted by Package and without duplicates. spec is the user's
// setting (see SplitMainSpec): one path, a comma-separated list, or
// patterns such as ./cmd/..., all relative to the module root; a pattern
// keeps only the main packages it matches. An empty spec applies the
// default rule: the root when it is package main, else the only main
// package directly under cmd/.
//
// Everything is resolved with one `go list` call. Failures are
// *NoMainError values (errors.Is ErrNoMain), one per bad entry (joined): a
// pattern matching no main package, a path that is not a main package (and
// why), or, with an empty spec, no single default (with every candidate
// and a Suggestion that builds them all). go list failing otherwise is
// returned as is, with its stderr.
func ResolveMains(ctx context.Context, moduleDir, spec string) ([]Main, error) {
	return ResolveMainsEnv(ctx, nil, moduleDir, spec)
}

// ResolveMainsEnv is ResolveMains with go list run in env (e.g. with the
// GOTOOLCHAIN the builds get); nil is the process's environment.
func ResolveMainsEnv(ctx context.Context, env []string, moduleDir, spec string) ([]Main, error) {
	entries, err := SplitMainSpec(spec)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		pkgs, err := goList(ctx, env, moduleDir, "./...")
		if err != nil {
			return nil, fmt.Errorf("find the main package in %q: %w", moduleDir, err)
		}
		m, err := defaultMain(moduleDir, pkgs)
		if err != nil {
			return nil, err
		}
		return []Main{m}, nil
	}
	var errs []error
	var listed []string
	for _, e := range entries {
		if err := precheck(moduleDir, e); err != nil {
			errs = append(errs, err)
			continue
		}
		listed = append(listed, e)
	}
	if len(listed) == 0 {
		return nil, errors.Join(errs...)
	}
	pkgs, err := goList(ctx, env, moduleDir, listed...)
	if err != nil {
		return nil, fmt.Errorf("resolve main packages %s in %q: %w", strings.Join(listed, ","), moduleDir, err)
	}
	mains, selErrs := selectMains(moduleDir, listed, pkgs)
	if errs = append(errs, selErrs...); len(errs) > 0 {
		// Report in the order the user wrote the entries.
		return nil, errors.Join(sortByEntry(entries, errs)...)
	}
	return mains, nil
}

// FindMain returns the main package to build in the module at moduleDir, as
// a path relative to the module root: "." when the root is package main,
// else "./cmd/<x>" when that is the only main package directly under cmd/.
// Otherwise it returns a *NoMainError (errors.Is ErrNoMain) listing the main
// packages it found, and other errors when go list fails. It is
// ResolveMains with an empty setting.
func FindMain(ctx context.Context, moduleDir string) (string, error) {
	mains, err := ResolveMains(ctx, moduleDir, "")
	if err != nil {
		return "", err
	}
	return mains[0].Package, nil
}

// ValidateMain checks that main (relative to the module root at moduleDir,
// as in Config.Main) is a folder of the module holding package main. It
// returns a *NoMainError (errors.Is ErrNoMain) saying what is wrong (no
// such folder, outside the module, no Go files, not package main), and
// other errors when go list fails. Patterns and lists are for ResolveMains.
func ValidateMain(ctx context.Context, moduleDir, main string) error {
	m := NormalizeMain(main)
	if isPattern(m) || strings.Contains(m, ",") {
		return &NoMainError{ModuleDir: moduleDir, Main: main, Reason: "is a pattern or a list, not one package"}
	}
	_, err := ResolveMains(ctx, moduleDir, m)
	var nm *NoMainError
	if errors.As(err, &nm) {
		nm.Main = main // as the caller spelled it
	}
	return err
}

// defaultMain applies the default rule to the packages of `go list ./...`.
func defaultMain(moduleDir string, pkgs []listedPackage) (Main, error) {
	var mains []Main
	var cmds []Main
	for _, p := range pkgs {
		if p.Name != "main" || p.Module == nil {
			continue
		}
		m := mainOf(p)
		if m.Package == "." {
			return m, nil
		}
		mains = append(mains, m)
		if parts := strings.Split(m.Package, "/"); len(parts) == 3 && parts[1] == "cmd" {
			cmds = append(cmds, m)
		}
	}
	if len(cmds) == 1 {
		return cmds[0], nil
	}
	var cands []string
	for _, m := range mains {
		cands = append(cands, m.Package)
	}
	sort.Strings(cands)
	return Main{}, &NoMainError{ModuleDir: moduleDir, Candidates: cands, Suggestion: suggest(cands)}
}

// suggest is the setting that builds every candidate: ./cmd/... when all
// are under cmd/, else the list joined by commas.
func suggest(cands []string) string {
	if len(cands) == 0 {
		return ""
	}
	for _, c := range cands {
		if !strings.HasPrefix(c, "./cmd/") {
			return strings.Join(cands, ",")
		}
	}
	return "./cmd/..."
}

// precheck rejects an entry that cannot name a folder of the module, with
// plainer reasons than go list gives.
func precheck(moduleDir, entry string) error {
	if entry == ".." || strings.HasPrefix(entry, "../") || filepath.IsAbs(entry) || path.IsAbs(entry) {
		if isPattern(entry) {
			return &NoMainError{ModuleDir: moduleDir, Pattern: entry, Reason: "it reaches outside the module"}
		}
		return &NoMainError{ModuleDir: moduleDir, Main: entry, Reason: "is outside the module"}
	}
	if isPattern(entry) {
		return nil
	}
	fi, err := os.Stat(filepath.Join(moduleDir, filepath.FromSlash(entry)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &NoMainError{ModuleDir: moduleDir, Main: entry, Reason: "does not exist"}
	case err != nil:
		return fmt.Errorf("check main package %q: %w", entry, err)
	case !fi.IsDir():
		return &NoMainError{ModuleDir: moduleDir, Main: entry, Reason: "is a file, not a package folder"}
	}
	return nil
}

// selectMains decides, from the output of one go list over entries, the
// main packages they name and an error for every entry that names none.
func selectMains(moduleDir string, entries []string, pkgs []listedPackage) ([]Main, []error) {
	byEntry := map[string][]listedPackage{}
	for _, p := range pkgs {
		for _, m := range p.Match {
			byEntry[m] = append(byEntry[m], p)
		}
	}
	var errs []error
	found := map[string]Main{}
	for _, e := range entries {
		matched := byEntry[e]
		if isPattern(e) {
			var libs []string
			n := 0
			for _, p := range matched {
				switch {
				case p.Name == "main" && p.Module != nil:
					m := mainOf(p)
					found[m.ImportPath] = m
					n++
				case p.Error != nil && p.Name == "":
					libs = append(libs, "("+strings.TrimSpace(p.Error.Err)+")")
				case p.Module != nil:
					libs = append(libs, mainOf(p).Package)
				}
			}
			if n == 0 {
				reason := "it matches no packages"
				base := strings.TrimSuffix(strings.TrimSuffix(e, "..."), "/")
				if _, err := os.Stat(filepath.Join(moduleDir, filepath.FromSlash(base))); errors.Is(err, fs.ErrNotExist) {
					reason = "folder " + base + " does not exist"
				} else if len(libs) > 0 {
					reason = "it matches only " + strings.Join(libs, ", ")
				}
				errs = append(errs, &NoMainError{ModuleDir: moduleDir, Pattern: e, Reason: reason})
			}
			continue
		}
		if reason := notMainReason(matched); reason != "" {
			errs = append(errs, &NoMainError{ModuleDir: moduleDir, Main: e, Reason: reason})
			continue
		}
		m := mainOf(matched[0])
		found[m.ImportPath] = m
	}
	mains := make([]Main, 0, len(found))
	for _, m := range found {
		mains = append(mains, m)
	}
	sort.Slice(mains, func(i, j int) bool { return mains[i].Package < mains[j].Package })
	return mains, errs
}

// notMainReason says why the packages go list gave for one path are not
// one main package, or "" when they are.
func notMainReason(pkgs []listedPackage) string {
	if len(pkgs) != 1 {
		return fmt.Sprintf("names %d packages, not one", len(pkgs))
	}
	p := pkgs[0]
	switch {
	case p.Name == "" && p.Error != nil:
		return "cannot be loaded (" + strings.TrimSpace(p.Error.Err) + ")"
	case p.Name == "":
		return "has no Go files"
	case p.Name != "main":
		return fmt.Sprintf("is package %s, not main", p.Name)
	case p.Module == nil:
		return "is not in the module"
	}
	return ""
}

// sortByEntry orders errors by the entry they name, in entries' order.
func sortByEntry(entries []string, errs []error) []error {
	rank := map[string]int{}
	for i, e := range entries {
		rank[e] = i
	}
	key := func(err error) int {
		var nm *NoMainError
		if errors.As(err, &nm) {
			if r, ok := rank[nm.Pattern+nm.Main]; ok {
				return r
			}
		}
		return len(entries)
	}
	sort.SliceStable(errs, func(i, j int) bool { return key(errs[i]) < key(errs[j]) })
	return errs
}

// mainOf describes a package of the main module as a Main.
func mainOf(p listedPackage) Main {
	return Main{Package: relPackage(p), ImportPath: p.ImportPath, Name: path.Base(p.ImportPath)}
}

// ImageName derives a valid image repository name component from a
// service name: lowercase ASCII letters and digits, separated by '.', '_',
// "__" or runs of '-', neither first nor last (the distribution spec's
// path-component rule). "MyApp" gives "myapp", "my app" gives "my-app". It
// reports whether the result differs from name, so the caller can say once
// that it derived a default. When nothing valid remains (e.g. "__"), it
// returns "" and true: the caller must ask for a name.
func ImageName(name string) (string, bool) {
	var b strings.Builder
	var sep []rune // the separator run not yet written
	flush := func() {
		s := string(sep)
		sep = sep[:0]
		if b.Len() == 0 {
			return // nothing may come before the first letter or digit
		}
		switch {
		case s == "", s == ".", s == "_", s == "__", strings.Trim(s, "-") == "":
			b.WriteString(s)
		default:
			b.WriteByte('-')
		}
	}
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			flush()
			b.WriteRune(r)
		case r == '.' || r == '_' || r == '-':
			sep = append(sep, r)
		default:
			sep = append(sep, '?') // invalid: the run becomes one '-'
		}
	}
	out := b.String()
	return out, out != name
}

// relPackage returns p's path relative to its module root, "./"-prefixed.
func relPackage(p listedPackage) string {
	rest := strings.TrimPrefix(p.ImportPath, p.Module.Path)
	if rest == "" {
		return "."
	}
	return "." + rest
}

// goList runs one `go list -e -json` on patterns in dir, in env (nil: the
// process's).
func goList(ctx context.Context, env []string, dir string, patterns ...string) ([]listedPackage, error) {
	args := append([]string{"list", "-e", "-json=Name,ImportPath,Dir,Match,Module,Error", "--"}, patterns...)
	out, err := goEnvCmd(ctx, env, dir, args...)
	if err != nil {
		return nil, err
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("read go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// ModuleRoot returns the root folder of the Go module containing dir (the
// folder of its go.mod), found with `go env GOMOD`. It returns an error
// saying to run inside a module when there is no go.mod in dir or above.
func ModuleRoot(ctx context.Context, dir string) (string, error) {
	out, err := goCmd(ctx, dir, "env", "GOMOD")
	if err != nil {
		return "", fmt.Errorf("find the module root of %q: %w", dir, err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("no go.mod in %q or any folder above it: run magepack inside a Go module (create one with go mod init)", dir)
	}
	return filepath.Dir(gomod), nil
}

// ModulePath returns the module path declared in the go.mod of the module
// containing dir (via `go mod edit -json`), or an error as ModuleRoot does.
func ModulePath(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot(ctx, dir)
	if err != nil {
		return "", err
	}
	out, err := goCmd(ctx, root, "mod", "edit", "-json")
	if err != nil {
		return "", fmt.Errorf("read the module path in %q: %w", root, err)
	}
	var mod struct{ Module struct{ Path string } }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("read the module path in %q: %w", root, err)
	}
	if mod.Module.Path == "" {
		return "", fmt.Errorf("go.mod in %q has no module line: add one (module example.com/app)", root)
	}
	return mod.Module.Path, nil
}

// goCmd runs the go command in dir and returns its stdout; on failure the
// error carries its stderr.
func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return goEnvCmd(ctx, nil, dir, args...)
}

// goEnvCmd is goCmd in env (nil: the process's environment).
func goEnvCmd(ctx context.Context, env []string, dir string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}
