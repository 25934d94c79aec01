package merge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/magepack/magepack/tasks/dist"
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

// ErrDestIsPart is what Write returns (wrapped, naming the folder) when
// the destination is one of the parts.
var ErrDestIsPart = errors.New("the merged folder is one of the parts")

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
