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
	"time"
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

// Checkout is a temporary git worktree of a repository at one commit.
type Checkout struct {
	// Dir is the folder in the worktree that is the folder Checkout was
	// asked for in the repository (a module in a subfolder keeps its
	// place).
	Dir string
	// top is the worktree's root, repo the repository's.
	top, repo string
}

// NewCheckout adds a detached worktree of the repository that holds dir,
// at commit, in a new temporary folder; the repository's own working tree
// is not touched. It returns a *CommitError when the repository lacks the
// commit. Remove it when done.
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
	wt := filepath.Join(tmp, "src")
	if _, err := git(ctx, top, "worktree", "add", "--detach", "--quiet", wt, commit); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("check out %s into a temporary worktree: %w", commit, err)
	}
	return &Checkout{Dir: filepath.Join(wt, filepath.FromSlash(prefix)), top: wt, repo: top}, nil
}

// Remove deletes the worktree and its temporary folder, and the
// repository's record of it. It runs on a fresh context of its own, so
// an interrupted rebuild still cleans up.
func (c *Checkout) Remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := git(ctx, c.repo, "worktree", "remove", "--force", c.top)
	if rmErr := os.RemoveAll(filepath.Dir(c.top)); rmErr != nil && err == nil {
		err = rmErr
	}
	if _, pruneErr := git(ctx, c.repo, "worktree", "prune"); pruneErr != nil && err == nil {
		err = pruneErr
	}
	return err
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
