package platform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListRealToolchain(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH:", err)
	}
	ports, err := List(t.Context(), "")
	require.NoError(t, err)
	var found *Port
	for i := range ports {
		if ports[i].GOOS == "linux" && ports[i].GOARCH == "amd64" {
			found = &ports[i]
		}
	}
	require.NotNil(t, found, "linux/amd64 missing from %v", ports)
	assert.True(t, found.FirstClass, "linux/amd64 should be first-class")
	assert.True(t, found.CgoSupported, "linux/amd64 should support cgo")

	v, err := GoVersion(t.Context(), "")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(v, "go1."), "GOVERSION %q", v)

	got, err := Parse("", ports, v)
	require.NoError(t, err, "the default platforms must exist in the real toolchain")
	assert.Len(t, got, 5)
}

func TestListErrors(t *testing.T) {
	dir := t.TempDir()
	notGo := filepath.Join(dir, "notgo")
	if _, err := exec.LookPath("false"); err != nil {
		t.Skip("no false binary:", err)
	}
	falseBin, _ := exec.LookPath("false")

	tests := []struct {
		name  string
		goBin string
		ctx   func() context.Context
		want  []string
	}{
		{"missing binary", notGo, t.Context, []string{notGo + " tool dist list -json", "install Go or put it on PATH"}},
		{"failing binary", falseBin, t.Context, []string{falseBin + " tool dist list -json", "exit status 1"}},
		{"cancelled", "go", func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, []string{"go tool dist list -json", "context canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := List(tt.ctx(), tt.goBin)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestListStderrInError(t *testing.T) {
	// The go command's own complaint must reach the user.
	script := filepath.Join(t.TempDir(), "go")
	require.NoError(t, writeScript(script, "#!/bin/sh\necho 'go: GOROOT is broken' >&2\nexit 2\n"))
	_, err := List(t.Context(), script)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go: GOROOT is broken")
	_, err = GoVersion(t.Context(), script)
	require.Error(t, err)
	assert.Contains(t, err.Error(), script+" env GOVERSION")
	assert.Contains(t, err.Error(), "go: GOROOT is broken")
}

func writeScript(path, body string) error { return os.WriteFile(path, []byte(body), 0o755) }
