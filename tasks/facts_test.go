package tasks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/plan"
)

// TestSourcesAskedAhead checks that the mains and git asked while go env
// runs are used when the run starts in the module root, and dropped when
// it starts elsewhere, where they were asked in the wrong folder.
func TestSourcesAskedAhead(t *testing.T) {
	dir := svcRepo(t, map[string]string{
		"main.go":         "package main\n\nfunc main() {}\n",
		"cmd/tool/go.txt": "not a package\n",
	}, "v1.2.3")
	ctx := context.Background()
	o, err := configure(Config{}, envOf(nil))
	require.NoError(t, err)
	environ := environWith(nil)

	ahead := startSources(ctx, o, dir, environ)
	f := plan.Facts{ModuleRoot: dir}
	took, err := ahead.take(&f)
	require.NoError(t, err)
	assert.True(t, took, "asked in the module root")
	require.Len(t, f.Mains, 1)
	assert.Equal(t, "example.com/acme/svc", f.Mains[0].ImportPath)
	assert.Equal(t, "v1.2.3", f.Git.Tag)

	ahead = startSources(ctx, o, filepath.Join(dir, "cmd", "tool"), environ)
	f = plan.Facts{ModuleRoot: dir}
	took, err = ahead.take(&f)
	require.NoError(t, err)
	assert.False(t, took, "asked in another folder")
	assert.Nil(t, f.Mains, "nothing taken")
}
