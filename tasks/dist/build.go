package dist

import (
	"slices"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/shard"
)

// Build is the record of the go builds a dist folder's binaries come from
// (artifacts.json "build"). Parts of a sharded run must agree on every
// field but Shard and Built; a merged folder, like a single-machine one,
// has an empty Shard and Built equal to Jobs.
type Build struct {
	// Shard is the part of the run this folder holds, "k/n", or "" for
	// the whole run.
	Shard string `json:"shard"`
	// Commit is the full git commit the sources were at.
	Commit string `json:"commit"`
	// Version is the version stamped into the binaries.
	Version string `json:"version"`
	// Toolchain is the Go toolchain's version (`go env GOVERSION`, e.g.
	// "go1.26.8").
	Toolchain string `json:"toolchain"`
	// ConfigDigest is the digest of everything in the planned go builds
	// that changes the bytes, apart from the platform (gobuild.ConfigDigest).
	ConfigDigest string `json:"config_digest"`
	// Config is the lines ConfigDigest was computed from, so a mismatch
	// can say what differs.
	Config []string `json:"config,omitempty"`
	// Jobs is every (service, platform) job of the whole run.
	Jobs []shard.Job `json:"jobs"`
	// Built is the jobs whose binaries this folder holds.
	Built []shard.Job `json:"built"`
	// Merged lists the shards of the parts a merged folder was put
	// together from ("1/3", …; "all" for a part that was a whole run);
	// empty for a folder its binaries were built in. A checkout with
	// uncommitted or untracked changes keeps the commit and version of its
	// last build, so only merged binaries are safe to use without
	// compiling again: they were built elsewhere from a clean commit.
	Merged []string `json:"merged,omitempty"`
}

// JobOf returns the identity a planned go build is sharded and recorded
// under: its service (the binary's name) and platform.
func JobOf(j gobuild.Job) shard.Job {
	return shard.Job{Service: j.Name, Platform: j.Target.String()}
}

// BuildRecord returns the build record of a run: the shard (sel.Spec, ""
// when not split), commit, version and toolchain as given, the
// configuration digest of all (every planned job of the run, before
// sharding; see gobuild.ConfigDigest), every job of the run, and as built
// the jobs of results that succeeded. Parts of one sharded run get the
// same record but for Shard and Built, which is what merging checks.
func BuildRecord(all []gobuild.Job, sel shard.Selection, results []gobuild.Result, commit, version, toolchain string) Build {
	digest, lines := gobuild.ConfigDigest(all)
	ids := make([]shard.Job, len(all))
	for i, j := range all {
		ids[i] = JobOf(j)
	}
	var built []shard.Job
	for _, r := range results {
		if r.Err == nil {
			built = append(built, JobOf(r.Job))
		}
	}
	return Build{
		Shard: sel.Spec.String(), Commit: commit, Version: version, Toolchain: toolchain,
		ConfigDigest: digest, Config: lines, Jobs: shard.Sort(ids), Built: shard.Sort(built),
	}
}

// normalized returns b with its job lists deduplicated, sorted (by
// platform, then service) and non-nil, without changing b's own slices.
func (b Build) normalized() Build {
	b.Jobs = shard.Sort(b.Jobs)
	b.Built = shard.Sort(b.Built)
	if b.Jobs == nil {
		b.Jobs = []shard.Job{}
	}
	if b.Built == nil {
		b.Built = []shard.Job{}
	}
	b.Config = slices.Clone(b.Config)
	b.Merged = slices.Clone(b.Merged)
	return b
}

// Difference is one field in which two build records differ.
type Difference struct {
	// Field is the JSON name of the field: "commit", "version",
	// "toolchain" or "config_digest".
	Field string
	// Have is the value in the record checked, Want the value expected.
	Have, Want string
}

// Differences lists the fields that make have another build than want:
// commit, version, toolchain and configuration digest, in that order. The
// shard, the job lists and Merged are not compared: parts of one run
// differ in them.
func Differences(have, want Build) []Difference {
	var d []Difference
	for _, f := range []struct{ name, have, want string }{
		{"commit", have.Commit, want.Commit},
		{"version", have.Version, want.Version},
		{"toolchain", have.Toolchain, want.Toolchain},
		{"config_digest", have.ConfigDigest, want.ConfigDigest},
	} {
		if f.have != f.want {
			d = append(d, Difference{Field: f.name, Have: f.have, Want: f.want})
		}
	}
	return d
}
