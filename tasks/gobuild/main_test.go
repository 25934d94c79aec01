package gobuild

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const libFile = "package lib\n"

func TestFindMain(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
		err   []string // substrings of the *NoMainError message
	}{
		{
			name:  "root is package main",
			files: map[string]string{"main.go": helloMain, "cmd/other/main.go": helloMain},
			want:  ".",
		},
		{
			name:  "the only cmd main",
			files: map[string]string{"lib.go": libFile, "cmd/app/main.go": helloMain, "cmd/app/internal/x/x.go": "package x\n", "cmd/tool/lib.go": "package tool\n"},
			want:  "./cmd/app",
		},
		{
			name:  "two cmd mains",
			files: map[string]string{"lib.go": libFile, "cmd/a/main.go": helloMain, "cmd/b/main.go": helloMain},
			err:   []string{"several main packages (./cmd/a, ./cmd/b)", "choose ./cmd/... to build them all"},
		},
		{
			name:  "no main at all",
			files: map[string]string{"lib.go": libFile},
			err:   []string{"no main package in module", "neither the root nor any folder below it is package main"},
		},
		{
			name:  "a main outside cmd is suggested, not picked",
			files: map[string]string{"lib.go": libFile, "server/main.go": helloMain},
			err:   []string{"./server is one: choose it"},
		},
		{
			name:  "a main nested deeper under cmd is not a cmd main",
			files: map[string]string{"lib.go": libFile, "cmd/tools/gen/main.go": helloMain},
			err:   []string{"./cmd/tools/gen is one"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeModule(t, dir, tc.files)
			got, err := FindMain(context.Background(), dir)
			if tc.err == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.ErrorIs(t, err, ErrNoMain)
			var nm *NoMainError
			require.ErrorAs(t, err, &nm)
			for _, w := range tc.err {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), dir)
			assert.NotContains(t, err.Error(), "MAGEPACK_", "the caller adds the setting's name")
		})
	}
}

func TestValidateMain(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{
		"lib.go":           libFile,
		"cmd/app/main.go":  helloMain,
		"cmd/empty/README": "no Go here\n",
		"notes.txt":        "a file\n",
	})
	tests := []struct {
		name string
		main string
		want string // "" = valid
	}{
		{name: "cmd main", main: "./cmd/app"},
		{name: "cmd main without ./", main: "cmd/app"},
		{name: "missing folder", main: "./cmd/nope", want: `main package "./cmd/nope" in module ` + `"` + dir + `" does not exist`},
		{name: "not package main", main: ".", want: "is package lib, not main"},
		{name: "no Go files", main: "./cmd/empty", want: "cannot be loaded"},
		{name: "a file", main: "notes.txt", want: "is a file, not a package folder"},
		{name: "outside the module", main: "../elsewhere", want: "is outside the module"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateMain(context.Background(), dir, tc.main)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrNoMain)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "MAGEPACK_", "the caller adds the setting's name")
		})
	}
}

func TestModuleRootAndPath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"main.go": helloMain, "internal/x/x.go": "package x\n"})
	root, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)

	for _, from := range []string{dir, filepath.Join(dir, "internal", "x")} {
		got, err := ModuleRoot(ctx, from)
		require.NoError(t, err)
		gotReal, err := filepath.EvalSymlinks(got)
		require.NoError(t, err)
		assert.Equal(t, root, gotReal, "from %s", from)

		path, err := ModulePath(ctx, from)
		require.NoError(t, err)
		assert.Equal(t, "example.com/hello", path)
	}

	t.Run("outside a module", func(t *testing.T) {
		outside := t.TempDir()
		t.Setenv("GOWORK", "off")
		require.NoError(t, os.WriteFile(filepath.Join(outside, "x.go"), []byte("package x\n"), 0o644))
		_, err := ModuleRoot(ctx, outside)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no go.mod in")
		assert.Contains(t, err.Error(), "go mod init")
		_, err = ModulePath(ctx, outside)
		require.Error(t, err)
	})
}
