package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// compileByModule builds the targets' package (what a magefile that
// imports them compiles beyond mage's own main) once on an empty GOCACHE
// with the go command's -debug-actiongraph, and adds a section with the
// compile time of its import graph per module: where the tool's cold start
// goes. The times are the compile actions' own (they overlap on several
// CPUs, so their sum exceeds the wall time).
func (h *harness) compileByModule() error {
	const pkg = "./tasks"
	cache, err := h.coldCache()
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	graph := filepath.Join(h.work, "tasks-actiongraph.json")
	wall, _, err := h.run("8 cold compile graph", cmd{dir: h.repo, env: []string{"GOCACHE=" + cache}, name: "go", args: []string{"build", "-debug-actiongraph=" + graph, pkg}})
	if err != nil {
		return err
	}
	_, out, err := h.run("go list -deps modules", cmd{dir: h.repo, name: "go", args: []string{"list", "-deps", "-f", "{{.ImportPath}} {{if .Module}}{{.Module.Path}}{{else}}std{{end}}", pkg}})
	if err != nil {
		return err
	}
	moduleOf := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if p, m, ok := strings.Cut(line, " "); ok {
			moduleOf[p] = m
		}
	}
	data, err := os.ReadFile(graph)
	if err != nil {
		return err
	}
	var actions []struct {
		Mode, Package       string
		TimeStart, TimeDone time.Time
		Cmd                 []string
	}
	if err := json.Unmarshal(data, &actions); err != nil {
		return fmt.Errorf("read %s: %w", graph, err)
	}
	type row struct {
		module string
		d      time.Duration
		pkgs   int
		top    string
		topD   time.Duration
	}
	byModule := map[string]*row{}
	var total time.Duration
	for _, a := range actions {
		if a.Mode != "build" || len(a.Cmd) == 0 || a.TimeStart.IsZero() || a.TimeDone.IsZero() {
			continue // cached, or not a compile
		}
		m := moduleOf[a.Package]
		if m == "" {
			m = "(other)"
		}
		r := byModule[m]
		if r == nil {
			r = &row{module: m}
			byModule[m] = r
		}
		d := a.TimeDone.Sub(a.TimeStart)
		r.d += d
		r.pkgs++
		if d > r.topD {
			r.top, r.topD = a.Package, d
		}
		total += d
	}
	var rows []*row
	for _, r := range byModule {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The targets' import graph, cold, per module (set 8)\n\n")
	fmt.Fprintf(&b, "`go build -debug-actiongraph %s` on an empty GOCACHE took %s wall; its compile actions %s in all (they overlap on %d CPUs). Load average at the end of the run: %s.\n\n", pkg, dur(wall), dur(total), runtime.NumCPU(), loadavg())
	fmt.Fprintf(&b, "| module | compile time | share | packages compiled | slowest package |\n|---|---|---|---|---|\n")
	for i, r := range rows {
		if i == 15 {
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f%% | %d | %s (%s) |\n", r.module, dur(r.d), 100*r.d.Seconds()/total.Seconds(), r.pkgs, r.top, dur(r.topD))
	}
	h.sections = append(h.sections, b.String())
	return nil
}
