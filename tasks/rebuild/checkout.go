package rebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CommitError is a commit the local repository cannot check out: it does
// not have it.
type CommitError struct {
	// Commit is the commit the provenance names.
	Commit string
	// Repo is the repository's folder.
	Repo string
	// Shallow is true for a shallow clone, which lacks older history.
	Shallow bool
}

func (e *CommitError) Error() string {
	if e.Shallow {
		return fmt.Sprintf("commit %s is not in %s, a shallow clone: fetch the history with `git fetch --unshallow` (or `git fetch origin %s`), then rebuild again", e.Commit, e.Repo, e.Commit)
	}
	return fmt.Sprintf("commit %s is not in the repository %s: fetch it (`git fetch origin %s`, or the release's tag), then rebuild again", e.Commit, e.Repo, e.Commit)
}

// Checkout is a temporary checkout of a repository at one commit.
type Checkout struct {
	// Dir is the folder in the checkout that is the folder NewCheckout
	// was asked for in the repository (a module in a subfolder keeps its
	// place).
	Dir string
	// tmp is the temporary folder that holds it.
	tmp string
}

// NewCheckout checks the repository that holds dir out at commit into a
// new temporary folder, detached: a clone that borrows the repository's
// objects (git clone --shared), so nothing is copied and nothing in the
// repository, its working tree or its list of worktrees changes. A
// clone, not a `git worktree`: the go command stamps a binary with its
// commit (vcs.revision, vcs.modified) only where .git is a folder, and a
// worktree's .git is a file. It returns a *CommitError when the
// repository lacks the commit. Remove it when done.
func NewCheckout(ctx context.Context, dir, commit string) (*Checkout, error) {
	if commit == "" {
		return nil, errors.New("no commit to check out: the provenance names none")
	}
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git repository, which a rebuild checks the commit out of: %w", dir, err)
	}
	prefix, err := git(ctx, dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	if _, err := git(ctx, top, "cat-file", "-e", commit+"^{commit}"); err != nil {
		shallow, _ := git(ctx, top, "rev-parse", "--is-shallow-repository")
		return nil, &CommitError{Commit: commit, Repo: top, Shallow: shallow == "true"}
	}
	tmp, err := os.MkdirTemp("", "magepack-rebuild-")
	if err != nil {
		return nil, err
	}
	c := &Checkout{tmp: tmp}
	src := filepath.Join(tmp, "src")
	if _, err := git(ctx, tmp, "clone", "--quiet", "--shared", "--no-checkout", top, src); err != nil {
		c.Remove()
		return nil, fmt.Errorf("check %s out into a temporary folder: %w", commit, err)
	}
	if _, err := git(ctx, src, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit); err != nil {
		c.Remove()
		return nil, fmt.Errorf("check %s out into a temporary folder: %w", commit, err)
	}
	c.Dir = filepath.Join(src, filepath.FromSlash(prefix))
	return c, nil
}

// Remove deletes the checkout. It needs no context: an interrupted
// rebuild still cleans up.
func (c *Checkout) Remove() error {
	return os.RemoveAll(c.tmp)
}

// git runs git in dir and returns its trimmed output, or an error with
// its stderr.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
