package toolchain

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var modPathCases = []struct {
	name, gomod, want, err string
}{
	{name: "plain", gomod: "module example.com/app\n\ngo 1.22\n", want: "example.com/app"},
	{name: "comment before and after", gomod: "// the app\nmodule   example.com/a/b   // x\n", want: "example.com/a/b"},
	{name: "quoted", gomod: "module \"example.com/q\" // hi\ngo 1.22\n", want: "example.com/q"},
	{name: "raw quotes are not go.mod quotes", gomod: "module `example.com/raw`\n", err: "not a module path"},
	{name: "block form", gomod: "module (\n\n\t// the path\n\texample.com/block\n)\n\ngo 1.22\n", want: "example.com/block"},
	{name: "CRLF line ends", gomod: "module example.com/crlf\r\ngo 1.22\r\n", want: "example.com/crlf"},
	{name: "tab after keyword", gomod: "module\texample.com/tab\n", want: "example.com/tab"},
	{name: "module word in a comment only", gomod: "// module example.com/no\ngo 1.22\n", err: "no module line"},
	{name: "no module line", gomod: "go 1.22\n", err: "no module line"},
	{name: "empty file", gomod: "", err: "no module line"},
	{name: "two words", gomod: "module example.com/a b\n", err: "has a space"},
	{name: "bad quote", gomod: "module \"example.com/a\n", err: "not a valid quoted string"},
	{name: "empty block", gomod: "module (\n)\n", err: "not a module path"},
}

func TestModulePath(t *testing.T) {
	for _, tt := range modPathCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ModulePath([]byte(tt.gomod))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestModulePathAgreesWithGo reads every case with the real go command
// (go mod edit -json, what magepack ran before): where go reads a module
// path, ModulePath reads the same; where go rejects the file or finds no
// path, ModulePath fails too.
func TestModulePathAgreesWithGo(t *testing.T) {
	requireGo(t)
	for _, tt := range modPathCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o644))
			cmd := exec.Command("go", "mod", "edit", "-json")
			cmd.Dir = dir
			out, goErr := cmd.Output()
			var m struct{ Module *struct{ Path string } }
			goPath := ""
			if goErr == nil {
				require.NoError(t, json.Unmarshal(out, &m))
				if m.Module != nil {
					goPath = m.Module.Path
				}
			}
			got, err := ModulePath([]byte(tt.gomod))
			if goPath == "" {
				assert.Error(t, err, "go finds no module path (%v), so must ModulePath", goErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, goPath, got)
		})
	}
}

func FuzzModulePath(f *testing.F) {
	for _, tt := range modPathCases {
		f.Add(tt.gomod)
	}
	f.Fuzz(func(t *testing.T, gomod string) {
		p, err := ModulePath([]byte(gomod))
		if err != nil {
			assert.Empty(t, p)
			return
		}
		assert.NotEmpty(t, p)
		assert.False(t, strings.ContainsAny(p, " \t\n\r"), "path %q has white space", p)
	})
}
