package toolchain

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireGo skips when there is no go command to ask.
func requireGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH:", err)
	}
}

// module writes a go.mod declaring path into a new temp folder and returns
// the folder.
func module(t testing.TB, path string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+path+"\n\ngo 1.22\n"), 0o644))
	return dir
}

// goEnv asks the real go for the variables in dir in its plain form (one
// value per line), the way magepack asked before the probe.
func goEnv(t *testing.T, dir string, env []string, names []string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"env"}, names...)...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	require.NoError(t, err, "go env")
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(names))
	m := map[string]string{}
	for i, n := range names {
		m[n] = lines[i]
	}
	return m
}

// TestProbeMatchesGoEnv checks that the one go env -json call reports, for
// every variable, what `go env VAR` reports on its own, in and outside a
// module and with the environment set.
func TestProbeMatchesGoEnv(t *testing.T) {
	requireGo(t)
	mod := module(t, "example.com/probe")
	sub := filepath.Join(mod, "internal", "x")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	outside := t.TempDir()

	tests := []struct {
		name string
		dir  string
		env  []string // nil: the process environment
		want map[string]string
	}{
		{name: "module root", dir: mod, want: map[string]string{"GOMOD": filepath.Join(mod, "go.mod")}},
		{name: "module subfolder", dir: sub, want: map[string]string{"GOMOD": filepath.Join(mod, "go.mod")}},
		{name: "outside a module", dir: outside, env: append(os.Environ(), "GOWORK=off", "GO111MODULE=on"), want: map[string]string{"GOMOD": os.DevNull}},
		{
			name: "environment wins",
			dir:  mod,
			env:  append(os.Environ(), "GOFLAGS=-mod=mod", "GOOS=windows", "GOARCH=arm64", "CC=my-cc", "CGO_ENABLED=0"),
			want: map[string]string{"GOFLAGS": "-mod=mod", "GOOS": "windows", "GOARCH": "arm64", "GOEXE": ".exe", "CC": "my-cc", "CGO_ENABLED": "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Probe(t.Context(), tt.dir, WithEnv(tt.env))
			require.NoError(t, err)
			got := envMap(t, info.Env)
			require.Len(t, got, len(Vars), "every variable in Vars is a field of Env")
			assert.Equal(t, goEnv(t, tt.dir, tt.env, Vars), got)
			for name, want := range tt.want {
				assert.Equal(t, want, got[name], "%s", name)
			}
			assert.Equal(t, "go", info.Go)
			assert.True(t, filepath.IsAbs(info.Dir))
		})
	}
}

// envMap turns Env into name → value through its JSON form, the same names
// go env -json uses.
func envMap(t *testing.T, e Env) map[string]string {
	t.Helper()
	m := map[string]string{}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestModuleRootAndPath(t *testing.T) {
	requireGo(t)
	mod := module(t, "example.com/root/v2")
	sub := filepath.Join(mod, "cmd", "app")
	require.NoError(t, os.MkdirAll(sub, 0o755))

	info, err := Probe(t.Context(), sub)
	require.NoError(t, err)
	root, err := info.ModuleRoot()
	require.NoError(t, err)
	assert.Equal(t, mod, root)
	p, err := info.ModulePath()
	require.NoError(t, err)
	assert.Equal(t, "example.com/root/v2", p)
	assert.True(t, info.InModule())

	outside, err := Probe(t.Context(), t.TempDir(), WithEnv(append(os.Environ(), "GOWORK=off")))
	require.NoError(t, err)
	_, err = outside.ModuleRoot()
	var nm *NoModuleError
	require.ErrorAs(t, err, &nm)
	assert.ErrorIs(t, err, ErrNoModule)
	assert.Contains(t, err.Error(), "go mod init")
	_, err = outside.ModulePath()
	assert.ErrorIs(t, err, ErrNoModule)

	// A go.mod that loses its module line after the probe.
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("go 1.22\n"), 0o644))
	_, err = info.ModulePath()
	var mf *ModFileError
	require.ErrorAs(t, err, &mf)
	assert.Equal(t, filepath.Join(mod, "go.mod"), mf.Path)
	assert.Contains(t, err.Error(), "has no module line: add one")
}

func TestProbeErrors(t *testing.T) {
	requireGo(t)
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false command:", err)
	}
	tests := []struct {
		name  string
		goBin string
		want  string
	}{
		{"go missing", filepath.Join(t.TempDir(), "no-go"), "install Go or put it on PATH"},
		{"go fails", falseBin, "exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Probe(t.Context(), t.TempDir(), WithGo(tt.goBin))
			var ce *CommandError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.goBin, ce.Args[0])
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "env -json")
		})
	}

	// A go that prints something other than JSON.
	fake := filepath.Join(t.TempDir(), "go")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho not json\n"), 0o755))
	_, err = Probe(t.Context(), t.TempDir(), WithGo(fake))
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "decode its output")
	assert.False(t, errors.Is(err, ErrNoModule))
}
