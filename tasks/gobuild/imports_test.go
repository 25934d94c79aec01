package gobuild

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportsNoBookkeeping keeps gobuild to running go build: the shard
// selection and the artifacts.json build record are the callers' (shard,
// dist), so no non-test file of this package, whatever its build tags,
// imports them.
func TestImportsNoBookkeeping(t *testing.T) {
	forbidden := []string{
		"github.com/magepack/magepack/tasks/dist",
		"github.com/magepack/magepack/tasks/shard",
	}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fset := token.NewFileSet()
	files := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(".", name), nil, parser.ImportsOnly)
		require.NoError(t, err)
		files++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			for _, bad := range forbidden {
				assert.False(t, path == bad || strings.HasPrefix(path, bad+"/"), "%s imports %s", name, path)
			}
		}
	}
	require.Greater(t, files, 5, "the package's own files were read")
}
