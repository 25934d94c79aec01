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

	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/report"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// smokeRuns is how many starts the start-time median is taken over.
const smokeRuns = 3

// Compare measures the Alpine and scratch images and three builds of the binary side by side, prints the table and writes dist/compare.md, compare.json and compare.svg.
//
// It depends on DockerScratch and DockerAlpine (images that are current are
// reused, not rebuilt). Image contents are read without starting a shell in
// them. With several services each gets its own table, and
// dist/compare-<service>.json and .svg. When GITHUB_STEP_SUMMARY is set,
// the Markdown is appended to it.
func Compare(ctx context.Context) error { return target(ctx, (*run).compare) }

func (r *run) compare(ctx context.Context) error {
	var g errgroup.Group
	for _, v := range []string{variantAlpine, variantScratch} {
		g.Go(func() error {
			_, err := r.dockerImages(ctx, v)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	pl, err := r.enginePlatform(ctx)
	if err != nil {
		return err
	}
	stop := r.phase("measure")
	defer stop()
	var reports []report.Compare
	for _, s := range r.p.services {
		c, err := r.measure(ctx, eng, s, pl)
		if err != nil {
			return err
		}
		reports = append(reports, c)
	}
	return r.writeCompare(reports)
}

// measure measures s's two images and three binaries.
func (r *run) measure(ctx context.Context, eng dockerEngine, s *service, pl platform.Platform) (report.Compare, error) {
	p := r.p
	c := report.Compare{
		App: s.name, Version: p.versionString(), Platform: pl.OS + "/" + pl.Arch,
		Method: fmt.Sprintf("Measured by magepack compare through the Docker Engine API (%s): image contents from an export of a created, never started container; start time is the median of %d smoke runs; binaries built for %s/%s.", eng.Where(), smokeRuns, pl.OS, pl.Arch),
	}
	for _, variant := range []string{variantAlpine, variantScratch} {
		f, err := r.measureImage(ctx, eng, s, variant)
		if err != nil {
			return c, err
		}
		c.Images = append(c.Images, f)
	}
	if bom := sbom.FileName(p.binaryPath(s, pl)); regularFile(bom) {
		c.SBOM = filepath.ToSlash(p.rel(bom))
	}
	if vex := p.binaryPath(s, pl) + ".vex.json"; regularFile(vex) {
		if counts, err := vulncheck.Counts(vex); err == nil {
			c.VEX, c.Vulnerabilities = filepath.ToSlash(p.rel(vex)), counts
		}
	}
	var err error
	c.Binaries, err = r.measureBinaries(ctx, s, pl)
	return c, err
}

// measureImage reads one variant's facts and times its start.
func (r *run) measureImage(ctx context.Context, eng dockerEngine, s *service, variant string) (_ report.ImageFacts, err error) {
	defer imaging.claim(&err)
	p := r.p
	ref := p.refs(s, variant)[0]
	f, err := eng.Facts(ctx, ref)
	if err != nil {
		return report.ImageFacts{}, err
	}
	base := "scratch"
	if variant == variantAlpine {
		base = p.opts.AlpineBase
	}
	facts := report.ImageFacts{
		Variant: variant, Reference: ref, ID: f.ID, Size: f.Size, Layers: f.Layers, Base: base,
		Shell: f.Shell, PackageManager: f.PackageManager, Libc: f.Libc, CABundle: f.CABundle,
		User: f.User, Files: f.Files,
	}
	opts := s.smoke
	if opts.Mode == engine.SmokeOff {
		opts.Mode = engine.SmokeStart
	}
	var times []time.Duration
	for range smokeRuns {
		res, err := eng.Smoke(ctx, ref, opts)
		if err != nil {
			return facts, err
		}
		times = append(times, res.Duration)
	}
	slices.Sort(times)
	facts.StartMedian, facts.StartRuns = times[len(times)/2], len(times)
	r.log.printf(p.imageSubject(s, variant), "measured %s: %s, %d files, shell %t, start %s", ref, mb(f.Size), f.Files, f.Shell, secs(facts.StartMedian))
	return facts, nil
}

// binaryVariant is one way of building the binary compare measures (CGO off, or on against the host libc).
type binaryVariant struct {
	name, description string
	cgo, strip        bool
	// static links the cgo build statically (MAGEPACK_CGO=static).
	static bool
}

var binaryVariants = []binaryVariant{
	{"cgo-default", "go build with CGO_ENABLED=1 (the default on a machine with a C compiler)", true, false, false},
	{"static", "CGO_ENABLED=0", false, false, false},
	{"static-stripped", `CGO_ENABLED=0 -ldflags="-s -w" (what crossCompile builds)`, false, true, false},
}

// measureBinaries builds s's binary three ways for pl in a temporary
// folder (four with cgo on: the static cgo binary too) and reads their
// sizes and linkage. The cgo build needs pl to be this machine's, and a C
// compiler, the static cgo one a C compiler for pl; without them they are
// left out, with a line saying why.
func (r *run) measureBinaries(ctx context.Context, s *service, pl platform.Platform) ([]report.BinaryFacts, error) {
	p := r.p
	tmp, err := os.MkdirTemp("", "magepack-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var facts []report.BinaryFacts
	for _, v := range r.compareVariants() {
		staticCC := ""
		if v.static {
			if staticCC, err = r.staticCgoCompiler(pl); err != nil {
				r.log.printf("compare", "%s left out: %v", v.name, err)
				continue
			}
		} else if v.cgo && (pl.OS != runtime.GOOS || pl.Arch != runtime.GOARCH) {
			r.log.printf("compare", "%s left out: cgo builds for %s need that machine or a cross compiler", v.name, pl)
			continue
		}
		if v.cgo && !v.static {
			if cc, err := cCompiler(p.opts.CC.For(gobuild.Target{OS: pl.OS, Arch: pl.Arch}), p.tc.CC); err != nil {
				r.log.printf("compare", "%s left out: no C compiler (%s: %v); install one, e.g. gcc, to measure the cgo build", v.name, cc, err)
				continue
			}
		}
		cfg := p.buildConfig(s)
		cfg.Dist = filepath.Join(tmp, v.name)
		cfg.CGO, cfg.StaticCGO, cfg.KeepSymbols, cfg.Parallel = v.cgo, v.static, !v.strip, 1
		if staticCC != "" {
			cfg.CC = staticCC
		}
		jobs, err := gobuild.Plan(cfg, []gobuild.Target{{OS: pl.OS, Arch: pl.Arch}}, r.environ)
		if err != nil {
			return nil, err
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
			Linkage: string(rep.Linkage), Libc: libcColumn(rep),
		})
		r.log.printf("compare", "binary %s: %s, %s", v.name, mb(res[0].Size), rep.Summary())
	}
	return facts, nil
}

// cCompiler returns the C compiler a cgo build would run (the configured
// one, else goCC, what go env says: the CC variable or Go's default) and an
// error when it is not installed.
func cCompiler(configured, goCC string) (string, error) {
	cc := configured
	if cc == "" {
		cc = goCC
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

// compareFiles are the files a report is written to: compare.{md,json,svg}
// for a single service, compare-<service>.* when there are several (and
// compare.md then holds every service's table).
func compareFiles(several bool, svc string) (md, js, svg string) {
	if !several {
		return "compare.md", "compare.json", "compare.svg"
	}
	return "compare-" + svc + ".md", "compare-" + svc + ".json", "compare-" + svc + ".svg"
}

// writeCompare prints the tables, writes the report files and appends the
// Markdown to the GitHub step summary when there is one.
func (r *run) writeCompare(reports []report.Compare) error {
	p := r.p
	several := len(reports) > 1
	var all []string
	for _, c := range reports {
		if err := report.Text(r.log, c); err != nil {
			return err
		}
		md := report.Markdown(c)
		all = append(all, md)
		js, err := report.JSON(c)
		if err != nil {
			return err
		}
		svg, err := report.SVG(c)
		if err != nil {
			return err
		}
		mdName, jsName, svgName := compareFiles(several, c.App)
		for name, data := range map[string][]byte{mdName: []byte(md), jsName: js, svgName: svg} {
			if err := dist.WriteFile(filepath.Join(p.Dist, name), data, 0o644); err != nil {
				return err
			}
		}
		r.log.printf("compare", "wrote %s, %s and %s", p.rel(filepath.Join(p.Dist, mdName)), jsName, svgName)
	}
	md := strings.Join(all, "\n")
	if several {
		if err := dist.WriteFile(filepath.Join(p.Dist, "compare.md"), []byte(md), 0o644); err != nil {
			return err
		}
		r.log.printf("compare", "wrote %s (every service)", p.rel(filepath.Join(p.Dist, "compare.md")))
	}
	return r.stepSummary(md)
}

// stepSummary appends md to the job's summary page when the run is a
// GitHub Actions step (GITHUB_STEP_SUMMARY names the file); it does
// nothing elsewhere.
func (r *run) stepSummary(md string) error {
	summary := r.getenv("GITHUB_STEP_SUMMARY")
	if summary == "" {
		return nil
	}
	f, err := os.OpenFile(summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY=%s: %w", summary, err)
	}
	if _, err := f.WriteString(md + "\n"); err != nil {
		_ = f.Close()
		return fmt.Errorf("GITHUB_STEP_SUMMARY=%s: %w", summary, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY=%s: %w", summary, err)
	}
	return nil
}

// regularFile reports whether path is a regular file.
func regularFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
