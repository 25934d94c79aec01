package tasks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/merge"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/shard"
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
	_, err := r.once.merge.do(func() (struct{}, error) {
		p := r.p
		stop := r.phase("merge")
		defer stop()
		start := time.Now()
		dirs, err := merge.Expand(p.opts.Merge, p.Root)
		if err != nil {
			return struct{}{}, err
		}
		want, err := r.wantBuild()
		if err != nil {
			return struct{}{}, err
		}
		plan, err := merge.Merge(ctx, dirs, p.Dist, filepath.ToSlash(p.rel(p.Dist)),
			merge.Fitting(want), merge.LockedBy(r.lockDist),
			merge.OnPlan(func(plan merge.Plan) {
				shown := plan
				shown.Parts = slices.Clone(plan.Parts)
				for i := range shown.Parts {
					shown.Parts[i].Dir = p.rel(shown.Parts[i].Dir)
				}
				r.log.printf("merge", "%s", shown)
			}))
		if err != nil {
			return struct{}{}, err
		}
		r.log.printf("merge", "wrote %s: %d binaries, SHA256SUMS and artifacts.json of %s %s (%s) in %s",
			p.rel(p.Dist), len(plan.Binaries), shortCommit(plan.Build.Commit), plan.Build.Version, plan.Build.Toolchain, secs(time.Since(start)))
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

// wantBuild is the build record of the whole run as this checkout makes
// it: what merged binaries in dist must match to be used.
func (r *run) wantBuild() (dist.Build, error) {
	plan, err := r.planned()
	if err != nil {
		return dist.Build{}, err
	}
	sel, _ := shard.Split(shard.Spec{}, plan.gjobs, dist.JobOf)
	return dist.BuildRecord(plan.gjobs, sel, nil, r.p.Version.Commit, r.p.versionString(), r.p.GoVersion), nil
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
		return plan.Bad("MAGEPACK_MERGE", fmt.Errorf("%s holds binaries merged from shards %s, without %s: merge the parts of every shard (MAGEPACK_MERGE), or remove %s to build here", r.p.rel(r.p.Dist), strings.Join(merged.Build.Merged, ", "), strings.Join(missing, ", "), r.p.rel(r.p.Dist)))
	}
	return nil
}

// merged returns what dist holds of this run's build when it holds a
// merge of CI shards (said once), nil when it holds none. A merge of
// another build, or one whose files changed, is an error: nothing is
// compiled over it.
func (r *run) merged(ctx context.Context) (*dist.Prebuilt, error) {
	return r.once.merged.do(func() (*dist.Prebuilt, error) {
		want, err := r.wantBuild()
		if err != nil {
			return nil, err
		}
		unlock, err := r.lockDist(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
		// Only a merge's binaries are verified here: a record of a
		// build done here is the build's to redo or keep, and checking
		// every file in dist would cost each run a read of them all.
		if m, err := dist.ReadManifest(r.p.Dist); err == nil && (m.Build == nil || len(m.Build.Merged) == 0) {
			return nil, nil
		}
		pre, err := dist.FindPrebuilt(r.p.Dist, want)
		dir := r.p.rel(r.p.Dist)
		var other *dist.OtherBuildError
		switch {
		case err != nil && pre.Build == nil && !errors.As(err, &other):
			// The record is there but cannot be read: whether dist holds
			// a merge cannot be told, so nothing is built over it.
			return nil, err
		case pre.Build == nil || len(pre.Build.Merged) == 0:
			return nil, nil
		case errors.As(err, &other):
			return nil, plan.Bad("MAGEPACK_MERGE", fmt.Errorf("%s holds binaries merged from shards %s of another build: %w; merge parts built from this commit with these settings, or remove %s to build here", dir, strings.Join(pre.Build.Merged, ", "), err, dir))
		case err != nil:
			return nil, err
		}
		r.log.printf("build", "using the %d binaries in %s merged from shards %s, verified by checksum; not compiling", len(pre.Present), dir, strings.Join(pre.Build.Merged, ", "))
		return &pre, nil
	})
}

// id is the job's identity in build records and shards.
func (j job) id() shard.Job { return shard.Job{Service: j.svc.name, Platform: j.pl.String()} }
