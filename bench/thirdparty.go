package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
)

// The third-party service of set 9: a real HTTP service from the module
// proxy that needs nothing but the standard library, its main under cmd/.
const (
	thirdPartyModule = "github.com/mccutchen/go-httpbin/v2"
	thirdPartyVer    = "v2.26.0"
	thirdPartyMain   = "./cmd/go-httpbin"
)

// thirdPartySet is figure set 9: a cold cross-compile of the platforms for
// a service that is not ours, magepack's build (gobuild.Run, what
// crossCompile runs) against the sequential loop of the same argv.
var thirdPartySet = figureSet{
	id: "9", name: "cold cross-compile of a third-party service",
	run: (*harness).thirdParty,
	targets: []target{
		ratioBar("9", "cold cross-compile of "+thirdPartyModule+" vs go build loop (same flags)", "9 cold gobuild.Run", "9 cold go build loop", 0.9),
	},
}

// thirdParty downloads the service into the module cache, copies it into
// the work folder (the cache is read-only) and times cold builds of every
// platform both ways, alternating.
func (h *harness) thirdParty() error {
	if h.coldN == 0 {
		h.notes = append(h.notes, "set 9 not measured: it is cold builds only (-cold-n 0, or -tiny)")
		return nil
	}
	src, err := h.thirdPartySource()
	if err != nil {
		return err
	}

	cfg := h.buildConfig(filepath.Join(h.work, "thirdparty-dist"))
	cfg.ModuleDir, cfg.Main, cfg.Name = src, thirdPartyMain, "go-httpbin"
	var targets []gobuild.Target
	for _, j := range h.jobs {
		targets = append(targets, j.Target)
	}
	loopJobs, err := gobuild.Plan(cfg, targets, nil)
	if err != nil {
		return err
	}
	plats := fmt.Sprintf("%d platform(s)", len(targets))
	plan := func(env []string) ([]gobuild.Job, gobuild.Config, error) {
		c := cfg
		jobs, err := gobuild.Plan(c, targets, env)
		return jobs, c, err
	}
	return h.coldPoolVsLoop("9 cold", src, plan, loopJobs,
		"gobuild.Run (crossCompile's builds, default schedule), "+plats+" of "+thirdPartyModule+"@"+thirdPartyVer+", empty GOCACHE",
		"sequential go build loop, same argv, empty GOCACHE")
}

// coldPoolVsLoop times, coldN times and alternating, magepack's pool
// (gobuild.Run over plan's jobs) and the sequential loop over loopJobs,
// each on an empty GOCACHE: figures "<prefix> gobuild.Run" and "<prefix>
// go build loop", described by poolDesc and loopDesc.
func (h *harness) coldPoolVsLoop(prefix, src string, plan func(env []string) ([]gobuild.Job, gobuild.Config, error), loopJobs []gobuild.Job, poolDesc, loopDesc string) error {
	for i := 0; i < h.coldN; i++ {
		cache, err := h.coldCache()
		if err != nil {
			return err
		}
		jobs, cfg, err := plan(append(append([]string(nil), h.env...), "GOCACHE="+cache))
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = gobuild.Run(h.ctx, jobs, cfg, nil)
		d := time.Since(start)
		os.RemoveAll(cache)
		h.progress("%-34s %7.2fs  %s", prefix+" gobuild.Run", d.Seconds(), statusWord(err))
		if err != nil {
			return err
		}
		f := h.fig(prefix+" gobuild.Run", poolDesc)
		f.samples = append(f.samples, d)

		if cache, err = h.coldCache(); err != nil {
			return err
		}
		err = h.loopJobs(prefix+" go build loop", loopDesc, src, loopJobs, "GOCACHE="+cache)
		os.RemoveAll(cache)
		if err != nil {
			return err
		}
	}
	return nil
}

// thirdPartySource downloads the third-party service into the module
// cache and copies it into the work folder (the cache is read-only), once
// per harness run, and returns the copy.
func (h *harness) thirdPartySource() (string, error) {
	src := filepath.Join(h.work, "thirdparty")
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
		return src, nil
	}
	_, out, err := h.run("go mod download "+thirdPartyModule, cmd{dir: h.work, env: []string{"GOFLAGS="}, name: "go", args: []string{"mod", "download", "-json", thirdPartyModule + "@" + thirdPartyVer}})
	if err != nil {
		return "", err
	}
	var dl struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &dl); err != nil || dl.Dir == "" {
		return "", fmt.Errorf("go mod download printed no folder for %s@%s: %v", thirdPartyModule, thirdPartyVer, err)
	}
	if err := os.RemoveAll(src); err != nil {
		return "", err
	}
	return src, copyTree(dl.Dir, src)
}

// copyTree copies the regular files and folders under src to dst, writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return nil
	})
}
