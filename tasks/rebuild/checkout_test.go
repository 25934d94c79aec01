package rebuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

func TestCheckout(t *testing.T) {
	ctx := context.Background()
	repo := filepath.Join(t.TempDir(), "repo")
	g := fixture.GitInit(t, repo)
	fixture.WriteFiles(t, repo, map[string]string{"svc/main.go": "package main\n", "README": "one\n"})
	first := g.Commit("one")
	fixture.WriteFiles(t, repo, map[string]string{"README": "two\n"})
	g.Commit("two")
	// An uncommitted change the checkout must neither see nor touch.
	fixture.WriteFiles(t, repo, map[string]string{"README": "edited\n"})

	c, err := NewCheckout(ctx, filepath.Join(repo, "svc"), first)
	require.NoError(t, err)
	assert.Equal(t, "svc", filepath.Base(c.Dir), "a subfolder keeps its place in the worktree")
	data, err := os.ReadFile(filepath.Join(c.Dir, "..", "README"))
	require.NoError(t, err)
	assert.Equal(t, "one\n", string(data), "the recorded commit, not HEAD")
	out, err := git(ctx, c.Dir, "version")
	require.NoError(t, err)
	assert.NotEmpty(t, out)
	assert.DirExists(t, filepath.Join(c.Dir, "..", ".git"), "a .git folder, which go build stamps vcs.* from")
	status, err := git(ctx, c.Dir, "status", "--porcelain")
	require.NoError(t, err)
	assert.Empty(t, status, "a clean checkout")

	require.NoError(t, c.Remove())
	assert.NoDirExists(t, c.Dir)
	assert.Len(t, strings.Split(g.Run("worktree", "list"), "\n"), 1, "no worktree added")
	data, err = os.ReadFile(filepath.Join(repo, "README"))
	require.NoError(t, err)
	assert.Equal(t, "edited\n", string(data), "the user's working tree is untouched")

	missing := "0123456789abcdef0123456789abcdef01234567"
	_, err = NewCheckout(ctx, repo, missing)
	var ce *CommitError
	require.ErrorAs(t, err, &ce)
	assert.False(t, ce.Shallow)
	assert.Contains(t, err.Error(), "git fetch origin "+missing)

	shallow := filepath.Join(t.TempDir(), "shallow")
	g.Run("clone", "-q", "--depth=1", "file://"+repo, shallow)
	_, err = NewCheckout(ctx, shallow, first)
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Shallow)
	assert.Contains(t, err.Error(), "a shallow clone")
	assert.Contains(t, err.Error(), "git fetch --unshallow")
}
