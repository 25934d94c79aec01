package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
)

// crossCompileSet is figure set 1: cold and warm cross-compiles against
// the go build loop, gox and goreleaser.
var crossCompileSet = figureSet{
	id: "1", name: "cross-compile",
	run:   (*harness).crossCompile,
	peers: true,
	// The bars; the loop runs magepack's own argv, so "the same
	// flags" holds by construction.
	targets: []target{
		ratioBar("1", "cold cross-compile vs go build loop (same flags)", "1 cold crossCompile", "1 cold go build loop", 0.9),
		ratioBar("1", "warm cross-compile through go tool mage, nothing changed, vs go build loop", "1 warm crossCompile", "1 warm go build loop", 1.1),
	},
	extras: []target{
		ratioInfo("1", "cold cross-compile vs goreleaser (bar: ≤ 1.00×)", "1 cold crossCompile", "1 cold goreleaser"),
		ratioInfo("1", "cold cross-compile vs gox", "1 cold crossCompile", "1 cold gox"),
		ratioInfo("1", "warm cross-compile vs gox", "1 warm crossCompile", "1 warm gox"),
		ratioInfo("1", "warm cross-compile vs goreleaser", "1 warm crossCompile", "1 warm goreleaser"),
		ratioInfo("1", "warm cross-compile, magefile compiled once, vs go build loop", "1 warm crossCompile, precompiled", "1 warm go build loop"),
	},
}

// loop is the sequential go build loop: exactly the argv and environment
// magepack's plan gives each platform, run one after another.
func (h *harness) loop(key, label string, extraEnv ...string) error {
	return h.loopJobs(key, label, h.repo, h.jobs, extraEnv...)
}

// loopJobs runs jobs (planned without an OS environment) one after
// another in dir and records the total in figure key.
func (h *harness) loopJobs(key, label, dir string, jobs []gobuild.Job, extraEnv ...string) error {
	start := time.Now()
	for _, j := range jobs {
		// j.Env holds only the plan's own GOOS, GOARCH and CGO_ENABLED
		// (Plan got no OS environment): h.env below them, extraEnv above.
		env := append(append([]string(nil), j.Env...), extraEnv...)
		if _, _, err := h.run(key+" "+j.Target.String(), cmd{dir: dir, env: env, name: "go", args: j.Args}); err != nil {
			return err
		}
	}
	h.fig(key, label).samples = append(h.fig(key, label).samples, time.Since(start))
	return nil
}

// peer runs an installed peer tool, or marks the figure unavailable.
func (h *harness) peer(toolName, key, label string, c cmd) (string, error) {
	t := h.tools[toolName]
	if t == nil || t.unavailable != "" {
		why := "not installed"
		if t != nil {
			why = t.unavailable
		}
		h.fig(key, label).unavailable = why
		return "", errUnavailable
	}
	c.name = t.path
	out, err := h.measure(key, label, c)
	if err != nil {
		h.fig(key, label).unavailable = fmt.Sprintf("%s %s failed: %s", t.name, t.version, firstLine(tail(out, 1)))
		h.notes = append(h.notes, fmt.Sprintf("%s: %v", key, err))
		t.unavailable = "failed earlier in this run: " + firstLine(tail(out, 1))
		return out, errUnavailable
	}
	return out, nil
}

func (h *harness) goxCmd() cmd {
	return cmd{dir: h.repo, env: []string{"CGO_ENABLED=0", "GOFLAGS=-trimpath -buildvcs=false"}, args: []string{
		"-osarch", strings.ReplaceAll(h.platforms, ",", " "),
		"-ldflags", h.ldflags,
		"-output", filepath.Join(h.work, "gox-dist", "example-app_{{.OS}}_{{.Arch}}"),
		"./example-app",
	}}
}

func (h *harness) goreleaserCmd() cmd {
	return cmd{dir: h.repo, args: []string{"build", "--snapshot", "--clean"}}
}

// crossCompile is figure set 1: cold (empty GOCACHE) and warm builds of
// the platforms by crossCompile, the loop, gox and goreleaser.
func (h *harness) crossCompile() error {
	const (
		mageCold = "1 cold crossCompile"
		loopCold = "1 cold go build loop"
		goxCold  = "1 cold gox"
		grCold   = "1 cold goreleaser"
		mageWarm = "1 warm crossCompile"
		loopWarm = "1 warm go build loop"
		goxWarm  = "1 warm gox"
		grWarm   = "1 warm goreleaser"
	)
	plats := fmt.Sprintf("%d platform(s)", len(h.jobs))
	for i := 0; i < h.coldN; i++ {
		steps := []struct {
			key  string
			run  func(env []string) error
			tool string
		}{
			{mageCold, func(env []string) error {
				_, err := h.measure(mageCold, "crossCompile, "+plats+", empty GOCACHE (magefile compiled beforehand, like the peers' binaries)", cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{"crossCompile"}})
				return err
			}, ""},
			{loopCold, func(env []string) error {
				return h.loop(loopCold, "sequential go build loop, same argv, empty GOCACHE", env...)
			}, ""},
			{goxCold, func(env []string) error {
				c := h.goxCmd()
				c.env = append(c.env, env...)
				_, err := h.peer("gox", goxCold, "gox, empty GOCACHE", c)
				return ignoreUnavailable(err)
			}, "gox"},
			{grCold, func(env []string) error {
				c := h.goreleaserCmd()
				c.env = env
				_, err := h.peer("goreleaser", grCold, "goreleaser build --snapshot --clean, empty GOCACHE", c)
				return ignoreUnavailable(err)
			}, "goreleaser"},
		}
		for _, s := range steps {
			cache, err := h.coldCache()
			if err != nil {
				return err
			}
			err = s.run([]string{"GOCACHE=" + cache})
			os.RemoveAll(cache)
			if err != nil {
				return err
			}
		}
	}

	// Warm: prime every cache once (not timed), then measure with nothing changed.
	warm := func(timed bool) error {
		label := func(s string) string { return s }
		if !timed {
			label = func(s string) string { return "prime " + s }
		}
		var err error
		if timed {
			_, err = h.measure(mageWarm, "go tool mage crossCompile, "+plats+", nothing changed", mage(h.repo, nil, "crossCompile"))
		} else {
			_, _, err = h.run(label(mageWarm), mage(h.repo, nil, "crossCompile"))
		}
		if err != nil || h.tiny {
			return err
		}
		if timed {
			// Diagnostic: the same target without mage's own start-up
			// (its per-run rebuild of the magefile), to tell the two apart.
			if _, err := h.measure("1 warm crossCompile, precompiled", "crossCompile by the magefile compiled beforehand (mage start-up excluded), nothing changed", cmd{dir: h.repo, name: h.mageBin, args: []string{"crossCompile"}}); err != nil {
				return err
			}
			if err := h.loop(loopWarm, "sequential go build loop, nothing changed"); err != nil {
				return err
			}
			_, err := h.peer("gox", goxWarm, "gox, nothing changed", h.goxCmd())
			if ignoreUnavailable(err) != nil {
				return err
			}
			_, err = h.peer("goreleaser", grWarm, "goreleaser build --snapshot --clean, nothing changed", h.goreleaserCmd())
			return ignoreUnavailable(err)
		}
		for _, j := range h.jobs {
			if _, _, err := h.run("prime loop "+j.Target.String(), cmd{dir: h.repo, env: j.Env, name: "go", args: j.Args}); err != nil {
				return err
			}
		}
		for _, t := range []struct {
			name string
			c    cmd
		}{{"gox", h.goxCmd()}, {"goreleaser", h.goreleaserCmd()}} {
			if tl := h.tools[t.name]; tl != nil && tl.unavailable == "" {
				c := t.c
				c.name = tl.path
				if _, out, err := h.run("prime "+t.name, c); err != nil {
					tl.unavailable = "failed: " + firstLine(tail(out, 1))
				}
			}
		}
		return nil
	}
	if !h.tiny {
		if err := warm(false); err != nil {
			return err
		}
	}
	for i := 0; i < h.n; i++ {
		if err := warm(true); err != nil {
			return err
		}
	}
	return h.checkBinaries()
}

func ignoreUnavailable(err error) error {
	if errors.Is(err, errUnavailable) {
		return nil
	}
	return err
}

// checkBinaries makes sure every tool built one binary for each platform,
// and for that platform (read from its headers).
func (h *harness) checkBinaries() error {
	want := map[string]bool{}
	for _, j := range h.jobs {
		want[j.Target.String()] = true
	}
	dirs := map[string]string{
		"crossCompile":  filepath.Join(h.repo, "dist", "example-app_*"),
		"go build loop": filepath.Join(h.work, "loop-dist", "example-app_*"),
	}
	if !h.tiny {
		dirs["gox"] = filepath.Join(h.work, "gox-dist", "example-app_*")
		dirs["goreleaser"] = filepath.Join(h.work, "goreleaser-dist", "*", "example-app*")
	}
	for who, pattern := range dirs {
		if f := h.figs["1 warm "+who]; who != "crossCompile" && (f == nil || len(f.samples) == 0) {
			continue // not run (tiny mode, or the peer is unavailable)
		}
		paths, _ := filepath.Glob(pattern)
		got := map[string]bool{}
		for _, p := range paths {
			rep, err := linkage.Inspect(p)
			if err != nil {
				continue
			}
			got[rep.OS+"/"+rep.Arch] = true
		}
		for pl := range want {
			if !got[pl] {
				return fmt.Errorf("%s built no %s binary (looked at %s)", who, pl, pattern)
			}
		}
	}
	return nil
}
