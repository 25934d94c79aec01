package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/magefile/mage/mg"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/report"
)

// CrossCompile builds the main package for every configured platform, in parallel, into dist/.
//
// Binaries are static (CGO off) unless MAGEPACK_CGO=1, stamped with the
// version, commit and commit date, and reproducible. It writes
// dist/SHA256SUMS and dist/artifacts.json. A platform that fails to compile
// does not hide the others, and leaves its previous binary in place.
func CrossCompile(ctx context.Context) error {
	// Through mg so that a target depending on CrossCompile in the same run
	// (mage crossCompile staticCheck) does not build twice: mage calls
	// top-level targets directly, outside its run-once bookkeeping.
	mg.CtxDeps(ctx, crossCompile)
	return nil
}

func crossCompile(ctx context.Context) error {
	p, err := setup(ctx)
	if err != nil {
		return fail(err)
	}
	return fail(compile(ctx, p, p.platforms))
}

// StaticCheck reads every built binary's headers and reports its linkage; it fails when a Linux binary would not run on the configured image bases.
//
// It depends on CrossCompile. A dynamic Linux binary fails the scratch check
// (MAGEPACK_VARIANTS includes scratch), a glibc one the Alpine check. Darwin
// and Windows binaries always use the system's libraries: they are reported,
// never failed.
func StaticCheck(ctx context.Context) error {
	mg.CtxDeps(ctx, crossCompile)
	p, err := setup(ctx)
	if err != nil {
		return fail(err)
	}
	variants, _ := parseVariants(p.cfg.Variants)
	paths := make([]string, len(p.platforms))
	for i, pl := range p.platforms {
		paths[i] = p.binaryPath(pl)
	}
	unlock, err := lockDist(ctx, p)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	return fail(checkBinaries(p, paths, variants))
}

// compile builds plats into dist under the dist lock, then records the
// binaries in SHA256SUMS and artifacts.json. Binaries that built are
// recorded even when others failed: they are in place, and the checksums
// must match what is on disk.
func compile(ctx context.Context, p *project, plats []platform.Platform) error {
	unlock, err := lockDist(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()

	cfg := p.buildConfig()
	targets := make([]gobuild.Target, len(plats))
	for i, pl := range plats {
		targets[i] = gobuild.Target{OS: pl.OS, Arch: pl.Arch}
	}
	jobs, err := gobuild.Plan(cfg, targets, os.Environ())
	if err != nil {
		return &configError{err}
	}
	cgo := "CGO off"
	if cfg.CGO {
		cgo = "CGO on"
	}
	out.printf("build", "%s %s for %d platform(s) with %s, %s", p.name, p.versionString(), len(jobs), p.goVersion, cgo)
	results, runErr := gobuild.Run(ctx, jobs, cfg, func(r gobuild.Result) {
		switch {
		case r.Err == nil:
			out.printf(r.Job.Target.String(), "built %s %s in %s", p.rel(r.Path), mb(r.Size), secs(r.Duration))
		case errors.Is(r.Err, context.Canceled):
			out.printf(r.Job.Target.String(), "cancelled")
		default:
			out.printf(r.Job.Target.String(), "FAILED after %s", secs(r.Duration))
		}
	})
	if runErr != nil && ctx.Err() != nil {
		// Ctrl-C: the builds were stopped, not failed; one line says so.
		stopped := 0
		for _, r := range results {
			if r.Err != nil {
				stopped++
			}
		}
		runErr = fmt.Errorf("interrupted: %d of %d builds stopped; %s keeps their previous binaries: %w", stopped, len(results), p.rel(p.dist), ctx.Err())
	}
	if err := recordBinaries(p, results); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// buildConfig is the gobuild configuration for this project.
func (p *project) buildConfig() gobuild.Config {
	return gobuild.Config{
		ModuleDir:    p.root,
		Main:         p.main,
		Name:         p.name,
		Dist:         p.dist,
		CGO:          p.cfg.CGO,
		CC:           p.cfg.CC,
		LdflagsExtra: p.cfg.Ldflags,
		VersionVars:  gobuild.Vars{Version: p.cfg.VersionVar, Commit: p.cfg.CommitVar, Date: p.cfg.DateVar},
		Version:      p.versionString(),
		Commit:       p.ver.Commit,
		Date:         p.ver.Date,
		Parallel:     p.cfg.Parallel,
	}
}

// lockWait bounds how long a run waits for another run's dist lock: long
// enough for a cold cross-compile of many platforms, short enough that a
// stuck run does not hang CI forever.
const lockWait = 10 * time.Minute

// lockDist takes the dist lock and removes temp files a killed run left.
// The file lock keeps other runs out: a second run waits (up to lockWait,
// or until Ctrl-C) for the first to finish, then builds on its results.
// distMu orders this run's own builds (crossCompile and an image target's
// build may run as parallel deps).
func lockDist(ctx context.Context, p *project) (func() error, error) {
	distMu.Lock()
	unlock, err := dist.Lock(ctx, p.dist)
	if errors.Is(err, dist.ErrBusy) {
		out.printf("dist", "%s is in use by another magepack run; waiting up to %s for it to finish (Ctrl-C to stop)", p.rel(p.dist), lockWait)
		unlock, err = dist.Lock(ctx, p.dist, dist.WithWait(lockWait))
	}
	if err != nil {
		distMu.Unlock()
		if errors.Is(err, dist.ErrBusy) {
			// Not a configuration mistake (and exit 130 when Ctrl-C ended the wait).
			return nil, err
		}
		return nil, &configError{err}
	}
	release := func() error {
		defer distMu.Unlock()
		return unlock()
	}
	if _, err := dist.CleanTemp(p.dist); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

var distMu sync.Mutex

// recordBinaries puts the binaries that built into artifacts.json, with what
// their headers say, and rewrites SHA256SUMS over every recorded binary that
// is still on disk.
func recordBinaries(p *project, results []gobuild.Result) error {
	return dist.Update(p.dist, func(m *dist.Manifest) error {
		for _, r := range results {
			if r.Err != nil {
				continue
			}
			rep, _ := linkage.Inspect(r.Path)
			m.PutBinary(binaryEntry(p, r.Path, r.Job.Target.OS, r.Job.Target.Arch, r.Size, r.SHA256, rep))
		}
		return writeChecksums(p, m)
	})
}

func binaryEntry(p *project, path, goos, goarch string, size int64, sum string, rep linkage.Report) dist.Binary {
	return dist.Binary{
		Path: filepath.ToSlash(p.rel(path)), OS: goos, Arch: goarch, Size: size, SHA256: sum,
		Linkage: string(rep.Linkage), Interpreter: rep.Interpreter, Needed: rep.Needed, Libc: string(rep.Libc),
		GoVersion: rep.GoVersion, CGO: rep.CGO, BuildMode: rep.BuildMode,
	}
}

// writeChecksums lists every binary in m that exists in dist.
func writeChecksums(p *project, m *dist.Manifest) error {
	var files []string
	for _, b := range m.Binaries {
		abs := filepath.Join(p.root, filepath.FromSlash(b.Path))
		if filepath.Dir(abs) != p.dist {
			continue
		}
		if _, err := os.Stat(abs); err == nil {
			files = append(files, abs)
		}
	}
	return dist.WriteChecksums(p.dist, files)
}

// checkBinaries inspects each binary, prints the linkage table, records the
// verdicts, and fails naming every binary that would not run on one of the
// variants' bases.
func checkBinaries(p *project, paths []string, variants []string) error {
	var (
		reports  []linkage.Report
		failures []error
		checks   []dist.Check
		rows     [][]string
	)
	for _, path := range paths {
		rep, err := linkage.Inspect(path)
		if err != nil && errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist: run crossCompile first", p.rel(path))
		}
		reports = append(reports, rep)
		verdict := "ok"
		if err != nil {
			failures = append(failures, err)
			verdict = "unreadable"
		}
		for _, v := range variants {
			var verr error
			switch {
			case err != nil:
				continue
			case !linkage.Applies(rep):
				continue
			case v == "scratch":
				verr = linkage.CheckScratch(rep)
			case v == "alpine":
				verr = linkage.CheckAlpine(rep)
			}
			c := dist.Check{Name: v, Subject: filepath.ToSlash(p.rel(path)), OK: verr == nil}
			if verr != nil {
				c.Message = verr.Error()
				failures = append(failures, verr)
				verdict = "FAIL " + v
			}
			checks = append(checks, c)
		}
		if err == nil && !linkage.Applies(rep) {
			verdict = "ok (system libraries)"
		}
		rows = append(rows, linkageRow(p, rep, verdict))
	}
	out.printf("staticCheck", "linkage of %d binaries:", len(paths))
	if err := report.Table(out, []string{"BINARY", "FORMAT", "ARCH", "LINKAGE", "INTERPRETER", "LIBC", "NEEDS", "GO", "CGO", "MODE", "VERDICT"}, rows); err != nil {
		return err
	}
	err := dist.Update(p.dist, func(m *dist.Manifest) error {
		for _, rep := range reports {
			if rep.Format == "" {
				continue
			}
			fi, err := os.Stat(rep.Path)
			if err != nil {
				return err
			}
			sum, err := dist.Sum(rep.Path)
			if err != nil {
				return err
			}
			b := binaryEntry(p, rep.Path, rep.OS, rep.Arch, fi.Size(), sum, rep)
			m.PutBinary(b)
		}
		for _, c := range checks {
			m.PutCheck(c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(failures) > 0 {
		return &checkError{errors.Join(failures...)}
	}
	return nil
}

func linkageRow(p *project, r linkage.Report, verdict string) []string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	// Mach-O names frameworks by long paths; the table shows base names
	// (artifacts.json keeps the full ones).
	needed := make([]string, len(r.Needed))
	for i, n := range r.Needed {
		needed[i] = path.Base(n)
	}
	mode := r.BuildMode
	if r.PIE && mode != "pie" {
		mode = strings.TrimPrefix(mode+",pie", ",")
	}
	return []string{
		p.rel(r.Path), dash(r.Format), dash(r.Arch), string(r.Linkage), dash(r.Interpreter), string(r.Libc),
		dash(strings.Join(needed, ",")), dash(r.GoVersion), dash(r.CGO), dash(mode), verdict,
	}
}

// checkError marks a linkage check failure (exit code ExitCheck).
type checkError struct{ err error }

func (e *checkError) Error() string { return "static check failed:\n" + e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }
