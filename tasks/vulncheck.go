package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/report"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// Vulncheck runs govulncheck's analysis on every built binary; it fails when a binary contains a vulnerable symbol, and writes each binary's OpenVEX.
//
// It depends on CrossCompile, and checks each service's binary for each
// platform: what ships. A vulnerability whose vulnerable symbol is in the
// binary fails the run (exit 10) unless MAGEPACK_VULN_WAIVERS accepts it by
// ID with a reason; one whose module or package the binary holds without
// the symbol is reported as not affected. Each binary gets
// dist/<binary>.vex.json (OpenVEX), listed in SHA256SUMS and
// artifacts.json. The database is MAGEPACK_VULNDB (default
// https://vuln.go.dev); govulncheck (golang.org/x/vuln v1.9.0) is built
// once per machine into the user cache by the go command.
func Vulncheck(ctx context.Context) error { return target(ctx, (*run).vulncheck) }

// vulncheckName is the check's name in artifacts.json.
const vulncheckName = "vulncheck"

// vulncheck scans the binaries of this run's jobs, after building them,
// once per run.
func (r *run) vulncheck(ctx context.Context) error {
	_, err := r.once.vulncheck.do(func() (struct{}, error) {
		// Before any build: a database that cannot be read fails now.
		modified, err := vulncheck.DBModified(ctx, r.p.opts.VulnDB)
		if err != nil {
			return struct{}{}, err
		}
		jobs, err := r.myJobs()
		if err != nil {
			return struct{}{}, err
		}
		if err := r.binaries(ctx, jobs); err != nil {
			return struct{}{}, err
		}
		stop := r.phase("vulncheck")
		defer stop()
		reps, sums, err := r.scanBinaries(ctx, jobs, modified)
		if err != nil {
			return struct{}{}, err
		}
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return struct{}{}, err
		}
		defer unlock()
		return struct{}{}, r.recordVulns(jobs, reps, sums)
	})
	return err
}

// scanBinaries runs govulncheck on each job's binary, two at a time, and
// returns, in jobs' order, the reports with the waivers applied and the
// SHA-256 of each binary scanned; modified is the database's time, read
// once per run.
func (r *run) scanBinaries(ctx context.Context, jobs []job, modified time.Time) ([]*vulncheck.Report, []string, error) {
	p := r.p
	cache, err := vulnCache()
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	tool, built, err := vulncheck.Install(ctx, filepath.Dir(cache), "", r.goEnv())
	if err != nil {
		return nil, nil, err
	}
	if built {
		r.log.printf(vulncheckName, "built %s into %s in %s (once per machine)", vulncheck.Tool, filepath.Dir(tool), secs(time.Since(start)))
	}
	for _, id := range slices.Sorted(maps.Keys(p.opts.VulnWaivers)) {
		r.log.printf(vulncheckName, "waiver %s: %s", id, p.opts.VulnWaivers[id])
	}
	twins, sums, err := r.symbolTwins(ctx, jobs, filepath.Join(cache, "twins"))
	if err != nil {
		return nil, nil, err
	}
	reps := make([]*vulncheck.Report, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, j := range jobs {
		g.Go(func() error {
			path := p.binaryPath(j.svc, j.pl)
			rep, err := vulncheck.Scan(gctx, twins[i], vulncheck.WithTwinOf(path), vulncheck.WithTool(tool),
				vulncheck.WithDB(p.opts.VulnDB), vulncheck.WithDBModified(modified),
				vulncheck.WithEnv(r.goEnv()), vulncheck.WithCache(filepath.Join(cache, "scans")))
			if err != nil {
				return err
			}
			rep.Waive(p.opts.VulnWaivers)
			reps[i] = rep
			return nil
		})
	}
	return reps, sums, g.Wait()
}

// vulnCache is where vulncheck keeps what it can reuse between runs:
// <user cache>/magepack/vulncheck (govulncheck itself goes beside it).
func vulnCache() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("vulncheck cache: %w", err)
	}
	return filepath.Join(dir, "magepack", "vulncheck"), nil
}

// symbolTwins returns, in jobs' order, each job's binary built again with
// its symbol table kept, and the SHA-256 of each job's binary (vulncheck.KeepSymbolsFlag appended to the
// -ldflags): the shipped binaries are stripped, and govulncheck reads the
// symbols a binary holds from its symbol table. A twin is the same compile
// and link but for that table, checked with vulncheck.SameCode when it is
// made, and kept in dir by the shipped binary's SHA-256, so a warm run
// builds none (and a cold one only links: the compile is cached).
func (r *run) symbolTwins(ctx context.Context, jobs []job, dir string) (paths, sums []string, err error) {
	p := r.p
	paths = make([]string, len(jobs))
	sums = make([]string, len(jobs))
	shipped := make([]string, len(jobs))
	var twins []gobuild.Job
	var todo []int
	var cfg gobuild.Config
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("symbol twins: %w", err)
	}
	staging, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return nil, nil, fmt.Errorf("symbol twins: %w", err)
	}
	defer os.RemoveAll(staging)
	for i, j := range jobs {
		shipped[i] = p.binaryPath(j.svc, j.pl)
		if sums[i], err = dist.Sum(shipped[i]); err != nil {
			return nil, nil, err
		}
		paths[i] = filepath.Join(dir, sums[i][:32], filepath.Base(shipped[i]))
		if _, err := os.Stat(paths[i]); err == nil {
			continue
		}
		cfg = p.buildConfig(j.svc)
		cfg.Dist = staging
		cfg.LdflagsExtra = strings.TrimSpace(cfg.LdflagsExtra + " " + vulncheck.KeepSymbolsFlag)
		gj, err := gobuild.Plan(cfg, []gobuild.Target{{OS: j.pl.OS, Arch: j.pl.Arch}}, r.environ)
		if err != nil {
			return nil, nil, err
		}
		twins = append(twins, gj...)
		todo = append(todo, i)
	}
	if len(twins) == 0 {
		return paths, sums, nil
	}
	start := time.Now()
	results, err := gobuild.Run(ctx, twins, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	r.log.printf(vulncheckName, "linked %d symbol twin(s) in %s: govulncheck reads the symbols a binary holds from the symbol table its stripped build drops", len(twins), secs(time.Since(start)))
	for n, res := range results {
		i := todo[n]
		if err := vulncheck.SameCode(shipped[i], res.Path); err != nil && !errors.Is(err, vulncheck.ErrNoFuncTable) {
			return nil, nil, err
		}
		if err := os.MkdirAll(filepath.Dir(paths[i]), 0o755); err != nil {
			return nil, nil, fmt.Errorf("symbol twins: %w", err)
		}
		if err := os.Rename(res.Path, paths[i]); err != nil {
			return nil, nil, fmt.Errorf("symbol twins: %w", err)
		}
	}
	return paths, sums, nil
}

// recordVulns prints each binary's findings, writes its VEX (about the
// bytes scanned: sums are their SHA-256, in jobs' order), records the
// verdicts and VEX files in artifacts.json and SHA256SUMS, and fails
// naming every vulnerability a binary reaches that no waiver accepts.
func (r *run) recordVulns(jobs []job, reps []*vulncheck.Report, sums []string) error {
	p := r.p
	var failing []string
	vexes := map[string]string{}
	var checks []dist.Check
	lines, where := findingLines(p, jobs, reps)
	for _, l := range lines {
		r.log.printf(vulncheckName, "%s (%s)", l, strings.Join(where[l], ", "))
	}
	for i, j := range jobs {
		rep, subject := reps[i], p.subject(j)
		bin := filepath.ToSlash(p.rel(rep.Binary))
		doc, err := vulncheck.VEX(rep, vulncheck.Product{ID: sbom.GoPURL(p.ModulePath, p.versionString()), SHA256: sums[i]})
		if err != nil {
			return err
		}
		vex := rep.Binary + ".vex.json"
		if err := dist.WriteFile(vex, doc, 0o644); err != nil {
			return err
		}
		vexes[bin] = filepath.ToSlash(p.rel(vex))
		c := dist.Check{Service: j.svc.name, Name: vulncheckName, Subject: bin, OK: true}
		var notes []string
		for _, f := range rep.Findings {
			switch {
			case f.Failing():
				c.OK = false
				notes = append(notes, f.ID+" reached")
				if !slices.Contains(failing, f.ID) {
					failing = append(failing, f.ID)
				}
			case f.Waived != "":
				notes = append(notes, f.ID+" waived: "+f.Waived)
			}
		}
		c.Message = strings.Join(notes, "; ")
		checks = append(checks, c)
		r.log.printf(subject, "%s: %s; %s (%s, database of %s)", bin, vulncheck.Summary(rep.Counts()), p.rel(vex), rep.GoVersion, rep.DBModified.Format("2006-01-02"))
	}
	err := dist.Update(p.Dist, func(m *dist.Manifest) error {
		for _, c := range checks {
			m.PutCheck(c)
		}
		for k := range m.Binaries {
			if v, ok := vexes[m.Binaries[k].Path]; ok {
				m.Binaries[k].VEX = v
			}
		}
		return writeChecksums(p, m)
	})
	if err != nil {
		return err
	}
	if err := r.vulnStepSummary(reps); err != nil {
		return err
	}
	if len(failing) > 0 {
		var bins []string
		for _, rep := range reps {
			if len(rep.Failing()) > 0 {
				bins = append(bins, filepath.ToSlash(p.rel(rep.Binary)))
			}
		}
		slices.Sort(failing)
		return &vulnError{ids: failing, binaries: bins, fixes: vulncheck.Fixes(reps...)}
	}
	return nil
}

// findingLines are the run's findings as progress lines, each said once
// with the binaries it applies to (a service's platforms mostly share
// them): the lines in order, and the subjects of each.
func findingLines(p *project, jobs []job, reps []*vulncheck.Report) ([]string, map[string][]string) {
	var lines []string
	where := map[string][]string{}
	for i, j := range jobs {
		for _, f := range reps[i].Findings {
			l := findingLine(f)
			if _, ok := where[l]; !ok {
				lines = append(lines, l)
			}
			where[l] = append(where[l], p.subject(j))
		}
	}
	return lines, where
}

// findingLine is one finding as a progress line: ID, module, symbol or
// package, versions, verdict and fix.
func findingLine(f vulncheck.Finding) string {
	what := strings.Join(f.Packages, ",")
	if what == "" {
		what = "(no vulnerable package in the binary)"
	}
	if f.Reached() {
		what = f.Symbols[0]
		if n := len(f.Symbols) - 1; n > 0 {
			what += fmt.Sprintf(" (+%d more)", n)
		}
	}
	fixed := f.Fixed
	if fixed == "" {
		fixed = "none"
	}
	verdict := "not affected: vulnerable code not in the binary"
	switch {
	case f.Failing():
		verdict = "REACHED; " + f.Fix()
	case f.Reached():
		verdict = "reached, waived (" + f.Waived + "); " + f.Fix()
	}
	return fmt.Sprintf("%s %s %s found %s, fixed %s: %s", f.ID, f.Module, what, f.Found, fixed, verdict)
}

// vulnError is vulnerable code that binaries reach (exit code
// ExitVulnerable).
type vulnError struct {
	ids      []string // GO-2022-1059, …
	binaries []string // dist/app_linux_amd64, …
	fixes    []string
}

func (e *vulnError) Error() string {
	return fmt.Sprintf("vulnerable code reached: %d vulnerabilities (%s) in %d binaries (%s); fix: %s, or waive an accepted one by ID with its reason (MAGEPACK_VULN_WAIVERS)",
		len(e.ids), strings.Join(e.ids, ", "), len(e.binaries), strings.Join(e.binaries, ", "), strings.Join(e.fixes, "; "))
}

// keptVEX is the VEX b keeps when it is recorded again: the one m lists
// for the same bytes. A VEX of other bytes is about another binary: its
// file is removed, so dist holds no VEX that SHA256SUMS does not list.
func keptVEX(p *project, m *dist.Manifest, b dist.Binary) string {
	for _, old := range m.Binaries {
		if old.Path != b.Path || old.VEX == "" {
			continue
		}
		if old.SHA256 == b.SHA256 {
			return old.VEX
		}
		os.Remove(filepath.Join(p.Root, filepath.FromSlash(old.VEX)))
	}
	return ""
}

// vulnStepSummary appends a table of the verdicts to the CI job's summary
// (GITHUB_STEP_SUMMARY) when there is one: per binary, how many
// vulnerabilities it reaches, waives and holds unreached, then the fixes.
func (r *run) vulnStepSummary(reps []*vulncheck.Report) error {
	if r.getenv("GITHUB_STEP_SUMMARY") == "" {
		return nil
	}
	rows := make([][]string, len(reps))
	for i, rep := range reps {
		reached, waived, not := rep.Counts()
		rows[i] = []string{filepath.ToSlash(r.p.rel(rep.Binary)), fmt.Sprint(reached), fmt.Sprint(waived), fmt.Sprint(not)}
	}
	md := "### vulncheck\n\n" + report.MarkdownTable([]string{"binary", "reached", "waived", "not affected"}, rows)
	if fixes := vulncheck.Fixes(reps...); len(fixes) > 0 {
		md += "\nFix: " + strings.Join(fixes, "; ") + "\n"
	}
	return r.stepSummary(md)
}
