package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildKitCase is one Dockerfile of tasks/dockerfile's
// testdata/buildkit.json, the table its parser tests use too.
type buildKitCase struct {
	Name       string `json:"name"`
	Dockerfile string `json:"dockerfile"`
	Line       int    `json:"line"`
	Feature    string `json:"feature"`
}

// readBuildKitCases reads the Dockerfiles the legacy builder rejects
// (buildkit) and those it builds (legacy).
func readBuildKitCases(t *testing.T) (buildkit, legacy []buildKitCase) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "dockerfile", "testdata", "buildkit.json"))
	require.NoError(t, err)
	var c struct{ BuildKit, Legacy []buildKitCase }
	require.NoError(t, json.Unmarshal(data, &c))
	require.NotEmpty(t, c.BuildKit)
	require.NotEmpty(t, c.Legacy)
	return c.BuildKit, c.Legacy
}

// TestDockerfileBuildKitEngine shows on the real engine that the legacy
// builder rejects every Dockerfile dockerfile.Parse flags and builds every
// look-alike it leaves alone, and that Build refuses a flagged one with a
// *BuildKitError before sending anything.
func TestDockerfileBuildKitEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Docker engine")
	}
	e := smokeTestEngine(t)
	run := randomHex(4)
	base := "magepack-test/engine-buildkit-base:" + run
	importTestImage(t, e, base, map[string]testFile{
		"bin/busybox": {src: "/bin/busybox"},
		"bin/sh":      {link: "busybox"},
		"bin/true":    {link: "busybox"},
		"bin/echo":    {link: "busybox"},
	}, `CMD ["/bin/sh"]`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	baseImg, err := e.cli.ImageInspect(ctx, base)
	require.NoError(t, err)
	t.Cleanup(func() { removeImageDescendants(t, e, baseImg.ID) })

	build := func(t *testing.T, dockerfile string, check bool) ([]string, error) {
		root := writeContextTree(t, contextTree{"Dockerfile": strings.ReplaceAll(dockerfile, "BASE", base), "a": "a"})
		var lines []string
		opts := BuildOptions{ContextDir: root, Progress: func(l string) { lines = append(lines, l) }}
		if check {
			_, err := e.Build(ctx, opts)
			return lines, err
		}
		_, err := e.buildLegacy(ctx, opts, root, "Dockerfile", func(err error) error { return err })
		return lines, err
	}
	buildKitCases, legacyCases := readBuildKitCases(t)
	for _, tc := range buildKitCases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := build(t, tc.Dockerfile, false)
			require.Error(t, err, "the legacy builder rejects it")
			t.Logf("the legacy builder says: %v", err)

			lines, err := build(t, tc.Dockerfile, true)
			var bk *BuildKitError
			require.ErrorAs(t, err, &bk)
			assert.Equal(t, tc.Line, bk.Line)
			assert.Equal(t, "Dockerfile", bk.Dockerfile)
			assert.Empty(t, lines, "refused before the context was sent")
			assert.Contains(t, err.Error(), "needs BuildKit ("+tc.Feature+")")
			assert.Contains(t, err.Error(), "legacy builder")
			assert.NotContains(t, err.Error(), "MAGEPACK_")
		})
	}
	for _, tc := range legacyCases {
		t.Run("legacy "+tc.Name, func(t *testing.T) {
			_, err := build(t, tc.Dockerfile, true)
			require.NoError(t, err)
		})
	}
}
