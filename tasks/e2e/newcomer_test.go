package e2e_test

// A newcomer's first hour: the rough edges met on real
// repositories, each through the compiled targets on a throw-away
// repository, with real builds and, where an image is involved, the real
// engine.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// relLines returns the lines of out that start with prefix.
func relLines(out, prefix string) []string {
	var found []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			found = append(found, l)
		}
	}
	return found
}

func TestEngineCommandLineToolSmoke(t *testing.T) {
	cli := fixture.Engine(t)
	repo := relImageRepo(t, cli, "tool")
	app := fixture.NewModule(t, fixture.Module{Path: "example.com/acme/tool", Go: "1.25.0", Files: map[string]string{"main.go": cliMain}, GitIgnore: "dist/\n", Tag: "v1.2.3"})
	distDir := filepath.Join(app, "dist")

	// The default smoke run expects a service that stays up.
	res := fixture.RunMage(t, tasksCmd(t, app, []string{"MAGEPACK_IMAGE=" + repo}, "dockerScratch"))
	t.Logf("under start: exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))
	assert.Equal(t, tasks.ExitImage, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stderr, "smoke run of "+repo)
	assert.Contains(t, res.Stderr, "exited with code 0")
	assert.Contains(t, res.Stderr, "looks like a command-line tool")
	assert.Contains(t, res.Stderr, "MAGEPACK_SMOKE=run:", "names the setting that fits a tool")
	relAssertNoPanic(t, res.Stdout+res.Stderr)
	assert.Empty(t, relManifest(t, distDir).Images, "an image whose smoke run failed is not recorded")

	// Run as a command line, the tool passes.
	res = fixture.RunMage(t, tasksCmd(t, app, []string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_SMOKE=run:-version"}, "dockerScratch"))
	res.RequireOK(t)
	assert.Regexp(t, regexp.MustCompile(`(?m)^\[scratch\] smoke run ok: run:-version exited 0 in \S+: cli 1\.2\.3$`), res.Stdout)
	m := relManifest(t, distDir)
	require.Len(t, m.Images, 1)
	assert.Equal(t, repo+":1.2.3-scratch", m.Images[0].Reference)
	assert.Equal(t, "tool", m.Images[0].Service)
	assert.Empty(t, relSmokeContainers(t, cli, repo), "the smoke containers are removed")
}

func TestIntegrationNewcomerRoughEdges(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	// None of these runs needs an engine: none may find one.
	noEngine := "DOCKER_HOST=unix:///nonexistent/docker.sock"

	t.Run("a main in cmd/MyApp gets the image myapp, said once", func(t *testing.T) {
		app := fixture.NewModule(t, fixture.Module{Path: "example.com/acme/tools", Go: "1.25.0",
			Files: map[string]string{"cmd/MyApp/main.go": fixture.ServiceMain}, GitIgnore: "dist/\n", Tag: "v1.2.3"})
		// publish without pushing builds, checks and assembles the image
		// into dist/oci without an engine or a registry.
		res := fixture.RunMage(t, tasksCmd(t, app, []string{noEngine, "MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_VARIANTS=scratch", "MAGEPACK_PUSH=never"},
			"crossCompile", "staticCheck", "publish"))
		res.RequireOK(t)
		config := relLines(res.Stdout, "[config]")
		if assert.Len(t, config, 1, "one [config] line:\n%s", res.Stdout) {
			assert.Contains(t, config[0], "image myapp for service MyApp")
			assert.Contains(t, config[0], `"MyApp" is not a valid image name`)
			assert.Contains(t, config[0], "MAGEPACK_IMAGE", "says how to choose another")
		}
		assert.Contains(t, res.Stdout, "[linux/amd64] built dist/MyApp_linux_amd64", "the binary keeps the folder's name")
		m := relManifest(t, filepath.Join(app, "dist"))
		require.Len(t, m.Images, 1)
		assert.Equal(t, "MyApp", m.Images[0].Service)
		assert.ElementsMatch(t, []string{"myapp:1.2.3-scratch", "myapp:1.2-scratch", "myapp:1-scratch", "myapp:scratch"}, m.Images[0].Tags)
	})

	t.Run("outputs in a dist/ git does not ignore leave vcs.modified false", func(t *testing.T) {
		app := fixture.NewModule(t, fixture.Module{Path: "example.com/acme/vcs", Go: "1.25.0",
			Files: map[string]string{"main.go": fixture.ServiceMain}, GitIgnore: "*.log\n", Git: true})
		head := fixture.NewGit(t, app).Run("rev-parse", "HEAD")
		vcs := func(bin string) string {
			out, err := exec.Command("go", "version", "-m", filepath.Join(app, bin)).CombinedOutput()
			require.NoError(t, err, "go version -m %s: %s", bin, out)
			assert.Contains(t, string(out), "vcs.revision="+head, "%s is stamped with the commit", bin)
			m := regexp.MustCompile(`vcs\.modified=(\w+)`).FindStringSubmatch(string(out))
			require.NotNil(t, m, "go version -m %s shows no vcs.modified:\n%s", bin, out)
			return m[1]
		}

		fixture.RunMage(t, tasksCmd(t, app, []string{noEngine, "MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile")).RequireOK(t)
		assert.Equal(t, "false", vcs("dist/vcs_linux_amd64"), "the first build")
		// The second run starts with the first one's outputs in dist/.
		fixture.RunMage(t, tasksCmd(t, app, []string{noEngine, "MAGEPACK_PLATFORMS=linux/arm64"}, "crossCompile")).RequireOK(t)
		assert.Equal(t, "false", vcs("dist/vcs_linux_arm64"), "a build after the first")
		assert.Empty(t, fixture.NewGit(t, app).Run("status", "--porcelain"), "git sees nothing new")

		// A real change still counts.
		f, err := os.OpenFile(filepath.Join(app, "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n// changed\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		fixture.RunMage(t, tasksCmd(t, app, []string{noEngine, "MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_DIST=out"}, "crossCompile")).RequireOK(t)
		assert.Equal(t, "true", vcs("out/vcs_linux_amd64"), "a modified tracked file")
	})

	t.Run("a shallow clone without tags warns that the version may be wrong", func(t *testing.T) {
		origin := fixture.NewModule(t, fixture.Module{Path: "example.com/acme/shallow", Go: "1.25.0",
			Files: map[string]string{"main.go": fixture.ServiceMain}, GitIgnore: "dist/\n", Tag: "v1.2.3"})
		g := fixture.NewGit(t, origin)
		g.Date = fixture.CommitTime.Add(24 * time.Hour)
		fixture.WriteFiles(t, origin, map[string]string{"README": "one commit past the tag\n"})
		g.Commit("past the tag")

		parent := t.TempDir()
		clone := func(name string, args ...string) string {
			fixture.NewGit(t, parent).Run(append(append([]string{"clone", "-q"}, args...), "file://"+origin, name)...)
			return filepath.Join(parent, name)
		}
		shallow := clone("shallow", "--depth", "1")
		sg := fixture.NewGit(t, shallow)
		require.Equal(t, "true", sg.Run("rev-parse", "--is-shallow-repository"))
		require.Empty(t, sg.Run("tag", "--list"), "the shallow clone has no tag")

		res := fixture.RunMage(t, tasksCmd(t, shallow, []string{noEngine, "MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile"))
		res.RequireOK(t)
		warn := relLines(res.Stdout, "[config] version ")
		if assert.Len(t, warn, 1, "one line says so:\n%s", res.Stdout) {
			assert.Contains(t, warn[0], "shallow")
			assert.Contains(t, warn[0], "the version may be wrong")
			assert.Contains(t, warn[0], "git fetch --tags", "how to fetch the tags")
			assert.Contains(t, warn[0], "fetch-depth: 0", "how to fetch them in CI")
		}

		// A full clone finds the tag and says nothing.
		full := clone("full")
		res = fixture.RunMage(t, tasksCmd(t, full, []string{noEngine, "MAGEPACK_PLATFORMS=linux/amd64"}, "crossCompile"))
		res.RequireOK(t)
		assert.Empty(t, relLines(res.Stdout, "[config]"), "no warning in a full clone")
		assert.Contains(t, res.Stdout, "[build] shallow 1.2.3-dev.1+g", "the version past the tag")
	})

	t.Run("a Dockerfile that needs BuildKit stops before anything is built", func(t *testing.T) {
		app := fixture.NewModule(t, fixture.Module{Path: "example.com/acme/bk", Go: "1.25.0", GitIgnore: "dist/\n", Git: true,
			Files: map[string]string{
				"main.go": fixture.ServiceMain,
				"Dockerfile": "FROM golang:1.25 AS build\nWORKDIR /src\nCOPY . .\n" +
					"RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -o /out/app .\n" +
					"FROM scratch\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n",
			}})
		res := fixture.RunMage(t, tasksCmd(t, app, []string{noEngine, "MAGEPACK_DOCKERFILE=Dockerfile"}, "dockerScratch"))
		t.Logf("exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))
		assert.Equal(t, tasks.ExitConfig, res.Code, "exit 2, before the engine is looked for\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		assert.Contains(t, res.Stderr, "Dockerfile line 4 needs BuildKit", "names the line")
		assert.Contains(t, res.Stderr, "--mount")
		assert.Contains(t, res.Stderr, "legacy builder", "says why")
		assert.Contains(t, res.Stderr, "MAGEPACK_DOCKERFILE", "names the setting")
		assert.Len(t, strings.Split(strings.TrimSpace(res.Stderr), "\n"), 1, "one line")
		relAssertNoPanic(t, res.Stdout+res.Stderr)
		assert.NotContains(t, res.Stdout, "[build]", "no binary is built")
		assert.NotContains(t, res.Stdout, "building", "no image is built")
		relAssertNoDist(t, filepath.Join(app, "dist"))
	})
}
