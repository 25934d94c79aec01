package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSum(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(path, []byte("abc"), 0o644))
	got, err := Sum(path)
	require.NoError(t, err)
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", got)

	_, err = Sum(filepath.Join(dir, "missing"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing"))
}

func TestWriteChecksumsVerifiedBySha256sum(t *testing.T) {
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum (coreutils) is not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"app_windows_amd64.exe": "MZ windows",
		"app_linux_amd64":       "\x7fELF linux",
		"app_darwin_arm64":      "",
		"name with spaces":      "spaces are fine for sha256sum",
	}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755))
	}
	// Mixed forms: bare names and paths into dir; a duplicate collapses.
	list := []string{"app_windows_amd64.exe", filepath.Join(dir, "app_linux_amd64"), "app_darwin_arm64", "name with spaces", "app_linux_amd64"}
	require.NoError(t, WriteChecksums(dir, list))

	data, err := os.ReadFile(filepath.Join(dir, ChecksumsFile))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 4)
	var names []string
	for _, l := range lines {
		sum, name, ok := strings.Cut(l, "  ")
		require.True(t, ok, "line %q has the two-space separator", l)
		assert.Len(t, sum, 64)
		names = append(names, name)
	}
	assert.Equal(t, []string{"app_darwin_arm64", "app_linux_amd64", "app_windows_amd64.exe", "name with spaces"}, names, "sorted by name")

	cmd := exec.Command(sha256sum, "--strict", "-c", ChecksumsFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sha256sum -c: %s", out)
	assert.Equal(t, 4, strings.Count(string(out), ": OK"), string(out))

	// A changed binary must fail verification: the sums are real.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app_linux_amd64"), []byte("tampered"), 0o755))
	cmd = exec.Command(sha256sum, "-c", ChecksumsFile)
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "app_linux_amd64: FAILED")
}

func TestWriteChecksumsErrors(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "elsewhere"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, `back\slash`), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ChecksumsFile), []byte("previous\n"), 0o644))

	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{name: "file outside dist", files: []string{filepath.Join(other, "elsewhere")}, want: "is not in dist"},
		{name: "missing file", files: []string{"missing"}, want: filepath.Join(dir, "missing")},
		{name: "unreadable name", files: []string{`back\slash`}, want: "newline or backslash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteChecksums(dir, tc.files)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			got, err := os.ReadFile(filepath.Join(dir, ChecksumsFile))
			require.NoError(t, err)
			assert.Equal(t, "previous\n", string(got), "a failed write keeps the old SHA256SUMS")
		})
	}
}
