package dist

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeepOutOfGit(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, KeepOutOfGit(dir))
	b, err := os.ReadFile(filepath.Join(dir, GitignoreFile))
	require.NoError(t, err)
	assert.Contains(t, string(b), "\n*\n", "ignores everything")

	t.Run("an existing .gitignore is kept", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, GitignoreFile), []byte("!keep\n"), 0o644))
		require.NoError(t, KeepOutOfGit(dir))
		b, err := os.ReadFile(filepath.Join(dir, GitignoreFile))
		require.NoError(t, err)
		assert.Equal(t, "!keep\n", string(b))
	})
}
