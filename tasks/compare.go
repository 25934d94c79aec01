package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/magefile/mage/mg"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/report"
)

// smokeRuns is how many starts the start-time median is taken over.
const smokeRuns = 3

// Compare measures the Alpine and scratch images and three builds of the binary side by side, prints the table and writes dist/compare.md, compare.json and compare.svg.
//
// It depends on DockerScratch and DockerAlpine (images that are current are
// reused, not rebuilt). Image contents are read without starting a shell in
// them. When GITHUB_STEP_SUMMARY is set, compare.md is appended to it.
func Compare(ctx context.Context) error {
	mg.CtxDeps(ctx, DockerAlpine, DockerScratch)
	p, err := setup(ctx)
	if err != nil {
		return fail(err)
	}
	eng, err := connect(ctx)
	if err != nil {
		return fail(err)
	}
	return fail(compare(ctx, p, eng))
}

func compare(ctx context.Context, p *project, eng *engine.Engine) error {
	goos, arch, _, err := eng.Platform(ctx)
	if err != nil {
		return &imageError{err}
	}
	c := report.Compare{
		App: p.name, Version: p.versionString(), Platform: goos + "/" + arch,
		Method: fmt.Sprintf("Measured by magepack compare through the Docker Engine API (%s): image contents from an export of a created, never started container; start time is the median of %d smoke runs; binaries built for %s/%s.", eng.Where(), smokeRuns, goos, arch),
	}
	for _, variant := range []string{"alpine", "scratch"} {
		f, err := measureImage(ctx, p, eng, variant)
		if err != nil {
			return err
		}
		c.Images = append(c.Images, f)
	}
	if c.Binaries, err = measureBinaries(ctx, p, goos, arch); err != nil {
		return err
	}
	return writeCompare(p, c)
}

// measureImage reads one variant's facts and times its start.
func measureImage(ctx context.Context, p *project, eng *engine.Engine, variant string) (report.ImageFacts, error) {
	ref := p.refs(variant)[0]
	f, err := eng.Facts(ctx, ref)
	if err != nil {
		return report.ImageFacts{}, &imageError{err}
	}
	base := "scratch"
	if variant == "alpine" {
		base = p.cfg.AlpineBase
	}
	facts := report.ImageFacts{
		Variant: variant, Reference: ref, ID: f.ID, Size: f.Size, Layers: f.Layers, Base: base,
		Shell: f.Shell, PackageManager: f.PackageManager, Libc: f.Libc, CABundle: f.CABundle,
		User: f.User, Files: f.Files,
	}
	opts, err := engine.ParseSmoke(p.cfg.Smoke)
	if err != nil {
		return facts, &configError{err}
	}
	if opts.Mode == engine.SmokeOff {
		opts.Mode = engine.SmokeStart
	}
	opts.Port = p.cfg.Port
	var times []time.Duration
	for range smokeRuns {
		res, err := eng.Smoke(ctx, ref, opts)
		if err != nil {
			return facts, &imageError{err}
		}
		times = append(times, res.Duration)
	}
	slices.Sort(times)
	facts.StartMedian, facts.StartRuns = times[len(times)/2], len(times)
	out.printf(variant, "measured %s: %s, %d files, shell %t, start %s", ref, mb(f.Size), f.Files, f.Shell, secs(facts.StartMedian))
	return facts, nil
}

// binaryVariant is one way of building the binary the notes compare.
type binaryVariant struct {
	name, description string
	cgo, strip        bool
}

var binaryVariants = []binaryVariant{
	{"cgo-default", "go build with CGO_ENABLED=1 (the default on a machine with a C compiler)", true, false},
	{"static", "CGO_ENABLED=0", false, false},
	{"static-stripped", `CGO_ENABLED=0 -ldflags="-s -w" (what crossCompile builds)`, false, true},
}

// measureBinaries builds the binary three ways for the engine's platform in
// a temporary folder and reads their sizes and linkage. The cgo build needs
// the engine's platform to be this machine's, and a C compiler; without
// either it is left out, with a line saying why.
func measureBinaries(ctx context.Context, p *project, goos, arch string) ([]report.BinaryFacts, error) {
	tmp, err := os.MkdirTemp("", "magepack-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var facts []report.BinaryFacts
	for _, v := range binaryVariants {
		if v.cgo && (goos != runtime.GOOS || arch != runtime.GOARCH) {
			out.printf("compare", "%s left out: cgo builds for %s/%s need that machine or a cross compiler", v.name, goos, arch)
			continue
		}
		if v.cgo {
			if cc, err := cCompiler(ctx, p.cfg.CC); err != nil {
				out.printf("compare", "%s left out: no C compiler (%s: %v); install one, e.g. gcc, to measure the cgo build", v.name, cc, err)
				continue
			}
		}
		cfg := p.buildConfig()
		cfg.Dist = filepath.Join(tmp, v.name)
		cfg.CGO, cfg.KeepSymbols, cfg.Parallel = v.cgo, !v.strip, 1
		jobs, err := gobuild.Plan(cfg, []gobuild.Target{{OS: goos, Arch: arch}}, os.Environ())
		if err != nil {
			return nil, &configError{err}
		}
		res, err := gobuild.Run(ctx, jobs, cfg, nil)
		if err != nil {
			return nil, err
		}
		rep, err := linkage.Inspect(res[0].Path)
		if err != nil {
			return nil, err
		}
		facts = append(facts, report.BinaryFacts{
			Variant: v.name, Description: v.description, Size: res[0].Size,
			Linkage: string(rep.Linkage), Libc: string(rep.Libc),
		})
		out.printf("compare", "binary %s: %s, %s", v.name, mb(res[0].Size), rep.Summary())
	}
	return facts, nil
}

// cCompiler returns the C compiler a cgo build would run (MAGEPACK_CC, else
// `go env CC`: the CC variable or Go's default) and an error when it is not
// installed.
func cCompiler(ctx context.Context, configured string) (string, error) {
	cc := configured
	if cc == "" {
		b, err := exec.CommandContext(ctx, "go", "env", "CC").Output()
		if err != nil {
			return "go env CC", err
		}
		cc = strings.TrimSpace(string(b))
	}
	fields := strings.Fields(cc)
	if len(fields) == 0 {
		return cc, errors.New("none configured")
	}
	if _, err := exec.LookPath(fields[0]); err != nil {
		return cc, err
	}
	return cc, nil
}

// writeCompare prints the table, writes compare.md/json/svg and appends the
// Markdown to the GitHub step summary when there is one.
func writeCompare(p *project, c report.Compare) error {
	if err := report.Text(out, c); err != nil {
		return err
	}
	md := report.Markdown(c)
	js, err := report.JSON(c)
	if err != nil {
		return err
	}
	svg, err := report.SVG(c)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"compare.md": []byte(md), "compare.json": js, "compare.svg": svg} {
		if err := dist.WriteFile(filepath.Join(p.dist, name), data, 0o644); err != nil {
			return err
		}
	}
	out.printf("compare", "wrote %s, compare.json and compare.svg", p.rel(filepath.Join(p.dist, "compare.md")))
	if summary := os.Getenv("GITHUB_STEP_SUMMARY"); summary != "" {
		f, err := os.OpenFile(summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY=%s: %w", summary, err)
		}
		defer f.Close()
		if _, err := f.WriteString(md + "\n"); err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY=%s: %w", summary, err)
		}
	}
	return nil
}
