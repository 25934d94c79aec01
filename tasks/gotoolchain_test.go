package tasks

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/magefile/mage/mg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/toolchain"
)

func TestToolchainNotes(t *testing.T) {
	dir := t.TempDir()
	fixture.WriteFiles(t, dir, map[string]string{
		"newer/go.mod": "module m\n\ngo 1.26\n\ntoolchain go1.26.10\n",
		"older/go.mod": "module m\n\ngo 1.25\n\ntoolchain go1.25.3\n",
		"none/go.mod":  "module m\n\ngo 1.25\n",
	})
	info := func(mod, goVersion string) *toolchain.Info {
		return &toolchain.Info{Env: toolchain.Env{GOMOD: filepath.Join(dir, mod, "go.mod"), GOVERSION: goVersion, GOTOOLCHAIN: "local"}}
	}
	assert.Equal(t, []string{"toolchain: go.mod names go1.26.10, newer than go1.26.8 that builds here (GOTOOLCHAIN=local); set MAGEPACK_TOOLCHAIN=go1.26.10 to build with it"},
		toolchainNotes("", info("newer", "go1.26.8")))
	assert.Empty(t, toolchainNotes("", info("newer", "go1.26.10")), "the Go that builds is the one go.mod names")
	assert.Empty(t, toolchainNotes("", info("older", "go1.26.8")))
	assert.Empty(t, toolchainNotes("", info("none", "go1.26.8")))
	assert.Equal(t, []string{"toolchain go1.26.10 (MAGEPACK_TOOLCHAIN): every go command runs with GOTOOLCHAIN=go1.26.10"},
		toolchainNotes("go1.26.10", info("newer", "go1.26.10")))
}

func TestToolchainNotAvailable(t *testing.T) {
	slow(t, "asks the module proxy for a Go release")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	_, err := testRun(t, dir, Config{}, map[string]string{"MAGEPACK_TOOLCHAIN": "go1.26.99"})
	require.Error(t, err)
	failed := fail(err)
	assert.Equal(t, ExitConfig, mg.ExitStatus(failed))
	assert.Contains(t, failed.Error(), "toolchain go1.26.99")
	assert.Contains(t, failed.Error(), "MAGEPACK_TOOLCHAIN")
}

func TestToolchainReachesEveryBuild(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	// The Go that runs, so nothing is fetched: the setting still goes into
	// every go command's environment, once, after the user's own.
	local := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64"}).p.GoVersion
	t.Setenv("GOTOOLCHAIN", "local")
	r := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64,windows/amd64", "MAGEPACK_TOOLCHAIN": local})
	assert.Equal(t, local, r.p.GoVersion)
	plan, err := r.planned()
	require.NoError(t, err)
	require.Len(t, plan.gjobs, 2)
	for _, j := range plan.gjobs {
		var values []string
		for _, kv := range j.Env {
			if v, ok := strings.CutPrefix(kv, "GOTOOLCHAIN="); ok {
				values = append(values, v)
			}
		}
		assert.Equal(t, []string{local}, values, "%s: one GOTOOLCHAIN, the setting's", j.Target)
	}
	assert.Equal(t, "GOTOOLCHAIN="+local, r.goEnv()[len(r.goEnv())-1])
}

func TestToolchainErrorKeepsCancellation(t *testing.T) {
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		err := fmt.Errorf("probe the Go toolchain in %q: %w", "/src", cause)
		assert.Same(t, err, toolchainError(err, "go1.26.10"), "%v is no configuration error", cause)
	}
	var ce *plan.Error
	assert.ErrorAs(t, toolchainError(fmt.Errorf("go: download go1.26.99: not found"), "go1.26.99"), &ce)
}
