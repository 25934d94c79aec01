package e2e_test

// Security: images run as the non-root user 65532, the own-
// Dockerfile build context never carries .git or what .dockerignore
// excludes, no secret from the build machine's environment reaches an
// image's config, labels or history, and dist/ files have fixed modes
// whatever the umask. (Smoke containers' hardening is asserted on a running
// one in TestEngineInterruptSmokeRun.)

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// relSecrets returns environment entries that look like credentials, with
// values unique to the test, and the values.
func relSecrets() (env, values []string) {
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DOCKER_PASSWORD", "NPM_TOKEN"} {
		v := "relsecret" + relRandom()
		env = append(env, k+"="+v)
		values = append(values, v)
	}
	return env, values
}

// secretName matches environment and label names that would hold a credential.
var secretName = regexp.MustCompile(`(?i)secret|token|passw|credential|api_?key`)

// relAssertNoSecrets checks an image's config, labels and history for the
// secret values and for secret-looking names.
func relAssertNoSecrets(t *testing.T, cli *client.Client, ref string, secrets []string) {
	t.Helper()
	ctx := context.Background()
	ins, err := cli.ImageInspect(ctx, ref)
	require.NoError(t, err)
	hist, err := cli.ImageHistory(ctx, ref)
	require.NoError(t, err)
	all := relJSON(t, ins) + relJSON(t, hist)
	for _, s := range secrets {
		assert.NotContains(t, all, s, "a secret of the build machine's environment is in %s", ref)
	}
	require.NotNil(t, ins.Config)
	for _, kv := range ins.Config.Env {
		k, _, _ := strings.Cut(kv, "=")
		assert.NotRegexp(t, secretName, k, "%s sets a secret-looking variable", ref)
	}
	for k := range ins.Config.Labels {
		assert.NotRegexp(t, secretName, k, "%s has a secret-looking label", ref)
	}
}

// relRunEntrypoint runs entrypoint (replacing the image's own) in a new
// container of image with no network and returns its standard output and
// exit code. The container is removed afterwards.
func relRunEntrypoint(t *testing.T, cli *client.Client, image string, entrypoint ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:      image,
		Config:     &container.Config{Entrypoint: entrypoint},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	require.NoError(t, err)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer rcancel()
		_, _ = cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
	}()
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)
	wait := cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int
	select {
	case res := <-wait.Result:
		code = int(res.StatusCode)
	case err := <-wait.Error:
		require.NoError(t, err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer logs.Close()
	var out, errOut bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errOut, logs)
	require.NoError(t, err)
	if errOut.Len() > 0 {
		t.Logf("%q in %s wrote to stderr: %s", entrypoint, image, errOut.String())
	}
	return out.String(), code
}

func TestEngineImagesRunAsNonRootWithoutSecrets(t *testing.T) {
	cli := fixture.Engine(t)
	base := fixture.AlpineBase(t)
	repo := relImageRepo(t, cli, "nonroot")
	app := relApp(t, nil)
	secretEnv, secrets := relSecrets()

	env := append([]string{"MAGEPACK_IMAGE=" + repo, "MAGEPACK_ALPINE_BASE=" + base}, secretEnv...)
	fixture.RunMage(t, tasksCmd(t, app, env, "dockerScratch", "dockerAlpine")).RequireOK(t)

	for _, variant := range []string{"scratch", "alpine"} {
		t.Run(variant, func(t *testing.T) {
			ref := repo + ":" + variant
			ins, err := cli.ImageInspect(context.Background(), ref)
			require.NoError(t, err)
			require.NotNil(t, ins.Config)
			assert.Equal(t, "65532:65532", ins.Config.User, "the image config names the non-root user")
			relAssertNoSecrets(t, cli, ref, secrets)
		})
	}
	t.Run("id inside alpine", func(t *testing.T) {
		for flag, want := range map[string]string{"-u": "65532", "-g": "65532", "-un": "nonroot"} {
			out, code := relRunEntrypoint(t, cli, repo+":alpine", "/bin/busybox", "id", flag)
			require.Equal(t, 0, code, "id %s", flag)
			assert.Equal(t, want, strings.TrimSpace(out), "id %s in the Alpine image", flag)
		}
	})
}

func TestEngineDockerfileContextAndBuildArgs(t *testing.T) {
	cli := fixture.Engine(t)
	// A light stand-in for golang:1.26 with a shell: what matters here is
	// what magepack sends and passes, not Go.
	builder := relFakeBuilder(t, cli, "1.26.0", true)
	repo := relImageRepo(t, cli, "ctx")
	px := relStartProxy(t, cli, relForward)
	secretEnv, secrets := relSecrets()
	ignored := "relsecret-in-file-" + relRandom()
	app := relApp(t, map[string]string{
		// The build arguments magepack passes, used in a RUN step of the
		// final stage so the legacy builder records them in the history
		// of the image itself.
		"Dockerfile": "ARG GO_IMAGE\nFROM ${GO_IMAGE}\nARG VERSION\nARG COMMIT\n" +
			"RUN echo \"$VERSION $COMMIT\" > /version.txt\nCOPY main.go /src/main.go\n",
		".dockerignore":     "secret.env\n*.key\nprivate/\n",
		"secret.env":        "API_TOKEN=" + ignored + "\n",
		"deploy.key":        ignored + "\n",
		"private/notes.txt": ignored + "\n",
	})
	require.DirExists(t, filepath.Join(app, ".git"))

	env := append([]string{"DOCKER_HOST=" + px.host, "MAGEPACK_IMAGE=" + repo, "MAGEPACK_DOCKERFILE=Dockerfile",
		"MAGEPACK_BUILDER=" + builder, "MAGEPACK_SMOKE=off"}, secretEnv...)
	fixture.RunMage(t, tasksCmd(t, app, env, "dockerScratch")).RequireOK(t)

	sent := px.buildContext()
	require.NotEmpty(t, sent, "the proxy saw the build context")
	names := relTarNames(t, sent)
	assert.Contains(t, names, "Dockerfile")
	assert.Contains(t, names, "main.go")
	assert.Contains(t, names, "go.mod")
	for _, n := range names {
		assert.False(t, n == ".git" || strings.HasPrefix(n, ".git/"), "the context holds %s", n)
		assert.NotContains(t, []string{"secret.env", "deploy.key", "private", "private/notes.txt"}, strings.TrimSuffix(n, "/"), "the context holds .dockerignore'd %s", n)
	}
	assert.NotContains(t, string(sent), ignored, "no ignored file's content is sent")
	for _, s := range secrets {
		assert.NotContains(t, string(sent), s, "no environment secret is sent")
	}

	ref := repo + ":scratch"
	hist, err := cli.ImageHistory(context.Background(), ref)
	require.NoError(t, err)
	assert.Contains(t, relJSON(t, hist), "VERSION=", "the history records build arguments, so the check below means something")
	relAssertNoSecrets(t, cli, ref, append(secrets, ignored))
}

func TestIntegrationDistFileModes(t *testing.T) {
	fixture.SkipShort(t, "compiles the targets into a mage binary")
	app := relApp(t, nil)
	distDir := filepath.Join(app, "dist")
	// A strict umask must not make artifacts unreadable to others (CI
	// uploads, a web server), nor binaries unexecutable.
	probe := filepath.Join(t.TempDir(), "umask-probe")
	cmd := tasksCmd(t, app, []string{"MAGEPACK_PLATFORMS=linux/amd64,windows/amd64"}, "crossCompile")
	cmd.Wrap = []string{"sh", "-c", fmt.Sprintf(`umask 077 && : > %q && exec "$0" "$@"`, probe)}
	fixture.RunMage(t, cmd).RequireOK(t)
	fi, err := os.Stat(probe)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the run had umask 077, so the modes below mean something")

	modes := map[string]os.FileMode{
		"relapp_linux_amd64":       0o755,
		"relapp_windows_amd64.exe": 0o755,
		dist.ChecksumsFile:         0o644,
		dist.ManifestFile:          0o644,
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(distDir, name))
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), "mode of dist/%s", name)
	}
}
