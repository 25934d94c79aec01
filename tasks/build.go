package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/report"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/shard"
)

// CrossCompile builds every main package for every configured platform, in parallel, into dist/.
//
// Binaries are static (CGO off) unless MAGEPACK_CGO=1, stamped with the
// version, commit and commit date, and reproducible. It writes
// dist/SHA256SUMS and dist/artifacts.json. A build that fails does not hide
// the others, and leaves its previous binary in place. With
// MAGEPACK_SHARD=k/n it builds only the k-th share of the jobs.
func CrossCompile(ctx context.Context) error { return target(ctx, (*run).crossCompile) }

// StaticCheck reads every built binary's headers and reports its linkage; it fails when a Linux binary would not run on the configured image bases.
//
// It depends on CrossCompile. A dynamic Linux binary fails the scratch check
// (MAGEPACK_VARIANTS includes scratch), a glibc one the Alpine check. Darwin
// and Windows binaries always use the system's libraries: they are reported,
// never failed.
func StaticCheck(ctx context.Context) error { return target(ctx, (*run).staticCheck) }

// job is one build: a service for a platform.
type job struct {
	svc *service
	pl  platform.Platform
}

// String names the job in progress lines and errors: "api linux/amd64".
func (j job) String() string { return j.svc.name + " " + j.pl.String() }

// jobs are every service for every platform: the whole run's builds.
func (p *project) jobs() []job {
	var js []job
	for _, s := range p.services {
		for _, pl := range p.platforms {
			js = append(js, job{svc: s, pl: pl})
		}
	}
	return js
}

// subject prefixes a job's progress lines: the platform alone for a
// single service ("[linux/amd64]"), else "[api linux/amd64]".
func (p *project) subject(j job) string {
	if len(p.services) == 1 {
		return j.pl.String()
	}
	return j.String()
}

// crossCompile builds this run's share of the jobs, once per run.
func (r *run) crossCompile(ctx context.Context) error {
	_, err := do(r, "crossCompile", func() (struct{}, error) {
		jobs, err := r.myJobs()
		if err != nil {
			return struct{}{}, err
		}
		_, err = r.compile(ctx, jobs)
		return struct{}{}, err
	})
	return err
}

// planned is the go build of every job of the run, in p.jobs() order, and
// the settings the pool runs with, decided once per run.
func (r *run) planned() (runPlan, error) {
	return do(r, "plan", func() (runPlan, error) {
		jobs := r.p.jobs()
		gjobs, cfg, err := r.planBuild(jobs)
		return runPlan{jobs: jobs, gjobs: gjobs, cfg: cfg}, err
	})
}

// runPlan is the run's jobs, their planned go builds (same order) and the
// pool's settings.
type runPlan struct {
	jobs  []job
	gjobs []gobuild.Job
	cfg   gobuild.Config
}

// selection is the configured shard's share of the run's jobs; all of
// them when the run is not sharded.
func (r *run) selection() (shard.Selection, error) {
	plan, err := r.planned()
	if err != nil {
		return shard.Selection{}, err
	}
	sel, _ := gobuild.Shard(r.p.opts.shard, plan.gjobs)
	return sel, nil
}

// myJobs are this run's jobs: all of them, or the configured shard's
// share, said in one line the first time.
func (r *run) myJobs() ([]job, error) {
	return do(r, "myJobs", func() ([]job, error) {
		plan, err := r.planned()
		if err != nil {
			return nil, err
		}
		sel, err := r.selection()
		if err != nil {
			return nil, err
		}
		var mine []job
		for i, gj := range plan.gjobs {
			if sel.Has(gj.ID()) {
				mine = append(mine, plan.jobs[i])
			}
		}
		if !sel.Spec.IsZero() {
			r.log.printf("shard", "%s", sel)
		}
		return mine, nil
	})
}

// wantBuild is the build record of the whole run as this checkout makes
// it: what merged binaries in dist must match to be used.
func (r *run) wantBuild() (dist.Build, error) {
	plan, err := r.planned()
	if err != nil {
		return dist.Build{}, err
	}
	sel, _ := gobuild.Shard(shard.Spec{}, plan.gjobs)
	return gobuild.BuildRecord(plan.gjobs, sel, nil, r.p.ver.Commit, r.p.versionString(), r.p.goVersion), nil
}

// binaries makes sure the binaries of jobs are in dist, once per run and
// job: when dist holds binaries merged from CI shards of this very build
// (same commit, version, toolchain and configuration), verified by
// checksum, they are used as they are, and nothing is compiled (in a
// merge job's workspace the downloaded parts would make a new build say
// vcs.modified=true); otherwise the jobs are built.
func (r *run) binaries(ctx context.Context, jobs []job) error {
	merged, err := r.merged(ctx)
	if err != nil {
		return err
	}
	if merged == nil {
		_, err := r.compile(ctx, jobs)
		return err
	}
	var missing []string
	for _, j := range jobs {
		if !slices.ContainsFunc(merged.Present, func(b dist.VerifiedBinary) bool { return b.Job == j.id() }) {
			missing = append(missing, j.String())
		}
	}
	if len(missing) > 0 {
		return &configError{fmt.Errorf("%s holds binaries merged from shards %s, without %s: merge the parts of every shard (MAGEPACK_MERGE), or remove %s to build here", r.p.rel(r.p.dist), strings.Join(merged.Build.Merged, ", "), strings.Join(missing, ", "), r.p.rel(r.p.dist))}
	}
	return nil
}

// merged returns what dist holds of this run's build when it holds a
// merge of CI shards (said once), nil when it holds none. A merge of
// another build, or one whose files changed, is an error: nothing is
// compiled over it.
func (r *run) merged(ctx context.Context) (*dist.Prebuilt, error) {
	return do(r, "merged", func() (*dist.Prebuilt, error) {
		want, err := r.wantBuild()
		if err != nil {
			return nil, err
		}
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
		pre, err := dist.FindPrebuilt(r.p.dist, want)
		if pre.Build == nil || len(pre.Build.Merged) == 0 {
			return nil, nil
		}
		dir := r.p.rel(r.p.dist)
		var other *dist.OtherBuildError
		switch {
		case errors.As(err, &other):
			return nil, &configError{fmt.Errorf("%s holds binaries merged from shards %s of another build: %w; merge parts built from this commit with these settings, or remove %s to build here", dir, strings.Join(pre.Build.Merged, ", "), err, dir)}
		case err != nil:
			return nil, err
		}
		r.log.printf("build", "using the %d binaries in %s merged from shards %s, verified by checksum; not compiling", len(pre.Present), dir, strings.Join(pre.Build.Merged, ", "))
		return &pre, nil
	})
}

// id is the job's identity in build records and shards.
func (j job) id() shard.Job { return shard.Job{Service: j.svc.name, Platform: j.pl.String()} }

// compile builds the jobs this run has not built yet into dist under the
// dist lock, then records the binaries in SHA256SUMS and artifacts.json.
// Binaries that built are recorded even when others failed: they are in
// place, and the checksums must match what is on disk. It returns the
// result of every job asked for, built now or earlier in the run.
func (r *run) compile(ctx context.Context, jobs []job) (map[string]gobuild.Result, error) {
	unlock, err := r.lockDist(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if r.built == nil {
		r.built = map[string]gobuild.Result{}
	}
	done := r.built
	var todo []job
	for _, j := range jobs {
		if _, ok := done[j.String()]; !ok {
			todo = append(todo, j)
		}
	}
	if len(todo) > 0 {
		stop := r.phase("build")
		results, err := r.build(ctx, todo)
		stop()
		for i, res := range results {
			if res.Err == nil {
				done[todo[i].String()] = res
			}
		}
		if rerr := r.recordBinaries(todo, results); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err != nil {
			return nil, err
		}
	}
	out := map[string]gobuild.Result{}
	for _, j := range jobs {
		out[j.String()] = done[j.String()]
	}
	return out, nil
}

// build plans and runs the go builds of jobs in one bounded pool and says
// how each went. The results are in jobs' order.
func (r *run) build(ctx context.Context, jobs []job) ([]gobuild.Result, error) {
	p := r.p
	plan, cfg, err := r.planBuild(jobs)
	if err != nil {
		return nil, err
	}
	cgo := "CGO off"
	if cfg.CGO {
		cgo = "CGO on"
	}
	if len(p.services) == 1 {
		r.log.printf("build", "%s %s (%s) for %d platform(s) with %s, %s", p.services[0].name, p.versionString(), p.versionSource(), len(plan), p.goVersion, cgo)
	} else {
		r.log.printf("build", "%s %s (%s): %d build(s) of %d service(s) with %s, %s", serviceNames(p.services), p.versionString(), p.versionSource(), len(plan), len(p.services), p.goVersion, cgo)
	}
	byOutput := map[string]job{}
	for i, gj := range plan {
		byOutput[gj.Output] = jobs[i]
	}
	results, runErr := gobuild.Run(ctx, plan, cfg, func(res gobuild.Result) {
		subject := p.subject(byOutput[res.Job.Output])
		switch {
		case res.Err == nil:
			r.log.printf(subject, "built %s %s in %s", p.rel(res.Path), mb(res.Size), secs(res.Duration))
		case errors.Is(res.Err, context.Canceled):
			r.log.printf(subject, "cancelled")
		default:
			r.log.printf(subject, "FAILED after %s", secs(res.Duration))
		}
	})
	if runErr != nil && ctx.Err() != nil {
		// Ctrl-C: the builds were stopped, not failed; one line says so.
		stopped := 0
		for _, res := range results {
			if res.Err != nil {
				stopped++
			}
		}
		runErr = fmt.Errorf("interrupted: %d of %d builds stopped; %s keeps their previous binaries: %w", stopped, len(results), p.rel(p.dist), ctx.Err())
	}
	return results, runErr
}

// planBuild is the go build of every job, in jobs' order, and the settings
// the pool runs with. It runs nothing.
func (r *run) planBuild(jobs []job) ([]gobuild.Job, gobuild.Config, error) {
	var plan []gobuild.Job
	var cfg gobuild.Config
	for _, j := range jobs {
		cfg = r.p.buildConfig(j.svc)
		gj, err := gobuild.Plan(cfg, []gobuild.Target{{OS: j.pl.OS, Arch: j.pl.Arch}}, r.environ)
		if err != nil {
			return nil, cfg, &configError{err}
		}
		plan = append(plan, gj...)
	}
	return plan, cfg, nil
}

func serviceNames(svcs []*service) string {
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// buildConfig is the gobuild configuration for s.
func (p *project) buildConfig(s *service) gobuild.Config {
	o := p.opts
	return gobuild.Config{
		ModuleDir:    p.root,
		Main:         s.main,
		Name:         s.name,
		Dist:         p.dist,
		CGO:          o.cgo,
		CC:           o.cc,
		LdflagsExtra: o.ldflags,
		VersionVars:  o.vars,
		Version:      p.versionString(),
		Commit:       p.ver.Commit,
		Date:         p.ver.Date,
		Parallel:     o.parallel,
		GoFlags:      p.tc.GOFLAGS,
	}
}

// lockWait bounds how long a run waits for another run's dist lock: long
// enough for a cold cross-compile of many platforms, short enough that a
// stuck run does not hang CI forever.
const lockWait = 10 * time.Minute

// lockDist takes the dist lock and removes temp files a killed run left.
// The file lock keeps other runs out: a second run waits (up to lockWait,
// or until Ctrl-C) for the first to finish, then builds on its results.
// distMu orders this run's own writers (targets running in parallel).
func (r *run) lockDist(ctx context.Context) (func() error, error) {
	p := r.p
	r.distMu.Lock()
	unlock, err := dist.Lock(ctx, p.dist)
	if errors.Is(err, dist.ErrBusy) {
		r.log.printf("dist", "%s is in use by another magepack run; waiting up to %s for it to finish (Ctrl-C to stop)", p.rel(p.dist), lockWait)
		unlock, err = dist.Lock(ctx, p.dist, dist.WithWait(lockWait))
	}
	if err != nil {
		r.distMu.Unlock()
		if errors.Is(err, dist.ErrBusy) {
			// Not a configuration mistake (and exit 130 when Ctrl-C ended the wait).
			return nil, err
		}
		return nil, &configError{err}
	}
	release := func() error {
		defer r.distMu.Unlock()
		return unlock()
	}
	if _, err := dist.CleanTemp(p.dist); err != nil {
		release()
		return nil, err
	}
	if dedicated(p.dist, p.root) {
		if err := dist.KeepOutOfGit(p.dist); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// dedicated reports whether dist is a folder of its own inside the module
// root, so that ignoring all of it in git ignores nothing else: not the
// root, nor a folder above it.
func dedicated(dist, root string) bool {
	rel, err := filepath.Rel(root, dist)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// recordBinaries writes an SBOM next to each binary that built, puts the
// binaries into artifacts.json with what their headers say, and rewrites
// SHA256SUMS over every recorded binary and SBOM still on disk.
func (r *run) recordBinaries(jobs []job, results []gobuild.Result) error {
	p := r.p
	var errs []error
	boms := make([]string, len(results))
	for i, res := range results {
		if res.Err != nil {
			continue
		}
		var err error
		if boms[i], err = p.writeBinarySBOM(jobs[i].svc, res.Path); err != nil {
			errs = append(errs, err)
		}
	}
	rec, rerr := r.buildRecord(results)
	if rerr != nil {
		errs = append(errs, rerr)
	}
	err := dist.Update(p.dist, func(m *dist.Manifest) error {
		m.Build = mergeRecord(m.Build, rec)
		for i, res := range results {
			if res.Err != nil {
				continue
			}
			rep, _ := linkage.Inspect(res.Path)
			b := binaryEntry(p, jobs[i], res.Path, res.Size, res.SHA256, rep)
			if boms[i] != "" {
				b.SBOM = filepath.ToSlash(p.rel(boms[i]))
			}
			m.PutBinary(b)
		}
		return writeChecksums(p, m)
	})
	return errors.Join(append(errs, err)...)
}

// buildRecord is the build record of this run's builds: the run's jobs,
// the shard, the jobs built, and what makes the bytes (commit, version,
// toolchain, configuration digest).
func (r *run) buildRecord(results []gobuild.Result) (dist.Build, error) {
	plan, err := r.planned()
	if err != nil {
		return dist.Build{}, err
	}
	sel, err := r.selection()
	if err != nil {
		return dist.Build{}, err
	}
	return gobuild.BuildRecord(plan.gjobs, sel, results, r.p.ver.Commit, r.p.versionString(), r.p.goVersion), nil
}

// mergeRecord is the record after a build: the jobs built earlier for the
// same build (same shard, commit, version, toolchain, configuration) stay
// recorded beside the new ones; a record of another build is replaced,
// and so is a merge's (what is built here is not what was merged).
func mergeRecord(old *dist.Build, rec dist.Build) *dist.Build {
	if old != nil && len(old.Merged) == 0 && old.Shard == rec.Shard && len(dist.Differences(*old, rec)) == 0 {
		rec.Built = shard.Sort(append(slices.Clone(old.Built), rec.Built...))
	}
	return &rec
}

// writeBinarySBOM writes the CycloneDX SBOM of s's binary at bin, read from
// the binary's own build information, next to it (<bin>.cdx.json), and
// returns its path.
func (p *project) writeBinarySBOM(s *service, bin string) (string, error) {
	opts, err := p.sbomOptions(s)
	if err != nil {
		return "", err
	}
	bom, err := sbom.Binary(bin, opts)
	if err != nil {
		return "", fmt.Errorf("SBOM of %s: %w", p.rel(bin), err)
	}
	data, err := sbom.Encode(bom)
	if err != nil {
		return "", fmt.Errorf("SBOM of %s: %w", p.rel(bin), err)
	}
	path := sbom.FileName(bin)
	return path, dist.WriteFile(path, data, 0o644)
}

// sbomOptions are the facts about s's binaries that they do not record
// themselves: the version, the commit and its time, and the -ldflags (a
// -trimpath build leaves them out of its build information).
func (p *project) sbomOptions(s *service) (sbom.Options, error) {
	ld, err := gobuild.Ldflags(p.buildConfig(s))
	if err != nil {
		return sbom.Options{}, err
	}
	return sbom.Options{Name: s.name, Version: p.versionString(), Time: p.created, Ldflags: ld, Revision: p.ver.Commit}, nil
}

func binaryEntry(p *project, j job, path string, size int64, sum string, rep linkage.Report) dist.Binary {
	return dist.Binary{
		Service: j.svc.name, Path: filepath.ToSlash(p.rel(path)), OS: j.pl.OS, Arch: j.pl.Arch, Size: size, SHA256: sum,
		Linkage: string(rep.Linkage), Interpreter: rep.Interpreter, Needed: rep.Needed, Libc: string(rep.Libc),
		GoVersion: rep.GoVersion, CGO: rep.CGO, BuildMode: rep.BuildMode,
	}
}

// writeChecksums lists every binary in m, and its SBOM, that exists in dist.
func writeChecksums(p *project, m *dist.Manifest) error {
	var files []string
	for _, b := range m.Binaries {
		for _, f := range []string{b.Path, b.SBOM} {
			if f == "" {
				continue
			}
			abs := filepath.Join(p.root, filepath.FromSlash(f))
			if filepath.Dir(abs) != p.dist {
				continue
			}
			if _, err := os.Stat(abs); err == nil {
				files = append(files, abs)
			}
		}
	}
	return dist.WriteChecksums(p.dist, files)
}

// staticCheck checks the binaries of this run's jobs, after building them.
func (r *run) staticCheck(ctx context.Context) error {
	_, err := do(r, "staticCheck", func() (struct{}, error) {
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
		return struct{}{}, r.checkBinaries(jobs)
	})
	return err
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
// records the verdicts, and fails naming every binary that would not run
// on one of the variants' bases.
func (r *run) checkBinaries(jobs []job) error {
	p := r.p
	var (
		failures []error
		checks   []dist.Check
		rows     [][]string
	)
	for _, j := range jobs {
		path := p.binaryPath(j.svc, j.pl)
		rep, err := linkage.Inspect(path)
		if err != nil && errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist: run crossCompile first", p.rel(path))
		}
		v := judge(filepath.ToSlash(p.rel(path)), rep, err, p.opts.variants)
		for i := range v.checks {
			v.checks[i].Service = j.svc.name
		}
		failures = append(failures, v.failures...)
		checks = append(checks, v.checks...)
		rows = append(rows, linkageRow(p.rel(path), rep, v.label))
	}
	r.log.printf("staticCheck", "linkage of %d binaries:", len(jobs))
	if err := report.Table(r.log, linkageHeader, rows); err != nil {
		return err
	}
	err := dist.Update(p.dist, func(m *dist.Manifest) error {
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
		name, dash(r.Format), dash(r.Arch), string(r.Linkage), dash(r.Interpreter), string(r.Libc),
		dash(strings.Join(needed, ",")), dash(r.GoVersion), dash(r.CGO), dash(mode), verdict,
	}
}
