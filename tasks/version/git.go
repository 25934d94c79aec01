package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// Error names the directory, the reason and the fix.
func (e *NoGitError) Error() string {
	return fmt.Sprintf("no version from git in %s: %s; %s, or set MAGEPACK_VERSION", e.Dir, e.Reason, e.Fix)
}

// Unwrap returns the underlying error.
func (e *NoGitError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoGit) true.
func (e *NoGitError) Is(target error) bool { return target == ErrNoGit }

// FromGit reads the version of the checkout at dir ("" means the current
// directory) with the git command, following DESIGN.md:
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
// "Newest tag" means the highest semver among tags reachable from HEAD
// (git tag --merged HEAD), whether lightweight or annotated, with or
// without the leading v; tags that are not semver (release-1, v1.2) are
// ignored. <sha> is the first ShortLen digits of HEAD's hash.
//
// Only tracked files count as changes (git status --untracked-files=no):
// build outputs such as dist/ or an editor's swap file must not turn a
// release build into a dirty one. A new file counts once it is staged.
//
// A shallow clone sees only the tags and commits it fetched, so N (and the
// tag found) can differ from a full clone's; CI should fetch tags and
// enough history (e.g. fetch-depth: 0).
//
// When git is missing, dir is not in a repository, or the repository has no
// commits, FromGit returns a *NoGitError (errors.Is ErrNoGit) that says to
// set the version by hand. Other git failures carry git's stderr.
func FromGit(ctx context.Context, dir string) (Info, error) {
	g := gitRunner{dir: dir}
	if err := g.check(ctx); err != nil {
		return Info{}, err
	}

	out, err := g.run(ctx, "-c", "log.showSignature=false", "show", "-s", "--format=%H%n%ct", "HEAD")
	if err != nil {
		return Info{}, err
	}
	commit, epoch, _ := strings.Cut(strings.TrimSpace(out), "\n")
	secs, err := strconv.ParseInt(strings.TrimSpace(epoch), 10, 64)
	if err != nil || len(commit) < ShortLen {
		return Info{}, fmt.Errorf("git show HEAD in %s: unexpected output %q", g.where(), out)
	}
	info := Info{Commit: commit, Date: time.Unix(secs, 0).UTC()}

	status, err := g.run(ctx, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return Info{}, err
	}
	info.Dirty = strings.TrimSpace(status) != ""

	tag, tagVer, err := g.highestTag(ctx)
	if err != nil {
		return Info{}, err
	}
	rng := "HEAD"
	if tag != "" {
		rng = "refs/tags/" + tag + "..HEAD"
	}
	out, err = g.run(ctx, "rev-list", "--count", rng)
	if err != nil {
		return Info{}, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return Info{}, fmt.Errorf("git rev-list --count %s in %s: unexpected output %q", rng, g.where(), out)
	}

	v, err := compose(tagVer, n, commit[:ShortLen], info.Dirty)
	if err != nil {
		return Info{}, fmt.Errorf("version from git in %s: %w", g.where(), err)
	}
	info.Version = v
	return info, nil
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

// check turns the usual reasons git has no answer into a *NoGitError.
func (g gitRunner) check(ctx context.Context) error {
	if g.dir != "" {
		if fi, err := os.Stat(g.dir); err != nil {
			return fmt.Errorf("version from git: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("version from git: %s is not a directory", g.where())
		}
	}
	noGit := func(reason, fix string, err error) error {
		return &NoGitError{Dir: g.where(), Reason: reason, Fix: fix, Err: err}
	}
	_, err := g.run(ctx, "rev-parse", "--git-dir")
	var ge *gitError
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		return noGit("git is not installed or not on PATH", "install git", err)
	case errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository"):
		return noGit("not a git repository", "run inside a git repository", err)
	default:
		return err
	}
	// rev-parse --verify -q exits 1 silently for an unborn HEAD.
	_, err = g.run(ctx, "rev-parse", "-q", "--verify", "HEAD^{commit}")
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() == 1 && errors.As(err, &ge) && ge.stderr == "":
		return noGit("the repository has no commits yet", "commit once", err)
	default:
		return err
	}
}

// highestTag returns the highest semver tag reachable from HEAD and its
// version, or "" and nil when there is none. Ties (v1.2.3 and 1.2.3, or
// versions differing only in build metadata) go to the name that sorts
// first, so the answer does not depend on git's listing order.
func (g gitRunner) highestTag(ctx context.Context) (string, *semver.Version, error) {
	out, err := g.run(ctx, "for-each-ref", "--merged", "HEAD", "--format=%(refname)", "refs/tags/")
	if err != nil {
		return "", nil, err
	}
	var (
		best    string
		bestVer *semver.Version
	)
	for _, ref := range strings.Split(out, "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(ref), "refs/tags/")
		if !ok || name == "" {
			continue
		}
		v, err := Parse(name)
		if err != nil {
			continue
		}
		if c := compareVersion(v, bestVer); c > 0 || c == 0 && name < best {
			best, bestVer = name, v
		}
	}
	return best, bestVer, nil
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
