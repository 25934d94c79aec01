package tasks

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
)

// run is one mage run: the resolved project, where progress goes, the
// engine connection (made on first use), and the work done once per run
// (builds, checks, images) that the targets of one run share. Every
// target's work is a method of run; tests construct one with newRun.
type run struct {
	p   *project
	log *logger
	// lookup reads environ: the settings, and the variables outside
	// Config (SOURCE_DATE_EPOCH, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT).
	lookup func(string) (string, bool)
	// environ is the run's environment, and the one every go command
	// runs with (the user's own, so GOFLAGS, GOCACHE and GOCACHEPROG
	// reach every build; GOTOOLCHAIN last when MAGEPACK_TOOLCHAIN is set).
	environ []string
	// connect finds the Docker engine; engine.Connect unless a test
	// points it elsewhere (another engine, or a fake for failures a real
	// engine cannot show on demand). It is called once, on first use.
	connect func(context.Context) (dockerEngine, error)
	// registry reads base images from registries and pushes to them:
	// remoteRegistry unless a test gives a fake.
	registry imageRegistry

	once memo
	// built holds the binaries this run built, by job, so no job is built
	// twice in a run (crossCompile, then an image target). Guarded by the
	// dist lock (lockDist), which orders this run's own writers too.
	built map[string]gobuild.Result
	times timings
}

// newRun merges settings with the environment environ (KEY=value, as
// os.Environ gives it), resolves the project in dir and returns the run,
// or the configuration's errors (all of them, each naming its setting)
// before any work is done. environ is the run's whole environment: the
// settings it reads and what every go command runs with.
func newRun(ctx context.Context, settings Config, dir string, environ []string, out io.Writer) (*run, error) {
	r := &run{
		log:      &logger{w: out},
		lookup:   lookupIn(environ),
		environ:  environ,
		connect:  connectEngine,
		registry: remoteRegistry{},
	}
	stop := r.phase("setup")
	defer stop()
	for _, w := range plan.UnknownSettings(environ) {
		r.log.printf("config", "%s", w)
	}
	opts, err := configure(settings, r.lookup)
	if err != nil {
		return nil, err
	}
	r.environ = withToolchain(r.environ, opts.Toolchain)
	if r.p, err = resolve(ctx, opts, dir, r.getenv, r.environ); err != nil {
		return nil, err
	}
	for _, n := range r.p.Notes {
		r.log.printf("config", "%s", n)
	}
	return r, nil
}

// withSettings is environ without the variables a run reads as settings
// or stamps into what it makes (MAGEPACK_*, SOURCE_DATE_EPOCH, GITHUB_*,
// COSIGN_PASSWORD), plus settings (KEY: value): what go needs (PATH, HOME,
// GOCACHE, GOFLAGS) stays, and a run made with it sees no setting but
// those given.
func withSettings(environ []string, settings map[string]string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MAGEPACK_") || strings.HasPrefix(k, "GITHUB_") || k == "SOURCE_DATE_EPOCH" || k == "COSIGN_PASSWORD" || k == "GOTOOLCHAIN" {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		out = append(out, k+"="+settings[k])
	}
	return out
}

// lookupIn is os.LookupEnv over environ: the last entry of a name wins,
// as it does for the processes environ is given to.
func lookupIn(environ []string) func(string) (string, bool) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// getenv returns the variable's value, or "".
func (r *run) getenv(key string) string {
	v, _ := r.lookup(key)
	return v
}

// engine returns the Docker engine, connecting on first use.
func (r *run) engine(ctx context.Context) (dockerEngine, error) {
	return r.once.engine.do(func() (dockerEngine, error) { return r.connect(ctx) })
}

// current is the run of this process: mage calls each target as a plain
// function, so the targets of one `mage a b` share the run through it.
// It is the one piece of state the targets keep between calls.
var current struct {
	once sync.Once
	r    *run
	err  error
}

// session returns this process's run, resolving it on first use.
func session(ctx context.Context) (*run, error) {
	current.once.Do(func() {
		current.r, current.err = newRun(ctx, Settings, ".", os.Environ(), os.Stdout)
	})
	return current.r, current.err
}

// target runs one target's work on this process's run: it relays SIGTERM
// as Ctrl-C from the first target on, prints the phase timings when asked
// for, and gives a failure its exit code.
func target(ctx context.Context, work func(*run, context.Context) error) error {
	relayTerm()
	r, err := session(ctx)
	if err != nil {
		return fail(err)
	}
	err = work(r, ctx)
	if r.p.opts.Timings {
		r.printTimings()
	}
	return fail(err)
}

// memo holds the work each run does once, however many targets ask for
// it and whether or not they ask at the same time: one typed field per
// piece of work, so each caller gets the type the work returns.
type memo struct {
	crossCompile   once[struct{}]
	staticCheck    once[struct{}]
	vulncheck      once[struct{}]
	merge          once[struct{}]
	publish        once[struct{}]
	rebase         once[struct{}]
	plan           once[runPlan]
	myJobs         once[[]job]
	merged         once[*dist.Prebuilt]
	engine         once[dockerEngine]
	enginePlatform once[platform.Platform]
	engineBinaries once[map[string]linkage.Report]
	docker         onceMap[string, []dist.Image]    // by variant
	engineBase     onceMap[string, engineBase]      // by base reference
	builder        onceMap[string, *semver.Version] // by Dockerfile
	sbom           onceMap[string, *cdx.BOM]        // by binary path

	// buildInfo is each binary's build information, by path, read once
	// for its provenance.
	buildInfo onceMap[string, *debug.BuildInfo]
}

// once runs its work the first time do is called; every caller, later or
// at the same time, gets the first call's result.
type once[V any] struct {
	o   sync.Once
	v   V
	err error
}

func (c *once[V]) do(fn func() (V, error)) (V, error) {
	c.o.Do(func() { c.v, c.err = fn() })
	return c.v, c.err
}

// onceMap is a once per key.
type onceMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*once[V]
}

func (m *onceMap[K, V]) do(key K, fn func() (V, error)) (V, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[K]*once[V]{}
	}
	c, ok := m.m[key]
	if !ok {
		c = &once[V]{}
		m.m[key] = c
	}
	m.mu.Unlock()
	return c.do(fn)
}

// logger prints one progress line per event, prefixed by what it concerns:
// "[linux/arm64] built dist/app_linux_arm64 5.6 MB in 3.2s". Lines from
// parallel work never interleave.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(subject, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if subject != "" {
		fmt.Fprintf(l.w, "[%s] ", subject)
	}
	fmt.Fprintf(l.w, format+"\n", args...)
}

// Write lets tables and reports go through the same lock.
func (l *logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// timings adds up how long each phase took.
type timings struct {
	mu    sync.Mutex
	spent map[string]time.Duration
}

// phaseNames are the phases MAGEPACK_TIMINGS reports, in this order.
var phaseNames = []string{"setup", "build", "record", "check", "assemble", "load", "smoke", "push", "merge", "measure", "vulncheck"}

// phase starts timing one phase of work and returns the function that ends
// it. Parallel work in one phase adds up.
func (r *run) phase(name string) func() {
	start := time.Now()
	return func() {
		t := &r.times
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.spent == nil {
			t.spent = map[string]time.Duration{}
		}
		t.spent[name] += time.Since(start)
	}
}

// printTimings prints the time spent in each phase since the last print:
// "[timings] setup 0.05s build 0.61s ...".
func (r *run) printTimings() {
	t := &r.times
	t.mu.Lock()
	defer t.mu.Unlock()
	var parts []string
	for _, name := range phaseNames {
		if d, ok := t.spent[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fs", name, d.Seconds()))
		}
	}
	t.spent = nil
	if len(parts) > 0 {
		r.log.printf("timings", "%s", strings.Join(parts, " "))
	}
}

// mb formats a byte count the way docker and the compare report do, in
// decimal units: "5.6 MB".
func mb(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// secs formats a duration for progress lines: "3.2s", "180ms".
func secs(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// short abbreviates a digest for progress lines: sha256:0123456789ab.
func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
