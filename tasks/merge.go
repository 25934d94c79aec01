package tasks

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	"github.com/magepack/magepack/tasks/merge"
)

// Merge verifies the dist folders CI shards built (MAGEPACK_MERGE, default dist-*) and writes them as one dist/, as one machine's crossCompile would have.
//
// Each part's SHA256SUMS must match its files, and all parts must come from
// the same commit, version, Go toolchain and build configuration as this
// checkout's build; a job in two parts must have the same bytes, and every
// job of the run must be in some part. Nothing is written unless every
// check passes. Targets after it in the same or a later run (staticCheck,
// publish, dockerScratch, ...) use the merged binaries instead of
// compiling again.
func Merge(ctx context.Context) error { return target(ctx, (*run).merge) }

func (r *run) merge(ctx context.Context) error {
	_, err := do(r, "merge", func() (struct{}, error) {
		p := r.p
		stop := r.phase("merge")
		defer stop()
		start := time.Now()
		dirs, err := merge.Expand(p.opts.merge, p.root)
		if err != nil {
			return struct{}{}, err
		}
		plan, err := merge.Decide(merge.Read(dirs))
		if err != nil {
			return struct{}{}, err
		}
		want, err := r.wantBuild()
		if err != nil {
			return struct{}{}, err
		}
		if err := merge.CheckFits(plan, want); err != nil {
			return struct{}{}, err
		}
		shown := plan
		shown.Parts = slices.Clone(plan.Parts)
		for i := range shown.Parts {
			shown.Parts[i].Dir = p.rel(shown.Parts[i].Dir)
		}
		r.log.printf("merge", "%s", shown)
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return struct{}{}, err
		}
		defer unlock()
		if err := merge.Write(ctx, plan, p.dist, filepath.ToSlash(p.rel(p.dist))); err != nil {
			return struct{}{}, err
		}
		r.log.printf("merge", "wrote %s: %d binaries, SHA256SUMS and artifacts.json of %s %s (%s) in %s",
			p.rel(p.dist), len(plan.Binaries), shortCommit(plan.Build.Commit), plan.Build.Version, plan.Build.Toolchain, secs(time.Since(start)))
		return struct{}{}, nil
	})
	return err
}

// shortCommit abbreviates a commit hash for progress lines.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
