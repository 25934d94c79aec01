package cgo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// cgoModule has two mains: cmd/all imports a package that is only cgo
// (c) and one with a stub for builds without cgo (s); cmd/pure imports
// neither. A package (tagged) has cgo only under a build tag.
var cgoModule = fixture.Module{Path: "example.com/cgoapp", Files: map[string]string{
	"c/c.go":           "package c\n\n// int two() { return 2; }\nimport \"C\"\n\nfunc Two() int { return int(C.two()) }\n",
	"s/s.go":           "package s\n\n// int three() { return 3; }\nimport \"C\"\n\nfunc Three() int { return int(C.three()) }\n",
	"s/stub.go":        "//go:build !cgo\n\npackage s\n\nfunc Three() int { panic(\"s needs cgo\") }\n",
	"tagged/t.go":      "//go:build fast\n\npackage tagged\n\n// int four() { return 4; }\nimport \"C\"\n\nfunc Four() int { return int(C.four()) }\n",
	"tagged/slow.go":   "//go:build !fast\n\npackage tagged\n\nfunc Four() int { return 4 }\n",
	"cmd/all/main.go":  "package main\n\nimport (\n\t\"example.com/cgoapp/c\"\n\t\"example.com/cgoapp/s\"\n\t\"example.com/cgoapp/tagged\"\n)\n\nfunc main() { println(c.Two() + s.Three() + tagged.Four()) }\n",
	"cmd/pure/main.go": "package main\n\nimport (\n\t\"net\"\n\t\"os/user\"\n)\n\nfunc main() { _, _ = net.LookupHost(\"x\"); _, _ = user.Current() }\n",
}}

func goEnv() []string {
	return append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
}

func TestDropped(t *testing.T) {
	dir := fixture.NewModule(t, cgoModule)
	ctx := context.Background()

	pkgs, err := Dropped(ctx, "go", dir, goEnv(), "", []string{"./cmd/all", "./cmd/pure"})
	require.NoError(t, err)
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.ImportPath)
		assert.Equal(t, []string{"example.com/cgoapp/cmd/all"}, p.Mains, "%s is in cmd/all's build only", p.ImportPath)
		assert.Equal(t, "example.com/cgoapp", p.Module)
		assert.DirExists(t, p.Dir)
	}
	assert.Equal(t, []string{"example.com/cgoapp/c", "example.com/cgoapp/s"}, paths,
		"the packages with cgo files, not the standard library's (net, os/user), not one whose cgo file is tagged out")
	assert.Equal(t, "example.com/cgoapp/s has C code that CGO_ENABLED=0 leaves out (only its files without cgo are built: often a stub that fails at run time)", pkgs[1].Problem())

	pkgs, err = Dropped(ctx, "go", dir, goEnv(), "fast", []string{"./cmd/all"})
	require.NoError(t, err)
	require.Len(t, pkgs, 3, "with the build's tags, the tagged cgo file counts")
	assert.Equal(t, "example.com/cgoapp/tagged", pkgs[2].ImportPath)

	pkgs, err = Dropped(ctx, "go", dir, goEnv(), "", []string{"./cmd/pure"})
	require.NoError(t, err)
	assert.Empty(t, pkgs)

	_, err = Dropped(ctx, "go", t.TempDir(), goEnv(), "", []string{"./cmd/all"})
	require.Error(t, err, "outside a module")
	assert.Contains(t, err.Error(), "look for cgo packages")
}

func TestExplain(t *testing.T) {
	dir := fixture.NewModule(t, cgoModule)
	pkgs, err := Dropped(context.Background(), "go", dir, goEnv(), "", []string{"./cmd/all"})
	require.NoError(t, err)

	// The go command's own failure, without cgo: c has nothing left.
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./cmd/all")
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "build constraints exclude all Go files in ")
	buildErr := &gobuild.BuildError{Target: gobuild.Target{OS: "linux", Arch: "arm64"}, Output: string(out), Err: err}

	explained := Explain(buildErr, pkgs)
	var de *DroppedError
	require.ErrorAs(t, explained, &de)
	assert.Equal(t, "example.com/cgoapp/c", de.Package.ImportPath)
	assert.Equal(t, "go build for linux/arm64 failed: example.com/cgoapp/c has only cgo files, which CGO_ENABLED=0 leaves out, so nothing of it is left to compile", explained.Error())
	assert.NotContains(t, explained.Error(), "build constraints", "the go command's words are explained, not shown")
	var be *gobuild.BuildError
	assert.ErrorAs(t, explained, &be, "still the build's failure")

	other := &gobuild.BuildError{Output: "main.go:3:1: syntax error", Err: errors.New("exit status 1")}
	assert.Same(t, other, Explain(other, pkgs), "another compile error is left alone")
	prefix := &gobuild.BuildError{Output: "build constraints exclude all Go files in " + pkgs[0].Dir + "x\n", Err: errors.New("exit status 1")}
	assert.Same(t, prefix, Explain(prefix, pkgs), "a folder whose name merely starts with the package's")
	assert.Nil(t, Explain(nil, pkgs))
}

func TestDroppedFromBadJSON(t *testing.T) {
	_, err := droppedFrom(strings.NewReader(`{"ImportPath": `))
	assert.ErrorContains(t, err, "read go list's output")
}
