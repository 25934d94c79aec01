package tasks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
)

// Kinds of warnings in artifacts.json.
const (
	warnCgo         = "cgo"
	warnStaticGlibc = "static-glibc"
)

// cgoFix is what to do about C code a build without cgo leaves out.
const cgoFix = "set MAGEPACK_CGO=static for a static cgo binary, or use a pure-Go alternative"

// host is the build machine's platform, as go env reports it.
func (p *project) host() gobuild.Target {
	return gobuild.Target{OS: p.tc.GOHOSTOS, Arch: p.tc.GOHOSTARCH}
}

// cgoWords says how a build uses cgo, for its progress line.
func cgoWords(cfg gobuild.Config) string {
	switch {
	case cfg.StaticCGO:
		return "CGO on, static"
	case cfg.CGO:
		return "CGO on"
	}
	return "CGO off"
}

// warnDroppedC names, before a build without cgo, the packages whose C
// code it leaves out (cgo.Dropped), one warning line each with the fix,
// and records them in artifacts.json (replacing the last build's). It
// returns them, so a failure they explain can say so. A probe that fails
// is said and otherwise ignored: the build reports what is wrong.
func (r *run) warnDroppedC(ctx context.Context, plan []gobuild.Job, cfg gobuild.Config) []cgo.Package {
	if cfg.CGO || len(plan) == 0 {
		return nil
	}
	p := r.p
	probe := plan[0]
	for _, j := range plan {
		if j.Target.OS == "linux" {
			probe = j
			break
		}
	}
	mains := make([]string, len(p.services))
	byImport := map[string]string{}
	for i, s := range p.services {
		mains[i] = s.main
		byImport[p.importPath(s)] = s.name
	}
	pkgs, err := cgo.Dropped(ctx, goBin(cfg), p.Root, probe.Env, argValue(probe.Args, "-tags"), mains)
	if err != nil {
		r.log.printf("cgo", "could not look for packages with C code: %v", err)
		return nil
	}
	var ws []dist.Warning
	for _, pkg := range pkgs {
		var svcs []string
		for _, m := range pkg.Mains {
			if name, ok := byImport[m]; ok {
				svcs = append(svcs, name)
			}
		}
		msg := pkg.Problem() + ": " + cgoFix
		in := ""
		if len(p.services) > 1 {
			in = " (in " + strings.Join(svcs, ", ") + ")"
		}
		r.log.printf("cgo", "warning: %s%s", msg, in)
		for _, s := range svcs {
			ws = append(ws, dist.Warning{Service: s, Name: warnCgo, Subject: pkg.ImportPath, Message: msg})
		}
	}
	err = dist.Update(p.Dist, func(m *dist.Manifest) error {
		// The probe covers every service of the run.
		m.SetWarnings(warnCgo, func(dist.Warning) bool { return true }, ws)
		return nil
	})
	if err != nil {
		r.log.printf("cgo", "could not record the warnings: %v", err)
	}
	return pkgs
}

// goBin is the go command of a build.
func goBin(cfg gobuild.Config) string {
	if cfg.GoBin != "" {
		return cfg.GoBin
	}
	return "go"
}

// argValue returns the word after flag in args, or "".
func argValue(args []string, flag string) string {
	for i := 0; i < len(args)-1; i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// importPath is the import path of s's main package.
func (p *project) importPath(s *service) string {
	return path.Join(p.ModulePath, s.main)
}

// explainDropped explains the failed builds of results that a package's
// C code, left out without cgo, made fail (cgo.Explain: a package in the
// build of the job's own main), and returns runErr with them explained;
// runErr itself when none was.
func (p *project) explainDropped(results []gobuild.Result, runErr error, pkgs []cgo.Package) error {
	if runErr == nil || len(pkgs) == 0 {
		return runErr
	}
	var errs []error
	changed := false
	for i, res := range results {
		if res.Err == nil {
			continue
		}
		var mine []cgo.Package
		for _, s := range p.services {
			if s.name != res.Job.Name {
				continue
			}
			for _, pkg := range pkgs {
				if slices.Contains(pkg.Mains, p.importPath(s)) {
					mine = append(mine, pkg)
				}
			}
		}
		if e := cgo.Explain(res.Err, mine); e != res.Err {
			results[i].Err, changed = e, true
		}
		errs = append(errs, results[i].Err)
	}
	if !changed {
		return runErr
	}
	return fmt.Errorf("%d of %d builds failed:\n%w", len(errs), len(results), errors.Join(errs...))
}

// staticGlibcWarning is what the static glibc link's warnings in a
// binary's build output mean on scratch, with the fix; false when its
// output has none.
func (p *project) staticGlibcWarning(j job, res gobuild.Result) (dist.Warning, bool) {
	calls := cgo.StaticGlibcCalls(cgo.Section(res.Output, p.importPath(j.svc)))
	if len(calls) == 0 || res.Err != nil {
		return dist.Warning{}, false
	}
	rel := filepath.ToSlash(p.rel(res.Path))
	musl := "a musl C compiler"
	if cc := cgo.MuslCompiler(gobuild.Target{OS: j.pl.OS, Arch: j.pl.Arch}, p.host()); cc != "" {
		musl = "MAGEPACK_CC=" + j.pl.String() + "=" + cc
	}
	msg := fmt.Sprintf("%s: %s; for scratch, link musl instead (%s), or build without those calls (MAGEPACK_TAGS, e.g. sqlite_omit_load_extension for go-sqlite3's dlopen)",
		rel, cgo.ExplainStaticGlibc(calls), musl)
	return dist.Warning{Service: j.svc.name, Name: warnStaticGlibc, Subject: rel, Message: msg}, true
}

// recordStaticGlibc puts the static glibc warnings of the binaries that
// built into m, replacing what an earlier build of each said.
func (p *project) recordStaticGlibc(m *dist.Manifest, jobs []job, results []gobuild.Result) {
	for i, res := range results {
		if res.Err != nil {
			continue
		}
		rel := filepath.ToSlash(p.rel(res.Path))
		var ws []dist.Warning
		if w, ok := p.staticGlibcWarning(jobs[i], res); ok {
			ws = append(ws, w)
		}
		m.SetWarnings(warnStaticGlibc, func(w dist.Warning) bool { return w.Subject == rel }, ws)
	}
}

// linkedLibc is the C library linked into a static binary, for
// artifacts.json: "musl" or "glibc", else "".
func linkedLibc(rep linkage.Report) string {
	if rep.LinkedLibc == linkage.Musl || rep.LinkedLibc == linkage.Glibc {
		return string(rep.LinkedLibc)
	}
	return ""
}

// libcColumn is the linkage table's LIBC: the C library a binary needs at
// run time, or for a static one the C library linked into it ("musl
// linked in", "glibc linked in, NSS").
func libcColumn(rep linkage.Report) string {
	switch l := linkedLibc(rep); {
	case l != "" && rep.NSS:
		return l + " linked in, NSS"
	case l != "":
		return l + " linked in"
	}
	return string(rep.Libc)
}

// nssWarning says what a static glibc binary with glibc's NSS code means
// on scratch; nil for any other binary.
func nssWarning(name string, rep linkage.Report) []string {
	if !rep.NSS || rep.Linkage != linkage.Static {
		return nil
	}
	return []string{name + " is static but carries glibc's NSS (the code behind getaddrinfo, getpwnam and their kin), which loads glibc's shared libraries at run time: such lookups fail on scratch; keep the tags netgo,osusergo (MAGEPACK_CGO=static sets them), and link musl instead (MAGEPACK_CC)"}
}

// staticCgoVariant is compare's static cgo binary, measured beside the
// others when cgo is in play.
var staticCgoVariant = binaryVariant{
	name: "cgo-static", description: "CGO_ENABLED=1 linked statically, tags netgo,osusergo (MAGEPACK_CGO=static)",
	cgo: true, strip: true, static: true,
}

// compareVariants are the binaries compare builds: the static cgo one
// too when cgo is on (MAGEPACK_CGO=1 or static).
func (r *run) compareVariants() []binaryVariant {
	if !r.p.opts.CGO {
		return binaryVariants
	}
	return append(slices.Clone(binaryVariants), staticCgoVariant)
}

// staticCgoCompiler is the C compiler compare's static cgo build for pl
// uses: the one the run chose, else the one a static build would find; an
// error saying why there is none.
func (r *run) staticCgoCompiler(pl platform.Platform) (string, error) {
	t := gobuild.Target{OS: pl.OS, Arch: pl.Arch}
	if cc := r.p.CC[t]; cc != "" {
		return cc, nil
	}
	cc, err := cgo.Choose(r.p.opts.CC, []gobuild.Target{t}, r.p.host(), true, exec.LookPath)
	if err != nil {
		return "", err
	}
	return cc[t], nil
}
