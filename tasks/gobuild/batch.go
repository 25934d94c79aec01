package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
)

// Batch is jobs that one go build makes together: the same platform,
// environment, flags and output folder, different main packages. The go
// command then starts, loads the package graph and checks its cache once
// for all of them, not once per main (a third of the time of three
// separate builds of three mains after an edit to a package they share).
// The binaries are byte for byte those separate builds give.
type Batch struct {
	// Jobs are the jobs built, in the order Plan gave them.
	Jobs []Job
	// Args is the argv (without the go command) of a batch of more than
	// one job: the jobs' shared flags, -o <folder>/ and every job's main
	// package, in Jobs' order. Go writes each binary into that folder
	// under its package's name (Run gives it a temporary folder, then
	// moves each binary to its Output). A batch of one job runs its own
	// Args.
	Args []string
	// Env is the jobs' shared environment.
	Env []string

	index []int // each job's position in the list Batches was given
}

// Batches groups the jobs Plan made into the go builds that make them, in
// the order of each batch's first job. Jobs share a batch when they differ
// only in their main package and binary name. A job whose binary go would
// name otherwise than its folder (the module root, a major-version folder
// such as ./cmd/v2, a package outside the module) builds alone, as does a
// job whose name another of its batch already has.
func Batches(jobs []Job) []Batch {
	var out []Batch
	open := map[string]int{} // batch key -> position in out
	for i, j := range jobs {
		key, ok := batchKey(j)
		if ok {
			if at, found := open[key]; found && !hasExecName(out[at].Jobs, j) {
				b := &out[at]
				b.Jobs = append(b.Jobs, j)
				b.index = append(b.index, i)
				continue
			}
			open[key] = len(out)
		}
		out = append(out, Batch{Jobs: []Job{j}, Env: j.Env, index: []int{i}})
	}
	for i := range out {
		b := &out[i]
		if len(b.Jobs) == 1 {
			b.Args = b.Jobs[0].Args
			continue
		}
		first := b.Jobs[0].Args
		args := append([]string{}, first[:len(first)-3]...)
		args = append(args, "-o", filepath.Dir(b.Jobs[0].Output)+string(filepath.Separator))
		for _, j := range b.Jobs {
			args = append(args, j.Args[len(j.Args)-1])
		}
		b.Args = args
	}
	return out
}

// batchKey is what jobs of one batch share: the flags before -o, the
// output folder and the environment. ok is false for a job that builds
// alone (see Batches).
func batchKey(j Job) (key string, ok bool) {
	n := len(j.Args)
	if n < 3 || j.Args[n-3] != "-o" || j.Args[n-2] != j.Output {
		return "", false
	}
	if _, ok := execName(j.Args[n-1]); !ok {
		return "", false
	}
	return strings.Join(j.Args[:n-3], "\x00") + "\x01" + filepath.Dir(j.Output) + "\x01" + strings.Join(j.Env, "\x00"), true
}

// execName is the file name go build -o <folder>/ gives the binary of the
// main package main ("./cmd/api" gives "api"), without the .exe of
// windows. ok is false where that name is not the folder's own: the
// module root ("."), a major-version element ("./cmd/v2" is named "cmd"),
// a path outside the module, a pattern.
func execName(main string) (string, bool) {
	if !strings.HasPrefix(main, "./") || strings.Contains(main, "...") || strings.Contains(main, "..") {
		return "", false
	}
	elem := path.Base(main)
	if elem == "." || elem == "/" || isVersionElement(elem) {
		return "", false
	}
	return elem, true
}

// isVersionElement reports whether elem looks like a major-version path
// element (v2, v10), which go skips when it names a binary.
func isVersionElement(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hasExecName reports whether a job of jobs gets the binary name j gets.
func hasExecName(jobs []Job, j Job) bool {
	name, _ := execName(j.Args[len(j.Args)-1])
	for _, o := range jobs {
		if other, _ := execName(o.Args[len(o.Args)-1]); other == name {
			return true
		}
	}
	return false
}

// runBatch runs one go build for the batch's jobs into a temporary folder
// in their dist folder and moves each binary go wrote to its Output. A
// job whose binary is missing after a failed build gets a *BuildError with
// the go command's whole output (go names the failing package in it; the
// others' binaries are still written and committed).
func runBatch(ctx context.Context, b Batch, moduleDir, goBin string) []Result {
	results := make([]Result, len(b.Jobs))
	start := time.Now()
	failAll := func(format string, args ...any) []Result {
		for i, j := range b.Jobs {
			results[i] = Result{Job: j, Duration: time.Since(start), Err: fmt.Errorf("build %s: "+format, append([]any{j.Target}, args...)...)}
		}
		return results
	}
	if err := ctx.Err(); err != nil {
		return failAll("%w", err)
	}
	outDir := filepath.Dir(b.Jobs[0].Output)
	if !filepath.IsAbs(outDir) {
		outDir = filepath.Join(moduleDir, outDir)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return failAll("create the output folder: %w", err)
	}
	tmp, err := os.MkdirTemp(outDir, atomicfile.TempPrefix+"batch-")
	if err != nil {
		return failAll("create a temporary folder: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	work, err := os.MkdirTemp(envValue(b.Env, "GOTMPDIR"), "magepack-gobuild-")
	if err != nil {
		return failAll("create a work folder: %w", err)
	}
	defer func() { _ = os.RemoveAll(work) }()

	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, withOutput(b.Args, tmp+string(filepath.Separator))...)
	cmd.Dir = moduleDir
	cmd.Env = append(b.Env[:len(b.Env):len(b.Env)], "GOTMPDIR="+work)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)
	runErr := cmd.Run()
	if ctx.Err() != nil {
		killProcessGroup(cmd)
	}
	output := buf.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return failAll("%w", ctx.Err())
	case errors.Is(runErr, exec.ErrNotFound):
		return failAll("go command %q not found (%v): install Go or set the go binary to use", goBin, runErr)
	case runErr != nil && !errors.As(runErr, &exit):
		return failAll("run %s: %w", goBin, runErr)
	}
	for i, j := range b.Jobs {
		r := Result{Job: j, Output: output, Duration: time.Since(start)}
		name, _ := execName(j.Args[len(j.Args)-1])
		built := filepath.Join(tmp, name+j.Target.Exe())
		if _, err := os.Stat(built); err != nil {
			if runErr != nil {
				r.Err = &BuildError{Name: j.Name, Target: j.Target, Output: output, Err: runErr}
			} else {
				r.Err = fmt.Errorf("build %s: go build wrote no %s for %s", j.Target, filepath.Base(built), j.Args[len(j.Args)-1])
			}
			results[i] = r
			continue
		}
		r.Path, r.Size, r.SHA256, r.Err = commitBinary(built, j.Output, moduleDir)
		if r.Err != nil {
			r.Err = fmt.Errorf("build %s: %w", j.Target, r.Err)
		}
		results[i] = r
	}
	return results
}

// commitBinary moves the binary go built at built to output (relative to
// moduleDir unless absolute) with mode 0755, atomically, and returns its
// absolute path, size and SHA-256.
func commitBinary(built, output, moduleDir string) (string, int64, string, error) {
	out := output
	if !filepath.IsAbs(out) {
		out = filepath.Join(moduleDir, out)
	}
	pending, err := atomicfile.New(out)
	if err != nil {
		return "", 0, "", err
	}
	defer func() { _ = pending.Discard() }()
	if err := os.Rename(built, pending.Path); err != nil {
		return "", 0, "", err
	}
	if err := pending.Commit(0o755); err != nil {
		return "", 0, "", err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return "", 0, "", err
	}
	sum, err := atomicfile.Sum(out)
	if err != nil {
		return "", 0, "", err
	}
	return out, fi.Size(), sum, nil
}
