package merge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/joined"
	"github.com/magepack/magepack/tasks/shard"
)

// Source is one binary of the merged folder: the job, the part and file it
// is copied from, and its artifacts.json entry as the part records it.
type Source struct {
	Job    shard.Job
	Part   string
	File   string
	Binary dist.Binary
	// SBOM is the binary's SBOM file, when it has one, and SBOMSHA256 its
	// verified sum.
	SBOM, SBOMSHA256 string
	// Provenance is the binary's signed provenance, when it has one, and
	// ProvenanceSHA256 its verified sum.
	Provenance, ProvenanceSHA256 string
}

// PartSummary says what one part contributed.
type PartSummary struct {
	Dir   string
	Shard string
	Jobs  int
}

// Plan is the merged folder, decided: the build record (no shard, every
// job built, Merged naming the parts' shards) and where each binary comes
// from.
type Plan struct {
	Parts    []PartSummary
	Build    dist.Build
	Binaries []Source
}

// String says in one line what the merge takes from where: "5 jobs from 3
// parts: dist-1 (shard 1/3, 2 jobs), dist-2 (shard 2/3, 2 jobs), dist-3
// (shard 3/3, 1 job)".
func (p Plan) String() string {
	parts := make([]string, len(p.Parts))
	for i, s := range p.Parts {
		sh := "whole run"
		if s.Shard != "" {
			sh = "shard " + s.Shard
		}
		unit := "jobs"
		if s.Jobs == 1 {
			unit = "job"
		}
		parts[i] = fmt.Sprintf("%s (%s, %d %s)", s.Dir, sh, s.Jobs, unit)
	}
	return fmt.Sprintf("%d jobs from %d parts: %s", len(p.Binaries), len(p.Parts), strings.Join(parts, ", "))
}

// Decide checks the parts against each other and plans the merged folder,
// without touching the file system. It refuses, with a *RefusedError
// (errors.Is ErrRefused) listing every problem, when:
//
//   - a part has problems of its own (Part.Err);
//   - the parts' build records disagree on the commit, version, toolchain,
//     configuration digest or the run's job list (*MismatchError, naming
//     the parts on each side);
//   - the binaries' own build info shows some parts built in a checkout
//     with uncommitted or untracked files and others not (*MismatchError on
//     "vcs.modified": Go stamps it into the bytes);
//   - two parts hold the same job with different bytes (*ConflictError);
//   - a job of the run is in no part (*GapError, naming the shard that
//     should have built it).
//
// A job in more than one part with the same bytes is taken from the first
// part in folder order. It returns a plain error for no parts.
func Decide(parts []Part) (Plan, error) {
	if len(parts) == 0 {
		return Plan{}, errors.New("no parts to merge")
	}
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b Part) int { return strings.Compare(a.Dir, b.Dir) })
	var problems []error
	var recorded []Part
	var unrecorded []string
	unusable := map[shard.Job]bool{} // recorded as built, but failed verification
	for _, p := range parts {
		if p.Err != nil {
			for _, e := range joined.Errors(p.Err) {
				problems = append(problems, &partError{e})
			}
		}
		if p.Manifest.Build == nil {
			unrecorded = append(unrecorded, p.Dir)
			continue
		}
		recorded = append(recorded, p)
		for _, j := range p.Manifest.Build.Built {
			unusable[j] = true
		}
	}
	mismatches := compare(recorded)
	problems = append(problems, mismatches...)

	var order []shard.Job
	sources := map[shard.Job][]Source{}
	for _, p := range recorded {
		for _, b := range p.Binaries {
			if sources[b.Job] == nil {
				order = append(order, b.Job)
			}
			sources[b.Job] = append(sources[b.Job], Source{Job: b.Job, Part: p.Dir, File: b.File, Binary: b.Binary, SBOM: b.SBOM, SBOMSHA256: b.SBOMSHA256, Provenance: b.Provenance, ProvenanceSHA256: b.ProvenanceSHA256})
			delete(unusable, b.Job)
		}
	}
	order = shard.Sort(order)
	for _, j := range order {
		if c := conflict(j, sources[j]); c != nil {
			problems = append(problems, c)
		}
	}
	jobsAgree := !slices.ContainsFunc(mismatches, func(e error) bool {
		var m *MismatchError
		return errors.As(e, &m) && m.Field == "jobs"
	})
	if len(recorded) > 0 && jobsAgree {
		if g := gaps(recorded, sources, unusable, unrecorded); g != nil {
			problems = append(problems, g)
		}
	}
	if len(problems) > 0 {
		dirs := make([]string, len(parts))
		for i, p := range parts {
			dirs[i] = p.Dir
		}
		return Plan{}, &RefusedError{Parts: dirs, Problems: problems}
	}

	first := *recorded[0].Manifest.Build
	plan := Plan{Build: dist.Build{
		Commit: first.Commit, Version: first.Version, Toolchain: first.Toolchain,
		ConfigDigest: first.ConfigDigest, Config: slices.Clone(first.Config),
		Jobs: shard.Sort(first.Jobs), Built: shard.Sort(first.Jobs), Merged: mergedShards(recorded),
	}}
	for _, j := range order {
		plan.Binaries = append(plan.Binaries, sources[j][0])
	}
	for _, p := range parts {
		plan.Parts = append(plan.Parts, PartSummary{Dir: p.Dir, Shard: p.Manifest.Build.Shard, Jobs: len(p.Binaries)})
	}
	return plan, nil
}

// mergedShards lists the parts' shards for the merged record: distinct,
// whole runs first as "all", then by shard count and number.
func mergedShards(parts []Part) []string {
	var specs []shard.Spec
	for _, p := range parts {
		s, _ := shard.Parse(p.Manifest.Build.Shard)
		specs = append(specs, s)
	}
	slices.SortFunc(specs, func(a, b shard.Spec) int {
		if a.N != b.N {
			return a.N - b.N
		}
		return a.K - b.K
	})
	var out []string
	for _, s := range slices.Compact(specs) {
		if s.IsZero() {
			out = append(out, "all")
		} else {
			out = append(out, s.String())
		}
	}
	return out
}

// compare groups the parts by each field of their build records and
// returns a *MismatchError for each field with more than one value.
func compare(parts []Part) []error {
	fields := []struct {
		name  string
		value func(dist.Build) string
	}{
		{"commit", func(b dist.Build) string { return b.Commit }},
		{"version", func(b dist.Build) string { return b.Version }},
		{"toolchain", func(b dist.Build) string { return b.Toolchain }},
		{"config_digest", func(b dist.Build) string { return b.ConfigDigest }},
		{"jobs", func(b dist.Build) string { return jobList(b.Jobs) }},
	}
	var errs []error
	for _, f := range fields {
		groups := groupBy(parts, func(p Part) string { return f.value(*p.Manifest.Build) })
		if len(groups) < 2 {
			continue
		}
		m := &MismatchError{Field: f.name, Groups: groups}
		switch f.name {
		case "config_digest":
			m.Detail = onlyIn(parts, groups, func(b dist.Build) []string { return b.Config })
		case "jobs":
			for i := range m.Groups {
				m.Groups[i].Value = fmt.Sprintf("%d jobs", len(shard.Sort(firstBuild(parts, m.Groups[i]).Jobs)))
			}
			m.Detail = onlyIn(parts, groups, func(b dist.Build) []string {
				var s []string
				for _, j := range shard.Sort(b.Jobs) {
					s = append(s, j.String())
				}
				return s
			})
		}
		errs = append(errs, m)
	}
	// Go stamps vcs.modified=true into binaries built in a checkout with
	// uncommitted or untracked files: such binaries differ from the
	// others' though the records agree.
	var stamped []Part
	for _, p := range parts {
		if p.Modified != "" {
			stamped = append(stamped, p)
		}
	}
	if groups := groupBy(stamped, func(p Part) string { return p.Modified }); len(groups) > 1 {
		errs = append(errs, &MismatchError{Field: "vcs.modified", Groups: groups})
	}
	return errs
}

// groupBy groups part folders by value, groups in the order of their
// first part (parts come sorted by folder).
func groupBy(parts []Part, value func(Part) string) []Group {
	idx := map[string]int{}
	var groups []Group
	for _, p := range parts {
		v := value(p)
		i, ok := idx[v]
		if !ok {
			i = len(groups)
			idx[v] = i
			groups = append(groups, Group{Value: v})
		}
		groups[i].Parts = append(groups[i].Parts, p.Dir)
	}
	return groups
}

// firstBuild returns the build record of the first part in g.
func firstBuild(parts []Part, g Group) dist.Build {
	for _, p := range parts {
		if p.Dir == g.Parts[0] {
			return *p.Manifest.Build
		}
	}
	return dist.Build{}
}

// onlyIn lists, for each group, the items (configuration lines, jobs) its
// records have that some other group's lack: "only in dist-3: <item>".
func onlyIn(parts []Part, groups []Group, items func(dist.Build) []string) []string {
	sets := make([]map[string]bool, len(groups))
	for i, g := range groups {
		sets[i] = map[string]bool{}
		for _, it := range items(firstBuild(parts, g)) {
			sets[i][it] = true
		}
	}
	var out []string
	for _, g := range groups {
		for _, it := range items(firstBuild(parts, g)) {
			inAll := true
			for k := range groups {
				if !sets[k][it] {
					inAll = false
				}
			}
			if !inAll {
				out = append(out, fmt.Sprintf("only in %s: %s", strings.Join(g.Parts, ", "), it))
			}
		}
	}
	return out
}

func jobList(jobs []shard.Job) string {
	var s []string
	for _, j := range shard.Sort(jobs) {
		s = append(s, j.String())
	}
	return strings.Join(s, ", ")
}

// conflict returns a *ConflictError when the sources of job differ in
// bytes, else nil.
func conflict(job shard.Job, srcs []Source) error {
	idx := map[string]int{}
	var groups []Group
	for _, s := range srcs {
		i, ok := idx[s.Binary.SHA256]
		if !ok {
			i = len(groups)
			idx[s.Binary.SHA256] = i
			groups = append(groups, Group{Value: s.Binary.SHA256})
		}
		groups[i].Parts = append(groups[i].Parts, s.Part)
	}
	if len(groups) < 2 {
		return nil
	}
	return &ConflictError{Job: job, Groups: groups}
}

// gaps returns a *GapError for the run's jobs no part holds (jobs a part
// claims but failed verification are reported as that part's problem), or
// nil.
func gaps(parts []Part, sources map[shard.Job][]Source, unusable map[shard.Job]bool, unrecorded []string) error {
	run := parts[0].Manifest.Build.Jobs
	n := 0
	given := map[string]bool{}
	for _, p := range parts {
		given[p.Manifest.Build.Shard] = true
		s, err := shard.Parse(p.Manifest.Build.Shard)
		switch {
		case err != nil:
			n = -1 // a whole run, or a malformed shard: no single split
		case n == 0:
			n = s.N
		case n != s.N:
			n = -1
		}
	}
	g := &GapError{}
	absent := map[string]bool{}
	for _, j := range shard.Sort(run) {
		if len(sources[j]) > 0 || unusable[j] {
			continue
		}
		gap := Gap{Job: j}
		if n > 0 {
			if owner, ok := shard.Owner(n, run, j); ok {
				gap.Shard = owner.String()
				if !given[gap.Shard] {
					absent[gap.Shard] = true
				}
			}
		}
		g.Missing = append(g.Missing, gap)
	}
	if len(g.Missing) == 0 {
		return nil
	}
	if len(unrecorded) > 0 {
		g.Unrecorded = unrecorded
		return g
	}
	for s := range absent {
		g.Absent = append(g.Absent, s)
	}
	slices.SortFunc(g.Absent, func(a, b string) int {
		sa, _ := shard.Parse(a)
		sb, _ := shard.Parse(b)
		return sa.K - sb.K
	})
	return g
}

// CheckFits returns a *CheckoutError (errors.Is ErrRefused) when the
// planned merge is not the build want describes (the one the checkout the
// merge runs in would make: its commit, version, toolchain and
// configuration digest), else nil. The shard and job lists are not
// compared.
func CheckFits(plan Plan, want dist.Build) error {
	if d := dist.Differences(plan.Build, want); len(d) > 0 {
		return &CheckoutError{Differences: d}
	}
	return nil
}
