package gobuild

import (
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/shard"
)

// ID returns the job's identity for sharding and build records: its
// service (Name) and platform.
func (j Job) ID() shard.Job { return shard.Job{Service: j.Name, Platform: j.Target.String()} }

// Shard returns shard spec's selection of jobs (every job of the run) and
// the jobs it takes, in their planned order. The zero Spec takes all.
func Shard(spec shard.Spec, jobs []Job) (shard.Selection, []Job) {
	ids := make([]shard.Job, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID()
	}
	sel := shard.Select(spec, ids)
	return sel, shard.Filter(sel, jobs, Job.ID)
}

// BuildRecord returns the artifacts.json build record of a run: the shard
// (sel.Spec, "" when not split), commit, version and toolchain as given,
// the configuration digest of all (every planned job of the run, before
// sharding; see ConfigDigest), every job of the run, and as built the jobs
// of results that succeeded.
func BuildRecord(all []Job, sel shard.Selection, results []Result, commit, version, toolchain string) dist.Build {
	digest, lines := ConfigDigest(all)
	ids := make([]shard.Job, len(all))
	for i, j := range all {
		ids[i] = j.ID()
	}
	var built []shard.Job
	for _, r := range results {
		if r.Err == nil {
			built = append(built, r.Job.ID())
		}
	}
	return dist.Build{
		Shard: sel.Spec.String(), Commit: commit, Version: version, Toolchain: toolchain,
		ConfigDigest: digest, Config: lines, Jobs: shard.Sort(ids), Built: shard.Sort(built),
	}
}
