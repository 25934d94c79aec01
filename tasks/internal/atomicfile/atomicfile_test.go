package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestPending(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	require.NoError(t, os.WriteFile(target, []byte("previous"), 0o755))

	discarded, err := New(target)
	require.NoError(t, err)
	assert.Equal(t, dir, filepath.Dir(discarded.Path), "temporary file sits next to the target")
	assert.True(t, strings.HasPrefix(filepath.Base(discarded.Path), TempPrefix+"app-"))
	require.NoError(t, os.WriteFile(discarded.Path, []byte("broken"), 0o644))
	require.NoError(t, discarded.Discard())
	require.NoError(t, discarded.Discard(), "Discard twice is fine")
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "previous", string(got))

	committed, err := New(target)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(committed.Path, []byte("next"), 0o644))
	require.NoError(t, committed.Commit(0o755))
	require.NoError(t, committed.Discard(), "Discard after Commit is a no-op")
	got, err = os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "next", string(got))
	assert.Equal(t, []string{"app"}, names(t, dir), "no temporary file left behind")
}

func TestCommitFailureKeepsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "keep"), 0o755))
	p, err := New(target)
	require.NoError(t, err)
	err = p.Commit(0o755)
	require.Error(t, err, "a folder in the way fails the rename")
	assert.Contains(t, err.Error(), target, "the error names the target")
	fi, err := os.Stat(filepath.Join(target, "keep"))
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, []string{"app"}, names(t, dir), "the temporary file is removed")
}

func TestNewInAMissingFolder(t *testing.T) {
	target := filepath.Join(t.TempDir(), "nope", "app")
	_, err := New(target)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Dir(target), "the error names the folder")
}

func TestSum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("abc"), 0o644))
	want := sha256.Sum256([]byte("abc"))
	got, err := Sum(path)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(want[:]), got)

	_, err = Sum(path + ".missing")
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+".missing")
}
