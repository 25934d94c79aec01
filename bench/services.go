package main

import (
	"fmt"
	"path/filepath"

	"github.com/magepack/magepack/tasks/gobuild"
)

// servicesSet is figure set 10: a cold cross-compile of a repository with
// two services (the third-party service's main and a second main beside
// it, sharing its packages, as an API and a worker do) for every
// platform: magepack's one pool of (service, platform) jobs, what
// crossCompile runs with MAGEPACK_MAIN=./cmd/..., against the sequential
// loop over the same pairs.
var servicesSet = figureSet{
	id: "10", name: "cold cross-compile of two services",
	run: (*harness).services,
	targets: []target{
		ratioBar("10", "cold cross-compile of 2 services vs go build loop over the same pairs", "10 cold 2 services gobuild.Run", "10 cold 2 services go build loop", 0.9),
	},
}

// services times cold builds of both services for every platform, both
// ways, alternating.
func (h *harness) services() error {
	if h.coldN == 0 {
		h.notes = append(h.notes, "set 10 not measured: it is cold builds only (-cold-n 0, or -tiny)")
		return nil
	}
	src, err := h.thirdPartySource()
	if err != nil {
		return err
	}
	// The second service: the same main in a folder of its own.
	worker := filepath.Join(src, "cmd", "worker")
	if err := copyTree(filepath.Join(src, filepath.FromSlash(thirdPartyMain)), worker); err != nil {
		return err
	}
	var targets []gobuild.Target
	for _, j := range h.jobs {
		targets = append(targets, j.Target)
	}
	plan := func(env []string) ([]gobuild.Job, gobuild.Config, error) {
		var all []gobuild.Job
		var cfg gobuild.Config
		for _, svc := range []struct{ main, name string }{{thirdPartyMain, "api"}, {"./cmd/worker", "worker"}} {
			cfg = h.buildConfig(filepath.Join(h.work, "services-dist"))
			cfg.ModuleDir, cfg.Main, cfg.Name = src, svc.main, svc.name
			jobs, err := gobuild.Plan(cfg, targets, env)
			if err != nil {
				return nil, cfg, err
			}
			all = append(all, jobs...)
		}
		return all, cfg, nil
	}
	loopJobs, _, err := plan(nil)
	if err != nil {
		return err
	}
	label := fmt.Sprintf("2 services x %d platform(s) of %s@%s, empty GOCACHE", len(targets), thirdPartyModule, thirdPartyVer)
	return h.coldPoolVsLoop("10 cold 2 services", src, plan, loopJobs,
		"gobuild.Run, one pool of (service, platform) jobs (crossCompile with ./cmd/...), "+label,
		"sequential go build loop over the same pairs, same argv, "+label)
}
