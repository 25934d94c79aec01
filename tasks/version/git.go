package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
)

// ShortLen is how many hex digits of the commit hash go into a development
// version's build metadata ("+g" + 7 digits). It is fixed rather than
// git's --short, whose length grows with the number of objects in a clone,
// so the same commit gets the same version on every machine; the full hash
// is in Info.Commit and the image's revision label.
const ShortLen = 7

// ErrNoGit matches (errors.Is) a *NoGitError: no version can be read from
// git here.
var ErrNoGit = errors.New("no version information from git")

// NoGitError reports why git cannot supply a version: git is missing, the
// directory is not in a repository, or the repository has no commits.
type NoGitError struct {
	// Dir is the directory that was asked.
	Dir string
	// Reason says what is missing, e.g. "not a git repository".
	Reason string
	// Fix says what to do about it besides setting the version by hand.
	Fix string
	// Err is the underlying error, if any.
	Err error
}

// Error names the directory, the reason and the fix. It names no setting:
// the caller adds how to give the version by hand.
func (e *NoGitError) Error() string {
	return fmt.Sprintf("no version from git in %s: %s; %s", e.Dir, e.Reason, e.Fix)
}

// Unwrap returns the underlying error.
func (e *NoGitError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoGit) true.
func (e *NoGitError) Is(target error) bool { return target == ErrNoGit }

// ShallowWarning is Info.Warnings' line for a shallow clone in which no
// version tag is reachable.
const ShallowWarning = "the clone is shallow and no tag is reachable: the version may be wrong; fetch tags and history (git fetch --tags --unshallow, or fetch-depth: 0 in actions/checkout)"

// Option adjusts how FromGit reads the version.
type Option func(*options)

type options struct {
	prefix    string
	prefixSet bool
}

// WithTagPrefix makes FromGit read versions from tags named
// <prefix>vX.Y.Z instead of the prefix it derives from the module's
// folder; "" means plain vX.Y.Z tags. A prefix without a trailing "/" gets
// one ("services" means "services/").
func WithTagPrefix(prefix string) Option {
	return func(o *options) {
		o.prefix = NormalizeTagPrefix(prefix)
		o.prefixSet = true
	}
}

// NormalizeTagPrefix returns prefix with surrounding spaces and "/" trimmed
// and one "/" appended, or "" for an empty (or all-slash) prefix:
// "services" and "/services/" give "services/".
func NormalizeTagPrefix(prefix string) string {
	p := strings.Trim(strings.TrimSpace(prefix), "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// FromGit reads the version of the Go module at dir ("" means the current
// directory) from its git repository, following DESIGN.md:
//
//   - HEAD on tag vX.Y.Z: X.Y.Z (a tag's own prerelease and build metadata
//     are kept, e.g. v1.0.0-rc.1 gives 1.0.0-rc.1).
//   - N commits past the newest tag: X.Y.Z-dev.N+g<sha>; past a prerelease
//     tag the dev part is appended, X.Y.Z-rc.1.dev.N+g<sha>, so it still
//     sorts after the tag. The patch is not bumped: the rule is DESIGN.md's.
//   - no tag: 0.0.0-dev.N+g<sha>, N counting every commit.
//   - uncommitted changes to tracked files add "dirty" to the build
//     metadata: 1.2.3+dirty, 1.2.3-dev.2+gabc1234.dirty.
//
// Tags carry a prefix when the module is nested, as Go versions nested
// modules: the module root is the nearest folder at or above dir holding a
// go.mod (the repository's top when none does), and when it is the
// repository's folder services/ only tags services/vX.Y.Z count (giving
// X.Y.Z).
// WithTagPrefix overrides the prefix. Info.Tag names the tag used and
// Info.TagPrefix the prefix.
//
// "Newest tag" means the highest semver among the prefix's tags reachable
// from HEAD, whether lightweight or annotated, with or without the leading
// v; tags that are not semver (release-1, v1.2) are ignored. <sha> is the
// first ShortLen digits of HEAD's hash.
//
// Only tracked files count as changes (git status --untracked-files=no):
// build outputs such as dist/ or an editor's swap file must not turn a
// release build into a dirty one. A new file counts once it is staged.
//
// A shallow clone sees only the tags and commits it fetched, so N (and the
// tag found) can differ from a full clone's. Info.Shallow says the clone is
// shallow, and Info.Warnings says the version may be wrong when no tag is
// reachable in it.
//
// It runs three git processes on a tag and four past one (five when more
// than devCountLimit commits follow the tag).
//
// When git is missing, dir is not in a repository, or the repository has no
// commits, FromGit returns a *NoGitError (errors.Is ErrNoGit) that says
// what to do besides giving the version by hand. Other git failures carry
// git's stderr.
func FromGit(ctx context.Context, dir string, opts ...Option) (Info, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	g := gitRunner{dir: dir}
	head, err := g.head(ctx)
	if err != nil {
		return Info{}, err
	}
	info := Info{Commit: head.commit, Shallow: head.shallow, TagPrefix: o.prefix}
	if !o.prefixSet {
		info.TagPrefix = modulePrefix(dir, head.prefix)
	}

	// git status walks the work tree while the tags and the commits since
	// are read: neither needs the other's answer.
	var (
		wg        sync.WaitGroup
		status    string
		statusErr error
	)
	wg.Go(func() { status, statusErr = g.run(ctx, "status", "--porcelain", "--untracked-files=no") })
	best, n, date, err := g.sinceTag(ctx, head.commit, info.TagPrefix)
	wg.Wait()
	if statusErr != nil {
		return Info{}, statusErr
	}
	if err != nil {
		return Info{}, err
	}
	info.Dirty = strings.TrimSpace(status) != ""
	info.Tag, info.Date = best.name, date
	if best.name == "" && info.TagPrefix != "" {
		info.PlainTag = best.plain
	}

	v, err := compose(best.version, n, head.commit[:ShortLen], info.Dirty)
	if err != nil {
		return Info{}, fmt.Errorf("version from git in %s: %w", g.where(), err)
	}
	info.Version = v
	return info, nil
}

// modulePrefix is the tag prefix of the module at dir, given dir's path
// relative to the repository's top ("services/cmd/" as git's
// --show-prefix prints it): the path of the nearest folder at or above dir
// holding a go.mod, plus "/"; "" when that is the top, or when no folder
// up to the top holds one.
func modulePrefix(dir, rel string) string {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	if parts[0] == "" {
		return ""
	}
	up := dir
	if up == "" {
		up = "."
	}
	for i := len(parts); i > 0; i-- {
		if fi, err := os.Stat(filepath.Join(up, "go.mod")); err == nil && !fi.IsDir() {
			return strings.Join(parts[:i], "/") + "/"
		}
		up = filepath.Join(up, "..")
	}
	return ""
}

// compose applies DESIGN.md's rules to the newest tag's version (nil for
// none) and the number of commits since it (or in all, without a tag).
func compose(tag *semver.Version, n int, short string, dirty bool) (*semver.Version, error) {
	var s string
	switch {
	case tag != nil && n == 0:
		s = tag.String()
		switch {
		case dirty && tag.Metadata() != "":
			s += ".dirty"
		case dirty:
			s += "+dirty"
		}
	default:
		base, pre := "0.0.0", ""
		if tag != nil {
			base = fmt.Sprintf("%d.%d.%d", tag.Major(), tag.Minor(), tag.Patch())
			if tag.Prerelease() != "" {
				pre = tag.Prerelease() + "."
			}
		}
		s = fmt.Sprintf("%s-%sdev.%d+g%s", base, pre, n, short)
		if dirty {
			s += ".dirty"
		}
	}
	return semver.StrictNewVersion(s)
}

// gitRunner runs git in one directory with a fixed locale, so messages can
// be recognised, and without optional locks, so a version lookup never
// races a concurrent git command over the index.
type gitRunner struct{ dir string }

func (g gitRunner) where() string {
	if g.dir == "" {
		return "the current directory"
	}
	return strconv.Quote(g.dir)
}

// gitError is a failed git command with its stderr.
type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	msg := "git " + strings.Join(e.args, " ") + ": " + e.err.Error()
	if e.stderr != "" {
		msg += ": " + e.stderr
	}
	return msg
}

func (e *gitError) Unwrap() error { return e.err }

func (g gitRunner) run(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_OPTIONAL_LOCKS=0")
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", fmt.Errorf("version from git in %s: %w", g.where(), &gitError{args: args, err: err, stderr: strings.TrimSpace(stderr.String())})
	}
	return stdout.String(), nil
}

// headInfo is what one `git rev-parse` tells about the checkout.
type headInfo struct {
	prefix  string // dir relative to the repository's top, "services/" ("" at the top)
	shallow bool
	commit  string // HEAD's full hash
}

// head asks git, in one process, where dir is in its repository, whether
// the clone is shallow and which commit HEAD is, and turns the usual
// reasons git has no answer into a *NoGitError.
func (g gitRunner) head(ctx context.Context) (headInfo, error) {
	if g.dir != "" {
		if fi, err := os.Stat(g.dir); err != nil {
			return headInfo{}, fmt.Errorf("version from git: %w", err)
		} else if !fi.IsDir() {
			return headInfo{}, fmt.Errorf("version from git: %s is not a directory", g.where())
		}
	}
	noGit := func(reason, fix string, err error) error {
		return &NoGitError{Dir: g.where(), Reason: reason, Fix: fix, Err: err}
	}
	// rev-parse --verify -q exits 1 silently for an unborn HEAD, after
	// printing the answers to the other options.
	out, err := g.run(ctx, "rev-parse", "--show-prefix", "--is-shallow-repository", "--verify", "-q", "HEAD^{commit}")
	var (
		ge *gitError
		ee *exec.ExitError
	)
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		return headInfo{}, noGit("git is not installed or not on PATH", "install git", err)
	case errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository"):
		return headInfo{}, noGit("not a git repository", "run inside a git repository", err)
	case errors.As(err, &ee) && ee.ExitCode() == 1 && errors.As(err, &ge) && ge.stderr == "":
		return headInfo{}, noGit("the repository has no commits yet", "commit once", err)
	default:
		return headInfo{}, err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || len(lines[2]) < ShortLen || (lines[1] != "true" && lines[1] != "false") {
		return headInfo{}, fmt.Errorf("git rev-parse in %s: unexpected output %q", g.where(), out)
	}
	return headInfo{prefix: lines[0], shallow: lines[1] == "true", commit: lines[2]}, nil
}

// sinceTag finds the highest tag named prefix<semver> reachable from HEAD
// (and, for want of one, the highest without the prefix: plain), then the
// commits since it and HEAD's committer time.
func (g gitRunner) sinceTag(ctx context.Context, head, prefix string) (best tagRef, n int, date time.Time, err error) {
	tags, err := g.tags(ctx)
	if err != nil {
		return tagRef{}, 0, time.Time{}, err
	}
	best = highestTag(tags, prefix)
	if best.name == "" && prefix != "" {
		best.plain = highestTag(tags, "").name
	}
	date = best.date
	if best.name == "" || best.commit != head || date.IsZero() {
		exclude := ""
		if best.name != "" {
			exclude = "refs/tags/" + best.name
		}
		if n, date, err = g.since(ctx, head, exclude); err != nil {
			return tagRef{}, 0, time.Time{}, err
		}
	}
	return best, n, date, nil
}

// tagRef is a tag reachable from HEAD.
type tagRef struct {
	name    string // without refs/tags/
	commit  string // the commit it points at (peeled once for annotated tags)
	date    time.Time
	version *semver.Version // nil until highestTag parses it
	plain   string          // sinceTag's highest tag without the prefix, when none has it
}

// tags lists the tags reachable from HEAD with the commit each points at
// and that commit's time, in one process.
func (g gitRunner) tags(ctx context.Context) ([]tagRef, error) {
	out, err := g.run(ctx, "for-each-ref", "--merged", "HEAD",
		"--format=%(refname)%09%(objectname)%09%(*objectname)%09%(committerdate:unix)%09%(*committerdate:unix)", "refs/tags/")
	if err != nil {
		return nil, err
	}
	var tags []tagRef
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			continue
		}
		name, ok := strings.CutPrefix(f[0], "refs/tags/")
		if !ok || name == "" {
			continue
		}
		t := tagRef{name: name, commit: f[1]}
		ts := f[3]
		if f[2] != "" { // annotated: the tag object's target
			t.commit, ts = f[2], f[4]
		}
		if secs, err := strconv.ParseInt(ts, 10, 64); err == nil {
			t.date = time.Unix(secs, 0).UTC()
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// devCountLimit bounds the commits since lists to count them; past it,
// one more process counts them.
const devCountLimit = 10000

// since counts the commits reachable from HEAD but not from exclude (a
// ref; "" counts every commit) and returns HEAD's committer time, in one
// process unless more than devCountLimit commits are counted.
func (g gitRunner) since(ctx context.Context, head, exclude string) (int, time.Time, error) {
	args := []string{"rev-list", "--timestamp", "--max-count=" + strconv.Itoa(devCountLimit+1), "HEAD"}
	if exclude != "" {
		args = append(args, "^"+exclude)
	}
	out, err := g.run(ctx, args...)
	if err != nil {
		return 0, time.Time{}, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secs, hash, _ := strings.Cut(lines[0], " ")
	ts, perr := strconv.ParseInt(secs, 10, 64)
	if lines[0] == "" || hash != head || perr != nil {
		// HEAD is not in the range (a tag of a tag on HEAD): no commits
		// since, and HEAD's time asked for directly.
		out, err := g.run(ctx, "rev-list", "--timestamp", "--max-count=1", "HEAD")
		if err != nil {
			return 0, time.Time{}, err
		}
		secs, _, _ := strings.Cut(strings.TrimSpace(out), " ")
		if ts, err = strconv.ParseInt(secs, 10, 64); err != nil {
			return 0, time.Time{}, fmt.Errorf("git rev-list HEAD in %s: unexpected output %q", g.where(), out)
		}
		return 0, time.Unix(ts, 0).UTC(), nil
	}
	n := len(lines)
	if n > devCountLimit {
		rng := "HEAD"
		if exclude != "" {
			rng = exclude + "..HEAD"
		}
		out, err := g.run(ctx, "rev-list", "--count", rng)
		if err != nil {
			return 0, time.Time{}, err
		}
		if n, err = strconv.Atoi(strings.TrimSpace(out)); err != nil {
			return 0, time.Time{}, fmt.Errorf("git rev-list --count %s in %s: unexpected output %q", rng, g.where(), out)
		}
	}
	return n, time.Unix(ts, 0).UTC(), nil
}

// highestTag returns the tag named <prefix><semver> with the highest
// version among tags, or a zero tagRef when there is none. Ties (v1.2.3
// and 1.2.3, or versions differing only in build metadata) go to the name
// that sorts first, so the answer does not depend on git's listing order.
func highestTag(tags []tagRef, prefix string) tagRef {
	var best tagRef
	for _, t := range tags {
		rest, ok := strings.CutPrefix(t.name, prefix)
		if !ok {
			continue
		}
		v, err := Parse(rest)
		if err != nil {
			continue
		}
		if c := compareVersion(v, best.version); c > 0 || c == 0 && t.name < best.name {
			t.version = v
			best = t
		}
	}
	return best
}

// compareVersion orders a against b with nil lowest.
func compareVersion(a, b *semver.Version) int {
	switch {
	case b == nil && a == nil:
		return 0
	case b == nil:
		return 1
	case a == nil:
		return -1
	}
	return a.Compare(b)
}
