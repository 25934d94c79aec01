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
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoMain is what a *NoMainError matches with errors.Is: the main package
// could not be found, or the configured one is not a main package.
var ErrNoMain = errors.New("no main package")

// NoMainError says why no main package could be used in ModuleDir. For
// FindMain, Candidates lists the main packages found ("./cmd/a"), if any;
// for ValidateMain, Main is the configured package and Reason what is wrong
// with it.
type NoMainError struct {
	ModuleDir  string
	Main       string
	Reason     string
	Candidates []string
}

// Error says what was looked for, what was found and to set MAGEPACK_MAIN.
func (e *NoMainError) Error() string {
	const fix = "set MAGEPACK_MAIN to the main package's path relative to the module root"
	switch {
	case e.Main != "":
		return fmt.Sprintf("main package %q in module %q %s: %s", e.Main, e.ModuleDir, e.Reason, fix)
	case len(e.Candidates) == 0:
		return fmt.Sprintf("no main package in module %q: the root is not package main and no cmd/* folder holds one; %s", e.ModuleDir, fix)
	case len(e.Candidates) == 1:
		return fmt.Sprintf("no main package at the root or in cmd/* of module %q, but %s is one: set MAGEPACK_MAIN=%s", e.ModuleDir, e.Candidates[0], e.Candidates[0])
	default:
		return fmt.Sprintf("module %q has several main packages (%s): set MAGEPACK_MAIN to the one to build, e.g. MAGEPACK_MAIN=%s", e.ModuleDir, strings.Join(e.Candidates, ", "), e.Candidates[0])
	}
}

// Is reports whether target is ErrNoMain.
func (e *NoMainError) Is(target error) bool { return target == ErrNoMain }

// listedPackage is the part of `go list -json` output the helpers read.
type listedPackage struct {
	Name       string
	ImportPath string
	Dir        string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// FindMain returns the main package to build in the module at moduleDir, as
// a path relative to the module root: "." when the root is package main,
// else "./cmd/<x>" when that is the only main package directly under cmd/.
// Otherwise it returns a *NoMainError (errors.Is ErrNoMain) listing the main
// packages it found, and other errors when go list fails.
func FindMain(ctx context.Context, moduleDir string) (string, error) {
	pkgs, err := goList(ctx, moduleDir, "./...")
	if err != nil {
		return "", fmt.Errorf("find the main package in %q: %w", moduleDir, err)
	}
	var mains, cmds []string
	for _, p := range pkgs {
		if p.Name != "main" || p.Module == nil {
			continue
		}
		rel := relPackage(p)
		if rel == "." {
			return ".", nil
		}
		mains = append(mains, rel)
		if parts := strings.Split(rel, "/"); len(parts) == 3 && parts[1] == "cmd" {
			cmds = append(cmds, rel)
		}
	}
	if len(cmds) == 1 {
		return cmds[0], nil
	}
	sort.Strings(mains)
	return "", &NoMainError{ModuleDir: moduleDir, Candidates: mains}
}

// ValidateMain checks that main (relative to the module root at moduleDir,
// as in Config.Main) is a folder of the module holding package main. It
// returns a *NoMainError (errors.Is ErrNoMain) saying what is wrong (no
// such folder, outside the module, no Go files, not package main), and
// other errors when go list fails.
func ValidateMain(ctx context.Context, moduleDir, main string) error {
	m := NormalizeMain(main)
	bad := func(reason string) error {
		return &NoMainError{ModuleDir: moduleDir, Main: main, Reason: reason}
	}
	if m == ".." || strings.HasPrefix(m, "../") || filepath.IsAbs(m) {
		return bad("is outside the module")
	}
	fi, err := os.Stat(filepath.Join(moduleDir, filepath.FromSlash(m)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return bad("does not exist")
	case err != nil:
		return fmt.Errorf("check main package %q: %w", main, err)
	case !fi.IsDir():
		return bad("is a file, not a package folder")
	}
	pkgs, err := goList(ctx, moduleDir, m)
	if err != nil {
		return fmt.Errorf("check main package %q in %q: %w", main, moduleDir, err)
	}
	if len(pkgs) != 1 {
		return bad(fmt.Sprintf("names %d packages, not one", len(pkgs)))
	}
	p := pkgs[0]
	switch {
	case p.Name == "" && p.Error != nil:
		return bad("cannot be loaded (" + strings.TrimSpace(p.Error.Err) + ")")
	case p.Name == "":
		return bad("has no Go files")
	case p.Name != "main":
		return bad(fmt.Sprintf("is package %s, not main", p.Name))
	}
	return nil
}

// relPackage returns p's path relative to its module root, "./"-prefixed.
func relPackage(p listedPackage) string {
	rest := strings.TrimPrefix(p.ImportPath, p.Module.Path)
	if rest == "" {
		return "."
	}
	return "." + rest
}

// goList runs `go list -e -json` on pattern in dir.
func goList(ctx context.Context, dir, pattern string) ([]listedPackage, error) {
	out, err := goCmd(ctx, dir, "list", "-e", "-json=Name,ImportPath,Dir,Module,Error", pattern)
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
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
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
