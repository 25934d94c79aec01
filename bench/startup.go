package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// startupSet is figure set 8: what `go tool mage` spends before a target
// starts, piece by piece, and the tool's own cold start (compiling mage and
// the magefile on an empty GOCACHE, what a CI job without a restored cache
// pays before any target runs).
var startupSet = figureSet{
	id: "8", name: "mage start-up and cold start",
	run: (*harness).startup,
	targets: []target{
		limitBar("8", "the tool's cold start: go tool mage -compile on an empty GOCACHE (mage and the magefile)", "8 cold start", 20*time.Second),
	},
	extras: []target{
		ratioInfo("8", "cold start with GOFLAGS=-gcflags=all=-dwarf=false vs without", "8 cold start, GOFLAGS=-gcflags=all=-dwarf=false", "8 cold start"),
	},
}

// startup measures, with nothing changed, each step mage takes before it
// runs a target (go tool resolving mage, go version, go env GOCACHE, the
// two go list calls that find the imported package's files, the go build
// that checks the magefile binary, the binary's own start), the whole of
// `go tool mage -l`, and, cold, the tool's start.
// It also counts the packages the magefile binary and mage are built from,
// and, with cold runs, breaks a cold compile of the targets down by module.
func (h *harness) startup() error {
	magefiles := filepath.Join(h.repo, "magefiles")
	bin := filepath.Join(h.work, "bin", "startup-magefile")
	// mage -keep leaves the main file it generates; the magefile and it go
	// to a folder of their own in the module (hidden from ./... patterns),
	// so the check build can be repeated as mage runs it without the file
	// lying in magefiles/ for the other figures.
	if _, _, err := h.run("mage -keep -compile", mage(h.repo, nil, "-keep", "-compile", bin)); err != nil {
		return err
	}
	check := filepath.Join(h.repo, ".bench-magefile")
	if err := os.RemoveAll(check); err != nil {
		return err
	}
	if err := os.MkdirAll(check, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(check)
	files, err := filepath.Glob(filepath.Join(magefiles, "*.go"))
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(check, filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
		names = append(names, filepath.Base(f))
	}
	if err := os.Remove(filepath.Join(magefiles, "mage_output_file.go")); err != nil {
		return fmt.Errorf("mage -keep left no mage_output_file.go in %s: %w", magefiles, err)
	}
	if err := h.countPackages(); err != nil {
		return err
	}

	const tasks = "github.com/magepack/magepack/tasks"
	steps := []struct {
		key, label string
		c          cmd
	}{
		{"8 go tool mage -l", "go tool mage -l, nothing changed (the whole start-up but the magefile build, which -l skips)", mage(h.repo, nil, "-l")},
		{"8 go tool -n mage", "go resolving the mage tool (go tool -n mage)", cmd{dir: h.repo, name: "go", args: []string{"tool", "-n", "mage"}}},
		{"8 go version", "mage: go version (names the magefile binary)", cmd{dir: magefiles, name: "go", args: []string{"version"}}},
		{"8 go env GOCACHE", "mage: go env GOCACHE", cmd{dir: magefiles, name: "go", args: []string{"env", "GOCACHE"}}},
		{"8 go list dir", "mage: go list -f {{.Dir}}||{{.Name}} of the imported tasks package", cmd{dir: magefiles, name: "go", args: []string{"list", "-f", "{{.Dir}}||{{.Name}}", tasks}}},
		{"8 go list files", "mage: go list -f {{join .GoFiles}} of the imported tasks package", cmd{dir: magefiles, name: "go", args: []string{"list", "-f", `{{join .GoFiles "||"}}`, tasks}}},
		{"8 magefile check", "mage: go build of the magefile binary with nothing to rebuild", cmd{dir: check, name: "go", args: append([]string{"build", "-o", bin}, names...)}},
		{"8 magefile binary -l", "the compiled magefile binary's own start (-l)", cmd{dir: h.repo, name: bin, args: []string{"-l"}}},
	}
	// Prime: the check build in its new folder links once.
	if _, _, err := h.run("prime magefile check", steps[6].c); err != nil {
		return err
	}
	for i := 0; i < h.n; i++ {
		for _, s := range steps {
			if _, err := h.measure(s.key, s.label, s.c); err != nil {
				return err
			}
		}
	}

	if h.coldN > 0 {
		if err := h.compileByModule(); err != nil {
			return err
		}
	}
	for i := 0; i < h.coldN; i++ {
		cold := []struct {
			key, label string
			c          cmd
		}{
			{"8 cold start", "go tool mage -compile, empty GOCACHE: compiles mage, then the magefile", mage(h.repo, nil, "-compile", bin)},
			{"8 cold start, GOFLAGS=-gcflags=all=-dwarf=false", "the same with GOFLAGS=-gcflags=all=-dwarf=false (no DWARF compiled for mage or the magefile)", mage(h.repo, []string{"GOFLAGS=-gcflags=all=-dwarf=false"}, "-compile", bin)},
			{"8 cold go tool mage -l", "go tool mage -l, empty GOCACHE: compiles mage only (no magefile build)", mage(h.repo, nil, "-l")},
		}
		for _, s := range cold {
			cache, err := h.coldCache()
			if err != nil {
				return err
			}
			s.c.env = append(s.c.env, "GOCACHE="+cache)
			_, err = h.measure(s.key, s.label, s.c)
			os.RemoveAll(cache)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// countPackages adds a section with the number of packages the magefile
// binary and the mage tool are built from, and the modules outside the
// standard library that contribute most.
func (h *harness) countPackages() error {
	list := func(args ...string) ([]string, error) {
		_, out, err := h.run("go list -deps", cmd{dir: h.repo, name: "go", args: append([]string{"list", "-deps"}, args...)})
		if err != nil {
			return nil, err
		}
		return strings.Fields(out), nil
	}
	magefile, err := list("-tags", "mage", "./magefiles")
	if err != nil {
		return err
	}
	tool, err := list("github.com/magefile/mage")
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Packages mage compiles (set 8)\n\n")
	fmt.Fprintf(&b, "- the magefile binary (`go list -deps -tags mage ./magefiles`): %s\n", packageSummary(magefile))
	fmt.Fprintf(&b, "- the mage tool (`go list -deps github.com/magefile/mage`): %s\n", packageSummary(tool))
	h.sections = append(h.sections, b.String())
	return nil
}

// packageSummary counts pkgs: all, outside the standard library, and the
// non-standard modules (by path prefix) with the most packages.
func packageSummary(pkgs []string) string {
	byModule := map[string]int{}
	nonStd := 0
	for _, p := range pkgs {
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") {
			continue // the standard library (and its vendored golang.org/x copies)
		}
		nonStd++
		byModule[modulePrefix(p)]++
	}
	type count struct {
		m string
		n int
	}
	var top []count
	for m, n := range byModule {
		top = append(top, count{m, n})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].n != top[j].n {
			return top[i].n > top[j].n
		}
		return top[i].m < top[j].m
	})
	var parts []string
	for i, c := range top {
		if i == 6 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", c.m, c.n))
	}
	return fmt.Sprintf("%d packages, %d outside the standard library (%s)", len(pkgs), nonStd, strings.Join(parts, ", "))
}

// modulePrefix groups a package path by its likely module: host/owner/repo
// on the big forges, the first two elements elsewhere (go.opentelemetry.io/otel).
func modulePrefix(p string) string {
	el := strings.Split(p, "/")
	n := 2
	if el[0] == "github.com" || el[0] == "golang.org" {
		n = 3
	}
	if len(el) < n {
		n = len(el)
	}
	return strings.Join(el[:n], "/")
}
