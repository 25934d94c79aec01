package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
)

// CrossCompile builds every main package for every configured platform, in parallel, into dist/.
//
// Binaries are static (CGO off) unless MAGEPACK_CGO=1, stamped with the
// version, commit and commit date, and reproducible. It writes
// dist/SHA256SUMS and dist/artifacts.json. A build that fails does not hide
// the others, and leaves its previous binary in place. With
// MAGEPACK_SHARD=k/n it builds only the k-th share of the jobs.
func CrossCompile(ctx context.Context) error { return target(ctx, (*run).crossCompile) }

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
		for _, pl := range p.Platforms {
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
	_, err := r.once.crossCompile.do(func() (struct{}, error) {
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
	return r.once.plan.do(func() (runPlan, error) {
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

// myJobs are this run's jobs: all of them, or the configured shard's
// share, said in one line the first time.
func (r *run) myJobs() ([]job, error) {
	return r.once.myJobs.do(func() ([]job, error) {
		plan, err := r.planned()
		if err != nil {
			return nil, err
		}
		sel := r.p.Plan.Shard()
		var mine []job
		for i, gj := range plan.gjobs {
			if sel.Has(dist.JobOf(gj)) {
				mine = append(mine, plan.jobs[i])
			}
		}
		if !sel.Spec.IsZero() {
			r.log.printf("shard", "%s", sel)
		}
		return mine, nil
	})
}

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
		stop = r.phase("record")
		rerr := r.recordBinaries(ctx, todo, results)
		stop()
		if rerr != nil {
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
	cgoUse := cgoWords(cfg)
	if len(p.services) == 1 {
		r.log.printf("build", "%s %s (%s) for %d platform(s) with %s, %s", p.services[0].name, p.versionString(), p.versionSource(), len(plan), p.GoVersion, cgoUse)
	} else {
		r.log.printf("build", "%s %s (%s): %d build(s) of %d service(s) with %s, %s", serviceNames(p.services), p.versionString(), p.versionSource(), len(plan), len(p.services), p.GoVersion, cgoUse)
	}
	// The look for C code a build without cgo leaves out runs beside the
	// builds: only a failed build's explanation needs its answer.
	probe := make(chan []cgo.Package, 1)
	go func() { probe <- r.warnDroppedC(ctx, plan, cfg) }()
	byOutput := map[string]job{}
	for i, gj := range plan {
		byOutput[gj.Output] = jobs[i]
	}
	results, runErr := gobuild.Run(ctx, plan, cfg, func(res gobuild.Result) {
		subject := p.subject(byOutput[res.Job.Output])
		switch {
		case res.Err == nil:
			r.log.printf(subject, "built %s %s in %s", p.rel(res.Path), mb(res.Size), secs(res.Duration))
			if w, ok := p.staticGlibcWarning(byOutput[res.Job.Output], res); ok {
				r.log.printf(subject, "warning: %s", w.Message)
			}
		case errors.Is(res.Err, context.Canceled):
			r.log.printf(subject, "cancelled")
		default:
			r.log.printf(subject, "FAILED after %s", secs(res.Duration))
		}
	})
	runErr = p.explainDropped(results, runErr, <-probe)
	if runErr != nil && ctx.Err() != nil {
		// Ctrl-C: the builds were stopped, not failed; one line says so.
		stopped := 0
		for _, res := range results {
			if res.Err != nil {
				stopped++
			}
		}
		runErr = fmt.Errorf("interrupted: %d of %d builds stopped; %s keeps their previous binaries: %w", stopped, len(results), p.rel(p.Dist), ctx.Err())
	}
	return results, runErr
}

// planBuild is the go build of every job, in jobs' order, and the settings
// the pool runs with. It runs nothing.
func (r *run) planBuild(jobs []job) ([]gobuild.Job, gobuild.Config, error) {
	var gjobs []gobuild.Job
	var cfg gobuild.Config
	for _, j := range jobs {
		cfg = r.p.buildConfig(j.svc)
		gj, err := gobuild.Plan(cfg, []gobuild.Target{{OS: j.pl.OS, Arch: j.pl.Arch}}, r.environ)
		if err != nil {
			return nil, cfg, err
		}
		gjobs = append(gjobs, gj...)
	}
	return gjobs, cfg, nil
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
		ModuleDir:    p.Root,
		Main:         s.main,
		Name:         s.name,
		Dist:         p.Dist,
		CGO:          o.CGO,
		StaticCGO:    o.CGOStatic,
		CCs:          p.CC,
		Tags:         o.Tags,
		Host:         p.host(),
		LdflagsExtra: o.Ldflags,
		VersionVars:  o.Vars,
		Version:      p.versionString(),
		Commit:       p.Version.Commit,
		Date:         p.Version.Date,
		Parallel:     o.Parallel,
		GoFlags:      p.tc.GOFLAGS,
	}
}
