package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
)

// mainsDir is the folder of set 11's three mains inside the scratch clone,
// so `go tool mage` with the repo's own magefile builds them.
const mainsDir = "bench-mains"

// mainsSet is figure set 11: an edit to a package three services share,
// then crossCompile of the three mains for one platform (one go build for
// all three) against one plain go build of them with the same flags, and
// three separate go builds, one per main, against that one go build: what
// batching the mains saves.
var mainsSet = figureSet{
	id: "11", name: "three mains after an edit to a shared package",
	run: (*harness).mains,
	targets: []target{
		ratioBar("11", "edit a shared package → crossCompile of 3 mains for 1 platform, magefile compiled once, vs one go build -o <dir>/ of them (same flags)", "11 crossCompile 3 mains, precompiled", "11 go build 3 mains", 1.25),
	},
	extras: []target{
		ratioInfo("11", "the same through go tool mage vs one go build", "11 crossCompile 3 mains", "11 go build 3 mains"),
		ratioInfo("11", "three separate go builds (one per main) vs one go build of the three", "11 go build loop 3 mains", "11 go build 3 mains"),
	},
}

// mainsSource is the shared package (its greeting edited every time) and
// three HTTP services that use it.
func mainsSource(nonce string) map[string]string {
	files := map[string]string{
		"lib/lib.go": fmt.Sprintf("// Package lib is what the services share.\npackage lib\n\n// Greeting is edited by every run of the benchmark.\nconst Greeting = %q\n", "hello "+nonce),
	}
	for _, svc := range []string{"api", "worker", "cli"} {
		files["cmd/"+svc+"/main.go"] = fmt.Sprintf(`package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/magepack/magepack/%s/lib"
)

var version = "dev"

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, %q, lib.Greeting, version) })
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`, mainsDir, svc)
	}
	return files
}

// mains times, after a fresh edit each, crossCompile of the three mains
// (compiled magefile and go tool mage), one go build of them, and three
// go builds, for the first platform.
func (h *harness) mains() error {
	src := filepath.Join(h.repo, mainsDir)
	defer os.RemoveAll(src)
	edit := func() error {
		h.edits++
		for name, body := range mainsSource(fmt.Sprintf("%d-%d", time.Now().UnixNano(), h.edits)) {
			p := filepath.Join(src, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if err := edit(); err != nil {
		return err
	}
	if h.mageBin == "" {
		h.mageBin = filepath.Join(h.work, "bin", "magefile")
		if _, _, err := h.run("mage -compile", cmd{dir: h.repo, name: "go", args: []string{"tool", "mage", "-compile", h.mageBin}}); err != nil {
			return err
		}
	}

	target := h.jobs[0].Target
	var jobs []gobuild.Job
	for _, svc := range []string{"api", "cli", "worker"} {
		cfg := h.buildConfig(filepath.Join(h.work, "mains-dist"))
		cfg.Main, cfg.Name = "./"+mainsDir+"/cmd/"+svc, svc
		js, err := gobuild.Plan(cfg, []gobuild.Target{target}, nil)
		if err != nil {
			return err
		}
		jobs = append(jobs, js...)
	}
	batches := gobuild.Batches(jobs)
	if len(batches) != 1 {
		return fmt.Errorf("the three mains plan as %d go builds, want 1", len(batches))
	}
	one := batches[0]
	env := []string{
		"MAGEPACK_MAIN=./" + mainsDir + "/cmd/...", "MAGEPACK_PLATFORMS=" + target.String(),
		"MAGEPACK_DIST=" + filepath.Join(h.work, "mains-mage-dist"),
	}
	if err := os.MkdirAll(filepath.Join(h.work, "mains-dist"), 0o755); err != nil {
		return err
	}
	label := fmt.Sprintf("3 mains (net/http, a shared package edited before each run) for %s", target)
	steps := []struct {
		key, label string
		c          cmd
	}{
		{"11 crossCompile 3 mains, precompiled", "crossCompile by the magefile compiled beforehand, " + label, cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{"crossCompile"}}},
		{"11 crossCompile 3 mains", "go tool mage crossCompile, " + label, mage(h.repo, env, "crossCompile")},
		{"11 go build 3 mains", "go build -o <dir>/ of the 3 mains, crossCompile's flags, " + label, cmd{dir: h.repo, env: one.Env, name: "go", args: one.Args}},
	}
	// One round unmeasured: caches and the folders in place.
	for i := 0; i <= h.n; i++ {
		timed := i > 0 || h.tiny
		for _, s := range steps {
			if err := edit(); err != nil {
				return err
			}
			if !timed {
				if _, _, err := h.run("prime "+s.key, s.c); err != nil {
					return err
				}
				continue
			}
			if _, err := h.measure(s.key, s.label, s.c); err != nil {
				return err
			}
		}
		if !timed {
			continue
		}
		if err := edit(); err != nil {
			return err
		}
		if err := h.loopJobs("11 go build loop 3 mains", "3 go builds, one per main, same argv, "+label, h.repo, jobs); err != nil {
			return err
		}
		if h.tiny {
			break
		}
	}
	return nil
}
