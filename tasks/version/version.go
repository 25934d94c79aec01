// Package version turns a git checkout into a semantic version (the rules
// are in DESIGN.md, "Versions"), parses a version given by hand, and derives
// the image tags for a version.
package version

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Info is what a build stamps into binaries and images: the version, the
// commit it was built from, and that commit's time.
type Info struct {
	// Version is the semantic version, e.g. 1.2.3 or 1.2.3-dev.2+gabc1234.
	Version *semver.Version
	// Commit is the full commit hash of HEAD.
	Commit string
	// Date is HEAD's committer time in UTC, so builds of one commit agree.
	Date time.Time
	// Dirty is true when tracked files differ from HEAD.
	Dirty bool
	// Tag is the git tag the version came from, e.g. "v1.2.3" or
	// "services/v3.1.4"; "" when no tag is reachable (0.0.0-dev.N) or the
	// version was not read from git.
	Tag string
	// TagPrefix is the prefix the version's tags carry: "services/" for a
	// module in the repository's folder services/, "" at its root.
	TagPrefix string
	// PlainTag is, when TagPrefix is set and no tag with it is reachable,
	// the highest plain tag (vX.Y.Z) that is: the one an empty prefix would
	// use. "" otherwise.
	PlainTag string
	// Shallow is true when the repository is a shallow clone, whose
	// history and tags may be incomplete.
	Shallow bool
}

// Warnings returns the lines to show the user about how trustworthy the
// version is, or nil: the clone is shallow and no tag is reachable
// (ShallowWarning); the module's tags carry a prefix, none with it is
// reachable, but a plain tag is. The lines name no setting.
func (i Info) Warnings() []string {
	var w []string
	if i.Shallow && i.Tag == "" {
		w = append(w, ShallowWarning)
	}
	if i.Tag == "" && i.PlainTag != "" {
		w = append(w, fmt.Sprintf("no tag %sv* is reachable, but %s is: a module in %s is versioned by tags such as %sv1.2.3, as Go versions nested modules; tag it so, or set the tag prefix to empty to use %s",
			i.TagPrefix, i.PlainTag, strings.TrimSuffix(i.TagPrefix, "/"), i.TagPrefix, i.PlainTag))
	}
	return w
}

// String returns the version without a leading v (e.g. "1.2.3"), or "" when
// Version is nil.
func (i Info) String() string {
	if i.Version == nil {
		return ""
	}
	return i.Version.String()
}

// ErrNotSemver matches (errors.Is) every error Parse returns.
var ErrNotSemver = errors.New("not a semantic version")

// ParseError reports a version string that is not strict semver.
type ParseError struct {
	// Input is the string as given.
	Input string
	// Example is a valid version to show: the input coerced (1.2 -> 1.2.0)
	// when that works, else 1.2.3.
	Example string
	// Err is the semver library's reason.
	Err error
}

// Error names the input and the expected form.
func (e *ParseError) Error() string {
	return fmt.Sprintf("version %q is not semver (want X.Y.Z[-prerelease][+build], e.g. %s)", e.Input, e.Example)
}

// Unwrap returns the semver library's reason.
func (e *ParseError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotSemver) true.
func (e *ParseError) Is(target error) bool { return target == ErrNotSemver }

// Parse reads a version given by hand (e.g. a version setting): strict
// semver 2.0 (X.Y.Z, optional -prerelease and +build), with one optional
// leading "v" and surrounding spaces ignored. Shorthands such as "1.2" are
// rejected rather than guessed. On failure it returns a *ParseError
// (errors.Is ErrNotSemver) that shows a valid example.
func Parse(s string) (*semver.Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	v, err := semver.StrictNewVersion(t)
	if err != nil {
		ex := "1.2.3"
		if len(t) <= semver.MaxVersionLen {
			if c, cerr := semver.NewVersion(t); cerr == nil {
				ex = c.String()
			}
		}
		return nil, &ParseError{Input: s, Example: ex, Err: err}
	}
	return v, nil
}

// maxTagLen is the longest tag a registry accepts.
const maxTagLen = 128

// ValidTag returns nil when tag is a valid image tag
// ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), else an error naming it and the rule.
func ValidTag(tag string) error {
	if !validTag(tag) {
		return fmt.Errorf("image tag %q is invalid: want letters, digits, '_', '.' or '-', not starting with '.' or '-', at most %d characters", tag, maxTagLen)
	}
	return nil
}

// Tags returns the image tags for a build of version v in an image variant
// (e.g. "scratch"), most specific first: "<version>-<variant>", then for a
// stable release (no prerelease, no build metadata) "X.Y-<variant>" and
// "X-<variant>", then "<variant>", which moves with every build as
// DESIGN.md asks. A '+' in the version becomes '-', since tags cannot hold
// '+'. An empty variant gives "<version>", "X.Y", "X" and "latest". A nil v
// gives just the variant tag.
//
// Every returned tag is valid (see ValidTag): characters a tag cannot hold
// become '-', a leading '.' or '-' becomes '_', and an over-long version is
// cut so the "-<variant>" suffix survives. Callers that want a variant
// rejected instead of repaired check it with ValidTag first.
func Tags(v *semver.Version, variant string) []string {
	variant = sanitize(variant)
	moving := variant
	if moving == "" {
		moving = "latest"
	}
	suffix := ""
	if variant != "" {
		suffix = "-" + variant
	}
	var tags []string
	if v != nil {
		ver := strings.ReplaceAll(v.String(), "+", "-")
		tags = append(tags, withSuffix(ver, suffix))
		if v.Prerelease() == "" && v.Metadata() == "" {
			tags = append(tags,
				withSuffix(fmt.Sprintf("%d.%d", v.Major(), v.Minor()), suffix),
				withSuffix(fmt.Sprintf("%d", v.Major()), suffix))
		}
	}
	tags = append(tags, moving)
	return dedupe(tags)
}

// withSuffix joins a version and "-<variant>", cutting the version (never
// the suffix) to fit maxTagLen, and repairing anything a tag cannot hold.
func withSuffix(ver, suffix string) string {
	if len(suffix) >= maxTagLen {
		return sanitize(ver + suffix)
	}
	if len(ver)+len(suffix) > maxTagLen {
		ver = ver[:maxTagLen-len(suffix)]
	}
	return sanitize(ver + suffix)
}

// sanitize makes s a valid tag (or leaves it "").
func sanitize(s string) string {
	if s == "" {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	if b[0] == '.' || b[0] == '-' {
		b[0] = '_'
	}
	if len(b) > maxTagLen {
		b = b[:maxTagLen]
	}
	return string(b)
}

func dedupe(s []string) []string {
	out := s[:0]
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// validTag checks the tag grammar by hand: a regexp with {0,127} compiles
// to a program of 128 copies, ~1,700 allocations at every start of every
// program that imports this package.
func validTag(tag string) bool {
	if tag == "" || len(tag) > maxTagLen || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
