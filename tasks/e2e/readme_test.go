package e2e_test

// The README's GitHub Actions workflows are what users copy:
// each must be one GitHub accepts, so actionlint (built by .ci/install,
// with shellcheck for the run: scripts) checks every one of them.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// readmeBlock is one fenced code block of the README.
type readmeBlock struct {
	line int // the README line of the block's first line
	lang string
	body string
}

// readmeBlocks returns the fenced code blocks of the markdown file at path.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{line: n + 1, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a code block is not closed", path)
	return blocks
}

// isWorkflow reports whether a YAML block is a GitHub Actions workflow.
func isWorkflow(b readmeBlock) bool {
	return (b.lang == "yaml" || b.lang == "yml") && strings.Contains("\n"+b.body, "\njobs:")
}

// actionlint runs actionlint on the workflow files and returns its output
// and whether it found nothing.
func actionlint(t *testing.T, bin string, files ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-no-color", "-oneline"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "actionlint did not run: %s", out)
		require.Equal(t, 1, ee.ExitCode(), "actionlint failed to run (not a finding): %s", out)
		return string(out), false
	}
	return string(out), true
}

func TestReadmeWorkflowsPassActionlint(t *testing.T) {
	fixture.NeedPackages(t, "actionlint's check of the workflows' run: scripts", "shellcheck")
	bin := fixture.NeedTool(t, "actionlint")
	dir := t.TempDir()

	var files []string
	for _, b := range readmeBlocks(t, filepath.Join("..", "..", "README.md")) {
		if !isWorkflow(b) {
			continue
		}
		// Named for the README line it starts on, so a finding at line L
		// of the file is at README line <start>+L-1.
		f := filepath.Join(dir, fmt.Sprintf("readme-line-%d.yml", b.line))
		require.NoError(t, os.WriteFile(f, []byte(b.body), 0o644))
		files = append(files, f)

		assert.NotContains(t, b.body, `"auths"`, "README line %d: registry login through docker/login-action, not hand-written auth JSON", b.line)
		if strings.Contains(b.body, "publish") {
			assert.Contains(t, b.body, "docker/login-action@", "README line %d: a workflow that publishes logs in with docker/login-action", b.line)
		}
	}
	require.GreaterOrEqual(t, len(files), 2, "the README's workflows (the publish job and the sharded one) were found")
	out, ok := actionlint(t, bin, files...)
	assert.True(t, ok, "actionlint finds problems in the README's workflows (file readme-line-N.yml:L is README line N+L-1):\n%s", out)

	t.Run("actionlint catches what broke the sharded workflow", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yml")
		require.NoError(t, os.WriteFile(bad, []byte(`on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: dist-${{ github.run_id }}, path: dist/}
`), 0o644))
		out, ok := actionlint(t, bin, bad)
		assert.False(t, ok)
		assert.Contains(t, out, "could not parse as YAML")
	})
}
