package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
)

// waitDelay is how long a cancelled go build gets to exit after SIGINT
// before it is killed.
const waitDelay = 3 * time.Second

// Result is what one Job produced.
type Result struct {
	Job Job
	// Path is the absolute path of the binary, set only on success.
	Path     string
	Size     int64
	SHA256   string
	Duration time.Duration
	// Err is nil on success, a *BuildError when go build failed, or an
	// error wrapping ctx's error when the run was cancelled.
	Err error
	// Output is what go build printed (stdout and stderr together): the
	// compiler's messages on failure, usually empty on success.
	Output string
}

// BuildError is a go build that ran and failed, e.g. a compile error: the
// binary's name (the service), the platform, the command's combined output
// and its exit error.
type BuildError struct {
	Name   string
	Target Target
	Output string
	Err    error
}

// Error names the binary and the platform and includes the compiler's
// output.
func (e *BuildError) Error() string {
	out := strings.TrimRight(e.Output, "\n")
	prefix := ""
	if e.Name != "" {
		prefix = e.Name + ": "
	}
	if out == "" {
		return fmt.Sprintf("%sgo build for %s failed: %v", prefix, e.Target, e.Err)
	}
	return fmt.Sprintf("%sgo build for %s failed (%v):\n%s", prefix, e.Target, e.Err, out)
}

// Unwrap returns the command's exit error.
func (e *BuildError) Unwrap() error { return e.Err }

// Run executes the jobs Plan made, cfg.Parallel go builds at a time, in
// cfg.ModuleDir with cfg.GoBin: one go build per Batch, so the main
// packages that share a platform and settings compile in one go command
// (see Batches). Every job runs even when another fails. Each binary is
// built to a temporary .magepack-tmp-* file in its dist folder and renamed
// into place with mode 0755 only on success, so a failed or cancelled build
// leaves no temporary file and the previous binary untouched. Each go build
// gets its own GOTMPDIR (inside the job's GOTMPDIR, if it sets one), removed
// afterwards, so an interrupted build leaves no go-build work folder either.
//
// progress, if not nil, is called once per finished job, never
// concurrently. Run returns the results in job order and, when any job
// failed, an error joining the failures: each names its platform, compile
// failures are *BuildError (with the compiler's output), and cancellation
// wraps ctx's error. Cancelling ctx interrupts running builds with SIGINT
// to their whole process group (go build and the compile and link
// processes it started), then kills them if they have not exited within a
// few seconds.
func Run(ctx context.Context, jobs []Job, cfg Config, progress func(Result)) ([]Result, error) {
	cfg = cfg.withDefaults()
	dir := cfg.ModuleDir
	if dir == "" {
		dir = "."
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("module folder %q: %w", dir, err)
	}
	results := make([]Result, len(jobs))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(cfg.Parallel)
	for _, b := range Batches(jobs) {
		g.Go(func() error {
			var rs []Result
			if len(b.Jobs) == 1 {
				rs = []Result{runJob(ctx, b.Jobs[0], absDir, cfg.GoBin)}
			} else {
				rs = runBatch(ctx, b, absDir, cfg.GoBin)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, r := range rs {
				results[b.index[k]] = r
				if progress != nil {
					progress(r)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	if len(errs) > 0 {
		return results, fmt.Errorf("%d of %d builds failed:\n%w", len(errs), len(jobs), errors.Join(errs...))
	}
	return results, nil
}

// runJob builds one job into a temporary file and commits it on success.
func runJob(ctx context.Context, job Job, moduleDir, goBin string) (r Result) {
	r.Job = job
	start := time.Now()
	defer func() { r.Duration = time.Since(start) }()
	if err := ctx.Err(); err != nil {
		r.Err = fmt.Errorf("build %s: %w", job.Target, err)
		return r
	}
	out := job.Output
	if !filepath.IsAbs(out) {
		out = filepath.Join(moduleDir, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		r.Err = fmt.Errorf("build %s: create the output folder: %w", job.Target, err)
		return r
	}
	pending, err := atomicfile.New(out)
	if err != nil {
		r.Err = fmt.Errorf("build %s: %w", job.Target, err)
		return r
	}
	defer func() { _ = pending.Discard() }()

	// go build leaves its work folder behind when it is interrupted (it
	// handles no signals), so give it one of ours to remove afterwards.
	work, err := os.MkdirTemp(envValue(job.Env, "GOTMPDIR"), "magepack-gobuild-")
	if err != nil {
		r.Err = fmt.Errorf("build %s: create a work folder: %w", job.Target, err)
		return r
	}
	defer func() { _ = os.RemoveAll(work) }()

	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, withOutput(job.Args, pending.Path)...)
	cmd.Dir = moduleDir
	cmd.Env = append(job.Env[:len(job.Env):len(job.Env)], "GOTMPDIR="+work)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)
	err = cmd.Run()
	if ctx.Err() != nil {
		// Whatever the build did, nothing of its process group may outlive it.
		killProcessGroup(cmd)
	}
	r.Output = buf.String()
	switch {
	case ctx.Err() != nil:
		r.Err = fmt.Errorf("build %s: %w", job.Target, ctx.Err())
		return r
	case errors.Is(err, exec.ErrNotFound):
		r.Err = fmt.Errorf("build %s: go command %q not found (%v): install Go or set the go binary to use", job.Target, goBin, err)
		return r
	case err != nil:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			r.Err = fmt.Errorf("build %s: run %s: %w", job.Target, goBin, err)
			return r
		}
		r.Err = &BuildError{Name: job.Name, Target: job.Target, Output: r.Output, Err: err}
		return r
	}
	if err := pending.Commit(0o755); err != nil {
		r.Err = fmt.Errorf("build %s: %w", job.Target, err)
		return r
	}
	fi, err := os.Stat(out)
	if err != nil {
		r.Err = fmt.Errorf("build %s: %w", job.Target, err)
		return r
	}
	sum, err := atomicfile.Sum(out)
	if err != nil {
		r.Err = fmt.Errorf("build %s: %w", job.Target, err)
		return r
	}
	r.Path, r.Size, r.SHA256 = out, fi.Size(), sum
	return r
}

// envValue returns the last value of key in env, or "".
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// withOutput returns a copy of args with the value of the last -o replaced
// by out.
func withOutput(args []string, out string) []string {
	a := append([]string(nil), args...)
	for i := len(a) - 2; i >= 0; i-- {
		if a[i] == "-o" {
			a[i+1] = out
			return a
		}
	}
	return a
}
