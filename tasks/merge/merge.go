// Package merge puts the dist folders of a sharded build (one per CI
// machine, each holding its shard's binaries) back together into one dist
// folder, as one machine building everything would have written it.
//
// It works in steps, so each can be checked alone: Expand turns the parts
// list into folders, Read verifies each part on its own (its SHA256SUMS
// against its files, its build record against its binaries), Decide checks
// the parts against each other and plans the result without writing
// anything, and Write writes the planned folder. Merge does all of it.
// Nothing is written when any check fails.
package merge

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/joined"
	"github.com/magepack/magepack/tasks/shard"
)

// ErrRefused is what every reason to refuse the parts matches with
// errors.Is: a *RefusedError and each problem in it.
var ErrRefused = errors.New("merge refused the parts")

// RefusedError lists every reason the parts cannot be merged. Each problem
// is one of *dist.ChecksumError (a file changed after it was built),
// *dist.NoRecordError, *dist.IncompleteError, *MismatchError,
// *ConflictError, *GapError, or an error naming a part that cannot be read.
type RefusedError struct {
	// Parts are the part folders given.
	Parts    []string
	Problems []error
}

// Error names the parts and lists every problem, one per line.
func (e *RefusedError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "cannot merge the %d parts (%s): %d problem%s, nothing written", len(e.Parts), strings.Join(e.Parts, ", "), n, plural)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(p.Error(), "\n", "\n    "))
	}
	return b.String()
}

// Unwrap returns the problems.
func (e *RefusedError) Unwrap() []error { return e.Problems }

// Is reports whether target is ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Group is the parts that share one value of a field.
type Group struct {
	Value string
	Parts []string
}

// MismatchError is a field of the build record the parts do not agree on:
// they come from different commits, versions, toolchains or
// configurations, or planned different runs.
type MismatchError struct {
	// Field is the build record's field: "commit", "version",
	// "toolchain", "config_digest" or "jobs"; or "vcs.modified", what the
	// binaries' own build info says of their checkout.
	Field string
	// Groups holds each value and the parts that have it, in folder order
	// of each group's first part.
	Groups []Group
	// Detail says what differs inside a configuration or job list: the
	// lines (or jobs) only some parts have, with those parts.
	Detail []string
}

// Error names the field, each value with its parts and, for configurations
// and job lists, what differs.
func (e *MismatchError) Error() string {
	sides := make([]string, len(e.Groups))
	for i, g := range e.Groups {
		sides[i] = fmt.Sprintf("%s (%s)", g.Value, strings.Join(g.Parts, ", "))
	}
	what := map[string]string{
		"commit": "commits", "version": "versions", "toolchain": "Go toolchains",
		"config_digest": "build configurations", "jobs": "runs (job lists)",
		"vcs.modified": "checkout states (vcs.modified in the binaries: true means built with uncommitted or untracked files in the checkout)",
	}[e.Field]
	msg := fmt.Sprintf("the parts come from different %s: %s; build every shard from the same commit with the same settings", what, strings.Join(sides, " vs "))
	for _, d := range e.Detail {
		msg += "\n" + d
	}
	return msg
}

// Is reports whether target is ErrRefused.
func (e *MismatchError) Is(target error) bool { return target == ErrRefused }

// ConflictError is a job more than one part built, with different bytes.
type ConflictError struct {
	Job shard.Job
	// Groups holds each sha256 and the parts whose binary has it.
	Groups []Group
}

// Error names the job and each part's sha256.
func (e *ConflictError) Error() string {
	sides := make([]string, len(e.Groups))
	for i, g := range e.Groups {
		sides[i] = fmt.Sprintf("sha256 %s in %s", g.Value, strings.Join(g.Parts, ", "))
	}
	return fmt.Sprintf("job %s was built by more than one part with different bytes: %s; the build is not reproducible across those machines, or a part is stale", e.Job, strings.Join(sides, " vs "))
}

// Is reports whether target is ErrRefused.
func (e *ConflictError) Is(target error) bool { return target == ErrRefused }

// Gap is a job of the run that no part holds.
type Gap struct {
	Job shard.Job
	// Shard is the shard that should have built it ("2/3"), "" when the
	// parts were not all split the same number of ways.
	Shard string
}

// GapError lists the jobs of the run that no part holds.
type GapError struct {
	Missing []Gap
	// Absent are the shards that should have built a missing job but of
	// which no part was given ("2/3"), sorted. Empty when some part
	// records no build (it may be one of them).
	Absent []string
	// Unrecorded are the given parts without a build record.
	Unrecorded []string
}

// Error names every missing job and the shard that should have built it.
func (e *GapError) Error() string {
	jobs := make([]string, len(e.Missing))
	for i, g := range e.Missing {
		jobs[i] = g.Job.String()
		if g.Shard != "" {
			jobs[i] += fmt.Sprintf(" (shard %s should have built it)", g.Shard)
		}
	}
	msg := fmt.Sprintf("%d jobs of the run are in no part: %s", len(e.Missing), strings.Join(jobs, ", "))
	if len(e.Missing) == 1 {
		msg = fmt.Sprintf("1 job of the run is in no part: %s", jobs[0])
	}
	switch {
	case len(e.Unrecorded) > 0:
		msg += fmt.Sprintf("; %s records no build, so nothing in it can fill them", strings.Join(e.Unrecorded, ", "))
	case len(e.Absent) > 0:
		msg += fmt.Sprintf("; no part of shard %s was given: download every shard's dist folder, or run the failed shard again", strings.Join(e.Absent, ", "))
	default:
		msg += "; run the shard that should have built them again"
	}
	return msg
}

// Is reports whether target is ErrRefused.
func (e *GapError) Is(target error) bool { return target == ErrRefused }

// partError marks a problem found in one part (by dist.Verify) as a reason
// to refuse, keeping its own type and message.
type partError struct{ err error }

func (e *partError) Error() string        { return e.err.Error() }
func (e *partError) Unwrap() error        { return e.err }
func (e *partError) Is(target error) bool { return target == ErrRefused }

// Part is one part folder as Read found it.
type Part struct {
	// Verified is what dist.Verify found: the manifest, its build record
	// and the binaries that check out.
	dist.Verified
	// Err joins what is wrong with the part on its own (see dist.Verify);
	// nil when every recorded binary checks out.
	Err error
	// Modified is what its binaries' build info says of the checkout they
	// were built in (vcs.modified): "true", "false", "" when none says
	// (not built in a git checkout, or not Go binaries), or both values
	// comma-separated when its binaries disagree.
	Modified string
}

// Read verifies each part folder on its own with dist.Verify: its
// SHA256SUMS against its files, and each job its build record lists as
// built against its binary. It reads every part, whatever it finds, and
// returns them in the order given; what is wrong is in each Part's Err.
func Read(dirs []string) []Part {
	parts := make([]Part, len(dirs))
	for i, d := range dirs {
		v, err := dist.Verify(d)
		parts[i] = Part{Verified: v, Err: err, Modified: modified(v.Binaries)}
	}
	return parts
}

// modified reads vcs.modified from each binary's build info.
func modified(bins []dist.VerifiedBinary) string {
	var values []string
	for _, b := range bins {
		info, err := buildinfo.ReadFile(b.File)
		if err != nil {
			continue
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.modified" {
				values = append(values, s.Value)
			}
		}
	}
	slices.Sort(values)
	return strings.Join(slices.Compact(values), ",")
}

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

// ErrDestIsPart is what Write returns (wrapped, naming the folder) when
// the destination is one of the parts.
var ErrDestIsPart = errors.New("the merged folder is one of the parts")

// Write writes plan into the folder dir (created if missing): each binary
// (mode 0755), SHA256SUMS (the bytes a single-machine build writes for the
// same binaries) and artifacts.json with the binaries' entries, paths
// recorded as pathPrefix + "/" + name (pathPrefix "" records dir itself,
// slash-separated), and the merged build record. It replaces
// artifacts.json as a whole: images, checks and pushes recorded there
// before belong to other binaries. Other files in dir are left alone.
//
// Everything is first written to temporary files in dir, each binary
// re-hashed as it is copied, and only then renamed into place, binaries
// first and artifacts.json last; a copy whose bytes are not the verified
// ones (the part changed since Read) fails the whole write with a
// *RefusedError and nothing renamed. Hold dir's dist.Lock while calling
// it. It returns an error wrapping ErrDestIsPart when dir is one of the
// parts, and errors naming the file for I/O failures.
func Write(ctx context.Context, plan Plan, dir, pathPrefix string) (err error) {
	if err := checkDest(plan, dir); err != nil {
		return err
	}
	if pathPrefix == "" {
		pathPrefix = filepath.ToSlash(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	var staged []*dist.Pending
	defer func() {
		for _, p := range staged {
			_ = p.Discard()
		}
	}()
	stage := func(name string, write func(io.Writer) error) error {
		p, err := dist.NewPending(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		staged = append(staged, p)
		f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", p.Target, err)
		}
		if err := write(f); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", p.Target, err)
		}
		return nil
	}

	m := dist.Manifest{Build: &plan.Build}
	sums := map[string]string{}
	var changed []error
	var perms []os.FileMode // of each staged file, in order
	copyVerified := func(part, src, want string, perm os.FileMode) (string, error) {
		name := filepath.Base(src)
		err := stage(name, func(w io.Writer) error {
			sum, err := copyHashed(w, src)
			if err != nil {
				return err
			}
			if sum != want {
				changed = append(changed, &dist.ChecksumError{Dir: part, File: name, Listed: dist.ChecksumsFile, Want: want, Got: sum})
			}
			return nil
		})
		perms = append(perms, perm)
		sums[name] = want
		return name, err
	}
	for _, s := range plan.Binaries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		name, err := copyVerified(s.Part, s.File, s.Binary.SHA256, 0o755)
		if err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		b := s.Binary
		b.Path = pathPrefix + "/" + name
		if s.SBOM != "" {
			bom, err := copyVerified(s.Part, s.SBOM, s.SBOMSHA256, 0o644)
			if err != nil {
				return fmt.Errorf("merge into %q: %w", dir, err)
			}
			b.SBOM = pathPrefix + "/" + bom
		}
		b.Provenance = ""
		if s.Provenance != "" {
			prov, err := copyVerified(s.Part, s.Provenance, s.ProvenanceSHA256, 0o644)
			if err != nil {
				return fmt.Errorf("merge into %q: %w", dir, err)
			}
			b.Provenance = pathPrefix + "/" + prov
		}
		m.PutBinary(b)
	}
	if len(changed) > 0 {
		return &RefusedError{Parts: partDirs(plan), Problems: wrapAll(changed)}
	}
	manifest, err := dist.EncodeManifest(m)
	if err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{dist.ChecksumsFile, dist.FormatChecksums(sums)}, {dist.ManifestFile, manifest}} {
		if err := stage(f.name, func(w io.Writer) error { _, err := w.Write(f.data); return err }); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		perms = append(perms, 0o644)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for i, p := range staged {
		if err := p.Commit(perms[i]); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
	}
	return nil
}

// checkDest refuses a destination that is one of the parts.
func checkDest(plan Plan, dir string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for _, p := range plan.Parts {
		if abs, err := filepath.Abs(p.Dir); err == nil && abs == absDir {
			return fmt.Errorf("merge into %q: %w; merge the parts into another folder (e.g. dist from dist-*)", dir, ErrDestIsPart)
		}
	}
	return nil
}

// copyHashed copies the file at src to w and returns its SHA-256.
func copyHashed(w io.Writer, src string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), f); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func partDirs(plan Plan) []string {
	dirs := make([]string, len(plan.Parts))
	for i, p := range plan.Parts {
		dirs[i] = p.Dir
	}
	return dirs
}

func wrapAll(errs []error) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = &partError{e}
	}
	return out
}

// Merge reads and verifies the part folders dirs, checks them against each
// other and writes the merged folder dest under its dist.Lock (failing at
// once if another run holds it), recording binary paths as pathPrefix +
// "/" + name. It returns the plan it wrote, or the first step's error:
// a *RefusedError (errors.Is ErrRefused) when the parts do not make one
// verified build, with nothing written to dest. See Read, Decide and Write.
func Merge(ctx context.Context, dirs []string, dest, pathPrefix string) (Plan, error) {
	plan, err := Decide(Read(dirs))
	if err != nil {
		return Plan{}, err
	}
	if err := checkDest(plan, dest); err != nil {
		return Plan{}, err
	}
	unlock, err := dist.Lock(ctx, dest)
	if err != nil {
		return Plan{}, err
	}
	defer func() { _ = unlock() }()
	if _, err := dist.CleanTemp(dest); err != nil {
		return Plan{}, err
	}
	if err := Write(ctx, plan, dest, pathPrefix); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// CheckoutError says that parts that agree with each other were built from
// another commit, version, toolchain or configuration than the checkout
// the merge runs in would build: targets after the merge would not use
// them, and must not compile there instead.
type CheckoutError struct {
	// Differences lists each field: Have is the parts' value, Want this
	// checkout's.
	Differences []dist.Difference
}

// Error names each difference and what to do.
func (e *CheckoutError) Error() string {
	parts := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		parts[i] = fmt.Sprintf("%s %q (this checkout: %q)", d.Field, d.Have, d.Want)
	}
	return fmt.Sprintf("the parts were built from another build than this checkout makes: %s; merge in a checkout of the parts' commit, with the same Go and the same settings as the shards", strings.Join(parts, ", "))
}

// Is reports whether target is ErrRefused.
func (e *CheckoutError) Is(target error) bool { return target == ErrRefused }

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
