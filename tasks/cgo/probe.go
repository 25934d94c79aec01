package cgo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/gobuild"
)

// Package is a package, outside the standard library, with C code (cgo
// files) that a build without cgo leaves out.
type Package struct {
	ImportPath string
	// Module and Version are the module the package belongs to; Version
	// is empty for the main module and local replacements.
	Module, Version string
	// Dir is the package's folder, as the go command names it in errors.
	Dir string
	// Mains are the main packages (import paths) whose build includes it.
	Mains []string
}

// Problem says what a build without cgo does to the package, e.g.
// "github.com/mattn/go-sqlite3 has C code that CGO_ENABLED=0 leaves out
// (only its files without cgo are built: often a stub that fails at run
// time)".
func (p Package) Problem() string {
	return p.ImportPath + " has C code that CGO_ENABLED=0 leaves out (only its files without cgo are built: often a stub that fails at run time)"
}

// listed is the part of `go list -json` Dropped reads.
type listed struct {
	ImportPath string
	Dir        string
	Standard   bool
	DepOnly    bool
	CgoFiles   []string
	Deps       []string
	Module     *struct {
		Path    string
		Version string
	}
}

// Dropped lists the packages outside the standard library, in the builds
// of mains, that have cgo files, which a build with CGO_ENABLED=0 leaves
// out; sorted by import path. It runs one `go list -e -deps -json` with
// goBin in dir, with cgo on (so the go command reports the cgo files
// instead of ignoring them) and otherwise the build's own environment env
// (GOOS, GOARCH, GOFLAGS) and -tags value, so the files it sees are the
// build's. It reads sources only: no C compiler is needed.
func Dropped(ctx context.Context, goBin, dir string, env []string, tags string, mains []string) ([]Package, error) {
	args := []string{"list", "-e", "-deps", "-json=ImportPath,Dir,Standard,DepOnly,CgoFiles,Deps,Module"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "--")
	args = append(args, mains...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(env), "CGO_ENABLED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("look for cgo packages (go %s): %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return droppedFrom(&stdout)
}

// droppedFrom reads go list's stream of JSON packages (see Dropped).
func droppedFrom(r io.Reader) ([]Package, error) {
	dec := json.NewDecoder(r)
	var all []listed
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read go list's output: %w", err)
		}
		all = append(all, p)
	}
	var mains []listed
	for _, p := range all {
		if !p.DepOnly {
			mains = append(mains, p)
		}
	}
	var out []Package
	for _, p := range all {
		if p.Standard || len(p.CgoFiles) == 0 {
			continue
		}
		pkg := Package{ImportPath: p.ImportPath, Dir: p.Dir}
		if p.Module != nil {
			pkg.Module, pkg.Version = p.Module.Path, p.Module.Version
		}
		for _, m := range mains {
			if m.ImportPath == p.ImportPath || slices.Contains(m.Deps, p.ImportPath) {
				pkg.Mains = append(pkg.Mains, m.ImportPath)
			}
		}
		out = append(out, pkg)
	}
	slices.SortFunc(out, func(a, b Package) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return out, nil
}

// DroppedError is a build without cgo that failed because every file of a
// package that builds uses cgo: what the go command said ("build
// constraints exclude all Go files in …"), explained.
type DroppedError struct {
	Package Package
	// Err is the build's own error (a *gobuild.BuildError).
	Err error
}

// Error explains the failure instead of showing the go command's words.
func (e *DroppedError) Error() string {
	what := ""
	var be *gobuild.BuildError
	if errors.As(e.Err, &be) {
		what = "go build for " + be.Target.String() + " failed: "
		if be.Name != "" {
			what = be.Name + ": " + what
		}
	}
	return what + e.Package.ImportPath + " has only cgo files, which CGO_ENABLED=0 leaves out, so nothing of it is left to compile"
}

// Unwrap returns the build's own error.
func (e *DroppedError) Unwrap() error { return e.Err }

// Explain returns err explained when it is a go build that failed because
// CGO_ENABLED=0 left nothing of one of pkgs to compile (a *DroppedError
// wrapping err), and err unchanged otherwise.
func Explain(err error, pkgs []Package) error {
	var be *gobuild.BuildError
	if !errors.As(err, &be) {
		return err
	}
	for _, p := range pkgs {
		if p.Dir != "" && excludesAll(be.Output, p.Dir) {
			return &DroppedError{Package: p, Err: err}
		}
	}
	return err
}

// excludesAll reports whether go build's output says that build
// constraints exclude every Go file in dir (and not in a folder whose name
// merely starts with dir's).
func excludesAll(output, dir string) bool {
	phrase := "build constraints exclude all Go files in " + dir
	for rest := output; ; {
		i := strings.Index(rest, phrase)
		if i < 0 {
			return false
		}
		rest = rest[i+len(phrase):]
		if rest == "" || rest[0] == '\n' || rest[0] == '\r' {
			return true
		}
	}
}
