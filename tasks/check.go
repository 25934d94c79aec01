package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/report"
)

// StaticCheck reads every built binary's headers and reports its linkage; it fails when a Linux binary would not run on the configured image bases.
//
// It depends on CrossCompile. A dynamic Linux binary fails the scratch check
// (MAGEPACK_VARIANTS includes scratch), a glibc one the Alpine check. Darwin
// and Windows binaries always use the system's libraries: they are reported,
// never failed.
func StaticCheck(ctx context.Context) error { return target(ctx, (*run).staticCheck) }

// staticCheck checks the binaries of this run's jobs, after building them.
func (r *run) staticCheck(ctx context.Context) error {
	_, err := r.once.staticCheck.do(func() (struct{}, error) {
		jobs, err := r.myJobs()
		if err != nil {
			return struct{}{}, err
		}
		if err := r.binaries(ctx, jobs); err != nil {
			return struct{}{}, err
		}
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return struct{}{}, err
		}
		defer unlock()
		stop := r.phase("check")
		defer stop()
		checks, err := r.checkBinaries(jobs)
		if rerr := r.recordChecks(checks); rerr != nil {
			return struct{}{}, rerr
		}
		return struct{}{}, err
	})
	return err
}

// recordChecks puts the static check's verdicts into artifacts.json.
func (r *run) recordChecks(checks []dist.Check) error {
	return dist.Update(r.p.Dist, func(m *dist.Manifest) error {
		for _, c := range checks {
			m.PutCheck(c)
		}
		return nil
	})
}

// verdict is what the static check says of one binary: the checks that
// apply to it (one per image variant), the failures, and the table's label.
type verdict struct {
	checks   []dist.Check
	failures []error
	label    string
}

// judge decides a binary's verdict for the image variants from its report
// (or the error reading it). A binary for another OS than Linux is never
// put into an image: its checks do not apply.
func judge(subject string, rep linkage.Report, readErr error, variants []string) verdict {
	if readErr != nil {
		return verdict{failures: []error{readErr}, label: "unreadable"}
	}
	if !linkage.Applies(rep) {
		return verdict{label: "ok (system libraries)"}
	}
	v := verdict{label: "ok"}
	for _, variant := range variants {
		check := linkage.CheckScratch
		if variant == variantAlpine {
			check = linkage.CheckAlpine
		}
		c := dist.Check{Name: variant, Subject: subject, OK: true}
		if err := check(rep); err != nil {
			c.OK, c.Message = false, err.Error()
			v.failures = append(v.failures, err)
			v.label = "FAIL " + variant
		}
		v.checks = append(v.checks, c)
	}
	return v
}

// checkBinaries inspects each job's binary, prints the linkage table,
// and returns the verdicts to record and a failure naming every binary
// that would not run on one of the variants' bases.
func (r *run) checkBinaries(jobs []job) (_ []dist.Check, err error) {
	defer checking.claim(&err)
	p := r.p
	var (
		failures []error
		checks   []dist.Check
		rows     [][]string
		nss      []string
	)
	for _, j := range jobs {
		path := p.binaryPath(j.svc, j.pl)
		rep, err := linkage.Inspect(path)
		if err != nil && errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist: run crossCompile first", p.rel(path))
		}
		v := judge(filepath.ToSlash(p.rel(path)), rep, err, p.opts.Variants)
		for i := range v.checks {
			v.checks[i].Service = j.svc.name
		}
		failures = append(failures, v.failures...)
		checks = append(checks, v.checks...)
		rows = append(rows, linkageRow(p.rel(path), rep, v.label))
		nss = append(nss, nssWarning(p.rel(path), rep)...)
	}
	r.log.printf("staticCheck", "linkage of %d binaries:", len(jobs))
	if err := report.Table(r.log, linkageHeader, rows); err != nil {
		return nil, err
	}
	for _, w := range nss {
		r.log.printf("staticCheck", "warning: %s", w)
	}
	if len(failures) > 0 {
		return checks, fmt.Errorf("static check failed:\n%w", errors.Join(failures...))
	}
	return checks, nil
}

// linkageHeader are the linkage table's columns.
var linkageHeader = []string{"BINARY", "FORMAT", "ARCH", "LINKAGE", "INTERPRETER", "LIBC", "NEEDS", "GO", "CGO", "MODE", "VERDICT"}

func linkageRow(name string, r linkage.Report, verdict string) []string {
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
		name, dash(r.Format), dash(r.Arch), string(r.Linkage), dash(r.Interpreter), libcColumn(r),
		dash(strings.Join(needed, ",")), dash(r.GoVersion), dash(r.CGO), dash(mode), verdict,
	}
}
