package vulncheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build compiles main (a main package's source) with ldflags into dir and
// returns the binary.
func build(t *testing.T, dir, name, main, ldflags string) string {
	t.Helper()
	src := filepath.Join(dir, "src-"+name)
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/twin\n\ngo 1.25\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(main), 0o644))
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+ldflags, "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

func TestSameCode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds binaries")
	}
	dir := t.TempDir()
	const hello = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
	shipped := build(t, dir, "shipped", hello, "-s -w -buildid=")
	twin := build(t, dir, "twin", hello, "-s -w -buildid= "+KeepSymbolsFlag)
	other := build(t, dir, "other", "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n", "-s -w -buildid= "+KeepSymbolsFlag)

	assert.NoError(t, SameCode(shipped, twin), "the twin is the shipped build with its symbol table")
	err := SameCode(shipped, other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hold different functions")

	// The same functions with other code: main.main grows.
	longer := build(t, dir, "longer", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\"); fmt.Println(\"world\", 3) }\n", "-s -w -buildid= "+KeepSymbolsFlag)
	err = SameCode(shipped, longer)
	require.Error(t, err, "a twin of other code with the same function names")
	assert.Contains(t, err.Error(), "main.main at")

	// The twin has what govulncheck needs and the shipped binary lacks.
	a, _ := os.Stat(shipped)
	b, _ := os.Stat(twin)
	assert.Greater(t, b.Size(), a.Size(), "the symbol table")

	notGo := filepath.Join(dir, "script")
	require.NoError(t, os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755))
	assert.ErrorIs(t, SameCode(notGo, twin), ErrNoFuncTable)
}
